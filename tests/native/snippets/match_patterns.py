# PEP 634: every pattern kind, guards, captures in or-patterns, defaults.
import enum


class Color(enum.Enum):
    RED = 1
    GREEN = 2


class Point:
    __match_args__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y


def describe(value):
    match value:
        case None:
            return "none"
        case True | False:
            return "bool"
        case 0 | -1 | 1.5 | 2j | -1 - 2j | "s" | b"b":
            return "literal"
        case Color.RED:
            return "red"
        case [] | ():
            return "empty"
        case [x]:
            return ("one", x)
        case [x, y, *rest] if rest:
            return ("many", x, y, rest)
        case [first, *_, last]:
            return (first, last)
        case [*_, 1, 2]:
            return "tail"
        case [_, _]:
            return "pair"
        case (a, [b, (c, d)]):
            return a, b, c, d
        case {"k": v, **rest}:
            return v, rest
        case {1: a, Color.GREEN: b}:
            return a, b
        case {}:
            return "mapping"
        case Point(x=0, y=0):
            return "origin"
        case Point(0, y) | Point(y, 0):
            return ("axis", y)
        case Point(x, y=_) as p:
            return p, x
        case int(n) | float(n) if n > 10:
            return n
        case str() | bytes():
            return "text"
        case [Point(x=a), Point(x=b)] | [a, b, _]:
            return a, b
        case (1 | 2) as small:
            return small
        case {"a": [1, {"b": x}]} | {"c": x}:
            return x
        case _ if value:
            return "truthy"
        case _:
            return "other"


def single(value):
    match value:
        case x:
            return x


def guarded_default(value):
    match value:
        case 1:
            pass
        case _:
            pass


def no_default(value):
    match value:
        case [a, b] | (b, a):
            print(a, b)
        case {"x": 1, "y": y}:
            print(y)
    return value


def capture_closure(value):
    match value:
        case [a, *b]:
            return lambda: (a, b)
    return None


class Holder:
    match 1:
        case int(kind):
            label = kind


match describe(3):
    case "literal" | "bool" as found:
        result = found
    case other:
        result = other

for item in [1, [2], {"k": 3}]:
    match item:
        case [z]:
            continue
        case {"k": z}:
            break
        case z:
            pass
