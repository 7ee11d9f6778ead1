"""Current-use codes as land offices record them, read as the codes a scenario plans with.

A department's current land-use map carries the national classification's codes (``LUC``, ``RSX`` …),
codes of the earlier classification (``BHK``, ``LNQ``, ``RST``), combined cadastral codes (``ONT+CLN``:
rural housing with a perennial garden on one parcel; ``LUK/LUC``) and, inevitably, typing slips. The
parcel loader reads them through :func:`resolve_codes` when the scenario says ``parcels.cadastral``, so a
scenario can point at the department's own file.

One rule per case, tried in this order for each distinct value (trimmed, NFC, upper-case):

1. the planner's own ``map`` (``parcels.cadastral.map``: code → code) — ``map``;
2. a code the scenario's ``land_uses`` already has — ``scenario``;
3. a code of the national classification (``data/land_use_vn.yaml``) — ``national``;
4. a code of the earlier classification (``data/land_use_crosswalk_vn.yaml``) — ``crosswalk``;
5. a combined code (parts joined by ``+``, ``/``, ``,`` or ``;``): **the first code is the parcel's use**
   (resolved by 1–4), the others are recorded in ``code_secondary`` — ``combined``;
6. anything else stays as it is — ``unmapped`` — so the engine's "unknown land-use code(s)" check still
   names it, and ``landalloc init`` lists it with its count.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from optimizer.engine.text import nfc_str

DATA_DIR = Path(__file__).resolve().parent / "data"
CLASSIFICATION_FILE = DATA_DIR / "land_use_vn.yaml"
CROSSWALK_FILE = DATA_DIR / "land_use_crosswalk_vn.yaml"
_SEPARATORS = re.compile(r"\s*[+/,;]\s*")
RULES = ("map", "scenario", "national", "crosswalk", "combined", "unmapped")


@functools.lru_cache(maxsize=1)
def _classification_file() -> dict:
    return yaml.safe_load(CLASSIFICATION_FILE.read_text(encoding="utf-8"))


def national_classification() -> dict[str, dict]:
    """code → {name_vi, name_en, group, colour, forest, rice, confirmed} of the shipped national classification."""
    return _classification_file()["codes"]


def default_allocate() -> list[str]:
    """The uses a scenario written by `landalloc init` allocates unless the planner says otherwise (data file)."""
    return list(_classification_file()["allocate"])


@functools.lru_cache(maxsize=1)
def crosswalk() -> dict[str, dict]:
    """earlier code → {to, source[, unconfirmed]}."""
    return yaml.safe_load(CROSSWALK_FILE.read_text(encoding="utf-8"))["crosswalk"]


def normalise(value) -> str:
    """A code as written, compared: trimmed, NFC, upper-case; an empty cell is ``""``."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return nfc_str(value).strip().upper()


@dataclass(frozen=True)
class Resolution:
    code: str
    rule: str
    secondary: str = ""
    """the other codes of a combined code, joined by '+'"""


def resolve_one(raw: str, planner_map: dict[str, str], scenario_codes: set[str]) -> Resolution:
    """One distinct value by the rules of this module's docstring."""
    code = normalise(raw)
    if code in planner_map:
        return Resolution(planner_map[code], "map")
    if code in scenario_codes:
        return Resolution(code, "scenario")
    if code in national_classification():
        return Resolution(code, "national")
    if code in crosswalk():
        return Resolution(crosswalk()[code]["to"], "crosswalk")
    parts = [p for p in _SEPARATORS.split(code) if p]
    if len(parts) > 1:
        first = resolve_one(parts[0], planner_map, scenario_codes)
        if first.rule != "unmapped":
            return Resolution(first.code, "combined", "+".join(parts[1:]))
    return Resolution(str(raw).strip() if raw is not None else "", "unmapped")


@dataclass(frozen=True)
class CodeReading:
    """The current-use field read code by code: one entry per parcel, and the tally per distinct value."""

    code: np.ndarray
    rule: np.ndarray
    secondary: np.ndarray
    table: tuple[tuple[str, str, str, int], ...]
    """(value as written, code read, rule, parcels), most frequent first"""

    @property
    def unmapped(self) -> dict[str, int]:
        return {raw: n for raw, _, rule, n in self.table if rule == "unmapped"}

    def count_by_rule(self) -> dict[str, int]:
        tally = Counter()
        for _, _, rule, n in self.table:
            tally[rule] += n
        return {r: tally[r] for r in RULES if tally[r]}


def resolve_codes(values, planner_map: dict[str, str] | None = None, scenario_codes=()) -> CodeReading:
    """Every parcel's value resolved once per distinct value (a layer has thousands of parcels, dozens of codes)."""
    pm = {normalise(k): nfc_str(v) for k, v in (planner_map or {}).items()}
    known = set(scenario_codes)
    raw = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else nfc_str(v) for v in values]
    counts = Counter(raw)
    resolved = {v: resolve_one(v, pm, known) for v in counts}
    table = tuple(sorted(((v, r.code, r.rule, counts[v]) for v, r in resolved.items()), key=lambda t: (-t[3], t[0])))
    return CodeReading(code=np.array([resolved[v].code for v in raw], dtype=object),
                       rule=np.array([resolved[v].rule for v in raw], dtype=object),
                       secondary=np.array([resolved[v].secondary for v in raw], dtype=object), table=table)
