data = [1, 2, 3]
squares = [x * x for x in data]
pairs = {k: v for k, v in zip(data, data) if k}
unique = {x for x in data for y in data if x > y}
gen = (x for x in data)
nested = [[y for y in range(x)] for x in data]


def in_function(items, n):
    a = [i + n for i in items]
    b = [lambda: i for i in items]
    c = [(lambda: j)() for j in items]
    d = [k for k in items if (m := k)]
    e = (z for z in items)
    f = [w for w in items for _ in [w]]
    g = [items for items in items]
    return a, b, c, d, e, f, g, m


def cells_in_comp(xs):
    ys = [lambda: x for x in xs]
    y = 1
    zs = [lambda: y for _ in xs]
    return ys, zs


def comp_outer_local_cell(xs):
    t = 0
    r = [t for _ in xs]

    def use():
        return t

    return r, use


class InClass:
    values = [1, 2]
    doubled = [v * 2 for v in values]
    names = {n: n for n in values}
    gen = (v for v in values)
    lam = [lambda: v for v in values]

    def m(self):
        return [self for _ in self.values]


def walrus_scope(items):
    if any((hit := x) > 1 for x in items):
        return hit
    [(total := total + x) for x in items] if False else None
    return [y := 1 for _ in items], y


total = 0
mod_walrus = [(last := x) for x in data]


def walrus_global():
    global gw
    [gw := x for x in data]


def nested_walrus(rows):
    return [[(cell := c) for c in row] for row in rows], cell


async def async_comps(aiter):
    a = [x async for x in aiter]
    b = [await x for x in aiter]
    c = (x async for x in aiter)
    return a, b, c


def genexp_in_call(xs):
    return sum(x for x in xs), max(
        y for y in xs)


def comp_super():
    class C:
        def m(self):
            return [super() for _ in range(1)]

    return C


def cell_through_comp():
    x = 1
    return [[lambda: x for _ in range(2)] for _ in range(2)]


def comp_iter_uses_outer(xs):
    return [a for a in [b for b in xs]]
