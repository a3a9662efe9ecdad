"""`try` ... `except*` (PEP 654)."""


def handlers(f, log):
    try:
        f()
    except* ValueError:
        log.append("value")
    except* (TypeError, KeyError) as eg:
        log.append(eg.exceptions)
    except* OSError as e:
        del e
    return log


def with_else_finally(f, log):
    try:
        f()
    except* ValueError as eg:
        raise RuntimeError from eg
    else:
        log.append("else")
    finally:
        log.append("finally")


def loops_inside(items):
    for item in items:
        try:
            item()
        except* Exception as eg:
            for e in eg.exceptions:
                if e:
                    break
                continue
            while eg:
                break
        try:
            pass
        finally:
            try:
                item()
            except* ValueError:
                pass


def nested(f):
    try:
        try:
            f()
        except* ValueError:
            f()
    except* TypeError as outer:
        try:
            f()
        except* KeyError as inner:
            print(inner, outer)
    if f:
        return f
    with f():
        try:
            yield f()
        except* ValueError: x = 1; yield x


async def in_coroutine(f):
    try:
        await f()
    except* ValueError as eg:
        await f(eg)
    async with f():
        try:
            pass
        except* Exception:
            pass
