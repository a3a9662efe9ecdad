y = [z for z in range(3)]
squares = {n: n * n for n in y if n}
unique = {c for c in "hello"}
nested = [[a * b for b in y] for a in y]
pairs = [(a, b) for a in y for b in y if a < b if b]
single = [w for v in y for w in [v]]
consts = [t for t in [1, 2, 3]]
print(z if 0 else None)


def f(a):
    b = [x + 1 for x in a if x]
    c = {k: v for k, v in a.items()}
    x = 1
    return b, c, x, [x for x in a], {q for q in {1, 2}}


def g(items):
    return sorted([i.name for i in items], key=len)
single_const = [w for v in y for w in [1]]
try:
    nested_genexp = [''.join(str(i) for i in range(s)) for s in range(3)]
except NameError:
    pass
