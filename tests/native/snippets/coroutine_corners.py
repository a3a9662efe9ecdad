"""Coroutine corners: locations over lines, unwinding through async blocks, except* exits."""


async def lines(xs,
                ys):
    async for x in (
        xs
    ):
        pass
    async for x in [1, 2]:
        pass
    async for x in (1, 2):
        pass
    async for x in {1, 2}:
        pass
    v = await (
        xs
    )
    async with (
        xs as a,
        ys as b,
    ):
        return await (
            a(b)
        )


async def unwinding(xs, cm):
    async with cm as c:
        async for x in xs:
            async with c:
                if x:
                    return x + 1
                if x is None:
                    return
                if x == 2:
                    break
                continue
    for y in xs:
        async with cm:
            try:
                return await y
            finally:
                async with cm:
                    pass


async def agen_unwinding(xs, cm):
    try:
        async with cm:
            yield 1
            return
    finally:
        yield 2
    while True:
        async with cm:
            try:
                yield 3
            except GeneratorExit:
                break


def yield_from_lines(x):
    y = yield from (
        x
    )
    yield from x.attr.method(
        1,
        2,
    )
    return y


def star_corners(f):
    for i in f:
        try:
            if i:
                continue
            return i
        except* ValueError:
            pass
        except* TypeError as e:
            f(e)
        else:
            break
    try:
        return f()
    except* Exception:
        raise
    finally:
        return None


async def star_async(f):
    try:
        await f()
    except* ValueError:
        async for x in f:
            await x
    except* TypeError as e:
        async with f(e):
            pass


async def deep(xs):
    return [
        [z async for z in y if await z]
        for y in xs
        if [w async for w in y]
    ], {k: v async for k in xs for v in k}, (a async for a in xs async for b in a if b)


class K:
    async def m(self):
        return [await super().m() for _ in range(3)], __class__

    async def __aiter__(self):
        yield self
        yield from_ if 0 else self


@decorator
async  def spaced():
    pass


async	def tabbed(): await x
