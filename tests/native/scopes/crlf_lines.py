def f(a):
    return (
        lambda: a)

class C:
    x = [y for y in
         range(3)]

g = lambda: (
    z for z in ())
