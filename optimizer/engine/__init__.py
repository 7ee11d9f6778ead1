"""The engine: a scenario becomes a model, a plan, a verified run directory.

Layer 1 (the core, with ``constraints/``): imports nothing from ``optimizer.workflows``,
``reports`` or ``optimizer.cli``. The flow of one run is ``run.solve_scenario``.
"""
