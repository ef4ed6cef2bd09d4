"""Records for derivations that can be printed step by step or exported as JSON."""

from dataclasses import dataclass, field

import sympy


@dataclass(frozen=True)
class Premise:
    """An assumption that a derivation takes as given.

    Parameters
    ----------
    key : str
        Short label, e.g. ``"P1"``, used by the steps that rely on it.
    name : str
        A few words naming the premise.
    statement : str
        The assumption in full.
    """

    key: str
    name: str
    statement: str


@dataclass(frozen=True)
class Step:
    """One step of a derivation.

    Parameters
    ----------
    title : str
        What the step establishes.
    premises : tuple of str
        Keys of the premises that enter at this step.
    reasoning : str
        The argument in words.
    equations : tuple of (str, sympy.Basic)
        Labelled formulas, in the order they are derived.
    results : dict
        Named sympy results that later steps or the parameterization table use.
    """

    title: str
    premises: tuple
    reasoning: str
    equations: tuple = ()
    results: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Derivation:
    """A titled list of aims, premises and steps.

    ``aims`` is a tuple of ``(label, statement)`` pairs: what the derivation asks of its
    result, e.g. the desiderata that select an exponent.
    """

    title: str
    premises: tuple
    steps: tuple
    aims: tuple = ()

    def results(self):
        """Return every named result of every step, in step order."""
        collected = {}
        for step in self.steps:
            collected.update(step.results)
        return collected

    def to_text(self):
        """Render the derivation, premises first, as plain text."""
        lines = [self.title, "=" * len(self.title), ""]
        if self.aims:
            lines.extend(["Aims", ""])
            for label, statement in self.aims:
                lines.append(f"  {label}: {statement}")
            lines.append("")
        lines.extend(["Premises", ""])
        for premise in self.premises:
            lines.append(f"  {premise.key} ({premise.name}): {premise.statement}")
        lines.append("")

        for number, step in enumerate(self.steps, start=1):
            used = ", ".join(step.premises) if step.premises else "no premise"
            lines.append(f"Step {number}. {step.title}  [uses {used}]")
            lines.append(f"  {step.reasoning}")
            for label, formula in step.equations:
                lines.append(f"    {label}:  {_format(formula)}")
            for name, value in step.results.items():
                lines.append(f"    => {name} = {_format(value)}")
            lines.append("")
        return "\n".join(lines)

    def to_json(self):
        """Return a JSON-ready dict: premises, steps and results as strings."""
        return {
            "title": self.title,
            "aims": [{"label": label, "statement": statement} for label, statement in self.aims],
            "premises": [
                {"key": p.key, "name": p.name, "statement": p.statement} for p in self.premises
            ],
            "steps": [
                {
                    "title": step.title,
                    "premises": list(step.premises),
                    "reasoning": step.reasoning,
                    "equations": [
                        {"label": label, "formula": _format(formula)}
                        for label, formula in step.equations
                    ],
                    "results": {name: _format(value) for name, value in step.results.items()},
                }
                for step in self.steps
            ],
            "results": {name: _format(value) for name, value in self.results().items()},
        }


def _format(formula):
    if isinstance(formula, str):
        return formula
    return sympy.sstr(formula)
