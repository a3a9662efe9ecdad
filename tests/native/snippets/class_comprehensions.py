# Comprehensions in class bodies and functions: free, cell and class-level names.
def f(x, y):
    class C:
        x = x
        a = [x for _ in range(2)]
        b = [[x + y + z for z in range(w)] for w in range(3)]
        c = [lambda: w for w in range(3)]
        d = [[lambda: (v, w) for v in range(w)] for w in range(2)]
        e = (x for _ in range(2))
        g = [i for i in (j for j in range(y))]
        def m(self):
            return x, __class__
        h = [m for _ in ()]
    return C

class D:
    v = 1
    a = None
    b = [v for v in range(3)]
    c = v
    d = {v: [v for v in range(v)] for v in range(2)}
    del v

def g():
    z = 1
    def h():
        return [z for z in range(3)], [lambda: z for _ in ()]
    return h, [z := 5 for _ in ()], z

x = [[y for y in range(x)] for x in range(3)]
y = [lambda: i for i in range(3)]
z = [[lambda: (i, j) for j in range(i)] for i in range(3)]
w = [(lambda: q)() for q in range(3)]
def nl():
    a = 0
    def inner():
        nonlocal a
        return [a := a + 1 for _ in range(3)]
    return inner
def gl():
    global G
    return [G := 1 for _ in ()]
class E:
    def f(self):
        return [super().f() for _ in ()], [self for self in ()]
    def g(this):
        return [super().g() for this in ()]
def cell_param(a):
    return [a for a in range(3)], lambda: a
def comp_free_outer():
    a = 1
    def inner():
        return [lambda: a for a in ()], a
    return inner
