# Inlined comprehensions (PEP 709) against every kind of enclosing scope.
import os

base = 10
squares = [base * i for i in range(3)]
pairs = {k: v for k, v in zip("ab", squares) if v}
adders = [lambda y: x + y for x in range(3)]
shadow = [os for os in ("a", "b")]
nested = [[i * j for j in range(i)] for i in range(4)]
keep = 1
rebound = [keep for keep in range(2)], keep
assert [super for super in ()] == []


def walrus_module(values):
    return [last := v for v in values], last


if any((hit := v) > 1 for v in squares):
    print(hit)
total = [running := (globals().get("running", 0) + v) for v in range(3)]


class Table:
    size = 4
    names = ["a", "b"]
    rows = [n * 2 for n in names]
    grid = [[r + c for c in range(2)] for r in range(size)]
    lookup = {n: i for i, n in enumerate(names)}
    deferred = [lambda: n for n in names]
    unique = {n.upper() for n in names if n}
    outer_name = [os.sep for _ in range(1)]

    def method(self):
        return [self.size + i for i in range(self.size)]

    def uses_super(self, items):
        return [super().__repr__() for _ in items]


def enclosing(a, b):
    factor = 2

    class Inner:
        scaled = [factor * x for x in (a, b)]
        both = [(factor, y) for y in range(factor)]

        def get(self):
            return factor

    return Inner


def comp_cells(items):
    funcs = [lambda: item for item in items]
    x = 1
    closures = [lambda: x + y for y in items]
    return funcs, closures, [x for x in items], x


def comp_over_cell(items):
    x = 0

    def read():
        return x

    values = [x for x in items]
    return read, values


def comp_free(items):
    x = 0

    def inner():
        return [x for _ in items], [lambda: x for x in items]

    return inner


def walrus_function(items):
    found = None
    if [found := i for i in items if i > 2]:
        return found
    [[last := j for j in range(i)] for i in items]
    return last


def walrus_closure(items):
    def check():
        return [seen := i for i in items], seen

    return check


def walrus_nonlocal(items):
    count = 0

    def bump():
        nonlocal count
        return [count := count + i for i in items]

    return bump


def nested_functions(rows):
    return [[lambda: (row, col) for col in row] for row in rows]


def comp_in_lambda(n):
    return lambda: [i * n for i in range(n)]


def genexp_in_comp(rows):
    return [sum(x * r for x in range(r)) for r in rows]


def param_shadow(x, items):
    return [x for x in items], x


def deleted(items):
    y = [z for z in items]
    del y
    return [y for y in items]
