# PEP 695: generic functions and classes, type aliases, bounds and constraints.
from typing import Callable


def first[T](items: list[T]) -> T:
    return items[0]


def pair[K, V: (int, str), *Ts, **P](key: K, value: V = 1, *rest, flag=False, **kw) -> tuple[K, V]:
    return key, value


def only_kw[T](*, x: T = None) -> T:
    return x


def only_pos[T](x=1, /):
    return x


@staticmethod
def decorated[T: int](x: T) -> T:
    return x


class Box[T]:
    value: T

    def __init__(self, value: T) -> None:
        self.value = value

    def get(self) -> T:
        return self.value

    def map[U](self, f: Callable[[T], U]) -> "Box[U]":
        return Box(f(self.value))

    def __repr__(self):
        return super().__repr__()


class Pair[K: str, V](Box[V], metaclass=type):
    type Inner = list[K]
    def keys[X](self) -> list[K]:
        return [self.value]


class __Private[T]:
    pass


__after = 1

type Alias = list[int]
type Generic[T] = dict[str, T]
type Bounded[T: (int, float), *Ts] = tuple[T, *Ts]
type Lazy = Undefined | None


def outer():
    type Local[T] = list[T]

    class Inside[T]:
        def method(self) -> T:
            return Local

    def inner[T](x: T) -> Local[T]:
        return Inside

    return Local, Inside, inner


class Holder:
    attr = int
    type Field = attr
    def method[T](self, x: attr) -> T:
        return x
