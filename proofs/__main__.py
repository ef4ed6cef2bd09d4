"""Command line: ``python -m proofs list | verify [CLAIM ...]``, the claims ledger."""

import json
import sys
import time

from proofs.ledger import claim_verdict
from proofs.registry import CLAIMS, get_claims
from sims.cli_options import open_cache, parse_seed, run_options
from theory._argparse import ArgumentParser, fail, run_command_line

INTERRUPTED = 130
"""Exit status after Ctrl-C, as a shell reports a process ended by SIGINT."""


def build_parser():
    parser = ArgumentParser(prog="python -m proofs", description="The claims ledger.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", help="print the id and statement of every claim")
    listing.error = parser.error
    verify = commands.add_parser(
        "verify", parents=[run_options()],
        help="decide claims by simulation: claim, predicted, measured, tolerance, verdict; "
             "tolerances are calibrated at the quick scale")
    verify.error = parser.error
    verify.add_argument("claims", nargs="*", metavar="CLAIM",
                        help="claim ids (default: every claim)")
    verify.add_argument("--json", action="store_true", help="print the ledger as JSON")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = parser.prog
    if args.command == "list":
        for claim in CLAIMS.values():
            print(f"{claim.id}\n  {claim.statement}")
        return 0

    try:
        claims = get_claims(list(dict.fromkeys(args.claims)))
    except KeyError as error:
        fail(prog, f"unknown claim {error.args[0]!r}; valid: {', '.join(CLAIMS)}")
    seed = parse_seed(prog, args.seed)
    cache = open_cache(prog, args)

    try:
        return verify(claims, args, seed, cache)
    except KeyboardInterrupt:
        kept = "" if args.no_cache else f"; finished runs stay in the cache {args.cache!r}"
        print(f"{prog}: interrupted{kept}", file=sys.stderr)
        return INTERRUPTED


def verify(claims, args, seed, cache):
    """Decide ``claims``, print the ledger and return the exit status."""
    ledger = []
    for claim in claims:
        start = time.perf_counter()
        rows = claim.verify(args.scale, seed, cache)
        ledger.append((claim, rows, time.perf_counter() - start))
        if not args.json:
            _print_claim(claim, rows)

    failed = any(claim_verdict(rows) == "fail" for _, rows, _ in ledger)
    if args.json:
        document = {
            "scale": args.scale, "seed": seed,
            "claims": [
                {"id": claim.id, "statement": claim.statement, "source": claim.source,
                 "measurement": claim.measurement, "verdict": claim_verdict(rows),
                 "elapsed_seconds": elapsed, "rows": [row.to_json() for row in rows]}
                for claim, rows, elapsed in ledger
            ],
        }
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        counts = {}
        for _, rows, _ in ledger:
            verdict = claim_verdict(rows)
            counts[verdict] = counts.get(verdict, 0) + 1
        summary = ", ".join(f"{counts.get(v, 0)} {v}" for v in ("pass", "inconclusive", "fail"))
        noun = "claim" if len(ledger) == 1 else "claims"
        print(f"{len(ledger)} {noun} at scale {args.scale}: {summary}")
    return 1 if failed else 0


def _format(value):
    if isinstance(value, float):
        return f"{value:+.3f}"
    return str(value)


def _print_claim(claim, rows):
    print(f"{claim.id}: {claim_verdict(rows)}")
    print(f"  {claim.statement}")
    print(f"  source: {claim.source}; measurement: {claim.measurement}")
    width = max([52] + [len(row.setting) for row in rows])
    print(f"  {'setting':{width}s} {'predicted':>9s} {'measured':>9s} {'seed sd':>7s} "
          f"{'tolerance':>9s} {'band':>6s}  {'rule':30s} verdict")
    for row in rows:
        spread = "" if row.spread is None else f"{row.spread:.3f}"
        print(f"  {row.setting:{width}s} {_format(row.predicted):>9s} "
              f"{_format(row.measured):>9s} {spread:>7s} {row.rule.tolerance:9.3g} "
              f"{row.rule.band:6.3g}  {row.rule.describe(row.bound):30s} {row.verdict}")

    # Rows that share a note are listed together, so that every row's note is shown once.
    settings_by_note = {}
    for row in rows:
        overridden = row.details.get("verdict_from_rule")
        if overridden:
            print(f"  {row.setting}: the rule alone gives {overridden}")
        note = row.details.get("note")
        if note:
            settings_by_note.setdefault(note, []).append(row.setting)
    for note, settings in settings_by_note.items():
        covered = "every row" if len(settings) == len(rows) else "; ".join(settings)
        print(f"  note on {covered}: {note}")
    print()

if __name__ == "__main__":
    sys.exit(run_command_line(main))
