import abc


class Plain:
    pass


class Documented(object):
    """A class docstring."""

    attribute: int = 1
    other: str

    def method(self, x):
        """Method docstring."""
        return self.attribute + x

    def __private(self):
        return self.__secret

    @staticmethod
    def static(a, b):
        return a * b

    @property
    def prop(self):
        return 1

    @prop.setter
    def prop(self, value):
        self._value = value


class WithMeta(Plain, metaclass=abc.ABCMeta):
    @abc.abstractmethod
    def run(self):
        ...


@decorator
@other.decorator(1, x=2)
class Decorated:
    x = 1
    y = x + 1


def factory():
    class Local:
        def method(self):
            return 1
    return Local


class Outer:
    class Inner:
        def method(self):
            return 2
