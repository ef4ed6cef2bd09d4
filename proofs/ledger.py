"""The claims ledger: claims, their decision rules and their verdicts.

A claim has a stable id, a statement, its source, the measurement it calls, and for each
setting a predicted value, a rule with a fixed tolerance, and a verdict. Verdicts are

* ``pass``: the measurement agrees with the prediction within the tolerance;
* ``fail``: it disagrees by more than the tolerance plus the noise band;
* ``inconclusive``: it lies in the noise band between the two.

Tolerances and noise bands are part of each claim's definition, set once from the
recorded calibration in ``proofs/calibration`` and never recomputed from the run being
judged.
"""

import math
from dataclasses import dataclass, field

VERDICTS = ("pass", "fail", "inconclusive")
RULE_KINDS = ("equal", "bounded", "grows", "falls", "exact")


@dataclass(frozen=True)
class Rule:
    """A decision rule with a fixed tolerance and noise band.

    Kinds, for a measured value ``m`` and a predicted value ``p``:

    * ``equal``: pass if ``|m - p| <= tolerance``, fail if ``|m - p| > tolerance + band``;
    * ``bounded`` (``p`` is an upper bound, e.g. a depth slope of 0): pass if
      ``m <= p + tolerance``, fail if ``m > p + tolerance + band``;
    * ``grows`` (the opposite statement): pass if ``m > p + tolerance + band``, fail if
      ``m <= p + tolerance``;
    * ``falls`` (its mirror image): pass if ``m < p - tolerance - band``, fail if
      ``m >= p - tolerance``;
    * ``exact``: pass if ``m == p``, else fail.

    Anything between pass and fail is inconclusive.
    """

    kind: str
    tolerance: float = 0.0
    band: float = 0.0

    def __post_init__(self):
        if self.kind not in RULE_KINDS:
            raise ValueError(f"unknown rule kind {self.kind!r}; valid: {', '.join(RULE_KINDS)}")
        for name in ("tolerance", "band"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    def decide(self, measured, predicted):
        """Return the verdict for ``measured`` against ``predicted``.

        A measured or predicted value that is NaN or infinite (a diverged run, a scan
        without a root) is a fail.
        """
        if self.kind == "exact":
            return "pass" if measured == predicted else "fail"
        if not (math.isfinite(measured) and math.isfinite(predicted)):
            return "fail"
        if self.kind == "equal":
            distance = abs(measured - predicted)
            if distance <= self.tolerance:
                return "pass"
            return "fail" if distance > self.tolerance + self.band else "inconclusive"
        excess = measured - predicted
        if self.kind == "bounded":
            if excess <= self.tolerance:
                return "pass"
            return "fail" if excess > self.tolerance + self.band else "inconclusive"
        if self.kind == "falls":
            excess = -excess
        if excess > self.tolerance + self.band:
            return "pass"
        return "fail" if excess <= self.tolerance else "inconclusive"

    def decide_over_seeds(self, seed_values, predicted, width=2.0):
        """Return the verdict for a mean over seeds, kept only where the seeds agree on it.

        The mean ``m`` of ``seed_values`` spans the interval ``m -+ width * s / sqrt(n)``,
        with ``s`` the standard deviation over the ``n`` seeds. The result is the verdict
        that every point of the interval gets, or inconclusive where the points differ,
        so that an effect within the seed noise is never decided. Each verdict holds on
        an interval of ``m``, so the interval's ends and its point nearest ``predicted``
        show every verdict it meets. A non-finite value gives ``fail``, as in :meth:`decide`; a
        single seed, which shows no noise, gives ``inconclusive``.
        """
        values = [float(value) for value in seed_values]
        if not all(math.isfinite(value) for value in values):
            return "fail"
        if len(values) < 2:
            return "inconclusive"
        mean = sum(values) / len(values)
        deviation = math.sqrt(sum((value - mean)**2 for value in values) / (len(values) - 1))
        half_width = width * deviation / math.sqrt(len(values))
        low, high = mean - half_width, mean + half_width
        nearest = min(max(predicted, low), high)
        verdicts = {self.decide(point, predicted) for point in (low, nearest, high)}
        return verdicts.pop() if len(verdicts) == 1 else "inconclusive"

    def seed_note(self, verdict, seed_values, predicted):
        """Return why :meth:`decide_over_seeds` gave ``verdict``, or ``None`` when the mean
        itself is decided the same way."""
        values = [float(value) for value in seed_values]
        if verdict != "inconclusive" or not all(math.isfinite(value) for value in values):
            return None
        if len(values) < 2:
            return "one seed shows no noise, so the row is not decided"
        mean_verdict = self.decide(sum(values) / len(values), predicted)
        if mean_verdict == "inconclusive":
            return None
        return (f"the mean alone gives {mean_verdict}, but the interval of the mean "
                f"plus or minus two standard errors over seeds also reaches another verdict")

    def describe(self, bound=None):
        """Return the rule in words, e.g. ``"|m - p| <= 0.1 (band 0.05)"``.

        ``bound`` replaces ``p`` in a directional rule (``bounded``, ``grows``, ``falls``),
        whose reference is a bound rather than the prediction.
        """
        reference = "p" if bound is None else f"{bound:g}"
        if self.kind == "exact":
            return "m == p"
        if self.kind == "equal":
            return f"|m - p| <= {self.tolerance:g} (band {self.band:g})"
        if self.kind == "bounded":
            return f"m <= {reference} + {self.tolerance:g} (band {self.band:g})"
        if self.kind == "falls":
            return f"m < {reference} - {self.tolerance + self.band:g} (band {self.band:g})"
        return f"m > {reference} + {self.tolerance + self.band:g} (band {self.band:g})"


@dataclass(frozen=True)
class RowResult:
    """One setting of one claim, decided.

    Attributes
    ----------
    claim : str
        The claim's id.
    setting : str
        What distinguishes this row, e.g. ``"alpha=0.5, 1 step"``.
    predicted, measured : float or str
    spread : float or None
        Standard deviation of the measurement over seeds.
    rule : Rule
    verdict : str
        ``rule.decide(measured, predicted)``, or ``rule.decide(measured, bound)`` for a
        directional rule.
    details : dict
        JSON-ready data behind the measurement (per-seed values, depths ...).
        ``details["contrast"]`` is true for a contrast row: a setting outside the claim
        (alpha = 1/4 for stable initialization, say) that shows the measurement can tell
        the claim apart from its negation. Contrast rows are decided with the claim's
        tolerance but do not enter its calibration.
    """

    claim: str
    setting: str
    predicted: object
    measured: object
    spread: object
    rule: Rule
    verdict: str
    details: dict = field(default_factory=dict)
    bound: float = None

    def to_json(self):
        return {
            "claim": self.claim, "setting": self.setting, "predicted": self.predicted,
            "measured": self.measured, "spread": self.spread, "rule": self.rule.kind,
            "bound": self.bound, "tolerance": self.rule.tolerance, "band": self.rule.band,
            "rule_text": self.rule.describe(self.bound), "verdict": self.verdict,
            "details": self.details,
        }


@dataclass(frozen=True)
class Claim:
    """A checkable statement and how it is decided.

    Attributes
    ----------
    id : str
        Stable id, e.g. ``"completep.init-variance-exponent"``.
    statement : str
    source : str
        Paper, section or figure, and how reliable that source is.
    measurement : str
        The function the claim calls, e.g. ``"sims.coord_check.coord_check"``.
    rule : Rule
        The decision rule; rows may use its ``bounded``/``grows`` variants with the same
        tolerance and band.
    evaluate : callable
        ``evaluate(claim, settings, seed, cache) -> list of RowResult``, where
        ``settings`` contains the sweep sizes of a scale.
    settings : callable
        ``settings(scale) -> dict``, the sweep sizes of a scale.
    """

    id: str
    statement: str
    source: str
    measurement: str
    rule: Rule
    evaluate: object
    settings: object

    def verify(self, scale, seed, cache):
        """Run the claim's measurement at ``scale`` and return its decided rows."""
        return self.evaluate(self, self.settings(scale), seed, cache)


def claim_verdict(rows):
    """Return a claim's overall verdict: fail if any row fails, else inconclusive if any
    row is, else pass.

    Raises
    ------
    ValueError
        If there are no rows, since a claim that measured nothing has no verdict.
    """
    if not rows:
        raise ValueError("a claim without rows has no verdict")
    verdicts = {row.verdict for row in rows}
    if "fail" in verdicts:
        return "fail"
    if "inconclusive" in verdicts:
        return "inconclusive"
    return "pass"
