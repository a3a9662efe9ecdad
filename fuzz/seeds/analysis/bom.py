"""BOM module docstring."""


def f():
    """BOM function docstring: café."""
    return 1
