"""A landalloc scenario exported as a Marxan project: Marxan with Zones (any number of uses) or classic
Marxan (one allocatable use). A partner runs Marxan on it; ``landalloc import-marxan PROJECT --evaluate
BEST`` reads Marxan's plan back and, through the sidecar ``landalloc_export.json``, verifies it against
the scenario and recomputes the landalloc objective.

Marxan with Zones (``export_scenario``) — the mapping:

- PUs = parcels (parcel ids when they are positive integers, else 1..n; the sidecar keeps the map).
  Planning units carry no geometry; ``bound.dat`` has the shared boundary lengths (m) of
  ``instance.adjacency()``.
- Zones = one zone per land-use code that occurs as a current use or in ``allocate`` (scenario
  order). A parcel's "keep" is the zone of its current use, so a quota for use u is the raw amount
  held in zone u, exactly as landalloc counts it (x[p, u] includes parcels that keep u).
- Allowed zones = the model's columns: its current use plus every eligible conversion (screening by
  ``allowed_uses`` and every other family). One allowed zone → ``pulock.dat``; several but not all →
  ``puzone.dat``.
- Costs = the objective coefficients of the assignment columns x[p, u], negated when the scenario
  maximizes (Marxan minimizes); one cost column per zone with multiplier 1 in that zone only, so keeping
  a current use costs 0 (as in landalloc) and the scale is exact: Marxan's cost = −(landalloc objective)
  for a maximizing scenario (+ for minimizing), with BLM 0.
- Features = one per quota with a lower bound: amount = parcel area (ha) inside the quota's region,
  zone target (the quota's use, lo, type 0). Penalties (PENALTYNAME) = 10 × Σ_p max_z |cost| + 1, so a
  10 % shortfall of any quota costs more than any plan's whole cost.

Classic Marxan (``export_classic``), for a scenario that allocates one use U:

- reserve = take U. A parcel that may keep its use or take U is free (status 0) and costs
  s·(c[p, U] − c[p, keep]) (s = −1 when the scenario maximizes); a parcel in U today, or one that must
  take U, is locked in (status 2, cost 0); a parcel that cannot take U is locked out (status 3, cost 0).
  So landalloc's objective = s × Marxan's cost + Σ_p c[p, base] + the model's constant, exactly.
- Features = quotas on U with a lower bound (amount = area in ha inside the quota's region, absolute
  target lo). Penalties are fixed in penalty.dat (the same rule as above) and RUNMODE is 9 (annealing
  and iterative improvement, penalties read from PENALTYNAME: Marxan's own estimate misreads negative
  costs, which a maximized scenario has), spf 1, BLM 0 with the shared boundaries in bound.dat.

Not expressible (listed in the project's README.md and in the sidecar): quota upper bounds (``hi``:
Marxan targets are minimums only), constraint families other than ``quota_area`` and
``allowed_uses`` (their rows and objective terms are not exported; screening they do is), a
compactness reward (BLM is 0), and — classic — quotas on uses other than U.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from optimizer.engine.compile import compile_model
from optimizer.engine.errors import InputError
from optimizer.engine.files import sha256_file
from optimizer.engine.instance import load_instance
from optimizer.marxan.arrays import MarxanProject, classic_project
from optimizer.marxan.tables import token
from optimizer.marxan.writer import _num, write_project

EXACT_FAMILIES = ("quota_area", "allowed_uses")
CLASSIC_RUNMODE = 9
"""annealing + iterative improvement with penalties from PENALTYNAME (Marxan v4 setDefaultRunOptions)"""


@dataclass
class ExportReport:
    project: Path
    files: list[str]
    n_pu: int
    zones: list[str]
    features: list[str]
    boundary_pairs: int
    not_exported: list[str] = field(default_factory=list)
    sidecar: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"project": str(self.project), "files": self.files, "planning_units": self.n_pu, "zones": self.zones,
                "features": self.features, "boundary_pairs": self.boundary_pairs, "not_exported": self.not_exported}


def _pu_ids(instance) -> np.ndarray:
    """Parcel ids as PU ids when they are distinct positive integers, else 1..n."""
    ids, n = instance.ids, instance.n
    try:
        as_int = np.asarray(ids).astype(np.int64)
        if bool(np.all(as_int == np.asarray(ids)) and (as_int > 0).all() and len(set(as_int.tolist())) == n):
            return as_int
    except (TypeError, ValueError):
        pass
    return np.arange(1, n + 1, dtype=np.int64)


@dataclass
class _Features:
    """Quotas with a lower bound as Marxan features: (pu, feature, area) entries and (feature, use, lo)."""
    ids: np.ndarray
    names: tuple[str, ...]
    ent_pu: np.ndarray
    ent_sp: np.ndarray
    ent_amount: np.ndarray
    targets: list[tuple[int, str, float]]


def _quota_features(sc, instance, uses: set[str], not_exported: list[str], why: str) -> _Features:
    """One feature per quota with a lower bound on one of ``uses``; the rest is listed in ``not_exported``."""
    names, pus, sps, amts, targets = [], [], [], [], []
    for key, q in sc.quotas.items():
        use = q.use or key
        if q.hi is not None:
            not_exported.append(f"quota {key}: upper bound hi = {q.hi} ha (Marxan targets are minimums)")
        if q.lo is None or q.lo <= 0:
            continue
        if use not in uses:
            not_exported.append(f"quota {key}: use {use} {why}")
            continue
        mask = np.ones(instance.n, dtype=bool)
        if q.region is not None:
            mask = np.isin(instance.text(q.region.field, "export-marxan"), q.region.values)
        s = len(names)
        names.append(token(key))
        idx = np.nonzero(mask & (instance.area_ha > 0))[0]
        pus.append(idx)
        sps.append(np.full(len(idx), s))
        amts.append(instance.area_ha[idx])
        targets.append((s, use, float(q.lo)))
    ent_pu = np.concatenate(pus) if pus else np.zeros(0, np.int64)
    ent_sp = np.concatenate(sps) if sps else np.zeros(0, np.int64)
    ent_amount = np.concatenate(amts) if amts else np.zeros(0)
    order = np.lexsort((ent_sp, ent_pu))
    return _Features(np.arange(1, len(names) + 1, dtype=np.int64), tuple(names), ent_pu[order].astype(np.int64),
                     ent_sp[order].astype(np.int64), ent_amount[order], targets)


def _families_not_exported(compiled, not_exported: list[str]) -> None:
    for fam in compiled.families:
        if fam.name not in EXACT_FAMILIES:
            not_exported.append(f"constraint family {fam.name}: its rows and objective terms are not exported")
    extra = compiled.model.n_cols - compiled.n_assign
    if extra:
        not_exported.append(f"{extra} model column(s) beyond the assignment (family variables) are not exported")


def _boundaries(instance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tri = sp.triu(instance.adjacency(), k=1).tocoo()
    keep = tri.data > 1e-6
    return tri.row[keep].astype(np.int64), tri.col[keep].astype(np.int64), tri.data[keep]


def _sidecar(loaded, instance, model, pu_ids, sign: float, offset: float, not_exported: list[str], **extra) -> dict:
    """What ``--evaluate`` needs to verify a Marxan plan against the scenario (optimizer/marxan/evaluation.py)."""
    return {
        "landalloc_export": 1,
        "scenario": str(loaded.path) if loaded.path else None,
        "scenario_sha256": sha256_file(loaded.path) if loaded.path else None,
        "parcels": {"path": str(instance.path), "sha256": instance.sha256},
        "sense": model.sense,
        "cost_sign": sign,
        "objective_offset": offset,
        "relation": ("landalloc objective = cost_sign × Marxan cost + objective_offset "
                     "(BLM 0, every quota lo met: Marxan penalty 0)"),
        "pu_to_parcel": {str(int(k)): (v.item() if hasattr(v, "item") else v) for k, v in zip(pu_ids, instance.ids)},
        "not_exported": not_exported,
        "penalty_rule": "10 × Σ_PU max_zone |cost| + 1 for every feature",
        **extra,
    }


def _prepare(loaded, instance, compiled):
    instance = instance or load_instance(loaded)
    compiled = compiled or compile_model(instance, loaded)
    model = compiled.model
    cols = model.columns.iloc[: compiled.n_assign]
    return (instance, compiled, model, cols["parcel"].to_numpy(), cols["use"].to_numpy(), cols["keep"].to_numpy(),
            model.c[: compiled.n_assign], -1.0 if model.sense == "max" else 1.0)


def scenario_to_project(loaded, instance=None, compiled=None) -> tuple[MarxanProject, dict, list[str]]:
    """The landalloc scenario as a Marxan with Zones project (in memory), the sidecar and what cannot be exported."""
    sc = loaded.scenario
    instance, compiled, model, col_parcel, col_use, _, c, sign = _prepare(loaded, instance, compiled)
    n = instance.n
    used = set(instance.current_use.tolist()) | set(sc.allocate)
    codes = [u for u in sc.land_uses if u in used]
    zone_of = {u: k for k, u in enumerate(codes)}
    Z = len(codes)
    col_zone = np.array([zone_of[u] for u in col_use], dtype=np.int64)
    allowed = np.zeros((n, Z), dtype=bool)
    allowed[col_parcel, col_zone] = True
    # costs: one column per zone holding the objective coefficient of x[p, zone] (0 for keeping, unless a
    # family prices it), multiplier 1 in that zone only
    costs = np.zeros((n, Z))
    costs[col_parcel, col_zone] = sign * c
    pu_ids = _pu_ids(instance)
    not_exported: list[str] = []
    f = _quota_features(sc, instance, set(zone_of), not_exported, "is neither a current use nor in allocate")
    S = len(f.ids)
    zone_target = np.zeros((S, Z))
    for s, use, lo in f.targets:
        zone_target[s, zone_of[use]] = lo
    _families_not_exported(compiled, not_exported)
    bi, bj, bb = _boundaries(instance)
    lock = np.where(allowed.sum(axis=1) == 1, allowed.argmax(axis=1), -1).astype(np.int64)
    puzone = allowed.copy()
    puzone[lock >= 0] = True  # a lock says it all; puzone rows only for PUs with several zones
    penalty = np.full(S, 10.0 * float(np.abs(costs).max(axis=1).sum()) + 1.0)
    p = MarxanProject(
        input_dat=Path("input.dat"), input_dir=Path("input"), files={}, name=token(sc.name), blm=0.0,
        pu_ids=pu_ids, cost_ids=np.arange(1, Z + 1), cost_names=tuple(f"cost_{token(u)}" for u in codes),
        costs=costs, zone_ids=np.arange(1, Z + 1), zone_names=tuple(token(u) for u in codes), zone_cost=np.eye(Z),
        feature_ids=f.ids, feature_names=f.names, target=np.zeros(S), target_occ=np.zeros(S, dtype=np.int64),
        spf=np.ones(S), ent_pu=f.ent_pu, ent_sp=f.ent_sp, ent_amount=f.ent_amount,
        contrib=np.ones((len(f.ent_pu), Z)), contrib_kind="default", contrib_table=None, zone_target=zone_target,
        zone_target_occ=np.zeros((S, Z), dtype=np.int64), bound_i=bi, bound_j=bj, bound_b=bb, fixed=np.zeros(n),
        zone_bound_cost=1.0 - np.eye(Z), zone_bound_given=True, lock=lock, puzone=puzone, penalty=penalty,
        penalty_source="file")
    sidecar = _sidecar(loaded, instance, model, pu_ids, sign, float(model.offset), not_exported,
                       zone_to_use={str(k + 1): u for k, u in enumerate(codes)})
    return p, sidecar, not_exported


def scenario_to_classic(loaded, instance=None, compiled=None) -> tuple[MarxanProject, dict, list[str]]:
    """The landalloc scenario (one allocatable use U) as a classic Marxan project: reserve = take U."""
    sc = loaded.scenario
    if len(sc.allocate) != 1:
        raise InputError(loaded.label, "allocate", f"classic Marxan has one reserve decision per unit; the scenario "
                         f"allocates {len(sc.allocate)} uses ({', '.join(sc.allocate)})",
                         "export it as a Marxan with Zones project (--flavour zones), or allocate a single use")
    use = sc.allocate[0]
    instance, compiled, model, col_parcel, col_use, col_keep, c, sign = _prepare(loaded, instance, compiled)
    n = instance.n
    take = np.full(n, np.nan)
    keep = np.full(n, np.nan)
    on_use = col_use == use
    take[col_parcel[on_use]] = c[on_use]
    keep[col_parcel[col_keep]] = c[col_keep]
    can_take, can_keep = ~np.isnan(take), ~np.isnan(keep) & (instance.current_use != use)
    status = np.where(can_take & can_keep, 0, np.where(can_take, 2, 3)).astype(np.int64)
    cost = np.where(status == 0, sign * (np.nan_to_num(take) - np.nan_to_num(keep)), 0.0)
    base = np.where(status == 3, keep, take)          # the coefficient a parcel contributes when it is not free
    base = np.where(status == 0, keep, base)
    offset = float(model.offset + base.sum())
    pu_ids = _pu_ids(instance)
    not_exported: list[str] = []
    f = _quota_features(sc, instance, {use}, not_exported, f"is not the allocated use {use} (classic Marxan "
                        "counts features in reserved units only)")
    S = len(f.ids)
    target = np.zeros(S)
    for s, _, lo in f.targets:
        target[s] = lo
    _families_not_exported(compiled, not_exported)
    bi, bj, bb = _boundaries(instance)
    p = classic_project(
        input_dat=Path("input.dat"), input_dir=Path("input"), files={}, name=token(sc.name), blm=0.0, pu_ids=pu_ids,
        cost=cost, status=status, feature_ids=f.ids, feature_names=f.names, target=target, prop=np.zeros(S),
        target_occ=np.zeros(S, dtype=np.int64), spf=np.ones(S), ent_pu=f.ent_pu, ent_sp=f.ent_sp,
        ent_amount=f.ent_amount, bound_i=bi, bound_j=bj, bound_b=bb, fixed=np.zeros(n),
        penalty=np.full(S, 10.0 * float(np.abs(cost).sum()) + 1.0), penalty_source="file",
        options={"RUNMODE": CLASSIC_RUNMODE, "NUMREPS": 10})
    sidecar = _sidecar(loaded, instance, model, pu_ids, sign, offset, not_exported, flavour="classic", reserve_use=use)
    return p, sidecar, not_exported


def _export(p: MarxanProject, sidecar: dict, not_exported: list[str], out: Path, readme: str) -> ExportReport:
    files = write_project(p, out, readme=readme, sidecar=sidecar)
    return ExportReport(project=Path(out), files=files, n_pu=p.n_pu, zones=list(p.zone_names),
                        features=list(p.feature_names), boundary_pairs=int(len(p.bound_i)), not_exported=not_exported,
                        sidecar=sidecar)


def _listed(not_exported: list[str]) -> str:
    return "\n".join(f"- {x}" for x in not_exported) or "- nothing: the project is the same model"


def export_scenario(loaded, out: Path) -> ExportReport:
    p, sidecar, not_exported = scenario_to_project(loaded)
    readme = _README_EXPORT.format(
        name=p.name, scenario=sidecar["scenario"], n=p.n_pu, zones=", ".join(f"{i} = {u}" for i, u in sidecar["zone_to_use"].items()),
        sense=sidecar["sense"], sign=_num(sidecar["cost_sign"]), not_exported=_listed(not_exported))
    return _export(p, sidecar, not_exported, out, readme)


def export_classic(loaded, out: Path) -> ExportReport:
    p, sidecar, not_exported = scenario_to_classic(loaded)
    counts = {k: int((p.status == k).sum()) for k in (0, 2, 3)}
    readme = _README_CLASSIC_EXPORT.format(
        name=p.name, scenario=sidecar["scenario"], n=p.n_pu, use=sidecar["reserve_use"], free=counts[0],
        locked_in=counts[2], locked_out=counts[3], sense=sidecar["sense"], sign=_num(sidecar["cost_sign"]),
        runmode=CLASSIC_RUNMODE, not_exported=_listed(not_exported))
    return _export(p, sidecar, not_exported, out, readme)


_README_EXPORT = """# Marxan with Zones project `{name}`, exported by landalloc

Source scenario: `{scenario}` ({n} parcels → {n} planning units).

## Mapping
- Planning units = parcels (`landalloc_export.json` maps PU ids to parcel ids). PUs have no geometry;
  `input/bound.dat` holds the shared boundary lengths (m) between neighbouring parcels.
- Zones: {zones}. Each parcel may take its current use (keeping it) or any use it is eligible for;
  a parcel with a single possible zone is locked (`pulock.dat`), others are limited by `puzone.dat`.
- Costs: the scenario's objective coefficients of each conversion, multiplied by {sign} (the scenario
  {sense}s; Marxan minimizes); keeping a parcel's current use costs 0. So with BLM 0 and every target met,
  Marxan's score = {sign} × the landalloc objective, exactly.
- Features: one per quota with a lower bound; amount = parcel area (ha) in the quota's region;
  target = the quota's `lo` in the zone of its use (`zonetarget.dat`, type 0).
- Penalties are fixed in `input/penalty.dat` (10 × the largest possible total |cost| + 1), so Marxan
  treats the quotas' lower bounds as nearly hard.
- BLM is 0 (landalloc's objective has no boundary term); `zoneboundcost.dat` charges 1 per metre of
  boundary between different zones if you raise BLM.

## What Marxan with Zones cannot express (not exported)
{not_exported}

Marxan targets are minimums: a quota's upper bound `hi` cannot be a Marxan target, so a Marxan plan may
exceed it. Check any Marxan plan against the full scenario with

    landalloc import-marxan . --out ../{name}-imported --evaluate output/{name}_best.csv

which scores it with Marxan's objective and, through `landalloc_export.json`, verifies it with
landalloc (every quota band and exclusion) and recomputes the landalloc objective.
"""


_README_CLASSIC_EXPORT = """# Marxan project `{name}`, exported by landalloc

Source scenario: `{scenario}` ({n} parcels → {n} planning units). Run it with classic Marxan
(`Marxan input.dat` in this directory).

## Mapping
- Planning units = parcels (`landalloc_export.json` maps PU ids to parcel ids). PUs have no geometry;
  `input/bound.dat` holds the shared boundary lengths (m) between neighbouring parcels (BLM is 0).
- Reserve = the allocated use {use}. Status: {free} parcels may keep their use or take {use} (0),
  {locked_in} are in {use} already or must take it (2, locked in), {locked_out} cannot take it (3, locked out).
- Costs: the change in the scenario's objective when a parcel takes {use} instead of keeping its use,
  multiplied by {sign} (the scenario {sense}s; Marxan minimizes); costs may be negative. With every
  target met, landalloc's objective = {sign} × Marxan's cost + `objective_offset` (in the sidecar), exactly.
- Features: one per quota on {use} with a lower bound; amount = parcel area (ha) in the quota's region;
  target = the quota's `lo`.
- Penalties are fixed in `input/penalty.dat` (10 × the total |cost| + 1), so Marxan treats the quotas'
  lower bounds as nearly hard. RUNMODE is {runmode}: annealing and iterative improvement with the penalties
  read from `penalty.dat` (in run modes 0–2 Marxan estimates its own penalties and ignores the file; its
  estimate misreads negative costs).

## What classic Marxan cannot express (not exported)
{not_exported}

Check any Marxan plan against the full scenario with

    landalloc import-marxan . --out ../{name}-imported --evaluate output/{name}_best.csv

which scores it with Marxan's objective and, through `landalloc_export.json`, verifies it with
landalloc (every quota band and exclusion) and recomputes the landalloc objective.
"""
