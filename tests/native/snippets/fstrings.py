x = y = 1
a = f"abc"
b = f"a{x}b"
c = f"{x!r:>10}"
e = "a" f"{x}" "b"
h = f"{x}"
i = f"{x:d}" f"z"
j = f"""
  {x}
  y"""
l = f"" "" f""
m = f"{'a'}"
n = f"a{{b}}c{x!s}{y!a}"
o = f"\t{x}\n" "tail" f"{x:>3}" if 0 else f"{x}\N{BULLET}"
p = rf"\d{x}"
q = f'{x}' f"{y}" 'z' f'{x + y:08.3f}'
