"""Write a figure's picture and data as ``NAME.png``, ``NAME.pdf`` and ``NAME.json``.

Each file is written to a temporary name in the output folder and renamed
(:func:`sims.cache.atomic_write_bytes`), so an interrupted run leaves either the
previous file or the new one, never a partial file.
"""

import importlib.metadata
import io
import json
import math
import numbers
import pathlib
import platform

import numpy as np
import sympy

from sims.cache import atomic_write_bytes

PACKAGES = ("numpy", "scipy", "sympy", "mpmath", "matplotlib", "depthcheck")
"""Distributions whose versions every figure's JSON records, besides Python's."""

PNG_DPI = 150


def package_versions():
    """Return the versions of Python and of :data:`PACKAGES` (``None`` if not installed)."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def json_ready(value):
    """Convert ``value`` into plain JSON types.

    NumPy arrays become nested lists and NumPy scalars Python numbers. A float that is
    NaN or infinite becomes ``None``, because standard JSON has no such numbers. An
    exact sympy number becomes a float, and any other sympy expression its string.
    Tuples become lists and mapping keys strings.
    """
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, sympy.Basic):
        return float(value) if value.is_number else str(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def write_figure(directory, name, figure, document):
    """Write ``NAME.png``, ``NAME.pdf`` and ``NAME.json`` to ``directory``.

    Parameters
    ----------
    directory : str or pathlib.Path
        An existing or creatable folder.
    name : str
        The figure's name, the stem of the three files.
    figure : matplotlib.figure.Figure
    document : dict
        The data behind the figure, converted by :func:`json_ready`.

    Returns
    -------
    list of pathlib.Path
        The paths written, in the order PNG, PDF, JSON.
    """
    directory = pathlib.Path(directory)
    paths = [directory / f"{name}.{suffix}" for suffix in ("png", "pdf", "json")]

    # Leaving out the creation date makes the PDF depend only on the figure.
    for path, format_name, metadata in ((paths[0], "png", None),
                                        (paths[1], "pdf", {"CreationDate": None})):
        buffer = io.BytesIO()
        figure.savefig(buffer, format=format_name, dpi=PNG_DPI, metadata=metadata)
        atomic_write_bytes(path, buffer.getvalue())

    text = json.dumps(json_ready(document), indent=2, sort_keys=True, allow_nan=False)
    atomic_write_bytes(paths[2], (text + "\n").encode("utf-8"))
    return paths
