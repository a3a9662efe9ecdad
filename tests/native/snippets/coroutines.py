"""Coroutines: `await` wherever an expression goes, `async for`, `async with`."""
import asyncio


async def simple():
    pass


async def constant():
    return 1


async def awaits(x, y=None, *args, key: int = 0, **kw) -> int:
    """A docstring."""
    a = await x
    b = await x + await y
    c = f(await x, key=await y)
    d = [await x, (await y)]
    e = await x if await y else await x.z
    f2 = await x and await y or not await x
    g = await x < await y <= 3
    h = (await x)[await y]
    i = f"{await x!r:>10} and {await x}"
    j = {await x: await y, **(await x)}
    k = await (await x)
    assert await x, await y
    del (await x).attr
    (await x).attr = await y
    m = lambda z=await x: z
    return a, b, c, d, e, f2, g, h, i, j, k, m


async def in_statements(x):
    while await x:
        if await x.ready():
            break
    else:
        await x.done()
    for i in await x:
        await i
    try:
        await x
    except await x as e:
        await e
    finally:
        await x.close()
    with await x as y:
        return await y


async def nested(x):
    async def inner(y=await x):
        return await y

    def plain(z=await x):
        return z

    class C:
        async def method(self):
            return await super().method()

        @staticmethod
        async def static(w):
            await w

    return await inner(), plain, C


async def async_for(xs, log):
    async for x in xs:
        log.append(x)
    async for i, (a, *b) in xs:
        if a:
            continue
        if b:
            break
        log.append(i)
    else:
        log.append(None)
    async for x in xs:
        async for y in x:
            if y:
                return y
    for x in xs:
        async for y in x:
            break
        else:
            continue
    return log


async def async_for_in_try(xs):
    try:
        async for x in xs:
            try:
                return x
            finally:
                await xs.aclose()
    finally:
        async for y in xs:
            break


async def async_with(a, b, c):
    async with a:
        pass
    async with a as x, b as (y, z), c:
        await x
    async with a() as x:
        async with b(x) as y:
            return y
    async with a:
        async for x in b:
            if x:
                break
            async with c:
                continue
    async with a as x:
        raise ValueError(x)


async def async_with_in_try(a, log):
    try:
        async with a as x:
            return x
    except (OSError, ValueError) as e:
        log.append(e)
    finally:
        async with a:
            log.append(a)
    with a:
        async with a:
            return


async def gather(*coros):
    return await asyncio.gather(*coros)


@decorator
@other.decorator(arg)
async def decorated(x: int) -> str:
    return str(await x)


class Service:
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()
        return False

    async def close(self):
        self.closed = True
