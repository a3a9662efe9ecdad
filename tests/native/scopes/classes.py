class Base:
    __slots__ = ("__a",)
    __private = 1
    __dunder__ = 2
    _single = 3

    def __init__(self, __x, y):
        self.__a = __x
        self.__private = y

    def method(self):
        return self.__private, __private, __dunder__

    @staticmethod
    def __hidden(__z=__private):
        import __mod
        from pkg import __name as __alias
        return __z, __mod, __alias

    class __Inner:
        __deep = 1

        def f(self):
            return __deep, self.__deep


class _:
    __x = 1


class __:
    __y = 1


class ___Under:
    __z = 1


class Sup(Base):
    def m(self):
        return super().method()

    def n(self):
        return __class__

    def o(self):
        def nested():
            return super()

        return nested

    def p(self):
        return lambda: __class__

    x = 1

    def q(self):
        return x

    @classmethod
    def r(cls):
        super = 1
        return super


def free_class_name():
    x = 1

    class C:
        x = 2

        def m(self):
            return x

    class D:
        def m(self):
            return x

    return C, D


class Meta(type, metaclass=type, kw=lambda: 1):
    pass
