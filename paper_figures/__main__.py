"""Command line: ``python -m paper_figures list | make NAME [NAME ...] | all``."""

import sys

from tqdm import tqdm

from paper_figures.registry import FIGURES, figure_names, find_figure
from sims.cli_options import check_directory, create_directory, open_cache, parse_seed, run_options
from theory._argparse import ArgumentParser, fail, run_command_line

PROG = "python -m paper_figures"
DEFAULT_OUT = "figures"
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

    options = run_options()
    options.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                         help=f"folder for the figure files, created if missing "
                              f"(default ./{DEFAULT_OUT})")

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


def print_list():
    width = max(len(name) for name in figure_names())
    for entry in FIGURES:
        print(f"{entry.name:{width}s}  {entry.description}")


def make_figures(entries, args):
    """Make each figure and print where its files went; return the exit status."""
    # Imported here so that ``list`` and usage errors do not load numpy and matplotlib.
    from paper_figures.make import make_figure
    from paper_figures.memory import InsufficientMemoryError

    # Every option is checked before any folder is created.
    seed = parse_seed(PROG, args.seed)
    out = check_directory(PROG, "--out", args.out)
    if not args.no_cache:
        check_directory(PROG, "--cache", args.cache)
    create_directory(PROG, "--out", out)
    cache = open_cache(PROG, args)

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
    sys.exit(run_command_line(main))
