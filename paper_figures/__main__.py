"""Command line: ``python -m paper_figures list | make NAME [NAME ...] | all``."""

import argparse
import os
import pathlib
import sys

from tqdm import tqdm

from paper_figures.registry import FIGURES, figure_names, find_figure
from sims.scales import DEFAULT_SCALE, SCALES
from theory._argparse import ArgumentParser, fail

PROG = "python -m paper_figures"
DEFAULT_OUT = "figures"
DEFAULT_CACHE = ".suite-cache"
INTERRUPTED = 130
"""Exit status after Ctrl-C, as a shell reports a process ended by SIGINT."""


def build_parser():
    parser = ArgumentParser(
        prog=PROG,
        description="Regenerate the suite's figures: NAME.png, NAME.pdf and NAME.json "
                    "(the data behind every curve, the configuration, seeds, package "
                    "versions and fitted quantities with their theory values).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--scale", choices=SCALES, default=DEFAULT_SCALE,
                         help="smoke: seconds per figure; quick: a faithful small version; "
                              f"paper: the paper's grid as far as memory allows, hours "
                              f"(default {DEFAULT_SCALE})")
    options.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                         help=f"folder for the figure files, created if missing "
                              f"(default ./{DEFAULT_OUT})")
    options.add_argument("--seed", default="0", metavar="N",
                         help="base seed, a non-negative integer (default 0)")
    cache = options.add_mutually_exclusive_group()
    cache.add_argument("--cache", default=DEFAULT_CACHE, metavar="DIR",
                       help=f"folder where finished runs are kept and reused "
                            f"(default ./{DEFAULT_CACHE})")
    cache.add_argument("--no-cache", action="store_true",
                       help="run everything afresh, reading and writing no cache")

    subparsers = [
        commands.add_parser("list", help="print the name and description of every figure"),
        commands.add_parser("make", parents=[options], help="regenerate the named figures"),
        commands.add_parser("all", parents=[options], help="regenerate every figure"),
    ]
    subparsers[1].add_argument("names", nargs="*", metavar="NAME",
                               help="figure name, as printed by 'list'")
    for subparser in subparsers:
        subparser.error = parser.error
    return parser


def parse_seed(text):
    """Return ``--seed`` as an int, or exit with status 2 unless it is a non-negative integer."""
    try:
        seed = int(text)
    except ValueError:
        seed = -1
    if seed < 0:
        fail(PROG, f"--seed must be a non-negative integer, got {text!r}")
    return seed


def check_directory(option, text):
    """Return ``text`` as a path, or exit with status 2 unless it is or can become a folder.

    A missing path passes when its nearest existing parent is a writable folder.
    """
    path = pathlib.Path(text)
    advice = "give a writable directory or a path that can be created"
    if path.exists() and not path.is_dir():
        fail(PROG, f"{option} {text!r} exists and is not a directory; {advice}")
    if path.exists() and not os.access(path, os.W_OK | os.X_OK):
        fail(PROG, f"{option} directory {text!r} is not writable; {advice}")

    if not path.exists():
        parent = path.absolute().parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            fail(PROG, f"cannot create {option} directory {text!r}: {str(parent)!r} is not "
                       f"a writable directory; {advice}")
    return path


def create_directory(option, path):
    """Create the folder ``path`` if missing, or exit with status 2 if that fails."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(PROG, f"cannot create {option} directory {str(path)!r}: {error.strerror}; "
                   "give a writable directory or a path that can be created")


def print_list():
    width = max(len(name) for name in figure_names())
    for entry in FIGURES:
        print(f"{entry.name:{width}s}  {entry.description}")


def make_figures(entries, args):
    """Make each figure and print where its files went; return the exit status."""
    # Imported here so that ``list`` and usage errors do not load numpy and matplotlib.
    from paper_figures.make import make_figure
    from paper_figures.memory import InsufficientMemoryError
    from sims.cache import RunCache

    # Every option is checked before any folder is created.
    seed = parse_seed(args.seed)
    out = check_directory("--out", args.out)
    cache_directory = None if args.no_cache else check_directory("--cache", args.cache)
    create_directory("--out", out)
    if cache_directory is not None:
        create_directory("--cache", cache_directory)
    cache = RunCache(cache_directory)

    # disable=None shows the bar only when stderr is a terminal.
    progress = tqdm(entries, desc="figures", unit="figure", file=sys.stderr, disable=None)
    for entry in progress:
        try:
            paths, elapsed = make_figure(entry, args.scale, seed, cache, out)
        except InsufficientMemoryError as error:
            progress.close()
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return 1
        for path in paths:
            tqdm.write(f"{entry.name}: wrote {path}")
        tqdm.write(f"{entry.name}: {elapsed:.1f} s at scale {args.scale}")
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        print_list()
        return 0

    if args.command == "all":
        entries = list(FIGURES)
    else:
        if not args.names:
            fail(PROG, f"make needs at least one figure name; valid: {', '.join(figure_names())}")
        entries = []
        for name in dict.fromkeys(args.names):
            try:
                entries.append(find_figure(name))
            except KeyError as error:
                fail(PROG, error.args[0])

    try:
        return make_figures(entries, args)
    except KeyboardInterrupt:
        kept = "" if args.no_cache else f"; finished runs stay in the cache {args.cache!r}"
        print(f"{PROG}: interrupted{kept}", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
