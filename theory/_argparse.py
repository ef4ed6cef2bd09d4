"""Argument parsing shared by the suite's command lines."""

import argparse
import sys

USAGE_ERROR = 2


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` that reports a usage error on one line.

    The message names the program, the invalid value and the valid choices, and the
    process exits with status 2, without a usage block or a traceback.
    """

    def error(self, message):
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def fail(prog, message):
    """Print ``prog: error: message`` to stderr and exit with status 2."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(USAGE_ERROR)
