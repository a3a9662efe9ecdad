"""`yield from`: delegation, its value, and the blocks it sits in."""
import contextlib


def chain(*iterables):
    for it in iterables:
        yield from it


def value_of(gen):
    result = yield from gen
    return result


def returns_delegated(gen):
    return (yield from gen)


def as_argument(gen, f):
    f((yield from gen), (yield from [1, 2, 3]))
    x = [(yield from gen), 2]
    return x


def in_try_finally(gen, log):
    try:
        yield from gen
    finally:
        log.append("done")
        yield from ()


def in_try_except(gen, log):
    try:
        got = yield from gen
    except ValueError as exc:
        yield from exc.args
    except (TypeError, KeyError):
        yield from log
    else:
        log.append(got)
    return log


def in_with(gen, path):
    with open(path) as f, contextlib.suppress(OSError):
        yield from f
        if gen:
            return (yield from gen)
    yield from gen


def in_loops(gens):
    for gen in gens:
        if gen is None:
            continue
        while True:
            x = yield from gen
            if x:
                break
        else:
            yield from ()
    else:
        return None


def in_handler(gen):
    try:
        pass
    except Exception as e:
        yield from e.args
        return e
    finally:
        yield from gen


class Tree:
    def __init__(self, children):
        self.children = children

    def __iter__(self):
        yield self
        for child in self.children:
            yield from child

    def walk(self):
        def inner():
            yield from self.children
        yield from inner()


def nested_generators(xs):
    yield from (x * 2 for x in xs)
    yield from [x for x in xs if x]


# Generator lambdas: no StopIteration handler, their value returned.
gen_lambda = lambda: (yield)
gen_lambda2 = lambda x, *a, k=1: (yield from x) + (yield k)


class WithLambdas:
    m = lambda self: [(yield self), (yield)]
