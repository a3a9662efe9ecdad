import sys

try:
    pass
except ValueError as err:
    print(err)
except (TypeError, KeyError):
    pass
else:
    pass
finally:
    pass

try:
    pass
except* OSError as group:
    print(group)


def handler():
    try:
        1 / 0
    except ZeroDivisionError as e:
        return e
    for i, (j, k) in enumerate([]):
        pass
    else:
        pass
    while True:
        break
    with open("f") as fh, open("g") as (gh):
        pass
    x = y = z = 0
    x += 1
    a, *b = [1, 2]
    del x, a
    assert y, z
    raise ValueError from None


def matcher(command):
    match command:
        case ["go", direction]:
            return direction
        case {"key": value, **rest}:
            return value, rest
        case Point(x=0, y=py) as point:
            return point, py
        case [1, 2, *others]:
            return others
        case str() | bytes() as text if text:
            return text
        case None | True:
            return None
        case sys.maxsize:
            return 0
        case _:
            return command


def fstrings(value, width):
    return f"{value!r:>{width}} {value=} {f'{value}'}" f"{width:{value}}"


def starred(*args):
    first, *rest = args
    print(*args, **{})
    return [*rest], {**{}}, first


if sys:
    cond = 1
elif sys.argv:
    cond = 2
else:
    cond = 3

for _ in ():
    pass

x = [i for i in range(3)]
print(x[1:2:3], x[::-1])
