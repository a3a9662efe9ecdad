# Class bodies: names free in methods, nonlocal in a class, generator lambdas.


def counter():
    count = 0

    class Counter:
        nonlocal count
        count = 5

        def get(self):
            return count

    return Counter, count


def shared(value):
    class Both:
        value = value
        other = value

        def read(self):
            return value

        def __repr__(self):
            return super().__repr__() + str(__class__)

    return Both


def deleting():
    x = 1

    class Gone:
        nonlocal x
        del x

    return Gone


gen = lambda: (yield)
gen2 = lambda a, b=2: (yield a + b)


def outer():
    return lambda: (yield 1)


class Plain:
    def method(self):
        return __class__

    @staticmethod
    def nested():
        return [__class__ for _ in ()]
