"""Usage: cli [--name NAME]"""
import argparse
import inspect

try:
    from docopt import docopt
except ImportError:
    docopt = None


def main():
    """Run the command line."""
    if docopt is not None:
        return docopt(__doc__)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", help=main.__doc__)
    return parser


def helptext(function):
    return inspect.getdoc(function)


USAGE = __doc__
