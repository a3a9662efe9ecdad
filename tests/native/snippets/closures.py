import functools


def decorator(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper


def counter():
    count = 0

    def inc(step=1):
        nonlocal count
        count += step
        return count
    return inc


def outer(a, b):
    c = a + b

    def middle():
        def inner():
            return a, c
        return inner
    return middle, lambda: b, [x for x in (a, b) if x != c], (y * c for y in range(3))


def gen_closure(items):
    seen = set()
    for item in items:
        if item not in seen:
            seen.add(item)
            yield lambda: item


def deleter():
    value = 1

    def use():
        return value
    del value
    return use


def semicolons(a):
    for x in a:
        print(x);
    return a;
