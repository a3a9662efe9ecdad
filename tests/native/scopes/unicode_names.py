# -*- coding: utf-8 -*-
ﬁle = 1
print(file)
𝔘𝔫𝔦𝔠𝔬𝔡𝔢 = 2


class Ça:
    __été = 1

    def m(self):
        return __été, ﬁle


class _Ü:
    __x = 1


def générer(ñ):
    return (ñ for _ in range(2))
