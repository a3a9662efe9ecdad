"""Docstring first."""
from __future__ import annotations

import typing


def f(a: Undefined, *b: Other, c: int = 1, **d: dict[str, int]) -> Result:
    x: LocalAnnot = 1
    y: Unused
    return x


class C:
    attr: ClassAnnot
    other: typing.List[int] = []

    def m(self, v: C) -> C:
        return v


z: ModuleAnnot = 1
w: lambda_free_name
