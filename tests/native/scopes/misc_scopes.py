def star_args_only(*, a):
    return a


def posonly(a, b, /, c):
    return a, b, c


def uses_locals():
    x = 1
    return locals(), vars(), dir()


def class_in_func(n):
    class Local:
        size = n

        def get(self):
            return n

    return Local


def unused_nonlocal():
    a = 1

    def f():
        nonlocal a

    return f


def name_in_del(x):
    def g():
        del x
        return 1

    return g


def super_outside_class():
    return super


lambda_nested = lambda a: lambda b: lambda c: a + b + c


def assign_expr_in_if(data):
    if (n := len(data)) > 3:
        return n


def global_in_class_method():
    class C:
        def m(self):
            global GM
            GM = 1

    return C


def import_in_func():
    import os.path as osp
    from . import sibling
    return osp, sibling


class A:
    def f(self):
        class B:
            def g(self):
                return __class__

        return B, __class__


def comprehension_with_class_var():
    class C:
        y = 2
        z = [y for _ in range(3)]
        w = [q for q in range(y)]

    return C
