"""Async comprehensions and generator expressions, inlined (PEP 709) or not."""


async def comprehensions(xs, ys):
    a = [x async for x in xs]
    b = {x async for x in xs if x if await x}
    c = {x: y async for x, y in xs}
    d = [await x for x in xs]
    e = [await x async for x in xs]
    f = [x for x in xs if await x]
    g = [(x, y) async for x in xs for y in ys]
    h = [(x, y) for x in xs async for y in ys]
    i = [(x, y) async for x in xs async for y in x if y]
    j = [[y async for y in x] async for x in xs]
    k = [[await y for y in x] for x in xs]
    m = [x async for x in await xs]
    n = [x async for x in [1, 2]]
    o = {x: await x for x in (1, 2) if x}
    return a, b, c, d, e, f, g, h, i, j, k, m, n, o


async def with_locals(xs):
    x = 1
    a = [x async for x in xs]
    b = [x for x in xs if [y async for y in x]]
    return x, a, b


async def generator_expressions(xs, ys):
    a = (x async for x in xs)
    b = (await x for x in xs)
    c = (x for x in xs if await x)
    d = (x for x in xs async for y in ys)
    e = ([y async for y in x] for x in xs)
    f = (x async for x in xs if x async for y in x)
    return a, b, c, d, e, f


def sync_genexps(xs):
    a = (x async for x in xs)
    b = (await x for x in xs)
    c = ([await y for y in x] for x in xs)
    d = ({y: z async for y, z in x} for x in xs)
    return a, b, c, d


async def closures(xs):
    n = 2
    a = [x * n async for x in xs]
    b = (x * n async for x in xs)
    return [lambda: x async for x in xs], a, b
