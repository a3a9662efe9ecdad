"""CRLF module docstring."""


def f():
    """CRLF function
    docstring."""
    return 1
