"""Marxan with Zones interoperability: read a project, score a plan exactly, solve it exactly, write one.

- ``reader``  — input.dat and the files it names → :class:`~optimizer.marxan.reader.MarxanProject`
  (every bad row is an ``InputError`` naming the file, the line and the fix), built on ``tables``
  (Marxan's text tables and input.dat, checked value by value) and ``sections`` (each file input.dat
  names, read into arrays).
- ``score``   — Marxan with Zones' own score (cost + BLM·boundary + shortfall penalty), in numpy,
  independent of any matrix; also reads ``_best`` / ``_r`` solution files and checks locks / puzone.
- ``model``   — the exact MIP for that score (targets hard, or soft with Marxan's penalties).
- ``writer``  — a project back to Marxan's files, and a landalloc scenario exported as a project.
- ``project`` — the landalloc scenario directory written by ``landalloc import-marxan``, and Marxan
  plans (``_best`` files) evaluated against the optimum.
- ``problem`` — such a scenario as one of the run spine's problems (``optimizer/engine/problem.py``):
  ``landalloc solve`` and ``landalloc verify`` treat it like any other scenario.

File formats and the score follow ``../shared/marxan_zones.md`` (Marxan with Zones v4.0.6).
"""
