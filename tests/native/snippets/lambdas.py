key = lambda item: item[1]
pair = lambda a, b=2, *rest, c=3, **kw: (a, b, rest, c, kw)
nothing = lambda: None
sorted([3, 1], key=lambda x: -x)
multiline = (lambda x:
             x + 1)


def outer():
    inner = lambda y: y * 2
    return inner(3), (lambda: 4)()


class Holder:
    method = lambda self: 1
    __hidden = lambda self, __x=1: __x
