def outer(a, b=1, *args, c, d=2, **kw):
    x = a

    def inner():
        nonlocal x
        x = x + b
        return x, args, kw

    def reader():
        return c + d

    return inner, reader


def counter():
    count = 0

    def bump(step=1):
        nonlocal count
        count += step
        return count

    return bump


def shadow(x):
    def f(x):
        return x

    def g():
        return x

    return f, g


def deep():
    a = 1

    def l1():
        def l2():
            def l3():
                return a

            return l3

        return l2

    return l1


def delete_and_cell():
    v = 1

    def use():
        return v

    del v
    return use
