"""Module with asserts: they must stay."""

assert True, "module-level assert"


def check(x):
    """Raises AssertionError for a falsy x."""
    assert x, "x must be truthy"
    return x


def fails():
    """A docstring
    over
    several
    lines."""
    raise ValueError("the line of this raise is line 17")
