# Lone surrogates, which Rust strings cannot hold: decoded again from the source.
a = "\udc80"
b = "\ud800\udc00"  # a pair of escapes stays two code points
c = "x\uDFFFy" "tail" '\U0000d834'
d = b"\ud800"  # bytes: no \u escape, just text
e = r"\ud800"  # raw: just text
f = "\\ud800"  # an escaped backslash, then text
g = "\ud800" == "\ud800"
h = ("\udc80", "\udc80", "ok")
i = f"\udc80{a}\ud83d"
j = f"{a!r:>4}\udfff"
k = "\x41\101\n\t\
continued \N{BULLET}" if 0 else "\ud800\x00\777"
s = {"\udc80": 1}


def func():
    x = "\udc80 not a docstring"
    return "\udcff" + x
m = f"{{\udc80}}{a}" f"\ud800{{" "\udfff}}" rf"{{\ud800}}"
