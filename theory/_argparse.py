"""Argument parsing shared by the suite's command lines."""

import argparse
import os
import sys

USAGE_ERROR = 2
BROKEN_PIPE = 141


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


def run_command_line(main):
    """Run a command line's ``main`` and return its exit status.

    When the reader of standard output goes away (``... | head``), the rest of the output
    is discarded and the status is 141, as a shell reports a process ended by SIGPIPE.
    """
    try:
        return main()
    except BrokenPipeError:
        # Point stdout at /dev/null so that the interpreter's final flush cannot fail too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE
