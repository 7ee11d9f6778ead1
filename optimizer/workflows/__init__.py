"""Workflows over runs: what-if variants, comparisons, sweeps, the run store, plan metrics.

Layer 2: imports the core (``optimizer.engine``, ``optimizer.marxan``, ``constraints``), never
``reports`` or ``optimizer.cli``.
"""
