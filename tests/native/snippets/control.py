def loops(items, n):
    total = 0
    for item in items:
        if item is None:
            continue
        if item > n:
            break
        total += item
    else:
        total = -1
    while n > 0:
        n -= 1
        if n == 5:
            break
    else:
        total += 1
    while True:
        n += 1
        if n > 10:
            return total
    return None


def nested(a, b):
    for i in a:
        for j in b:
            if i == j:
                return i
            if i < j:
                break
    return a if a else b


def conditions(a, b, c):
    if a and b or c:
        pass
    elif not a:
        return 1
    elif a < b < c:
        return 2
    elif (a if b else c):
        return 3
    else:
        return 4
    if a is None or b is not None:
        return 5
    if 1:
        return 6
    if 0:
        return 7
    return 8


def unreachable():
    return 1
    print("never")


def globals_():
    global counter
    counter = 1
    counter += 1
    del counter
    return len(counter)


def raises(x):
    if x:
        raise ValueError("x") from None
    if not x:
        raise
    raise TypeError


def locals_(a, b=1, *args, c, d=2, **kwargs):
    e = a + b
    del e
    return (a, b, args, c, d, kwargs)


def posonly(a, /, b, *, c):
    return a, b, c


def annotated(a: int, b: "str" = "x", *args: list, c: float = 1.0, **kwargs: dict) -> None:
    x: int = 1
    y: str
    return x


def docstring():
    """A docstring."""
    return 1


def docstring_only():
    """Only a docstring."""


def returns_multiline():
    return (1,
            2)


def many_locals():
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = a9 = 0
    b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = b8 = b9 = 0
    c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = c8 = c9 = 0
    d0 = d1 = d2 = d3 = d4 = d5 = d6 = d7 = d8 = d9 = 0
    e0 = e1 = e2 = e3 = e4 = e5 = e6 = e7 = e8 = e9 = 0
    f0 = f1 = f2 = f3 = f4 = f5 = f6 = f7 = f8 = f9 = 0
    g0 = g1 = g2 = g3 = g4 = g5 = g6 = g7 = g8 = g9 = 0
    if a0:
        del g9
    return g9 + a0 + f9


def maybe_unbound(flag):
    if flag:
        value = 1
    return value


def sets_module_global():
    global declared_elsewhere
    declared_elsewhere = 2


declared_elsewhere = 1
