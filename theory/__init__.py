"""Symbolic derivations of depth-scaling exponents (sympy) and their exact evaluation.

The public names load their modules on first use, so that command lines which only parse
arguments (``theory._argparse``) do not pay for importing sympy.
"""

import importlib

_PUBLIC = {
    "ParameterizationTable": "theory.parameterization",
    "ScalingRule": "theory.scaling",
    "build_table": "theory.parameterization",
    "depth_exponents": "theory.completep",
    "derive": "theory.completep",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'theory' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
