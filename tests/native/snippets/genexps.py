total = sum(x * 2 for x in range(10) if x)
pairs = list((a, b) for a in "ab" for b in [1])
anyone = any(
    c.isdigit()
    for c in "a1"
)


def f(items):
    return ",".join(str(i) for i in items), tuple(j for j in items for k in j)


class C:
    names = frozenset(n.upper() for n in ("a", "b"))


def twice(s):
    while any(t for t in s):
        s.pop()


def nested_genexps(rows):
    return list(sum(c for c in row) for row in rows), list(lambda: y for y in rows)
