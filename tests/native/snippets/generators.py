def gen(items):
    for item in items:
        if item:
            yield item
    yield


def gen_with_return(n):
    x = yield n
    while x:
        x = yield x + 1
    return x


def gen_try(path):
    try:
        yield 1
    finally:
        print(path)
    with open(path) as f:
        for line in f:
            yield line


class Holder:
    def __iter__(self):
        yield from_() if 0 else self
