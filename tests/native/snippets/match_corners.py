# Pattern corners: captures reordered across alternatives, nested or-patterns, stars in the
# middle, attribute keys, matches in classes, generators and under try/with.
import collections

Pt = collections.namedtuple("Pt", "x y")


def reorder(value):
    match value:
        case (a, b, c) | [c, b, a] | {"a": a, "b": b, "c": c}:
            return a, b, c
        case Pt(x=a, y=b) | Pt(y=a, x=b):
            return a, b
        case [[a, b], c] | [c, [b, a]] | (c, b, a):
            return a, b, c
        case [1 | 2 as a, (3 | 4) as b] | [b, a, 5]:
            return a, b


def stars(value):
    match value:
        case [a, *mid, b] if mid:
            return a, mid, b
        case [*head, 0]:
            return head
        case [0, *tail]:
            return tail
        case [_, *_, _, _]:
            return "long"
        case [*_, x, _]:
            return x
        case [*_]:
            return "any"


def keys(value, obj):
    match value:
        case {obj.attr: x, "lit": y, 3: _}:
            return x, y
        case {**rest} if rest:
            return rest
        case {"only": {"nested": [*_, last]}}:
            return last


def in_generator(items):
    for item in items:
        match item:
            case int(i) if i > 0:
                yield i
            case [*xs]:
                yield from_list(xs)
            case _:
                continue


def from_list(xs):
    return len(xs)


def under_try(value):
    try:
        with open(value) as f:
            match f.read():
                case "":
                    return None
                case text:
                    return text
    except OSError as e:
        match e.errno:
            case 2:
                raise
            case _:
                return e
    finally:
        match value:
            case str():
                pass


class Config:
    mode = "a"
    match mode:
        case "a" | "b" as m:
            chosen = m
        case _:
            chosen = None


def closures(value):
    match value:
        case [x, y]:
            pass
        case _:
            x = y = None
    return lambda: (x, y)


def many_args(value):
    match value:
        case Pt(1, 2) | Pt(x=3, y=4):
            return True
        case object(a=1, b=2, c=3, d=4, e=5):
            return False
