x = w = p = 1
a = f"{x = }"
b = f"{ x = !s:>10}"
c = f"{x=:>{w}}"
d = f"a{x=}b{x=!a}"
e = f"""{
x
=
!r}"""
f = f"{x:}"
g = f"{x:>{w}}"
h = f"a{x=:>{w}.{p}}b"
i = f"{x!r:{w}}"
j = f"{x:{w}d}" f"{x:{w}{p}}" f"{x:a{w}}"
k = f"{x:{w}}{x:{w} }"
m = f"{x:{x:{w}}}"
n = f"{x:{w}!r}"
o = f"{x=!r:^{w}}" "tail"
q = f"{x:{{}}}" if 0 else ""
long = f"{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}"
longer = f"a{x}b{x}c{x}d{x}e{x}f{x}g{x}h{x}i{x}j{x}k{x}l{x}m{x}n{x}o{x}p{x}q{x}r{x}"


def func(v):
    return f"{v=}", f"{v = :{w}}", f"{v.real=}"
