"""Module docstring: statements the native backend compiles, for the differential test."""
import os
import os.path
import os.path as osp
import xml.etree.ElementTree as ET
from os import path, sep as separator
from . import sibling
from .. import parent
from .pkg.mod import (a, b,
    c as d)

x = 1
y = x + 2
z = (1, 2, -3)
w = [1, 2, 3]
v = {1, 2, 3}
u = {"a": 1, "b": 2}
t = {x: 1, y: 2}
e = {}
f = []
g = ()
h = x, y
i = [x, y]
j = {x, y}
k = -x
l = not x
m = ~x
n = +x
o = x if y else z
p = x and y or z
q = a.b.c
r = a[1]
s = a[1:2]
s2 = a[::2]
s3 = a[x:]
a.b = 1
a[1] = 2
a[1:2] = 3
del a.b, a[1], a[1:2], q
x += 1
a.b -= 2
a[1] *= 3
a[1:2] //= 4
aa, bb = bb, aa
aa, bb, cc = cc, bb, aa
aa, *bb = w
[aa, bb] = 1, 2
aa = bb = cc = 0
big = [x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x]
bigd = {x: 1, 2: x, 3: x, 4: x, 5: x, 6: x, 7: x, 8: x, 9: x, 10: x, 11: x, 12: x, 13: x, 14: x, 15: x, 16: x, 17: x}
spread = [*w, 1, *v]
spread_t = (*w, 1)
spread_s = {*w}
spread_d = {**u, "x": 1, **t}
print(x, y, sep="", end="\n")
print(*w, **u)
print(x, *w, y, key=1, **u)
os.path.join("a",
             "b")
os.getcwd()
path.join(separator,
    "c").upper(
    )
(a
  .b
  .c(1))
folded = 2 ** 10 + (1 << 3) - 7 // 2 + 7 % 3 - -7 // 2 + 1.5 * 2 + 10 / 4
strings = "a" "b" + "c" * 3
bytes_ = b"x" * 4 + b"y"
debug = __debug__
if __debug__:
    print("debug")
comparisons = (x < y, x <= y, x == y, x != y, x > y, x >= y, x is y, x is not y, x in w, x not in w)
chain = x < y < z
chain2 = 1 < x <= y < 10
inverted = not x in w
inverted2 = not x is None
in_list = x in [1, 2, 3]
in_set = x in {1, 2, 3}
walrus = (n := 10)
assert x, "message"
assert y
__private = 1
