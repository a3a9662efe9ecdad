from typing import Callable


def ident[T](x: T) -> T:
    return x


def bounded[T: int, *Ts, **P](x: T, *a: *Ts, f: Callable[P, T] = None) -> T:
    return x


def kwdefault[T](*, k: T = 1) -> T:
    return k


class Box[T]:
    item: T

    def get(self) -> T:
        return self.item

    def meth[U](self, u: U) -> tuple[T, U]:
        return self.item, u


class Derived[T: (int, str)](Box[T], metaclass=type):
    pass


type Alias = list[int]
type Generic[K, V] = dict[K, V]
type Bound[N: int] = list[N]


class Holder:
    type InClass = int
    x = 1
    type UsesX = x

    def generic[T: x](self, y: T) -> T:
        return y

    class Nested[S]:
        pass


def outer():
    z = 1

    class C[T]:
        def m(self):
            return z

    type A[U] = (z, U)
    return C, A


class Private:
    def __priv[__T](self, a: __T) -> __T:
        return a

    __after = 1


__leaked = 1
