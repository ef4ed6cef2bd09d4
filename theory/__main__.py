"""Command line: ``python -m theory completep|mixit [--json]``."""

import json
import sys

import sympy

from theory._argparse import ArgumentParser, run_command_line

DERIVATIONS = {
    "completep": "CompleteP depth exponents of the alpha family, step by step",
    "mixit": "MixiT signal propagation: the covariance SDE of token representations",
}


def main(argv=None):
    parser = ArgumentParser(prog="python -m theory",
                            description="Print a derivation step by step, premises first.")
    parser.add_argument("derivation", choices=sorted(DERIVATIONS),
                        help="which derivation to print")
    parser.add_argument("--json", action="store_true",
                        help="print the premises, steps and results as JSON")
    args = parser.parse_args(argv)
    if args.derivation == "mixit":
        return _print_mixit(args.json)
    return _print_completep(args.json)


def _print_completep(as_json):
    from theory import completep
    from theory.parameterization import TABLE_OPTIMIZERS, build_table

    derivation = completep.derive()
    tables = {optimizer: build_table("alpha", optimizer) for optimizer in TABLE_OPTIMIZERS}

    if as_json:
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


def _print_mixit(as_json):
    from theory import mixit

    derivation = mixit.derive()
    numbers = mixit.numbers()
    if as_json:
        document = derivation.to_json()
        document["numbers"] = numbers
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0

    print(derivation.to_text())
    title = "Numbers at gamma**2 = 1/2, sigma = 1"
    print(title)
    print("-" * len(title))
    for line in _number_lines(numbers):
        print(line)
    print()
    return 0


def _number_lines(tree, indent="  "):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield f"{indent}{key}:"
            yield from _number_lines(value, indent + "  ")
        elif isinstance(value, float):
            yield f"{indent}{key} = {value:.10g}"
        elif isinstance(value, list):
            yield f"{indent}{key} = " + ", ".join(
                f"{item:.10g}" if isinstance(item, float) else str(item) for item in value)
        else:
            yield f"{indent}{key} = {value}"


def _rule_json(rule):
    return {
        "expression": sympy.sstr(rule.expression()),
        "base": sympy.sstr(rule.base),
        "width_exponent": sympy.sstr(rule.width_exponent),
        "depth_exponent": sympy.sstr(rule.depth_exponent),
    }


if __name__ == "__main__":
    sys.exit(run_command_line(main))
