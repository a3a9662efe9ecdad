# Folded float operations (floatobject.c semantics), negative powers, mixed constant sets and
# constant subscripts (ast_opt.c).
a = 7.5 % 2, -7.5 % 2, 7.5 % -2, -0.0 % 5, 0.0 % -5, 6.0 % 3
b = 7.5 // 2, -7.5 // 2, 7 // 2.5, -0.0 // 5, 1e300 // 1e-300 if 0 else 1.0 // 3
c = 2.0 ** 0.5, 2 ** -1, 10 ** -6, (-2.0) ** 3, (-2) ** -3, 0.0 ** 3, (-0.0) ** 3, 1.0 ** 1e300
d = 0.0 ** -1, 1.0 % 0.0, 1.0 // 0, 1e300 ** 2, 0 ** -1, 10.0 ** 400
e = 1e400 * 2, -1e400 + 1, 3 ** -2.0
f = 1 << 1.0 if 0 else 2.0 | 1 if 0 else 5.0 @ 2 if 0 else None
g = 2 ** 0.5 * 1e16, 9007199254740993 * 1.0, 2 ** 62 + 0.5
x = 1
h = x in {1, 1.0, True}, x in {1.0, 1, 2.5, None}, x in {0.0, -0.0, 0j, False}
i = x in {"a", b"a", (1, 2), (1.0, 2.0), ...}, x in {(1, (2,)), (1, (2.0,)), 1 + 2j}
j = x not in {1.5, 2.5, 3.5}
for k in {1, 2.0, "three", (4,)}:
    pass
s = {1, 2.0, 3j, "x", (1,)}
t = "abc"[0], "abc"[-1], "abc"[5] if 0 else None, "\udc80z"[0], "é€"[1]
u = (1, 2, (3, 4))[2], (1, 2)[True], (1, 2)[-3] if 0 else 0, b"AB"[1], b"AB"[-1]
v = "abc"[1.0] if 0 else "abc"[::2], (1,)["a"] if 0 else 0, None[0] if 0 else 0
w = [1, 2][0], x[0] if 0 else 0
# Complex products, quotients and small integer powers (complexobject.c).
cx = 1 / 1j, 100j / 7.0, 1j / 8, -1j / 32, (1 + 2j) * (3 - 4j), 2 * 1j, 1j * 1j
cy = 3j ** 0j, 3j ** 0, 0j ** 0, (1 + 1j) ** 5, (1 + 1j) ** -3, 2j ** 100, (0.5 + 0.25j) ** 7.0
cz = 1j / 0 if 0 else 0j ** -1, 1j // 2 if 0 else 1j % 2 if 0 else 1j << 1 if 0 else 0
cw = (3 + 4j) / (1 - 2j), (1e-300j) / (1e300 + 1e-300j), 1e200j * 1e200j
