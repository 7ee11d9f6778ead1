"""Marxan's output files read back: plans (``_best``, ``_rNNNNN``) and selection frequencies (``_ssoln``).

Marxan with Zones writes ``planning_unit,zone`` with zone ids. Classic Marxan (output.cpp
writeSolution) writes one row per unit, last unit first: with SAVEBEST/SAVERUN 3 a ``PUID,<BESTFIELDNAME>``
header (default ``SOLUTION``) and ``id,1`` / ``id,0``; with 2 a ``"planning_unit","solution"`` header;
with 1 no header, a reserved unit as its id alone and others as ``id,0``. ``_ssoln`` (writeSumSoln)
holds ``"planning_unit","number"`` — how many of NUMREPS runs reserved each unit — or the same rows
tab-separated without a header. Every unit of the project must appear exactly once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.engine.errors import InputError
from optimizer.marxan.arrays import MarxanProject
from optimizer.marxan.tables import Table, id_index, lookup, positional, read_table, to_int

def is_frequency_file(path: str | Path) -> bool:
    """A ``_ssoln`` file: its name says so, or its header's second column is ``number``."""
    path = Path(path)
    if "_ssoln" in path.name:
        return True
    tab = read_table(path, "solution")
    return bool(tab.header) and len(tab.header) > 1 and tab.header[1].strip('"').lower() == "number"


def _assign(p: MarxanProject, tab: Table, rows, what: str) -> np.ndarray:
    """(line, PU id, value) rows → value per PU index; unknown, repeated or missing units are errors."""
    pu_index = id_index(p.pu_ids)
    out = np.full(p.n_pu, -1, dtype=np.int64)
    line_of: dict[int, int] = {}
    for line, pid, v in rows:
        i = lookup(tab, line, "planning_unit", pid, pu_index, "planning-unit", "pu.dat")
        if out[i] >= 0:
            raise InputError(tab.label, f"line {line}", f"PU {pid} appears twice (first on line {line_of[i]})",
                             f"give every PU exactly one {what}")
        out[i], line_of[i] = v, line
    missing = np.nonzero(out < 0)[0]
    if len(missing):
        raise InputError(tab.label, None, f"{len(missing)} PU(s) missing, e.g. {p.pu_ids[missing[:5]].tolist()}",
                         "write the SAVEBEST file (or SAVERUN, SAVESUMSOLN) with 2 or 3, for the same project "
                         "(Marxan with Zones writes an empty file with 1)")
    return out


def read_zones_solution(p: MarxanProject, path: Path) -> np.ndarray:
    """A Marxan with Zones ``_best`` / ``_rN`` file (``planning_unit,zone`` with zone ids) → zone index per PU."""
    tab = read_table(path, "solution")
    zone_index = id_index(p.zone_ids)
    rows = [(line, pid, lookup(tab, line, "zone", zid, zone_index, "zone", "zones.dat"))
            for line, (pid, zid) in positional(tab, ("planning_unit", "zone"), "ii")]
    return _assign(p, tab, rows, "zone")


def read_classic_solution(p: MarxanProject, path: Path) -> np.ndarray:
    """A classic ``_best`` / ``_rN`` file → zone index per PU (0 available, 1 reserved)."""
    tab = read_table(path, "solution")
    rows = []
    for line, toks in tab.rows:
        pid = to_int(tab, line, "planning_unit", toks[0], "planning-unit ids are integers")
        v = 1 if len(toks) == 1 else to_int(tab, line, "solution", toks[1])
        if v not in (0, 1):
            raise InputError(tab.label, f"line {line}, column solution", f"{v} is neither 0 (not reserved) nor 1 (reserved)",
                             "give a classic Marxan solution file (_best or _rNNNNN)")
        rows.append((line, pid, v))
    return _assign(p, tab, rows, "value")


def read_plan(p: MarxanProject, path: str | Path) -> np.ndarray:
    """Zone index per PU from the project's kind of solution file."""
    path = Path(path)
    return read_classic_solution(p, path) if p.classic else read_zones_solution(p, path)


def read_frequencies(p: MarxanProject, path: str | Path) -> np.ndarray:
    """A classic ``_ssoln`` file → the number of runs that reserved each unit."""
    path = Path(path)
    if not p.classic:
        raise InputError(str(path), None, "selection frequencies are read for classic Marxan projects only",
                         "evaluate a Marxan with Zones _best or _r file instead")
    tab = read_table(path, "selection frequencies")
    rows = [(line, pid, n) for line, (pid, n) in positional(tab, ("planning_unit", "number"), "ii")]
    for line, _, n in rows:
        if n < 0:
            raise InputError(tab.label, f"line {line}, column number", f"{n} runs", "counts of runs are ≥ 0")
    return _assign(p, tab, rows, "count")


def plan_frame(p: MarxanProject, zone: np.ndarray) -> pd.DataFrame:
    """A plan as Marxan writes it: ``planning_unit,solution`` (classic) or ``planning_unit,zone`` (zones)."""
    if p.classic:
        return pd.DataFrame({"planning_unit": p.pu_ids, "solution": zone})
    return pd.DataFrame({"planning_unit": p.pu_ids, "zone": p.zone_ids[zone]})
