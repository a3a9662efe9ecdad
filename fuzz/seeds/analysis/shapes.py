"""Module docstring
over several lines."""

import functools


class Plain:
    """Class docstring."""

    def method(self):
        """Method docstring."""
        return 1

    class Inner:
        """Nested class docstring."""


class OnlyDoc:
    """A class whose body is its docstring."""


def only_doc():
    """A function whose body is its docstring."""


async def coroutine():
    """Async function docstring."""
    return 2


def outer():
    """Outer."""

    def inner():
        """Inner."""
        return 3

    return inner


def concatenated():
    "Implicitly " "concatenated " """docstring."""
    return 4


def two_strings():
    """The docstring."""
    """Not a docstring: a string statement."""
    return 5


def fstring_first():
    f"""Not a docstring: an f-string ({1 + 1})."""
    return 6


@functools.lru_cache()
def decorated():
    """Decorated docstring."""


def no_docstring():
    x = "a string, not a statement"
    return x


lam = lambda: "lambda bodies have no docstring"
