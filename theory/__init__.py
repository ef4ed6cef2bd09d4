"""Symbolic derivations of depth-scaling exponents (sympy) and their exact evaluation."""

from theory.completep import depth_exponents, derive
from theory.parameterization import ParameterizationTable, build_table
from theory.scaling import ScalingRule

__all__ = ["ParameterizationTable", "ScalingRule", "build_table", "depth_exponents", "derive"]
