"""Annotations kept as strings (PEP 563): each is what ast_unparse.c writes."""
from __future__ import annotations, division
from __future__ import generator_stop

import typing

x: int = 1
y: "it's" = 2
z: 'a"b\'c'
w: dict[str, list[int | None]] | None = None
v: typing.Callable[[int, str], tuple[int, ...]]
u: lambda a, *b, c=1, **d: a
t: (lambda: 1)
s: a if b else c
r: f"{x = }" f"{x!r:>{w}}" f"a{{b}}c"
q: f'{ {1: 2}}' f'{"nested"}'
p: -1 + 2 * 3 ** -4 - (5 - 6)
o: (-a) ** b ** c
n: 1e400 + 1e400j + 1.5e-5 + 1e16 + 0.0001 + 0x10 + 1_000_000
m: 123456789012345678901234567890 | 0xFFFFFFFFFFFFFFFFFFFFFFFF
l: b'\x00\'"' | b"'"
k: '\udc80' | 'é\x7f\xa0\u2028\U0001f600\t\n'
j: a[1:2, ::3] | a[()] | a[(1,)] | a[:]
i: not a and b or not (c or d)
h: a < b <= c is not d not in e
g: f(*a, **k, x=1) | f(x for x in y) | [x for x in y if z] | {k: v for k, v in y}
f: {1: 2, **d} | {*a, b} | [*a] | () | (a,) | (a, b)
e: 1 .real | (1.5).real | x.y.z | True | None | ... | Ellipsis
self.attr: int = 3
seq[0]: int
(paren): int = 4


def func(a: int, /, b: "str" = "x", *args: *Ts, c: list[int] = [], **kw: float) -> Response[T]:
    loc: Local = 1
    return loc


def no_annotations(a, b=1):
    return a


class C:
    attr: ClassVar[int] = 0
    other: C
    __private: int

    def method(self, x: C) -> C:
        return x


def outer():
    T = int
    U = str

    def inner(a: T) -> U:
        v: T = 1
        return v

    class Inner:
        field: T

    return inner, Inner

