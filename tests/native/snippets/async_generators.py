"""Async generators: `yield` in an `async def`, wherever it may stand."""


async def agen(xs):
    for x in xs:
        yield x
    yield


async def values(xs):
    got = yield 1
    while got:
        got = yield got + await xs.next()
    return


async def in_try(xs, log):
    try:
        yield await xs
    except Exception as e:
        yield e
    finally:
        log.append(1)
        yield None
    try:
        yield 2
    finally:
        await xs.aclose()


async def in_async_with(cm, xs):
    async with cm as c:
        yield c
        async for x in xs:
            yield x
            if x:
                return
    with cm:
        yield cm


async def ticker(delay, to):
    for i in range(to):
        yield i
        await sleep(delay)


class Stream:
    def __aiter__(self):
        return self.gen()

    async def gen(self):
        async for chunk in self.source:
            yield chunk.decode()
        else:
            yield ""
