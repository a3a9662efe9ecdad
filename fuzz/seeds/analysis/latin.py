# -*- coding: latin-1 -*-
"""Latin-1 module docstring: café."""


def f():
    """Latin-1 function docstring: naïve."""
    return "é"
