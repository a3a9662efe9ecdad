class C:
    def __init__(self):
        self.__x = [__y for __y in range(3)]

    def gen(self):
        return (self.__x for _ in range(2))

    def comp_cell(self):
        return [lambda: __k for __k in range(2)]


def comp_shadows_param(x):
    return [x for x in x]


def comp_free_in_child(items):
    v = 1
    return [[v for _ in items] for _ in items]


def comp_with_lambda_cell(items):
    return [(lambda: item, item) for item in items]


def class_comp_cell():
    class K:
        r = [lambda: i for i in range(3)]

    return K


def nonlocal_through_levels():
    x = 0

    def mid():
        def inner():
            nonlocal x
            x += 1

        return inner

    return mid


def walrus_in_genexp(xs):
    return list(last := x for x in xs), last


def try_star():
    try:
        pass
    except* ValueError as eg:
        print(eg)


async def agen():
    yield 1


async def await_in_comp(xs):
    return [await x for x in xs]


def generator_with_return():
    yield
    return 1


x = [[1 for a in b] for b in c]


try:
    import _missing_module
except ImportError:
    def chosen():
        return "except"
else:
    def chosen():
        return "else"
finally:
    def cleanup():
        pass

try:
    pass
except* ValueError:
    star_handler = lambda: 1
else:
    star_else = lambda: 2
