"""Calibrate the tolerances of the claims ledger and record the calibration.

Each claim is measured at the quick scale with many seeds and a base seed of its own (so
that the calibration never uses the runs that the ledger later judges). For every row the script
records the per-seed values, their mean, standard deviation and bias against the theory
value, and derives for each claim

* ``estimator_sd = sd / sqrt(n)``, the spread of a row's measured value, which averages
  ``n`` seeds (the quick scale's seed count);
* ``tolerance = max over rows of (|bias| + 3 * estimator_sd)``, over the rows that state
  the claim (contrast rows, which show that the measurement can reject it, are left out), rounded up to 0.05, so that
  a correct prediction with that finite-size bias passes with probability above 99.7%
  when the estimator is Gaussian;
* ``band = max over rows of 2 * estimator_sd``, rounded up to 0.05 and at least 0.05, the
  noise band in which a verdict is inconclusive.

The claims in ``proofs/completep_claims.py`` state these numbers as their tolerance and
band; ``tests/proofs`` checks that the two agree. Rerun after a change of a measurement:

    python scripts/calibrate_claims.py [--seeds 16] [--cache DIR]

It writes ``proofs/calibration/completep.json``.
"""

import argparse
import datetime
import json
import math
import pathlib
import platform
import time

import numpy as np

from proofs.completep_claims import CLAIMS, settings_for
from sims.cache import RunCache, atomic_write_json

CALIBRATION_BASE_SEED = 1000
OUTPUT = pathlib.Path(__file__).resolve().parent.parent / "proofs" / "calibration" / "completep.json"


def round_up(value, step=0.05):
    """Round ``value`` up to a multiple of ``step``, with a little slack for float error."""
    return round(math.ceil(value / step - 1e-9) * step, 10)


def per_seed_values(row):
    """Return the per-seed measurements behind a row, or ``None`` for an exact row."""
    if "per_seed_roots" in row.details:
        return row.details["per_seed_roots"]
    return row.details.get("seed_slopes")


def calibrate_claim(claim, settings, judged_seeds, cache):
    """Measure one claim with the calibration settings and derive its tolerance and band."""
    start = time.perf_counter()
    rows = claim.evaluate(claim, settings, CALIBRATION_BASE_SEED, cache)
    records = []
    for row in rows:
        values = per_seed_values(row)
        if values is None:
            records.append({"setting": row.setting, "exact": True})
            continue
        if row.details.get("contrast"):
            records.append({"setting": row.setting, "contrast": True})
            continue
        values = np.asarray(values, dtype=float)
        if not np.all(np.isfinite(values)):
            raise RuntimeError(f"{claim.id}, {row.setting}: a seed gave no finite measurement "
                               f"({values.tolist()}); the calibration cannot use it")
        reference = row.predicted
        sd = float(np.std(values, ddof=1))
        records.append({
            "setting": row.setting,
            "reference": float(reference),
            "per_seed": values.tolist(),
            "mean": float(values.mean()),
            "sd": sd,
            "bias": float(values.mean() - reference),
            "estimator_sd": sd / math.sqrt(judged_seeds),
        })

    measured = [r for r in records if not (r.get("exact") or r.get("contrast"))]
    summary = {"rows": records, "elapsed_seconds": time.perf_counter() - start}
    if measured:
        summary["tolerance"] = round_up(max(abs(r["bias"]) + 3 * r["estimator_sd"] for r in measured))
        summary["band"] = max(0.05, round_up(max(2 * r["estimator_sd"] for r in measured)))
    else:
        summary["tolerance"] = 0.0
        summary["band"] = 0.0
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16, help="seeds per row (default 16)")
    parser.add_argument("--cache", default=".suite-cache",
                        help="folder of finished runs (default .suite-cache)")
    parser.add_argument("claims", nargs="*", help="claim ids (default: every claim)")
    args = parser.parse_args()

    settings = settings_for("quick")
    judged_seeds = settings["seeds"]
    settings["seeds"] = args.seeds
    cache = RunCache(args.cache)

    document = {
        "script": "scripts/calibrate_claims.py",
        "scale": "quick",
        "calibration_seeds": args.seeds,
        "judged_seeds": judged_seeds,
        "base_seed": CALIBRATION_BASE_SEED,
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, Python {platform.python_version()}, NumPy {np.__version__}",
        "claims": {},
    }
    if OUTPUT.exists() and args.claims:
        document["claims"] = json.loads(OUTPUT.read_text())["claims"]

    for claim in CLAIMS:
        if args.claims and claim.id not in args.claims:
            continue
        summary = calibrate_claim(claim, settings, judged_seeds, cache)
        document["claims"][claim.id] = summary
        print(f"{claim.id}: tolerance {summary['tolerance']}, band {summary['band']} "
              f"({summary['elapsed_seconds']:.0f} s)", flush=True)

    atomic_write_json(OUTPUT, document)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
