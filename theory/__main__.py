"""Command line: ``python -m theory completep [--json]``."""

import json
import sys

import sympy

from theory import completep
from theory._argparse import ArgumentParser, run_command_line
from theory.parameterization import TABLE_OPTIMIZERS, build_table

DERIVATIONS = {"completep": "CompleteP depth exponents of the alpha family, step by step"}


def main(argv=None):
    parser = ArgumentParser(prog="python -m theory",
                            description="Print a derivation step by step, premises first.")
    parser.add_argument("derivation", choices=sorted(DERIVATIONS),
                        help="which derivation to print")
    parser.add_argument("--json", action="store_true",
                        help="print the premises, steps and results as JSON")
    args = parser.parse_args(argv)

    derivation = completep.derive()
    tables = {optimizer: build_table("alpha", optimizer) for optimizer in TABLE_OPTIMIZERS}

    if args.json:
        document = derivation.to_json()
        document["tables"] = {
            optimizer: {name: _rule_json(rule) for name, rule in table.rows()}
            for optimizer, table in tables.items()
        }
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0

    print(derivation.to_text())
    for optimizer, table in tables.items():
        title = f"Resulting alpha-family table, {optimizer} column"
        print(title)
        print("-" * len(title))
        for name, rule in table.rows():
            print(f"  {name:32s} {rule}")
        print()
    return 0


def _rule_json(rule):
    return {
        "expression": sympy.sstr(rule.expression()),
        "base": sympy.sstr(rule.base),
        "width_exponent": sympy.sstr(rule.width_exponent),
        "depth_exponent": sympy.sstr(rule.depth_exponent),
    }


if __name__ == "__main__":
    sys.exit(run_command_line(main))
