"""Record the noise bands of the trained-variant claims from a run of their own.

The claims of ``proofs/variant_claims.py`` compare trained transformer variants over the
seeds of one scale. Their bounds are part of their statements, and their noise bands come
from this script. It measures every claim at the quick scale with a base seed of its own,
so that the calibration never uses the runs that the ledger later judges, and records the
per-seed values of each row and their standard deviation. For each claim

* ``band = max over rows of 2 * sd / sqrt(n)``, rounded up to 0.05 and at least 0.05,
  over the rows that state the claim, with ``n`` the seeds per row: twice the standard
  error of a row's measured value;
* ``contrast_band``, the same over the contrast rows, for claims that have them: a
  contrast is a different model with its own seed noise.

``tests/proofs`` checks that the claims state these bands. Training every variant takes
about 20 minutes on 2 cores with two worker processes. Rerun after a change of a
measurement:

    python scripts/calibrate_variant_claims.py [--cache DIR] [--workers N] [--claims ID ...]

It writes ``proofs/calibration/variants.json``.
"""

import argparse
import datetime
import json
import math
import os
import pathlib
import platform
import time

import numpy as np

from proofs.variant_claims import CLAIMS, settings_for
from sims.cache import RunCache, atomic_write_json
from sims.sweep import WORKERS_VARIABLE, worker_count

CALIBRATION_BASE_SEED = 1000
OUTPUT = pathlib.Path(__file__).resolve().parent.parent / "proofs" / "calibration" / "variants.json"


def round_up(value, step=0.05):
    """Return ``value`` rounded up to a multiple of ``step``, at least ``step``."""
    return max(step, round(math.ceil(round(value / step, 9)) * step, 10))


def claim_band(rows, contrast=False):
    """Return ``max 2 sd / sqrt(n)`` over the rows (contrast rows with ``contrast``, the
    others without), rounded up to 0.05."""
    widths = []
    for row in rows:
        if row["contrast"] != contrast:
            continue
        values = np.array(row["per_seed"], dtype=float)
        widths.append(2.0 * float(np.std(values, ddof=1)) / math.sqrt(values.size))
    return round_up(max(widths))


def calibrate(cache, claim_ids=None):
    """Measure the claims (all by default) at the quick scale with the calibration base seed."""
    record = {}
    for claim in CLAIMS:
        if claim_ids and claim.id not in claim_ids:
            continue
        start = time.perf_counter()
        rows = claim.verify("quick", CALIBRATION_BASE_SEED, cache)
        measured = [{"setting": row.setting, "contrast": bool(row.details.get("contrast")),
                     "per_seed": row.details["seed_values"],
                     "sd": float(np.std(row.details["seed_values"], ddof=1))}
                    for row in rows]
        record[claim.id] = {"band": claim_band(measured),
                            "contrast_band": (claim_band(measured, contrast=True)
                                              if any(row["contrast"] for row in measured)
                                              else None),
                            "elapsed_seconds": time.perf_counter() - start,
                            "recorded": datetime.datetime.now(datetime.timezone.utc)
                            .isoformat(timespec="seconds"),
                            "rows": measured}
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=".suite-cache",
                        help="folder of finished runs (default ./.suite-cache)")
    parser.add_argument("--claims", nargs="+", default=None, metavar="ID",
                        help="re-measure only these claims and keep the others' records")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes for the training sweeps (default: "
                             "DEPTHCHECK_WORKERS or 1)")
    arguments = parser.parse_args(argv)
    if arguments.workers is not None:
        try:
            os.environ[WORKERS_VARIABLE] = str(worker_count(arguments.workers))
        except ValueError as error:
            parser.error(str(error))

    known = [claim.id for claim in CLAIMS]
    unknown = sorted(set(arguments.claims or ()) - set(known))
    if unknown:
        parser.error(f"unknown claim {unknown[0]!r}; valid: {', '.join(known)}")
    claims = {}
    if arguments.claims and OUTPUT.exists():
        claims = json.loads(OUTPUT.read_text(encoding="utf-8"))["claims"]
    claims.update(calibrate(RunCache(arguments.cache), arguments.claims))
    atomic_write_json(OUTPUT, {
        "base_seed": CALIBRATION_BASE_SEED,
        "scale": "quick",
        "settings": settings_for("quick"),
        "recorded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "claims": claims,
    })
    print(json.dumps({claim_id: entry["band"] for claim_id, entry in claims.items()}, indent=2))


if __name__ == "__main__":
    main()
