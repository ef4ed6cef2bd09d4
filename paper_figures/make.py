"""Make one registered figure: compute its data, draw it and write its three files."""

import time

from paper_figures.output import package_versions, write_figure
from sims.cache import source_hash
from sims.scales import check_scale
from sims.seeds import check_seed


def make_figure(entry, scale, base_seed, cache, directory):
    """Compute, draw and write the figure of ``entry``.

    The JSON document contains the figure's name, description, scale, base seed, cache
    folder, elapsed wall-clock time in seconds, package versions and the SHA-256 of the
    ``theory`` and ``sims`` sources. It also contains everything that the figure's
    ``compute`` returns: configuration, seeds, curves, and fits with theory values.

    Parameters
    ----------
    entry : paper_figures.registry.FigureEntry
    scale : {"smoke", "quick", "paper"}
    base_seed : int
        Non-negative.
    cache : sims.cache.RunCache
        Finished runs; ``RunCache(None)`` runs everything afresh.
    directory : str or pathlib.Path
        Output folder.

    Returns
    -------
    paths : list of pathlib.Path
        The PNG, PDF and JSON files written.
    elapsed : float
        Seconds from the start of ``compute`` to the end of drawing.
    """
    check_scale(scale)
    check_seed(base_seed, "base seed")
    module = entry.load()

    start = time.perf_counter()
    data = module.compute(scale, base_seed, cache)
    figure = module.draw(data)
    elapsed = time.perf_counter() - start

    document = {
        "figure": entry.name,
        "description": entry.description,
        "scale": scale,
        "base_seed": base_seed,
        "cache": None if cache.directory is None else str(cache.directory),
        "elapsed_seconds": elapsed,
        "versions": package_versions(),
        "source_sha256": source_hash(),
    }
    document.update(data)
    return write_figure(directory, entry.name, figure, document), elapsed
