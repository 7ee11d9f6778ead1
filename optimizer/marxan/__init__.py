"""Marxan interoperability — classic Marxan and Marxan with Zones: read a project, score a plan exactly,
solve it exactly, evaluate Marxan's results, write a project.

- ``arrays``   — :class:`~optimizer.marxan.arrays.MarxanProject`, a project as arrays; a classic project
  is held as two zones (available, reserved) with its own semantics keyed on ``flavour``.
- ``reader``   — tells the two kinds apart and reads a Marxan with Zones project (every bad row is an
  ``InputError`` naming the file, the line and the fix), built on ``tables`` (Marxan's text tables
  and input.dat, checked value by value) and ``sections`` (each file input.dat names, read into arrays).
- ``classic``  — a classic Marxan project: pu.dat status as locks and an initial plan, prop and absolute
  targets, Marxan's penalty estimate replayed, what cannot be honoured refused or stated.
- ``score``    — Marxan's own score (cost + BLM·boundary + shortfall penalty), classic or with Zones, in
  numpy, independent of any matrix; lock / puzone breaches.
- ``model``    — the exact MIP for that score (targets hard, or soft with Marxan's penalties).
- ``solutions`` — Marxan's output files read back: ``_best`` / ``_r`` plans and ``_ssoln`` frequencies.
- ``evaluation`` — those results judged against the optimum (and, for an exported scenario, by landalloc).
- ``writer``   — a project back to Marxan's files; ``export`` — a landalloc scenario as a project.
- ``project``  — the landalloc scenario directory written by ``landalloc import-marxan``.
- ``problem``  — such a scenario as one of the run spine's problems (``optimizer/engine/problem.py``):
  ``landalloc solve`` and ``landalloc verify`` treat it like any other scenario.

Marxan with Zones formats and score follow ``../shared/marxan_zones.md`` (v4.0.6); classic Marxan
follows the Marxan v4 sources named in ``classic.py``.
"""
