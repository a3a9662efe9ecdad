f = lambda a, b=1, *c, d, e=2, **g: (a, b, c, d, e, g)
h = lambda: (yield)
k = lambda x=lambda: 1: x
default = 10


def with_lambda_defaults(x=lambda y=default: y):
    return x


def gen():
    x = yield 1
    yield from range(x)
    return 2


async def coro():
    await gen()
    async with ctx() as (a, b):
        pass
    async for item in aiter():
        yield item


def decorated():
    @dec1
    @dec2(arg)
    def inner():
        pass

    @dec3
    class C:
        pass

    return inner, C


@outer_dec
def top(x: int = 1, *args: str, y: "Y" = 2, **kw: float) -> "R":
    z: list = []
    w: int
    (p): int = 3
    q.attr: int = 4
    return z, w, p


def annotated_in_function():
    a: int = 1
    b: str

    def g() -> a:
        return b

    return g


lam_in_comp = [lambda q=i: q for i in range(3)]
