"""Options shared by the command lines that run simulations: scale, seed, cache, workers."""

import argparse
import os
import pathlib

from sims.scales import DEFAULT_SCALE, SCALES
from theory._argparse import fail

DEFAULT_CACHE = ".suite-cache"

WORKERS_VARIABLE = "DEPTHCHECK_WORKERS"
"""Environment variable that sweeps read for their number of worker processes; the same
name as ``sims.sweep.WORKERS_VARIABLE``, repeated so that parsing does not import numpy."""


def parse_workers(text):
    """Return a ``--workers`` value as an int, or raise ``argparse.ArgumentTypeError``."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"invalid worker count {text!r}: give an integer of at least 1 (the default "
            f"comes from the environment variable {WORKERS_VARIABLE}, else 1)")
    return int(text)


class WorkersAction(argparse.Action):
    """Store ``--workers`` and export it as ``DEPTHCHECK_WORKERS`` for this process.

    The sweeps of the figures and claims read the variable, so the value reaches every
    measurement without passing through each call. When the option is absent, the
    variable keeps its value (``argparse`` checks that default with :func:`parse_workers`).
    """

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        os.environ[WORKERS_VARIABLE] = str(values)


def run_options():
    """Return a parent parser with ``--scale``, ``--seed``, ``--cache``, ``--no-cache`` and
    ``--workers``."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--scale", choices=SCALES, default=DEFAULT_SCALE,
                         help="smoke: seconds per figure or claim; quick: a faithful small "
                              "version; paper: the paper's grid as far as memory allows, "
                              f"hours (default {DEFAULT_SCALE})")
    options.add_argument("--seed", default="0", metavar="N",
                         help="base seed, a non-negative integer (default 0)")
    cache = options.add_mutually_exclusive_group()
    cache.add_argument("--cache", default=DEFAULT_CACHE, metavar="DIR",
                       help=f"folder where finished runs are kept and reused "
                            f"(default ./{DEFAULT_CACHE})")
    cache.add_argument("--no-cache", action="store_true",
                       help="run everything afresh, reading and writing no cache")
    default_workers = os.environ.get(WORKERS_VARIABLE, "").strip() or "1"
    options.add_argument("--workers", type=parse_workers, action=WorkersAction,
                         default=default_workers, metavar="N",
                         help=f"number of worker processes that run independent ensembles "
                              f"of a sweep at the same time, each with one BLAS thread "
                              f"(default: the environment variable {WORKERS_VARIABLE}, else 1)")
    return options


def parse_seed(prog, text):
    """Return ``--seed`` as an int, or exit with status 2 unless it is a non-negative integer."""
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        fail(prog, f"--seed must be a non-negative integer of at most 20 digits, got {text!r}")
    return int(text)


def check_directory(prog, option, text):
    """Return ``text`` as a path, or exit with status 2 unless it is or can become a folder.

    A missing path passes when its nearest existing parent is a writable folder.
    """
    advice = "give a writable directory or a path that can be created"
    if not text:
        fail(prog, f"{option} is empty; {advice}")
    path = pathlib.Path(text)
    if path.exists() and not path.is_dir():
        fail(prog, f"{option} {text!r} exists and is not a directory; {advice}")
    if path.exists() and not os.access(path, os.W_OK | os.X_OK):
        fail(prog, f"{option} directory {text!r} is not writable; {advice}")

    if not path.exists():
        parent = path.absolute().parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            fail(prog, f"cannot create {option} directory {text!r}: {str(parent)!r} is not "
                       f"a writable directory; {advice}")
    return path


def create_directory(prog, option, path):
    """Create the folder ``path`` if missing, or exit with status 2 if that fails."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(prog, f"cannot create {option} directory {str(path)!r}: {error.strerror}; "
                   "give a writable directory or a path that can be created")


def open_cache(prog, args):
    """Return the :class:`sims.cache.RunCache` that ``--cache``/``--no-cache`` ask for.

    The folder is checked and created; an invalid one exits with status 2.
    """
    from sims.cache import RunCache

    if args.no_cache:
        return RunCache(None)
    directory = check_directory(prog, "--cache", args.cache)
    create_directory(prog, "--cache", directory)
    return RunCache(directory)
