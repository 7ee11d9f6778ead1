"""Read a Marxan project (``input.dat`` and the files it names) into plain numpy arrays.

:func:`read_project` tells the two kinds of project apart and reads each with its own semantics:
a project whose input.dat names any Marxan with Zones file (ZONESNAME, COSTSNAME, ZONECOSTNAME,
ZONEBOUNDCOSTNAME, ZONECONTRIB*, ZONETARGET*, PULOCKNAME, PUZONENAME) is a Marxan with Zones project;
any other is a classic Marxan project (``optimizer/marxan/classic.py``: one reserve decision per unit,
pu.dat ``status`` as locks and an initial plan, classic targets and score). ``flavour`` overrides the
guess.

Marxan with Zones formats follow ``../shared/marxan_zones.md`` (v4.0.6): any of the separators
space , ; : ^ * " / | TAB ' \\ split a line; the first line of a positional file is a header only if
it is not numeric; ``pu.dat`` and ``spec.dat`` are header-driven. Marxan itself skips or silently
mis-maps several kinds of bad rows (unknown ids, duplicate (feature, PU) rows, cost ids that are not
1..K); here every such row is an :class:`~optimizer.engine.errors.InputError` naming the file, the line and
the fix, so a project imports exactly or not at all. What Marxan would silently ignore and is
harmless (a feature in puvspr.dat that spec.dat leaves out, a cost column missing from pu.dat, the
``status`` column, which Marxan with Zones does not read) becomes a warning in :attr:`MarxanProject.warnings`.

Supported: zones, costs, zonecost, spec/feat (target, prop, targetocc, spf|fpf), puvspr, bound
(self-rows are fixed boundary), zoneboundcost (or ZONECONNECTIONCOSTNAME), zonetarget /
zonetarget2 (types 0–3, feature id −1 = every feature), zonecontrib / zonecontrib2 / zonecontrib3,
pulock, puzone, PENALTYNAME. Not supported (refused with a clear message): clumping (``target2``),
separation (``sepnum``, ``sepdistance``), BLOCKDEFNAME.

One known version difference: marzone commits after 85082e3 give the first ("available") zone a
default contribution of 0 when no zonecontrib file is given; the reference (85082e3, the version the
scores were checked against) gives 1. :data:`optimizer.marxan.sections.DEFAULT_AVAILABLE_CONTRIB` holds
that choice.

Here: the Marxan with Zones assembly in Marxan's reading order and its penalty estimate;
:mod:`optimizer.marxan.tables` splits and types the text tables and ``input.dat``,
:mod:`optimizer.marxan.sections` reads each file ``input.dat`` names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optimizer.marxan.arrays import FLAVOURS, MarxanProject
from optimizer.marxan.classic import ZONES_KEYS, read_classic
from optimizer.marxan.sections import ProjectFiles
from optimizer.marxan.tables import id_index, locate_input_dat, read_input_dat


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


def project_flavour(input_dat: Path) -> str:
    """classic unless input.dat names a file only Marxan with Zones reads."""
    dat = read_input_dat(input_dat)
    return "zones" if any(dat.get(k) for k in ZONES_KEYS) else "classic"


def read_project(project: str | Path, flavour: str = "auto") -> MarxanProject:
    """Read ``project`` (a directory with input.dat, or the input file) into a :class:`MarxanProject`;
    ``flavour`` is auto (told from input.dat), classic or zones."""
    if flavour not in ("auto", *FLAVOURS):
        raise ValueError(f"flavour must be auto or one of {FLAVOURS}")
    input_dat = locate_input_dat(project).resolve()
    if flavour == "auto":
        flavour = project_flavour(input_dat)
    if flavour == "classic":
        return read_classic(input_dat)
    return read_zones(input_dat)


def read_zones(input_dat: Path) -> MarxanProject:
    """A Marxan with Zones project (marxan_zones.md)."""
    r = ProjectFiles(input_dat)
    blm = r.param_float("BLM", 1.0)
    if r.dat.get("NUMREPS") is not None and r.param_int("NUMREPS", 1) < 1:
        r.warnings.append("input.dat: NUMREPS < 1 — Marxan with Zones needs at least one run")
    if (r.dat.get("NUMTEMP") is not None and r.dat.get("NUMITNS") is not None
            and r.param_float("NUMTEMP", 0) > r.param_float("NUMITNS", 0)):
        r.warnings.append("input.dat: NUMTEMP > NUMITNS — keep NUMTEMP ≤ NUMITNS or Marxan's annealing schedule breaks")

    cost_ids, cost_names = r.costs()
    pu_ids, costs = r.pu(cost_names)
    N = len(pu_ids)
    pu_index = id_index(pu_ids)
    zone_ids, zone_names = r.zones()
    zone_index = id_index(zone_ids)
    Z = len(zone_ids)
    zone_cost = r.zone_cost(cost_ids, zone_index)
    feature_ids, feature_names, target, prop, target_occ, spf = r.features()
    S = len(feature_ids)
    sp_index = id_index(feature_ids)
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
