"""Figures of the suite, one module per figure, and the command line that makes them.

``python -m paper_figures list`` prints the registered figures, ``make NAME [NAME ...]``
and ``all`` write ``NAME.png``, ``NAME.pdf`` and ``NAME.json`` for each (see
:mod:`paper_figures.registry` for how a figure joins and :mod:`paper_figures.make` for
what the files contain).
"""
