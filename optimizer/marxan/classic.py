"""Read a classic Marxan project: one reserve decision per planning unit.

Semantics are those of Marxan v4 (repository ``Marxan-source-code/marxan``; file names below are its
sources), held as two zones (``arrays.py``: 0 available, 1 reserved):

- ``pu.dat`` columns id, cost (default 1), status, xloc, yloc, prob (input.cpp readPlanningUnits; any
  other column stops Marxan, so it is an error here). ``status`` (algorithms.cpp initialiseReserve):
  0 free, 1 in the initial reserve only (the solver may drop it: here the solver's first plan),
  2 locked in, 3 locked out (locks). Any other value cannot be honoured: an error, never a plan.
- ``spec.dat`` columns id, type, target, spf, target2, sepdistance, sepnum, name, targetocc, prop,
  ptarget1d, ptarget2d (readSpecies). A feature with prop > 0 gets target = prop · total amount, the
  others keep their own target (computation.cpp computeSpecProp); negative targets become 0 and a
  missing or negative spf becomes 1 (algorithms.cpp setDefaultTargets). Clumping, separation and
  probability targets are refused.
- ``puvspr.dat`` (species, pu, amount); ``MATRIXSPORDERNAME`` names the same matrix sorted by
  species, which switches Marxan to its faster penalty estimate (computePenaltiesOptimise). The two
  must hold the same rows.
- ``bound.dat`` (id1, id2, boundary); rows i,i are the unit's fixed boundary (readConnections).
- input.dat: BLM (or its old name CM; default 0, readInputOptions), MISSLEVEL (a target counts as
  missing in Marxan's summaries when held / target < MISSLEVEL; default 1), CONNECTIVITYIN 1 (the
  connection counts boundaries between reserved units instead of the reserve's edge), RUNMODE (runs
  3–5, 8–10, 13, 14 skip the penalty estimate and take penalties from PENALTYNAME, by feature id;
  the others estimate them and ignore the file, marxan.cpp), COSTTHRESH / THRESHPEN1 / THRESHPEN2.
  ASYMMETRICCONNECTIVITY, CONNECTIONFILESNAME and BLOCKDEFNAME are refused.

The score (computeReserveValue) is cost + BLM·boundary + Σ penalty_s·spf_s·F_s over the reserved
units, with F_s = [T > A]·(T − A)/T + [O > N]·(O − N)/O, halved when a feature has both an amount and
an occurrence target; occurrences count every puvspr row of a reserved unit (SpeciesAmounts). The
connection of a reserved unit is its fixed boundary plus its boundary to every unit not reserved
(ConnectionCost2). ``score.py`` computes it; ``model.py`` minimizes it exactly.

Annealing and heuristic controls (PROP, RANDSEED, NUMITNS, STARTTEMP, COOLFAC, NUMTEMP, HEURTYPE,
ITIMPTYPE) steer Marxan's search, not its score: an exact solve has no use for them.

COSTTHRESH is an approximation, stated in the project: Marxan adds (cost + connection − COSTTHRESH)
· THRESHPEN1 · e^(THRESHPEN2·t) to each annealing move (computeChangeScore, t the fraction of the run
done), a weight that changes during the run and is left out of the score Marxan reports. The exact
model minimizes that reported score, and a run reports the plan's cost + connection against COSTTHRESH.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optimizer.engine.errors import InputError
from optimizer.marxan.arrays import MarxanProject, classic_project
from optimizer.marxan.sections import ProjectFiles
from optimizer.marxan.tables import (Table, id_index, is_number, lookup, positional, read_table, to_float, to_int,
                                     unique_ids)

ZONES_KEYS = ("ZONESNAME", "COSTSNAME", "ZONECOSTNAME", "ZONEBOUNDCOSTNAME", "ZONECONNECTIONCOSTNAME",
              "ZONECONTRIBNAME", "ZONECONTRIB2NAME", "ZONECONTRIB3NAME", "ZONETARGETNAME", "ZONETARGET2NAME",
              "PULOCKNAME", "PUZONENAME")
"""input.dat keys only Marxan with Zones reads"""
PU_COLUMNS = ("id", "cost", "status", "xloc", "yloc", "prob")
SPEC_COLUMNS = ("id", "type", "target", "spf", "target2", "sepdistance", "sepnum", "name", "targetocc", "prop",
                "ptarget1d", "ptarget2d")
STATUS = {0: "free", 1: "initial reserve", 2: "locked in", 3: "locked out"}
PENALTY_FILE_RUNMODES = frozenset({3, 4, 5, 8, 9, 10, 13, 14})
"""RUNMODEs that skip Marxan's penalty estimate (CalcPenaltiesOn = 0) and read PENALTYNAME instead"""
DELTA = 1e-14
"""Marxan's stand-in for a zero cost in the penalty estimate (marxan.cpp: delta)"""


def _header(tab: Table, allowed: tuple[str, ...], what: str) -> list[str]:
    hdr = [h.lower() for h in (tab.header or [])]
    for h in hdr:
        if h not in allowed:
            raise InputError(tab.label, f"line 1, column {h}", f"{h!r} is not a column classic Marxan reads in {what} "
                             "(Marxan stops on it)", f"keep only {', '.join(allowed)}")
    if len(set(hdr)) != len(hdr):
        raise InputError(tab.label, "line 1", "a column name repeats", "name every column once")
    if "id" not in hdr:
        raise InputError(tab.label, "line 1", f"no `id` column in the header {tab.header}",
                         "the first line must name the columns, e.g. id,cost,status")
    return hdr


def _rows(tab: Table, hdr: list[str]):
    for line, toks in tab.rows:
        if len(toks) != len(hdr):
            raise InputError(tab.label, f"line {line}", f"{len(toks)} value(s) for {len(hdr)} columns ({','.join(hdr)})",
                             "write one value per header column (names must be one word: use _ for spaces)")
        yield line, dict(zip(hdr, toks))


def read_pu(r: ProjectFiles) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, cost, status) from pu.dat; a status Marxan cannot honour is an error naming its line."""
    p = r.path("PUNAME", default="pu.dat")
    tab = r.table(p, "PUNAME", header="always")
    hdr = _header(tab, PU_COLUMNS, "pu.dat")
    ids, cost, status, prob = [], [], [], 0
    for line, row in _rows(tab, hdr):
        ids.append((line, to_int(tab, line, "id", row["id"], "planning-unit ids are integers")))
        cost.append(to_float(tab, line, "cost", row["cost"]) if "cost" in row else 1.0)
        st = 0
        if "status" in row:
            v = to_float(tab, line, "status", row["status"])
            if v not in STATUS:
                raise InputError(tab.label, f"line {line}, column status",
                                 f"status {row['status']} cannot be honoured: Marxan knows 0 (free), 1 (initial reserve), "
                                 "2 (locked in) and 3 (locked out)", "use one of 0, 1, 2, 3")
            st = int(v)
        status.append(st)
        prob += "prob" in row and to_float(tab, line, "prob", row["prob"]) != 0
    if not ids:
        raise InputError(tab.label, None, "no planning units", "add one row per planning unit")
    unique_ids(tab, ids, "planning-unit")
    if "cost" not in hdr:
        r.warnings.append(f"{tab.label}: no cost column; every unit costs 1, as in Marxan")
    if prob:
        r.warnings.append(f"{tab.label}: `prob` is ignored ({prob} unit(s) nonzero): it enters Marxan's score only "
                          "through ptarget1d, which no feature sets")
    return np.array([v for _, v in ids], dtype=np.int64), np.array(cost, dtype=float), np.array(status, dtype=np.int64)


def read_spec(r: ProjectFiles) -> tuple:
    """(ids, names, target, prop, targetocc, spf) from spec.dat, with Marxan's defaults."""
    p = r.path("SPECNAME", default="spec.dat", alt="FEATNAME")
    tab = r.table(p, "SPECNAME", header="always")
    hdr = _header(tab, SPEC_COLUMNS, "spec.dat")
    ids, names, target, prop, occ, spf = [], [], [], [], [], []
    defaulted_spf = 0
    for line, row in _rows(tab, hdr):
        for col, what in (("target2", "clumping targets"), ("sepnum", "separation targets"),
                          ("sepdistance", "separation distances"), ("ptarget1d", "probability targets"),
                          ("ptarget2d", "probability targets")):
            if col in row and is_number(row[col]) and float(row[col]) > 0:
                raise InputError(tab.label, f"line {line}, column {col}", f"{what} are not supported by the exact import",
                                 f"set {col} to 0 (or drop the column)")
        fid = to_int(tab, line, "id", row["id"])
        ids.append((line, fid))
        names.append(row.get("name", str(fid)))
        target.append(max(0.0, to_float(tab, line, "target", row["target"])) if "target" in row else 0.0)
        prop.append(to_float(tab, line, "prop", row["prop"]) if "prop" in row else 0.0)
        occ.append(max(0, to_int(tab, line, "targetocc", row["targetocc"])) if "targetocc" in row else 0)
        v = to_float(tab, line, "spf", row["spf"]) if "spf" in row else -1.0
        if v < 0:
            defaulted_spf += 1
            v = 1.0
        spf.append(v)
    if not ids:
        raise InputError(tab.label, None, "no features", "add one row per feature")
    unique_ids(tab, ids, "feature")
    if defaulted_spf:
        r.warnings.append(f"{tab.label}: {defaulted_spf} feature(s) without an spf ≥ 0 get spf 1, as in Marxan")
    return (np.array([v for _, v in ids], dtype=np.int64), tuple(names), np.array(target, dtype=float),
            np.array(prop, dtype=float), np.array(occ, dtype=np.int64), np.array(spf, dtype=float))


def _puvspr_has_header(r: ProjectFiles) -> None:
    """Classic Marxan skips puvspr.dat's first line whatever it holds (readSparseMatrix): a first line of data
    would be lost there, so it is an error here rather than a silent difference."""
    p = r.path("PUVSPRNAME", default="puvspr2.dat")
    if read_table(p, "PUVSPRNAME").header is None:
        raise InputError(str(p), "line 1", "the first line holds data, and classic Marxan skips the first line of "
                         "puvspr.dat as its header", "add a header line: species,pu,amount")


def check_sporder(r: ProjectFiles, pu_index, sp_index, ent) -> bool:
    """MATRIXSPORDERNAME, when given, must hold puvspr.dat's rows (Marxan reads both and trusts both)."""
    p = r.path("MATRIXSPORDERNAME")
    if p is None:
        return False
    tab = r.table(p, "MATRIXSPORDERNAME")
    expected = {(int(i), int(s)): float(a) for i, s, a in zip(*ent)}
    seen = set()
    for line, (sid, pid, a) in positional(tab, ("species", "pu", "amount"), "iif"):
        s = sp_index.get(sid)
        if s is None:
            continue
        i = lookup(tab, line, "pu", pid, pu_index, "planning-unit", "pu.dat")
        if expected.get((i, s)) != a or (i, s) in seen:
            raise InputError(tab.label, f"line {line}", f"feature {sid} in PU {pid} amount {a:g} is not a row of "
                             "PUVSPRNAME (or repeats)", "write the same matrix in both files, sorted by species here")
        seen.add((i, s))
    if len(seen) != len(expected):
        raise InputError(tab.label, None, f"{len(expected) - len(seen)} row(s) of PUVSPRNAME are missing",
                         "write the same matrix in both files, sorted by species here")
    return True


def read_penalty_file(r: ProjectFiles, feature_ids: np.ndarray) -> np.ndarray | None:
    """PENALTYNAME (spid, penalty), looked up by feature id as classic Marxan does; unlisted features 0."""
    p = r.path("PENALTYNAME")
    if p is None:
        return None
    tab = r.table(p, "PENALTYNAME")
    index = id_index(feature_ids)
    out = np.zeros(len(feature_ids))
    for line, (sid, pen) in positional(tab, ("spid", "penalty"), "if"):
        out[lookup(tab, line, "spid", sid, index, "feature", "spec.dat")] = pen
    return out


def unit_values(cost, fixed, bound_i, bound_j, bound_b, blm) -> np.ndarray:
    """cost + BLM · (fixed + every boundary of the unit), in bound.dat order (computePlanningUnitValue)."""
    conn = np.asarray(fixed, dtype=float).copy()
    idx = np.empty(2 * len(bound_i), dtype=np.int64)
    idx[0::2], idx[1::2] = bound_i, bound_j
    np.add.at(conn, idx, np.repeat(bound_b, 2))
    return np.asarray(cost, dtype=float) + conn * blm


def classic_penalties(value, status, ent_pu, ent_sp, ent_amount, target, target_occ, sporder: bool) -> np.ndarray:
    """Classic Marxan's start-up penalty of every feature (marxan.cpp computePenalties, or
    computePenaltiesOptimise with a MATRIXSPORDERNAME file), replayed step for step:

    the locked-in units (status 2) first — every one of them, or with a sporder file those holding the
    feature — each adding its amount, one occurrence and its value (cost + BLM·all its boundaries);
    then, while the target or the occurrence target is unmet, the cheapest free unit (status 0 or 1)
    that meets the rest alone, else the best amount / value, scanning units in pu.dat order with
    Marxan's exact comparisons (zero values count as 1e-14; without a sporder file only units holding
    a positive amount). A target never met scales the sum by target / held (+ targetocc / occurrences,
    in single precision as Marxan computes it)."""
    out = np.zeros(len(target))
    value = np.asarray(value, dtype=float).tolist()
    locked = np.nonzero(status == 2)[0].tolist()
    for s in range(len(target)):
        sel = ent_sp == s
        amount = dict(zip(ent_pu[sel].tolist(), ent_amount[sel].tolist()))
        T, O = float(target[s]), int(target_occ[s])
        holders = sorted(amount)
        fixed_units = [j for j in holders if status[j] == 2] if sporder else locked
        ftarget, occ, pen = 0.0, 0, 0.0
        for j in fixed_units:
            ftarget += amount.get(j, 0.0)
            occ += 1
            pen += value[j]
        if ftarget >= T and occ >= O:
            out[s] = pen
            continue
        cand = [(amount[j], value[j] if value[j] != 0 else DELTA) for j in holders
                if status[j] < 2 and (sporder or amount[j] > 0)]
        while True:
            fbest, fbestrat, best, meets = 0.0, 0.0, -1, False
            rest = T - ftarget
            for k, (a, c) in enumerate(cand):
                if a >= rest and (not meets or c < fbest):
                    meets, best, fbest = True, k, c
                elif fbestrat < a / c:
                    fbest, fbestrat, best = c, a / c, k
            if fbest > 0:
                a, _ = cand.pop(best)
                ftarget += a
                occ += 1
                pen += fbest
            if not ((ftarget < T or occ < O) and fbest > 0):
                break
        if fbest == 0:  # the target cannot be met with every available unit
            if ftarget == 0:
                ftarget = DELTA
            scale = T / ftarget if ftarget < T else 0.0
            if occ < O and occ:
                scale += float(np.float32(O) / np.float32(occ))
            pen *= scale
        out[s] = pen
    return out


def _options(r: ProjectFiles) -> tuple[dict, list[str]]:
    """input.dat settings a classic project keeps, and the approximations they force."""
    if r.param_float("ASYMMETRICCONNECTIVITY", 0.0) != 0:
        raise InputError(str(r.input_dat), f"line {r.dat.line('ASYMMETRICCONNECTIVITY')}: ASYMMETRICCONNECTIVITY",
                         "asymmetric connectivity is not supported by the exact import",
                         "set ASYMMETRICCONNECTIVITY 0 (a symmetric bound.dat)")
    if r.dat.get("CONNECTIONFILESNAME"):
        raise InputError(str(r.input_dat), f"line {r.dat.line('CONNECTIONFILESNAME')}: CONNECTIONFILESNAME",
                         "weighted connectivity files are not supported", "merge them into one bound.dat named by BOUNDNAME")
    opts = {"RUNMODE": r.param_int("RUNMODE", 1), "NUMREPS": r.param_int("NUMREPS", 1),
            "COSTTHRESH": r.param_float("COSTTHRESH", 0.0), "THRESHPEN1": r.param_float("THRESHPEN1", 0.0),
            "THRESHPEN2": r.param_float("THRESHPEN2", 0.0), "CONNECTIVITYIN": r.param_int("CONNECTIVITYIN", 0)}
    approx = []
    if opts["COSTTHRESH"] > 0:
        approx.append(f"COSTTHRESH {opts['COSTTHRESH']:g}: Marxan's cost-threshold penalty (THRESHPEN1 "
                      f"{opts['THRESHPEN1']:g}, THRESHPEN2 {opts['THRESHPEN2']:g}) weighs its annealing moves with a weight "
                      "that changes during the run and is not part of the score Marxan reports; the exact model minimizes "
                      "that score without it, and the run reports the plan's cost + connection against COSTTHRESH")
    return opts, approx


def read_classic(input_dat: Path) -> MarxanProject:
    """A classic Marxan project as a two-zone :class:`MarxanProject` (``flavour="classic"``)."""
    r = ProjectFiles(input_dat)
    zones_keys = [k for k in ZONES_KEYS if r.dat.get(k)]
    if zones_keys:
        raise InputError(str(input_dat), ", ".join(zones_keys), "names Marxan with Zones files, so this is not a "
                         "classic Marxan project", "import it as a Marxan with Zones project (--flavour zones or auto)")
    blm = r.param_float("BLM", 0.0) if r.dat.get("BLM") is not None else r.param_float("CM", 0.0)
    misslevel = r.param_float("MISSLEVEL", 1.0)
    opts, approx = _options(r)
    pu_ids, cost, status = read_pu(r)
    N = len(pu_ids)
    pu_index = id_index(pu_ids)
    feature_ids, feature_names, target, prop, target_occ, spf = read_spec(r)
    S = len(feature_ids)
    sp_index = id_index(feature_ids)
    _puvspr_has_header(r)
    ent_pu, ent_sp, ent_amount = r.puvspr(pu_index, sp_index)
    opts["sporder"] = check_sporder(r, pu_index, sp_index, (ent_pu, ent_sp, ent_amount))
    total = np.bincount(ent_sp, ent_amount, S)
    target = np.where(prop > 0, prop * total, target)
    bound_i, bound_j, bound_b, fixed = r.bound(pu_index, N)
    penalty_file = read_penalty_file(r, feature_ids)
    if opts["RUNMODE"] in PENALTY_FILE_RUNMODES:
        if penalty_file is None:
            raise InputError(str(input_dat), f"RUNMODE {opts['RUNMODE']}", "this run mode skips Marxan's penalty estimate "
                             "and needs PENALTYNAME (Marxan stops without it)", "add `PENALTYNAME penalty.dat` or use RUNMODE 1")
        penalty, source = penalty_file, "file"
    else:
        if penalty_file is not None:
            r.warnings.append(f"input.dat: PENALTYNAME is not used in RUNMODE {opts['RUNMODE']} (Marxan estimates the "
                              "penalties itself; so does the import)")
        value = unit_values(cost, fixed, bound_i, bound_j, bound_b, blm)
        penalty = classic_penalties(value, status, ent_pu, ent_sp, ent_amount, target, target_occ, opts["sporder"])
        source = "estimated (sporder)" if opts["sporder"] else "estimated"
    return classic_project(
        input_dat=input_dat, input_dir=r.input_dir.resolve(), files=dict(r.files),
        name=r.dat.get("SCENNAME") or input_dat.parent.name, blm=blm, pu_ids=pu_ids, cost=cost, status=status,
        feature_ids=feature_ids, feature_names=feature_names, target=target, prop=prop, target_occ=target_occ, spf=spf,
        ent_pu=ent_pu, ent_sp=ent_sp, ent_amount=ent_amount, bound_i=bound_i, bound_j=bound_j, bound_b=bound_b,
        fixed=fixed, penalty=penalty, penalty_source=source, warnings=tuple(r.warnings), misslevel=misslevel,
        options=opts, approximations=tuple(approx), connectivity_in=bool(opts["CONNECTIVITYIN"]))


def status_counts(status: np.ndarray) -> dict[str, int]:
    """Units per status, named: the mapping the import states instead of a warning."""
    return {f"{STATUS[k]} ({k})": int((status == k).sum()) for k in STATUS}
