# PEP 695 corners: closures over type parameters, class-scope lookups, mangling after a
# generic class, comprehensions and lambdas in annotation scopes.
type Squares = [x * x for x in range(3)]
type Fn[T: (lambda: int)()] = lambda: T


def captures[T](x: T):
    def inner() -> T:
        return T

    return inner, [T for _ in range(2)]


class Outer:
    size = 3
    type Sized = size
    type Nested[S] = list[S] | size

    def method[M: size](self, value: M = size) -> M:
        return value

    class Inner[I]:
        def deep[D](self) -> tuple[I, D]:
            return I, D, __class__


def mangled():
    class __Gen[T]:
        __slot = T

    __name = 1
    return __name, __Gen


def defaults[T](a=1, b=2, *, c=3, d=4) -> T:
    return a + b + c + d


def nested_generic[A]():
    def middle[B](b: B) -> A:
        def innermost[C](c: C) -> tuple[A, B, C]:
            return A, B, C

        return innermost

    return middle


class WithSuper[T](dict):
    def get(self, key):
        return super().get(key)


def global_generic():
    global Later

    class Later[T]:
        pass

    def later[T]():
        pass

    return later
