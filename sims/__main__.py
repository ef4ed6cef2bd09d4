"""Command line: ``python -m sims describe``, the effective hyperparameters of each group."""

import json
import math
import sys

from sims.hyperparameters import (
    OPTIMIZERS, BaseHyperparameters, BaseShape, evaluate_table, make_table,
)
from theory._argparse import ArgumentParser, fail, run_command_line
from theory.parameterization import EPS_MODES, PARAMETERIZATIONS

NORM_GROUPS = ("pre_ln", "final_ln")
"""Groups of LayerNorm gains and biases, which start at one and zero."""


def build_parser():
    parser = ArgumentParser(prog="python -m sims",
                            description="Simulations of deep residual networks.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    describe = commands.add_parser(
        "describe",
        help="print the effective init std, learning rate, epsilon and weight decay of "
             "every parameter group",
    )
    describe.error = parser.error
    describe.add_argument("--param", required=True, choices=PARAMETERIZATIONS,
                          help="parameterization")
    describe.add_argument("--alpha", type=str, default=None,
                          help="residual exponent of the alpha family (default 1, CompleteP)")
    describe.add_argument("--width", type=str, required=True, help="width N (integer >= 1)")
    describe.add_argument("--depth", type=str, required=True, help="depth L (integer >= 1)")
    describe.add_argument("--optimizer", choices=OPTIMIZERS, default="adamw",
                          help="optimizer whose table column applies (default adamw)")
    describe.add_argument("--eps-mode", choices=EPS_MODES, default="table",
                          help="'table': epsilon factors on in-block groups only; "
                               "'global': one epsilon for every group (default table)")
    describe.add_argument("--base-width", type=str, default="128", help="N_base (default 128)")
    describe.add_argument("--base-depth", type=str, default="2", help="L_base (default 2)")
    defaults = BaseHyperparameters()
    describe.add_argument("--init-std", type=str, default=defaults.init_std,
                          help=f"sigma_base (default {defaults.init_std})")
    describe.add_argument("--lr", type=str, default=defaults.lr,
                          help=f"eta_base (default {defaults.lr})")
    describe.add_argument("--eps", type=str, default=defaults.eps,
                          help=f"epsilon_base (default {defaults.eps})")
    describe.add_argument("--weight-decay", type=str, default=defaults.weight_decay,
                          help=f"lambda_base (default {defaults.weight_decay})")
    describe.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def _parse_int(prog, name, text):
    try:
        value = int(text)
    except ValueError:
        fail(prog, f"{name} must be an integer >= 1, got {text!r}")
    if value < 1:
        fail(prog, f"{name} must be an integer >= 1, got {text!r}")
    return value


def _parse_base(prog, name, text, allow_zero):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    valid = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not valid:
        bound = ">= 0" if allow_zero else "> 0"
        fail(prog, f"{name} must be a finite number {bound}, got {text!r}")
    return value


def describe(args, prog):
    """Return the rows that ``describe`` prints, one per parameter group."""
    args.init_std = _parse_base(prog, "--init-std", args.init_std, allow_zero=False)
    args.lr = _parse_base(prog, "--lr", args.lr, allow_zero=False)
    args.eps = _parse_base(prog, "--eps", args.eps, allow_zero=True)
    args.weight_decay = _parse_base(prog, "--weight-decay", args.weight_decay, allow_zero=True)
    width = _parse_int(prog, "--width", args.width)
    depth = _parse_int(prog, "--depth", args.depth)
    base_shape = BaseShape(_parse_int(prog, "--base-width", args.base_width),
                           _parse_int(prog, "--base-depth", args.base_depth))
    try:
        table = make_table(args.param, args.alpha, args.optimizer, args.eps_mode)
        scales = evaluate_table(table, width, depth, base_shape, args.optimizer)
    except ValueError as error:
        fail(prog, str(error))
    except OverflowError:
        fail(prog, f"--width {width} and --depth {depth} are too large for floating point; "
                   "give values below 1e300")

    rows = []
    for group, factors in scales.groups.items():
        init_std = args.init_std * factors.init_std
        if group in NORM_GROUPS:
            init_std = None
        rows.append({
            "group": group,
            "init": _describe_init(group, init_std),
            "init_std": init_std,
            "lr": args.lr * factors.lr,
            "eps": None if factors.eps is None else args.eps * factors.eps,
            "weight_decay": args.weight_decay * factors.weight_decay,
            "per_step_decay": args.lr * factors.lr * args.weight_decay * factors.weight_decay,
        })
    return {
        "parameterization": args.param,
        "alpha": None if args.param != "alpha" else float(table.alpha),
        "optimizer": args.optimizer,
        "width": width, "depth": depth,
        "base_width": base_shape.width, "base_depth": base_shape.depth,
        "m_N": scales.width_multiplier, "m_L": scales.depth_multiplier,
        "residual_multiplier": scales.residual_multiplier,
        "unembedding_multiplier": scales.unembedding_multiplier,
        "groups": rows,
    }


def _describe_init(group, init_std):
    if group in NORM_GROUPS:
        return "gain 1, bias 0"
    if init_std == 0.0:
        return "zeros"
    return f"N(0, {init_std:.4g}^2)"


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    report = describe(args, parser.prog)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0

    names = {"sp": "SP", "mup": "muP", "alpha": "alpha family"}
    alpha = "" if report["alpha"] is None else f", alpha = {report['alpha']:g}"
    print(f"{names[report['parameterization']]}{alpha}, {report['optimizer']}: width {report['width']}, "
          f"depth {report['depth']} (m_N = {report['m_N']:g}, m_L = {report['m_L']:g}; "
          f"base {report['base_width']} x {report['base_depth']})")
    print(f"residual multiplier {report['residual_multiplier']:.6g}, "
          f"unembedding multiplier {report['unembedding_multiplier']:.6g}")
    header = f"{'group':14s} {'init':>18s} {'lr':>11s} {'eps':>11s} {'weight decay':>13s} {'lr*wd/step':>11s}"
    print(header)
    for row in report["groups"]:
        eps = "-" if row["eps"] is None else f"{row['eps']:.4g}"
        print(f"{row['group']:14s} {row['init']:>18s} {row['lr']:11.4g} {eps:>11s} "
              f"{row['weight_decay']:13.4g} {row['per_step_decay']:11.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command_line(main))
