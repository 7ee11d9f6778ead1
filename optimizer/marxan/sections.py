"""Each file a Marxan ``input.dat`` names, read into arrays in the project's index order.

One method per section (costs, pu, zones, zonecost, spec, puvspr, zonecontrib*, zonetarget*, bound,
zoneboundcost, pulock, puzone, penalties); :func:`optimizer.marxan.reader.read_zones` calls them
in Marxan with Zones' order and assembles the :class:`~optimizer.marxan.arrays.MarxanProject`; the
classic reader (``classic.py``) shares the file lookup, puvspr.dat and bound.dat. What Marxan would
silently ignore and is harmless is collected in :attr:`ProjectFiles.warnings`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optimizer.engine.errors import InputError
from optimizer.marxan.tables import (Table, id_name_rows, is_number, lookup, positional, read_input_dat, read_table,
                                     to_float, to_int, unique_ids)

DEFAULT_AVAILABLE_CONTRIB = 1.0
"""contribution of the first zone to overall targets when no zonecontrib file is given: marzone commits
after 85082e3 give the first ("available") zone 0, the reference (85082e3, the version the scores were
checked against) gives 1"""


class ProjectFiles:
    """The files of one project: resolves each input.dat key to a path under INPUTDIR, records the files
    read (for the run's input hashes) and collects the warnings."""

    def __init__(self, input_dat: Path):
        self.input_dat = input_dat
        self.dat = read_input_dat(input_dat)
        self.warnings: list[str] = []
        base = input_dat.parent
        inputdir = self.dat.get("INPUTDIR")
        if inputdir is None:
            raise InputError(str(input_dat), "INPUTDIR", "missing (Marxan requires it)",
                             "add a line `INPUTDIR input` naming the folder that holds the .dat files")
        self.input_dir = (base / inputdir) if inputdir else base
        for key in ("OUTPUTDIR", "RUNMODE"):
            if self.dat.get(key) is None:
                self.warnings.append(f"input.dat: {key} missing — Marxan refuses to run without it")
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
        ids, names = id_name_rows(tab, ("costid", "costname"), "cost")
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
            ids.append((line, to_int(tab, line, "id", toks[id_col], "planning-unit ids are integers")))
            costs.append([1.0 if c < 0 else to_float(tab, line, cost_names[k], toks[c]) for k, c in enumerate(cost_cols)])
            if st_col >= 0 and to_float(tab, line, "status", toks[st_col]) != 0:
                status_nonzero += 1
        if not ids:
            raise InputError(tab.label, None, "no planning units", "add one row per planning unit")
        unique_ids(tab, ids, "planning-unit")
        if status_nonzero:
            self.warnings.append(f"{tab.label}: `status` is ignored ({status_nonzero} PU(s) nonzero); Marxan with Zones "
                                 "takes locks from pulock.dat")
        return np.array([v for _, v in ids], dtype=np.int64), np.array(costs, dtype=float).reshape(len(ids), len(cost_names))

    def zones(self) -> tuple[np.ndarray, tuple[str, ...]]:
        p = self.path("ZONESNAME")
        if p is None:
            return np.array([1, 2]), ("available", "reserved")
        tab = self.table(p, "ZONESNAME")
        ids, names = id_name_rows(tab, ("zoneid", "zonename"), "zone")
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
            z = lookup(tab, line, "zoneid", zid, zone_index, "zone", "zones.dat")
            k = lookup(tab, line, "costid", cid, cost_index, "cost", "costs.dat")
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
                    if len(toks) > col and is_number(toks[col]) and float(toks[col]) > 0:
                        raise InputError(tab.label, f"line {line}, column {bad}",
                                         f"{what} are not supported by the exact import",
                                         f"set {bad} to 0 (or drop the column)")
        ids, names, target, prop, occ, spf = [], [], [], [], [], []
        for line, toks in tab.rows:
            if len(toks) != len(hdr):
                raise InputError(tab.label, f"line {line}", f"{len(toks)} value(s) for {len(hdr)} columns ({','.join(hdr)})",
                                 "write one value per header column; feature names must be one word (use _ for spaces)")
            row = dict(zip(hdr, toks))
            fid = to_int(tab, line, "id", row["id"])
            ids.append((line, fid))
            names.append(row.get("name", str(fid)))
            target.append(to_float(tab, line, "target", row["target"]) if "target" in row else 0.0)
            prop.append(to_float(tab, line, "prop", row["prop"]) if "prop" in row else 0.0)
            occ.append(to_int(tab, line, "targetocc", row["targetocc"]) if "targetocc" in row else 0)
            key = "spf" if "spf" in row else "fpf" if "fpf" in row else None
            v = to_float(tab, line, key, row[key]) if key else 1.0
            if v < 0:
                raise InputError(tab.label, f"line {line}, column {key}", f"negative penalty factor {v}", "use spf ≥ 0")
            spf.append(v)
        if not ids:
            raise InputError(tab.label, None, "no features", "add one row per feature")
        unique_ids(tab, ids, "feature")
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
            i = lookup(tab, line, "pu", pid, pu_index, "planning-unit", "pu.dat")
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
                z = lookup(tab, line, "zoneid", zid, zone_index, "zone", "zones.dat")
                s = lookup(tab, line, "featureid", sid, sp_index, "feature", "spec.dat")
                table[s, z] = f
            return table[ent_sp], "zonecontrib", table
        if key == "ZONECONTRIB2NAME":
            table = np.zeros((S, Z))
            for line, (zid, f) in positional(tab, ("zoneid", "fraction"), "if"):
                z = lookup(tab, line, "zoneid", zid, zone_index, "zone", "zones.dat")
                table[:, z] = f
            return table[ent_sp], "zonecontrib2", table
        ent_index = {(int(i), int(s)): e for e, (i, s) in enumerate(zip(ent_pu, ent_sp))}
        out = np.zeros((len(ent_pu), Z))
        for line, (zid, pid, sid, f) in positional(tab, ("zoneid", "puid", "featureid", "fraction"), "iiif"):
            z = lookup(tab, line, "zoneid", zid, zone_index, "zone", "zones.dat")
            i = lookup(tab, line, "puid", pid, pu_index, "planning-unit", "pu.dat")
            s = lookup(tab, line, "featureid", sid, sp_index, "feature", "spec.dat")
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
                    feats = np.arange(S) if sid == -1 else [lookup(tab, line, "featureid", sid, sp_index, "feature", "spec.dat")]
                else:
                    target, ttype = rest
                    feats = np.arange(S)
                z = lookup(tab, line, "zoneid", zid, zone_index, "zone", "zones.dat")
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
            i = lookup(tab, line, "id1", a, pu_index, "planning-unit", "pu.dat")
            j = lookup(tab, line, "id2", b, pu_index, "planning-unit", "pu.dat")
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
            a = lookup(tab, line, "zoneid1", z1, zone_index, "zone", "zones.dat")
            b = lookup(tab, line, "zoneid2", z2, zone_index, "zone", "zones.dat")
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
            i = lookup(tab, line, "puid", pid, pu_index, "planning-unit", "pu.dat")
            z = lookup(tab, line, "zoneid", zid, zone_index, "zone", "zones.dat")
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
            i = lookup(tab, line, "puid", pid, pu_index, "planning-unit", "pu.dat")
            z = lookup(tab, line, "zoneid", zid, zone_index, "zone", "zones.dat")
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
