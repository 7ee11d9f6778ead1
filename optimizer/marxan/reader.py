"""Read a Marxan with Zones project (``input.dat`` and the files it names) into plain numpy arrays.

Formats follow ``../shared/marxan_zones.md`` (Marxan with Zones v4.0.6): any of the separators
space , ; : ^ * " / | TAB ' \\ split a line; the first line of a positional file is a header only if
it is not numeric; ``pu.dat`` and ``spec.dat`` are header-driven. Marxan itself skips or silently
mis-maps several kinds of bad rows (unknown ids, duplicate (feature, PU) rows, cost ids that are not
1..K); here every such row is an :class:`~optimizer.errors.InputError` naming the file, the line and
the fix, so a project imports exactly or not at all. What Marxan would silently ignore and is
harmless (a feature in puvspr.dat that spec.dat leaves out, a cost column missing from pu.dat, the
``status`` column) becomes a warning in :attr:`MarxanProject.warnings`.

Supported: zones, costs, zonecost, spec/feat (target, prop, targetocc, spf|fpf), puvspr, bound
(self-rows are fixed boundary), zoneboundcost (or ZONECONNECTIONCOSTNAME), zonetarget /
zonetarget2 (types 0–3, feature id −1 = every feature), zonecontrib / zonecontrib2 / zonecontrib3,
pulock, puzone, PENALTYNAME. Not supported (refused with a clear message): clumping (``target2``),
separation (``sepnum``, ``sepdistance``), BLOCKDEFNAME.

One known version difference: marzone commits after 85082e3 give the first ("available") zone a
default contribution of 0 when no zonecontrib file is given; the reference (85082e3, the version the
scores were checked against) gives 1. :data:`DEFAULT_AVAILABLE_CONTRIB` holds that choice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from optimizer.engine.errors import InputError

DEFAULT_AVAILABLE_CONTRIB = 1.0
"""contribution of the first zone to overall targets when no zonecontrib file is given (see module doc)"""

_SEP = re.compile(r"[ ,;:^*\"/|\t'\\]+")

# input.dat keys read here, in the order Marxan reads them; a key matches anywhere in a line, last match wins
KEYS = ("INPUTDIR", "OUTPUTDIR", "PUNAME", "SPECNAME", "FEATNAME", "PENALTYNAME", "PUVSPRNAME",
        "MATRIXSPORDERNAME", "BOUNDNAME", "CONNECTIONNAME", "BLOCKDEFNAME", "ZONESNAME", "COSTSNAME",
        "ZONECONTRIBNAME", "ZONECONTRIB2NAME", "ZONECONTRIB3NAME", "ZONETARGETNAME", "ZONETARGET2NAME",
        "ZONECOSTNAME", "PULOCKNAME", "PUZONENAME", "ZONEBOUNDCOSTNAME", "ZONECONNECTIONCOSTNAME",
        "RUNMODE", "MISSLEVEL", "BLM", "SCENNAME", "NUMREPS", "NUMITNS", "NUMTEMP", "SAVEBEST", "SAVERUN")

PROJECT_FILE_KEYS = ("PUNAME", "SPECNAME", "PUVSPRNAME", "BOUNDNAME", "ZONESNAME", "COSTSNAME", "ZONECOSTNAME",
                     "ZONEBOUNDCOSTNAME", "ZONETARGETNAME", "ZONETARGET2NAME", "ZONECONTRIBNAME",
                     "ZONECONTRIB2NAME", "ZONECONTRIB3NAME", "PULOCKNAME", "PUZONENAME", "PENALTYNAME")


# --------------------------------------------------------------------------------------------- tables

@dataclass
class Table:
    """A Marxan text table: header tokens (or None) and data rows as (1-based line number, tokens)."""

    path: Path
    header: list[str] | None
    rows: list[tuple[int, list[str]]]
    header_like_data: bool = False
    """the first line was taken as a header although its first value is a number (Marxan does the same)"""

    @property
    def label(self) -> str:
        return str(self.path)


def _read_text(path: Path, role: str) -> str:
    if not path.is_file():
        raise InputError(str(path), role, "file not found", f"create it or correct {role} in input.dat")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _tokens(line: str) -> list[str]:
    return [t for t in _SEP.split(line.strip()) if t]


def _numeric(tok: str) -> bool:
    try:
        float(tok)
        return True
    except ValueError:
        return False


def read_table(path: Path, role: str, *, header: str = "auto") -> Table:
    """``header``: "auto" — the first line is a header only if some token is not a number (Marxan's rule);
    "always" — the first line is the header (pu.dat, spec.dat)."""
    text = _read_text(path, role)
    lines = text.splitlines()
    hdr: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    first = True
    like_data = False
    for n, line in enumerate(lines, start=1):
        toks = _tokens(line)
        if not toks:
            continue
        if first:
            first = False
            if header == "always" or not all(_numeric(t) for t in toks):
                hdr = toks
                like_data = header == "auto" and _numeric(toks[0])
                continue
        rows.append((n, toks))
    if first:
        raise InputError(str(path), role, "the file is empty", "write a header line and at least one row, or drop "
                         f"{role} from input.dat")
    return Table(path, hdr, rows, like_data)


def _int(tab: Table, line: int, col: str, tok: str, fix: str | None = None) -> int:
    try:
        v = float(tok)
    except ValueError:
        v = np.nan
    if not np.isfinite(v) or v != int(v):
        raise InputError(tab.label, f"line {line}, column {col}", f"{tok!r} is not an integer",
                         fix or f"write an integer {col}")
    return int(v)


def _float(tab: Table, line: int, col: str, tok: str, fix: str | None = None) -> float:
    try:
        v = float(tok)
    except ValueError:
        v = np.nan
    if not np.isfinite(v):
        raise InputError(tab.label, f"line {line}, column {col}", f"{tok!r} is not a number",
                         fix or f"write a number for {col}")
    return v


def _need(tab: Table, line: int, toks: list[str], names: tuple[str, ...]) -> None:
    if len(toks) < len(names):
        raise InputError(tab.label, f"line {line}", f"{len(toks)} value(s), expected {len(names)}: {', '.join(names)}",
                         f"write one row per record as {','.join(names)}")


def positional(tab: Table, names: tuple[str, ...], kinds: str) -> list[tuple[int, tuple]]:
    """Rows parsed positionally; ``kinds`` has one letter per column: i (int) or f (float)."""
    out = []
    for line, toks in tab.rows:
        _need(tab, line, toks, names)
        vals = tuple(_int(tab, line, nm, t) if k == "i" else _float(tab, line, nm, t)
                     for nm, k, t in zip(names, kinds, toks))
        out.append((line, vals))
    return out


# --------------------------------------------------------------------------------------------- input.dat

@dataclass
class InputDat:
    path: Path
    values: dict[str, tuple[str, int]]   # key → (value, line)

    def get(self, key: str, default: str | None = None) -> str | None:
        v = self.values.get(key)
        return default if v is None else v[0]

    def line(self, key: str) -> int | None:
        v = self.values.get(key)
        return None if v is None else v[1]


def read_input_dat(path: Path) -> InputDat:
    text = _read_text(path, "input.dat")
    values: dict[str, tuple[str, int]] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        for key in KEYS:
            at = line.find(key)
            if at < 0:
                continue
            rest = line[at + len(key):].split()
            values[key] = (rest[0] if rest else "", n)
    return InputDat(path, values)


def locate_input_dat(project: str | Path) -> Path:
    p = Path(project)
    if p.is_dir():
        p = p / "input.dat"
    if not p.is_file():
        raise InputError(str(p), None, "Marxan input.dat not found",
                         "give the project directory that holds input.dat, or the path of the input file itself")
    return p


# --------------------------------------------------------------------------------------------- project

@dataclass(frozen=True, eq=False)
class MarxanProject:
    """A Marxan with Zones project as arrays. PU index i, zone index z, feature index s, cost index k
    follow the order of pu.dat, zones.dat, spec.dat and costs.dat."""

    input_dat: Path
    input_dir: Path
    files: dict[str, Path]
    name: str
    blm: float
    pu_ids: np.ndarray                 # (N,) int
    cost_ids: np.ndarray               # (K,) int, 1..K
    cost_names: tuple[str, ...]
    costs: np.ndarray                  # (N, K)
    zone_ids: np.ndarray               # (Z,) int
    zone_names: tuple[str, ...]
    zone_cost: np.ndarray              # (K, Z) multipliers ZC
    feature_ids: np.ndarray            # (S,) int
    feature_names: tuple[str, ...]
    target: np.ndarray                 # (S,) overall amount target (after prop)
    target_occ: np.ndarray             # (S,) int overall occurrence target
    spf: np.ndarray                    # (S,)
    ent_pu: np.ndarray                 # (E,) puvspr entries, sorted by (pu, feature)
    ent_sp: np.ndarray                 # (E,)
    ent_amount: np.ndarray             # (E,)
    contrib: np.ndarray                # (E, Z) contribution fraction of entry e in zone z
    contrib_kind: str                  # default | zonecontrib | zonecontrib2 | zonecontrib3
    contrib_table: np.ndarray | None   # (S, Z) for default / zonecontrib / zonecontrib2
    zone_target: np.ndarray            # (S, Z) amount targets per zone (raw amounts)
    zone_target_occ: np.ndarray        # (S, Z) int occurrence targets per zone
    bound_i: np.ndarray                # (B,) pairs i < j
    bound_j: np.ndarray
    bound_b: np.ndarray
    fixed: np.ndarray                  # (N,) self-boundary (bound.dat rows i,i)
    zone_bound_cost: np.ndarray        # (Z, Z) symmetric ZBC
    zone_bound_given: bool
    lock: np.ndarray                   # (N,) zone index or −1
    puzone: np.ndarray                 # (N, Z) bool: zones puzone.dat allows (all True if unlisted)
    penalty: np.ndarray                # (S,) feature penalties (PENALTYNAME or Marxan's estimate)
    penalty_source: str                # file | estimated
    warnings: tuple[str, ...] = field(default=())

    @property
    def n_pu(self) -> int:
        return len(self.pu_ids)

    @property
    def n_zones(self) -> int:
        return len(self.zone_ids)

    @property
    def n_features(self) -> int:
        return len(self.feature_ids)

    @property
    def allowed(self) -> np.ndarray:
        """(N, Z) bool: a lock admits only its zone (locks take precedence over puzone)."""
        out = self.puzone.copy()
        locked = self.lock >= 0
        out[locked] = False
        out[np.nonzero(locked)[0], self.lock[locked]] = True
        return out

    @property
    def zone_costs(self) -> np.ndarray:
        """(N, Z): Σ_k c_ik · ZC[k, z], the cost of PU i in zone z."""
        return self.costs @ self.zone_cost

    def total_amount(self) -> np.ndarray:
        return np.bincount(self.ent_sp, self.ent_amount, self.n_features)

    def total_occurrences(self) -> np.ndarray:
        """puvspr rows per feature (Marxan's total occurrence count: every row, whatever its amount)."""
        return np.bincount(self.ent_sp, minlength=self.n_features)


def _index(ids: np.ndarray) -> dict[int, int]:
    return {int(v): k for k, v in enumerate(ids)}


def _lookup(tab: Table, line: int, col: str, value: int, index: dict[int, int], what: str, where: str) -> int:
    k = index.get(value)
    if k is None:
        raise InputError(tab.label, f"line {line}, column {col}", f"{what} id {value} is not in {where}",
                         f"use an id listed in {where} or add {what} {value} there")
    return k


def _unique_ids(tab: Table, rows: list[tuple[int, int]], what: str) -> None:
    seen: dict[int, int] = {}
    for line, v in rows:
        if v in seen:
            raise InputError(tab.label, f"line {line}", f"{what} id {v} repeats line {seen[v]}", f"give every {what} its own id")
        seen[v] = line


class _Reader:
    def __init__(self, input_dat: Path):
        self.input_dat = input_dat
        self.dat = read_input_dat(input_dat)
        self.warnings: list[str] = []
        base = input_dat.parent
        inputdir = self.dat.get("INPUTDIR")
        if inputdir is None:
            raise InputError(str(input_dat), "INPUTDIR", "missing (Marxan with Zones requires it)",
                             "add a line `INPUTDIR input` naming the folder that holds the .dat files")
        self.input_dir = (base / inputdir) if inputdir else base
        for key in ("OUTPUTDIR", "RUNMODE"):
            if self.dat.get(key) is None:
                self.warnings.append(f"input.dat: {key} missing — Marxan with Zones refuses to run without it")
        if self.dat.get("BLOCKDEFNAME"):
            raise InputError(str(input_dat), f"line {self.dat.line('BLOCKDEFNAME')}: BLOCKDEFNAME",
                             "block definitions are not supported", "give each feature its target in spec.dat instead")
        self.files: dict[str, Path] = {}

    def table(self, path: Path, role: str, header: str = "auto") -> Table:
        tab = read_table(path, role, header=header)
        if tab.header_like_data:
            self.warnings.append(f"{tab.label}: the first line {' '.join(tab.header)!r} is not all numbers, so it is "
                                 "read as a header and skipped (as Marxan does); if it is data, add a header line")
        return tab

    def param_float(self, key: str, default: float) -> float:
        v = self.dat.get(key)
        if v is None:
            return default
        try:
            return float(v)
        except ValueError:
            raise InputError(str(self.input_dat), f"line {self.dat.line(key)}: {key}", f"value {v!r} is not a number",
                             f"write `{key} <number>`; note any line containing {key} (even a comment) sets it, "
                             "the last one wins") from None

    def param_int(self, key: str, default: int) -> int:
        v = self.param_float(key, float(default))
        return int(v)

    def path(self, key: str, default: str | None = None, alt: str | None = None) -> Path | None:
        name = self.dat.get(key)
        used = key
        if name is None and alt is not None:
            name, used = self.dat.get(alt), alt
        if name is None:
            name = default
        if not name:
            return None
        p = self.input_dir / name
        if not p.is_file():
            line = self.dat.line(used)
            raise InputError(str(p), used, f"file named by input.dat{f' line {line}' if line else ''} not found",
                             f"create it under INPUTDIR ({self.input_dir}) or correct {used}")
        self.files[key] = p
        return p

    # ---------------------------------------------------------------------- sections

    def costs(self) -> tuple[np.ndarray, tuple[str, ...]]:
        p = self.path("COSTSNAME")
        if p is None:
            return np.array([1]), ("cost",)
        tab = self.table(p, "COSTSNAME")
        ids, names = [], []
        for line, toks in tab.rows:
            _need(tab, line, toks, ("costid", "costname"))
            ids.append((line, _int(tab, line, "costid", toks[0])))
            names.append(toks[1])
        _unique_ids(tab, ids, "cost")
        arr = np.array([v for _, v in ids])
        if not np.array_equal(arr, np.arange(1, len(arr) + 1)):
            raise InputError(tab.label, "costid", f"cost ids are {arr.tolist()}; Marxan with Zones indexes zonecost.dat "
                             "by costid − 1, so any other numbering silently mis-assigns multipliers",
                             "number the costs 1, 2, … K in file order (and zonecost.dat accordingly)")
        if len(set(names)) != len(names):
            raise InputError(tab.label, "costname", "a cost name repeats", "give every cost column its own name")
        return arr, tuple(names)

    def pu(self, cost_names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        p = self.path("PUNAME")
        if p is None:
            raise InputError(str(self.input_dat), "PUNAME", "missing", "add `PUNAME pu.dat`")
        tab = self.table(p, "PUNAME", header="always")
        hdr = tab.header or []
        lower = [h.lower() for h in hdr]
        if "id" not in lower:
            raise InputError(tab.label, "line 1", f"no `id` column in the header {hdr}",
                             "the first line must name the columns, e.g. id,cost")
        id_col = lower.index("id")
        cost_cols = []
        for name in cost_names:
            if name in hdr:
                cost_cols.append(hdr.index(name))
            else:
                cost_cols.append(-1)
                self.warnings.append(f"{tab.label}: cost column {name!r} missing; Marxan with Zones uses 1.0 for every PU")
        ids, costs = [], []
        status_nonzero = 0
        st_col = lower.index("status") if "status" in lower else -1
        for line, toks in tab.rows:
            if len(toks) != len(hdr):
                raise InputError(tab.label, f"line {line}", f"{len(toks)} value(s) for {len(hdr)} columns ({','.join(hdr)})",
                                 "write one value per header column")
            ids.append((line, _int(tab, line, "id", toks[id_col], "planning-unit ids are integers")))
            costs.append([1.0 if c < 0 else _float(tab, line, cost_names[k], toks[c]) for k, c in enumerate(cost_cols)])
            if st_col >= 0 and _float(tab, line, "status", toks[st_col]) != 0:
                status_nonzero += 1
        if not ids:
            raise InputError(tab.label, None, "no planning units", "add one row per planning unit")
        _unique_ids(tab, ids, "planning-unit")
        if status_nonzero:
            self.warnings.append(f"{tab.label}: `status` is ignored ({status_nonzero} PU(s) nonzero); Marxan with Zones "
                                 "takes locks from pulock.dat")
        return np.array([v for _, v in ids], dtype=np.int64), np.array(costs, dtype=float).reshape(len(ids), len(cost_names))

    def zones(self) -> tuple[np.ndarray, tuple[str, ...]]:
        p = self.path("ZONESNAME")
        if p is None:
            return np.array([1, 2]), ("available", "reserved")
        tab = self.table(p, "ZONESNAME")
        ids, names = [], []
        for line, toks in tab.rows:
            _need(tab, line, toks, ("zoneid", "zonename"))
            ids.append((line, _int(tab, line, "zoneid", toks[0])))
            names.append(toks[1])
        _unique_ids(tab, ids, "zone")
        if len(ids) < 2:
            raise InputError(tab.label, None, "fewer than two zones", "list at least two zones, e.g. 1,available and 2,reserved")
        return np.array([v for _, v in ids], dtype=np.int64), tuple(names)

    def zone_cost(self, cost_ids, zone_index) -> np.ndarray:
        K, Z = len(cost_ids), len(zone_index)
        p = self.path("ZONECOSTNAME")
        if p is None:
            return np.ones((K, Z))
        tab = self.table(p, "ZONECOSTNAME")
        zc = np.zeros((K, Z))
        cost_index = {int(c): k for k, c in enumerate(cost_ids)}
        for line, (zid, cid, mult) in positional(tab, ("zoneid", "costid", "multiplier"), "iif"):
            z = _lookup(tab, line, "zoneid", zid, zone_index, "zone", "zones.dat")
            k = _lookup(tab, line, "costid", cid, cost_index, "cost", "costs.dat")
            zc[k, z] = mult
        return zc

    def features(self) -> tuple:
        p = self.path("SPECNAME", default="spec.dat", alt="FEATNAME")
        tab = self.table(p, "SPECNAME", header="always")
        hdr = [h.lower() for h in (tab.header or [])]
        if "id" not in hdr:
            raise InputError(tab.label, "line 1", f"no `id` column in the header {tab.header}",
                             "the first line must name the columns, e.g. id,name,target,spf")
        for bad, what in (("target2", "clumping targets"), ("sepnum", "separation targets"), ("sepdistance", "separation")):
            if bad in hdr:
                col = hdr.index(bad)
                for line, toks in tab.rows:
                    if len(toks) > col and _numeric(toks[col]) and float(toks[col]) > 0:
                        raise InputError(tab.label, f"line {line}, column {bad}",
                                         f"{what} are not supported by the exact import",
                                         f"set {bad} to 0 (or drop the column)")
        ids, names, target, prop, occ, spf = [], [], [], [], [], []
        for line, toks in tab.rows:
            if len(toks) != len(hdr):
                raise InputError(tab.label, f"line {line}", f"{len(toks)} value(s) for {len(hdr)} columns ({','.join(hdr)})",
                                 "write one value per header column; feature names must be one word (use _ for spaces)")
            row = dict(zip(hdr, toks))
            fid = _int(tab, line, "id", row["id"])
            ids.append((line, fid))
            names.append(row.get("name", str(fid)))
            target.append(_float(tab, line, "target", row["target"]) if "target" in row else 0.0)
            prop.append(_float(tab, line, "prop", row["prop"]) if "prop" in row else 0.0)
            occ.append(_int(tab, line, "targetocc", row["targetocc"]) if "targetocc" in row else 0)
            key = "spf" if "spf" in row else "fpf" if "fpf" in row else None
            v = _float(tab, line, key, row[key]) if key else 1.0
            if v < 0:
                raise InputError(tab.label, f"line {line}, column {key}", f"negative penalty factor {v}", "use spf ≥ 0")
            spf.append(v)
        if not ids:
            raise InputError(tab.label, None, "no features", "add one row per feature")
        _unique_ids(tab, ids, "feature")
        target = np.maximum(np.array(target, dtype=float), 0.0)  # Marxan: a negative target means "unset" → 0
        prop = np.array(prop, dtype=float)
        occ = np.maximum(np.array(occ, dtype=np.int64), 0)
        return (np.array([v for _, v in ids], dtype=np.int64), tuple(names), target, prop, occ,
                np.array(spf, dtype=float))

    def puvspr(self, pu_index, sp_index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = self.path("PUVSPRNAME", default="puvspr2.dat")
        tab = self.table(p, "PUVSPRNAME")
        pu, sp, amt = [], [], []
        seen: dict[tuple[int, int], int] = {}
        skipped = 0
        for line, (sid, pid, a) in positional(tab, ("species", "pu", "amount"), "iif"):
            s = sp_index.get(sid)
            if s is None:
                skipped += 1
                continue
            i = _lookup(tab, line, "pu", pid, pu_index, "planning-unit", "pu.dat")
            if (i, s) in seen:
                raise InputError(tab.label, f"line {line}", f"feature {sid} in PU {pid} repeats line {seen[(i, s)]} "
                                 "(Marxan would silently corrupt the amounts)", "merge the two rows into one amount")
            seen[(i, s)] = line
            pu.append(i)
            sp.append(s)
            amt.append(a)
        if skipped:
            self.warnings.append(f"{tab.label}: {skipped} row(s) name features not in spec.dat; skipped, as Marxan does")
        pu_a, sp_a, amt_a = np.array(pu, dtype=np.int64), np.array(sp, dtype=np.int64), np.array(amt, dtype=float)
        order = np.lexsort((sp_a, pu_a))
        return pu_a[order], sp_a[order], amt_a[order]

    def contributions(self, ent_pu, ent_sp, S, zone_index, sp_index, pu_index) -> tuple[np.ndarray, str, np.ndarray | None]:
        Z = len(zone_index)
        given = [k for k in ("ZONECONTRIBNAME", "ZONECONTRIB2NAME", "ZONECONTRIB3NAME") if self.dat.get(k)]
        if len(given) > 1:
            raise InputError(str(self.input_dat), ", ".join(given), "more than one zone contribution file",
                             "keep exactly one of ZONECONTRIBNAME, ZONECONTRIB2NAME, ZONECONTRIB3NAME")
        if not given:
            table = np.ones((S, Z))
            table[:, 0] = DEFAULT_AVAILABLE_CONTRIB
            return table[ent_sp], "default", table
        key = given[0]
        p = self.path(key)
        tab = self.table(p, key)
        if key == "ZONECONTRIBNAME":
            table = np.zeros((S, Z))
            for line, (zid, sid, f) in positional(tab, ("zoneid", "featureid", "fraction"), "iif"):
                z = _lookup(tab, line, "zoneid", zid, zone_index, "zone", "zones.dat")
                s = _lookup(tab, line, "featureid", sid, sp_index, "feature", "spec.dat")
                table[s, z] = f
            return table[ent_sp], "zonecontrib", table
        if key == "ZONECONTRIB2NAME":
            table = np.zeros((S, Z))
            for line, (zid, f) in positional(tab, ("zoneid", "fraction"), "if"):
                z = _lookup(tab, line, "zoneid", zid, zone_index, "zone", "zones.dat")
                table[:, z] = f
            return table[ent_sp], "zonecontrib2", table
        ent_index = {(int(i), int(s)): e for e, (i, s) in enumerate(zip(ent_pu, ent_sp))}
        out = np.zeros((len(ent_pu), Z))
        for line, (zid, pid, sid, f) in positional(tab, ("zoneid", "puid", "featureid", "fraction"), "iiif"):
            z = _lookup(tab, line, "zoneid", zid, zone_index, "zone", "zones.dat")
            i = _lookup(tab, line, "puid", pid, pu_index, "planning-unit", "pu.dat")
            s = _lookup(tab, line, "featureid", sid, sp_index, "feature", "spec.dat")
            e = ent_index.get((i, s))
            if e is not None:  # a contribution for an amount that is not in puvspr.dat changes nothing
                out[e, z] = f
        return out, "zonecontrib3", None

    def zone_targets(self, S, zone_index, sp_index, total_amount, total_occ) -> tuple[np.ndarray, np.ndarray]:
        Z = len(zone_index)
        zt, zo = np.zeros((S, Z)), np.zeros((S, Z), dtype=np.int64)
        for key in ("ZONETARGETNAME", "ZONETARGET2NAME"):
            p = self.path(key)
            if p is None:
                continue
            tab = self.table(p, key)
            if key == "ZONETARGETNAME":
                names, kinds = ("zoneid", "featureid", "target", "targettype"), "iifi"
            else:
                names, kinds = ("zoneid", "target", "targettype"), "ifi"
            for line, vals in positional(tab, names, kinds):
                zid, *rest = vals
                if key == "ZONETARGETNAME":
                    sid, target, ttype = rest
                    feats = np.arange(S) if sid == -1 else [_lookup(tab, line, "featureid", sid, sp_index, "feature", "spec.dat")]
                else:
                    target, ttype = rest
                    feats = np.arange(S)
                z = _lookup(tab, line, "zoneid", zid, zone_index, "zone", "zones.dat")
                if ttype not in (0, 1, 2, 3):
                    raise InputError(tab.label, f"line {line}, column targettype", f"target type {ttype} is not 0–3",
                                     "use 0 (amount), 1 (fraction of the total amount), 2 (occurrences) or 3 (fraction of occurrences)")
                for s in feats:
                    if ttype == 0:
                        zt[s, z] = target
                    elif ttype == 1:
                        zt[s, z] = target * total_amount[s]
                    elif ttype == 2:
                        zo[s, z] = int(np.ceil(target))
                    else:
                        zo[s, z] = int(np.ceil(target * total_occ[s]))
        return zt, zo

    def bound(self, pu_index, N) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        p = self.path("BOUNDNAME", alt="CONNECTIONNAME")
        fixed = np.zeros(N)
        if p is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), fixed
        tab = self.table(p, "BOUNDNAME")
        bi, bj, bb = [], [], []
        seen: dict[tuple[int, int], int] = {}
        for line, (a, b, length) in positional(tab, ("id1", "id2", "boundary"), "iif"):
            i = _lookup(tab, line, "id1", a, pu_index, "planning-unit", "pu.dat")
            j = _lookup(tab, line, "id2", b, pu_index, "planning-unit", "pu.dat")
            if i == j:
                fixed[i] += length
                continue
            key = (min(i, j), max(i, j))
            if key in seen:
                raise InputError(tab.label, f"line {line}", f"the boundary between PUs {a} and {b} repeats line {seen[key]} "
                                 "(Marxan keeps only the first)", "list every pair once")
            seen[key] = line
            bi.append(key[0])
            bj.append(key[1])
            bb.append(length)
        return np.array(bi, dtype=np.int64), np.array(bj, dtype=np.int64), np.array(bb, dtype=float), fixed

    def zone_bound_cost(self, zone_index) -> tuple[np.ndarray, bool]:
        Z = len(zone_index)
        p = self.path("ZONEBOUNDCOSTNAME", alt="ZONECONNECTIONCOSTNAME")
        if p is None:
            return np.ones((Z, Z)), False
        tab = self.table(p, "ZONEBOUNDCOSTNAME")
        zbc = np.zeros((Z, Z))
        for line, (z1, z2, c) in positional(tab, ("zoneid1", "zoneid2", "cost"), "iif"):
            a = _lookup(tab, line, "zoneid1", z1, zone_index, "zone", "zones.dat")
            b = _lookup(tab, line, "zoneid2", z2, zone_index, "zone", "zones.dat")
            zbc[a, b] = zbc[b, a] = c
        return zbc, True

    def locks(self, pu_index, zone_index, N) -> np.ndarray:
        lock = np.full(N, -1, dtype=np.int64)
        p = self.path("PULOCKNAME")
        if p is None:
            return lock
        tab = self.table(p, "PULOCKNAME")
        first: dict[int, int] = {}
        for line, (pid, zid) in positional(tab, ("puid", "zoneid"), "ii"):
            i = _lookup(tab, line, "puid", pid, pu_index, "planning-unit", "pu.dat")
            z = _lookup(tab, line, "zoneid", zid, zone_index, "zone", "zones.dat")
            if lock[i] >= 0 and lock[i] != z:
                raise InputError(tab.label, f"line {line}", f"PU {pid} is locked to two zones (see line {first[i]})",
                                 "lock each PU to one zone")
            lock[i] = z
            first.setdefault(i, line)
        return lock

    def puzones(self, pu_index, zone_index, N, Z, lock, pu_ids) -> np.ndarray:
        allowed = np.ones((N, Z), dtype=bool)
        p = self.path("PUZONENAME")
        if p is None:
            return allowed
        tab = self.table(p, "PUZONENAME")
        listed: dict[int, set[int]] = {}
        first_line: dict[int, int] = {}
        for line, (pid, zid) in positional(tab, ("puid", "zoneid"), "ii"):
            i = _lookup(tab, line, "puid", pid, pu_index, "planning-unit", "pu.dat")
            z = _lookup(tab, line, "zoneid", zid, zone_index, "zone", "zones.dat")
            listed.setdefault(i, set()).add(z)
            first_line.setdefault(i, line)
        for i, zs in listed.items():
            if len(zs) == 1 and lock[i] < 0:
                raise InputError(tab.label, f"line {first_line[i]}", f"PU {pu_ids[i]} is allowed a single zone "
                                 "(Marxan with Zones aborts on this)", "lock it in pulock.dat instead, or list two or more zones")
            allowed[i] = False
            allowed[i, sorted(zs)] = True
            if lock[i] >= 0 and lock[i] not in zs:
                self.warnings.append(f"{tab.label}: PU {pu_ids[i]} is locked to a zone its puzone rows leave out; "
                                     "the lock takes precedence")
        return allowed

    def penalties(self, feature_ids) -> np.ndarray | None:
        p = self.path("PENALTYNAME")
        if p is None:
            return None
        tab = self.table(p, "PENALTYNAME")
        rows = positional(tab, ("spid", "penalty"), "if")
        if len(rows) != len(feature_ids):
            raise InputError(tab.label, None, f"{len(rows)} penalties for {len(feature_ids)} features; Marxan reads them "
                             "by line in spec.dat order", "write one row per feature, in spec.dat order")
        out = np.zeros(len(feature_ids))
        for k, (line, (sid, pen)) in enumerate(rows):
            if sid != feature_ids[k]:
                raise InputError(tab.label, f"line {line}", f"feature {sid} where spec.dat has {feature_ids[k]} at this "
                                 "position; Marxan ignores the id and uses the line order", "list the features in spec.dat order")
            if pen < 0:
                raise InputError(tab.label, f"line {line}", f"negative penalty {pen}", "use penalties ≥ 0")
            out[k] = pen
        return out


def estimate_penalties(p: MarxanProject) -> np.ndarray:
    """Marxan with Zones' start-up penalty estimate (marzone.cpp CalcPenalties, see marxan_zones.md).

    For each feature: T = max(Σ_z ZT, target), O = max(Σ_z ZO, targetocc). Locked PUs first: each with a
    positive raw amount adds it, one occurrence, and the cost max(0, max_z Σ_k c_ik·ZC[k,z]) (raw Σ_k c_ik
    without a zonecost file) plus its unscaled boundary fixed_i + Σ_j b_ij. If that meets T and O, done.
    Then unlocked PUs by raw amount / raw cost descending (cost 0 first, by amount) add their amount and
    raw cost until T and O are met; if never met, the sum is scaled by T/amount (+ O/occurrences).
    Ties are taken in PU order (Marxan's std::sort leaves their order unspecified).
    """
    S = p.n_features
    T = np.maximum(p.zone_target.sum(axis=1), p.target)
    O = np.maximum(p.zone_target_occ.sum(axis=1), p.target_occ)
    raw_cost = p.costs.sum(axis=1)
    if "ZONECOSTNAME" in p.files:
        locked_cost = np.maximum(0.0, (p.costs @ p.zone_cost).max(axis=1))
    else:
        locked_cost = raw_cost.copy()
    conn = p.fixed.copy()
    np.add.at(conn, p.bound_i, p.bound_b)
    np.add.at(conn, p.bound_j, p.bound_b)
    locked_cost = locked_cost + conn
    locked = p.lock[p.ent_pu] >= 0
    out = np.zeros(S)
    for s in range(S):
        sel = p.ent_sp == s
        amt, pus, lk = p.ent_amount[sel], p.ent_pu[sel], locked[sel]
        ftarget, occ, pen = 0.0, 0, 0.0
        for a, i in zip(amt[lk], pus[lk]):
            if a > 0:
                ftarget += a
                occ += 1
                pen += locked_cost[i]
        if ftarget >= T[s] and occ >= O[s]:
            out[s] = pen
            continue
        free_a, free_c = amt[~lk], raw_cost[pus[~lk]]
        zero = free_c == 0
        key = np.where(zero, -free_a, -np.divide(free_a, free_c, out=np.zeros_like(free_a), where=~zero))
        order = np.lexsort((key, ~zero))  # cost-0 PUs first, then by ratio descending; stable in PU order
        met = False
        for a, c in zip(free_a[order], free_c[order]):
            if a:
                ftarget += a
                occ += 1
                pen += c
            if ftarget >= T[s] and occ >= O[s]:
                met = True
                break
        if not met:
            if ftarget == 0:
                ftarget = 1e-14
            scale = T[s] / ftarget if ftarget < T[s] else 0.0
            if occ and occ < O[s]:
                scale += O[s] / occ
            pen *= scale
        out[s] = pen
    return out


def read_project(project: str | Path) -> MarxanProject:
    """Read ``project`` (a directory with input.dat, or the input file) into a :class:`MarxanProject`."""
    input_dat = locate_input_dat(project).resolve()
    r = _Reader(input_dat)
    blm = r.param_float("BLM", 1.0)
    if r.dat.get("NUMREPS") is not None and r.param_int("NUMREPS", 1) < 1:
        r.warnings.append("input.dat: NUMREPS < 1 — Marxan with Zones needs at least one run")
    if (r.dat.get("NUMTEMP") is not None and r.dat.get("NUMITNS") is not None
            and r.param_float("NUMTEMP", 0) > r.param_float("NUMITNS", 0)):
        r.warnings.append("input.dat: NUMTEMP > NUMITNS — keep NUMTEMP ≤ NUMITNS or Marxan's annealing schedule breaks")

    cost_ids, cost_names = r.costs()
    pu_ids, costs = r.pu(cost_names)
    N = len(pu_ids)
    pu_index = _index(pu_ids)
    zone_ids, zone_names = r.zones()
    zone_index = _index(zone_ids)
    Z = len(zone_ids)
    zone_cost = r.zone_cost(cost_ids, zone_index)
    feature_ids, feature_names, target, prop, target_occ, spf = r.features()
    S = len(feature_ids)
    sp_index = _index(feature_ids)
    ent_pu, ent_sp, ent_amount = r.puvspr(pu_index, sp_index)
    total = np.bincount(ent_sp, ent_amount, S)
    if (prop > 0).any():  # Marxan: once any prop > 0, every target becomes prop · total (0 where prop ≤ 0)
        target = np.where(prop > 0, prop * total, 0.0)
    contrib, contrib_kind, contrib_table = r.contributions(ent_pu, ent_sp, S, zone_index, sp_index, pu_index)
    zone_target, zone_target_occ = r.zone_targets(S, zone_index, sp_index, total, np.bincount(ent_sp, minlength=S))
    bound_i, bound_j, bound_b, fixed = r.bound(pu_index, N)
    zbc, zbc_given = r.zone_bound_cost(zone_index)
    lock = r.locks(pu_index, zone_index, N)
    puzone = r.puzones(pu_index, zone_index, N, Z, lock, pu_ids)
    penalty = r.penalties(feature_ids)
    name = r.dat.get("SCENNAME") or input_dat.parent.name
    proj = MarxanProject(
        input_dat=input_dat, input_dir=r.input_dir.resolve(), files=dict(r.files), name=name, blm=blm,
        pu_ids=pu_ids, cost_ids=cost_ids, cost_names=cost_names, costs=costs, zone_ids=zone_ids,
        zone_names=zone_names, zone_cost=zone_cost, feature_ids=feature_ids, feature_names=feature_names,
        target=target, target_occ=target_occ, spf=spf, ent_pu=ent_pu, ent_sp=ent_sp, ent_amount=ent_amount,
        contrib=contrib, contrib_kind=contrib_kind, contrib_table=contrib_table, zone_target=zone_target,
        zone_target_occ=zone_target_occ, bound_i=bound_i, bound_j=bound_j, bound_b=bound_b, fixed=fixed,
        zone_bound_cost=zbc, zone_bound_given=zbc_given, lock=lock, puzone=puzone,
        penalty=np.zeros(S) if penalty is None else penalty,
        penalty_source="estimated" if penalty is None else "file", warnings=tuple(r.warnings))
    if penalty is None:
        object.__setattr__(proj, "penalty", estimate_penalties(proj))
    return proj


def read_solution(p: MarxanProject, path: str | Path) -> np.ndarray:
    """A Marxan with Zones ``_best`` / ``_rN`` file (``planning_unit,zone`` with zone ids) → zone index per PU."""
    path = Path(path)
    tab = read_table(path, "solution")
    pu_index, zone_index = _index(p.pu_ids), _index(p.zone_ids)
    zone = np.full(p.n_pu, -1, dtype=np.int64)
    line_of: dict[int, int] = {}
    for line, (pid, zid) in positional(tab, ("planning_unit", "zone"), "ii"):
        i = _lookup(tab, line, "planning_unit", pid, pu_index, "planning-unit", "pu.dat")
        z = _lookup(tab, line, "zone", zid, zone_index, "zone", "zones.dat")
        if zone[i] >= 0:
            raise InputError(tab.label, f"line {line}", f"PU {pid} appears twice (first on line {line_of[i]})",
                             "give every PU exactly one zone")
        zone[i] = z
        line_of[i] = line
    missing = np.nonzero(zone < 0)[0]
    if len(missing):
        raise InputError(tab.label, None, f"{len(missing)} PU(s) missing, e.g. {p.pu_ids[missing[:5]].tolist()}",
                         "write the SAVEBEST file with SAVEBEST 2 or 3 (1 writes an empty file), for the same project")
    return zone
