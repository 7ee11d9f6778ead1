"""Write Marxan with Zones projects: a :class:`MarxanProject` back to its files, and a landalloc scenario
exported as a project.

Numbers are written with Python's shortest round-trip ``repr``, so a written project re-reads to the
same arrays bit for bit. Every project written here carries a PENALTYNAME file: Marxan's start-up
penalty estimate depends on PU order and tie-breaking, a file fixes it.

Exporting a landalloc scenario (``export_scenario``) — the mapping:

- PUs = parcels (parcel ids when they are positive integers, else 1..n; ``landalloc_export.json``
  keeps the map). Planning units carry no geometry; ``bound.dat`` has the shared boundary lengths (m)
  of ``instance.adjacency()``.
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

Not expressible in Marxan with Zones (listed in the project's README.md and in landalloc_export.json):
quota upper bounds (``hi``: Marxan targets are minimums only), constraint families other than
``quota_area`` and ``allowed_uses`` (their rows and objective terms are not exported; screening they
do is), and a compactness reward (BLM is 0; ``zoneboundcost.dat`` holds 1 between different zones
for users who raise BLM). ``landalloc import-marxan PROJECT --evaluate BEST`` re-checks a Marxan plan
against the original scenario (every quota band and family) through this sidecar.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from optimizer import __version__
from optimizer.engine.compile import compile_model
from optimizer.engine.files import sha256_file, write_dir_atomically
from optimizer.engine.instance import load_instance
from optimizer.marxan.reader import MarxanProject

SIDECAR = "landalloc_export.json"
SEPARATORS = re.compile(r"[ ,;:^*\"/|\t'\\]+")
EXACT_FAMILIES = ("quota_area", "allowed_uses")


def _num(v) -> str:
    v = float(v)
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _token(name: str) -> str:
    t = SEPARATORS.sub("_", str(name)).strip("_")
    return t or "_"


def _write(path: Path, header: str, rows) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(header + "\n")
        for r in rows:
            f.write(",".join(r) + "\n")


INPUT_DAT = """Marxan with Zones input file written by landalloc {version}
{comment}
General Parameters
BLM {blm}
PROP 0.5
RANDSEED -1
NUMREPS 10

Annealing Parameters
NUMITNS 1000000
STARTTEMP -1
NUMTEMP 10000

Cost Threshold
COSTTHRESH 0
THRESHPEN1 0
THRESHPEN2 0

Input Files
INPUTDIR input
{files}

Save Files
SCENNAME {scenname}
SAVERUN 3
SAVEBEST 3
SAVESUMMARY 3
SAVESCEN 3
SAVETARGMET 3
SAVESUMSOLN 3
SAVEPENALTY 3
SAVELOG 2
OUTPUTDIR output

Program control
RUNMODE 1
MISSLEVEL 1
ITIMPTYPE 0
HEURTYPE -1
CLUMPTYPE 0
VERBOSITY 2
"""


def write_project_files(p: MarxanProject, out: Path, *, comment: str = "") -> list[str]:
    """Write ``p`` as ``out/input.dat`` + ``out/input/*.dat`` (out must exist); returns the files written."""
    inp = out / "input"
    inp.mkdir(parents=True, exist_ok=True)
    (out / "output").mkdir(exist_ok=True)
    files: dict[str, str] = {}
    cost_names = [_token(c) for c in p.cost_names]
    if len(set(cost_names)) != len(cost_names):
        cost_names = [f"cost{k + 1}" for k in range(len(cost_names))]
    _write(inp / "pu.dat", "id," + ",".join(cost_names),
           ([str(int(i))] + [_num(v) for v in row] for i, row in zip(p.pu_ids, p.costs)))
    files["PUNAME"] = "pu.dat"
    _write(inp / "costs.dat", "costid,costname", ([str(k + 1), n] for k, n in enumerate(cost_names)))
    files["COSTSNAME"] = "costs.dat"
    _write(inp / "zones.dat", "zoneid,zonename", ([str(int(z)), _token(n)] for z, n in zip(p.zone_ids, p.zone_names)))
    files["ZONESNAME"] = "zones.dat"
    _write(inp / "zonecost.dat", "zoneid,costid,multiplier",
           ([str(int(p.zone_ids[z])), str(k + 1), _num(p.zone_cost[k, z])]
            for z in range(p.n_zones) for k in range(len(cost_names)) if p.zone_cost[k, z] != 0))
    files["ZONECOSTNAME"] = "zonecost.dat"
    _write(inp / "spec.dat", "id,name,target,targetocc,spf",
           ([str(int(f)), _token(n), _num(t), str(int(o)), _num(s)]
            for f, n, t, o, s in zip(p.feature_ids, p.feature_names, p.target, p.target_occ, p.spf)))
    files["SPECNAME"] = "spec.dat"
    order = np.lexsort((p.ent_sp, p.ent_pu))
    _write(inp / "puvspr.dat", "species,pu,amount",
           ([str(int(p.feature_ids[s])), str(int(p.pu_ids[i])), _num(a)]
            for i, s, a in zip(p.ent_pu[order], p.ent_sp[order], p.ent_amount[order])))
    files["PUVSPRNAME"] = "puvspr.dat"
    if p.contrib_kind in ("zonecontrib", "zonecontrib2"):
        _write(inp / "zonecontrib.dat", "zoneid,featureid,fraction",
               ([str(int(p.zone_ids[z])), str(int(p.feature_ids[s])), _num(p.contrib_table[s, z])]
                for s in range(p.n_features) for z in range(p.n_zones) if p.contrib_table[s, z] != 0))
        files["ZONECONTRIBNAME"] = "zonecontrib.dat"
    elif p.contrib_kind == "zonecontrib3":
        e, z = np.nonzero(p.contrib)
        _write(inp / "zonecontrib3.dat", "zoneid,puid,featureid,fraction",
               ([str(int(p.zone_ids[zz])), str(int(p.pu_ids[p.ent_pu[ee]])), str(int(p.feature_ids[p.ent_sp[ee]])),
                 _num(p.contrib[ee, zz])] for ee, zz in zip(e, z)))
        files["ZONECONTRIB3NAME"] = "zonecontrib3.dat"
    rows = [[str(int(p.zone_ids[z])), str(int(p.feature_ids[s])), _num(p.zone_target[s, z]), "0"]
            for s, z in zip(*np.nonzero(p.zone_target > 0))]
    rows += [[str(int(p.zone_ids[z])), str(int(p.feature_ids[s])), str(int(p.zone_target_occ[s, z])), "2"]
             for s, z in zip(*np.nonzero(p.zone_target_occ > 0))]
    if rows:
        _write(inp / "zonetarget.dat", "zoneid,featureid,target,targettype", rows)
        files["ZONETARGETNAME"] = "zonetarget.dat"
    if len(p.bound_i) or (p.fixed != 0).any():
        fx = np.nonzero(p.fixed != 0)[0]
        _write(inp / "bound.dat", "id1,id2,boundary",
               [[str(int(p.pu_ids[i])), str(int(p.pu_ids[i])), _num(p.fixed[i])] for i in fx]
               + [[str(int(p.pu_ids[i])), str(int(p.pu_ids[j])), _num(b)] for i, j, b in zip(p.bound_i, p.bound_j, p.bound_b)])
        files["BOUNDNAME"] = "bound.dat"
    if p.zone_bound_given:
        _write(inp / "zoneboundcost.dat", "zoneid1,zoneid2,cost",
               ([str(int(p.zone_ids[a])), str(int(p.zone_ids[b])), _num(p.zone_bound_cost[a, b])]
                for a in range(p.n_zones) for b in range(a, p.n_zones) if p.zone_bound_cost[a, b] != 0))
        files["ZONEBOUNDCOSTNAME"] = "zoneboundcost.dat"
    locked = np.nonzero(p.lock >= 0)[0]
    if len(locked):
        _write(inp / "pulock.dat", "puid,zoneid", ([str(int(p.pu_ids[i])), str(int(p.zone_ids[p.lock[i]]))] for i in locked))
        files["PULOCKNAME"] = "pulock.dat"
    limited = np.nonzero(~p.puzone.all(axis=1))[0]
    if len(limited):
        _write(inp / "puzone.dat", "puid,zoneid",
               ([str(int(p.pu_ids[i])), str(int(p.zone_ids[z]))] for i in limited for z in np.nonzero(p.puzone[i])[0]))
        files["PUZONENAME"] = "puzone.dat"
    _write(inp / "penalty.dat", "spid,penalty", ([str(int(f)), _num(v)] for f, v in zip(p.feature_ids, p.penalty)))
    files["PENALTYNAME"] = "penalty.dat"

    text = INPUT_DAT.format(version=__version__, comment=comment, blm=_num(p.blm), scenname=_token(p.name) or "output",
                            files="\n".join(f"{k} {v}" for k, v in files.items()))
    (out / "input.dat").write_text(text, encoding="utf-8")
    return ["input.dat"] + [f"input/{v}" for v in files.values()]


def write_project(p: MarxanProject, out: Path, *, readme: str | None = None, sidecar: dict | None = None) -> list[str]:
    """Write ``p`` into the project directory ``out`` (replaced atomically)."""
    written: list[str] = []

    def fill(tmp: Path) -> None:
        written.extend(write_project_files(p, tmp))
        (tmp / "README.md").write_text(readme or _README_PLAIN.format(name=p.name), encoding="utf-8")
        written.append("README.md")
        if sidecar is not None:
            (tmp / SIDECAR).write_text(json.dumps(sidecar, indent=2, ensure_ascii=False), encoding="utf-8")
            written.append(SIDECAR)

    write_dir_atomically(out, fill, "input.dat")
    return written


_README_PLAIN = """# Marxan with Zones project `{name}` (written by landalloc)

Run Marxan with Zones in this directory (`MarZone input.dat`); read its best plan back with

    landalloc import-marxan . --out ../{name}-scenario --solve --evaluate output/{name}_best.csv

which prints the exact optimum of the same score next to the score of Marxan's plan.
Penalties are fixed in `input/penalty.dat` (Marxan's start-up estimate is not used).
"""


# ------------------------------------------------------------------------------------- landalloc export

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


def scenario_to_project(loaded, instance=None, compiled=None) -> tuple[MarxanProject, dict, list[str]]:
    """The landalloc scenario as a MarxanProject (in memory), the sidecar dict and what cannot be exported."""

    sc = loaded.scenario
    instance = instance or load_instance(loaded)
    compiled = compiled or compile_model(instance, loaded)
    model = compiled.model
    n = instance.n
    cols = model.columns.iloc[: compiled.n_assign]
    c = model.c[: compiled.n_assign]
    sign = -1.0 if model.sense == "max" else 1.0
    used = set(instance.current_use.tolist()) | set(sc.allocate)
    codes = [u for u in sc.land_uses if u in used]
    zone_of = {u: k for k, u in enumerate(codes)}
    Z = len(codes)
    col_parcel = cols["parcel"].to_numpy()
    col_zone = np.array([zone_of[u] for u in cols["use"]], dtype=np.int64)
    allowed = np.zeros((n, Z), dtype=bool)
    allowed[col_parcel, col_zone] = True
    # costs: one column per zone holding the objective coefficient of x[p, zone] (0 for keeping, unless a
    # family prices it), multiplier 1 in that zone only
    costs = np.zeros((n, Z))
    costs[col_parcel, col_zone] = sign * c
    zone_cost = np.eye(Z)
    ids = instance.ids
    try:
        as_int = np.asarray(ids).astype(np.int64)
        int_ids = bool(np.all(as_int == np.asarray(ids)) and (as_int > 0).all() and len(set(as_int.tolist())) == n)
    except (TypeError, ValueError):
        int_ids = False
    pu_ids = as_int if int_ids else np.arange(1, n + 1, dtype=np.int64)
    # features: quotas with a lower bound
    not_exported: list[str] = []
    feats, f_names, ent_pu, ent_sp, ent_amt, zt_rows = [], [], [], [], [], []
    for key, q in sc.quotas.items():
        use = q.use or key
        if q.hi is not None:
            not_exported.append(f"quota {key}: upper bound hi = {q.hi} ha (Marxan targets are minimums)")
        if q.lo is None or q.lo <= 0:
            continue
        if use not in zone_of:
            not_exported.append(f"quota {key}: use {use} is neither a current use nor in allocate")
            continue
        mask = np.ones(n, dtype=bool)
        if q.region is not None:
            mask = np.isin(instance.text(q.region.field, "export-marxan"), q.region.values)
        s = len(feats)
        feats.append(s + 1)
        f_names.append(_token(key))
        idx = np.nonzero(mask & (instance.area_ha > 0))[0]
        ent_pu.append(idx)
        ent_sp.append(np.full(len(idx), s))
        ent_amt.append(instance.area_ha[idx])
        zt_rows.append((s, zone_of[use], float(q.lo)))
    S = len(feats)
    ent_pu_a = np.concatenate(ent_pu) if ent_pu else np.zeros(0, np.int64)
    ent_sp_a = np.concatenate(ent_sp) if ent_sp else np.zeros(0, np.int64)
    ent_amt_a = np.concatenate(ent_amt) if ent_amt else np.zeros(0)
    order = np.lexsort((ent_sp_a, ent_pu_a))
    ent_pu_a, ent_sp_a, ent_amt_a = ent_pu_a[order], ent_sp_a[order], ent_amt_a[order]
    zone_target = np.zeros((S, Z))
    for s, z, lo in zt_rows:
        zone_target[s, z] = lo
    for fam in compiled.families:
        if fam.name not in EXACT_FAMILIES:
            not_exported.append(f"constraint family {fam.name}: its rows and objective terms are not exported")
    extra = model.n_cols - compiled.n_assign
    if extra:
        not_exported.append(f"{extra} model column(s) beyond the assignment (family variables) are not exported")
    adj = instance.adjacency()
    tri = sp.triu(adj, k=1).tocoo()
    keep = tri.data > 1e-6
    bi, bj, bb = tri.row[keep].astype(np.int64), tri.col[keep].astype(np.int64), tri.data[keep]
    lock = np.where(allowed.sum(axis=1) == 1, allowed.argmax(axis=1), -1).astype(np.int64)
    puzone = allowed.copy()
    puzone[lock >= 0] = True  # a lock says it all; puzone rows only for PUs with several zones
    total_cost = float(np.abs(costs @ zone_cost).max(axis=1).sum())
    penalty = np.full(S, 10.0 * total_cost + 1.0)
    zbc = 1.0 - np.eye(Z)
    p = MarxanProject(
        input_dat=Path("input.dat"), input_dir=Path("input"), files={}, name=_token(sc.name), blm=0.0,
        pu_ids=pu_ids, cost_ids=np.arange(1, Z + 1), cost_names=tuple(f"cost_{_token(u)}" for u in codes),
        costs=costs, zone_ids=np.arange(1, Z + 1), zone_names=tuple(_token(u) for u in codes), zone_cost=zone_cost,
        feature_ids=np.array(feats, dtype=np.int64), feature_names=tuple(f_names), target=np.zeros(S),
        target_occ=np.zeros(S, dtype=np.int64), spf=np.ones(S), ent_pu=ent_pu_a, ent_sp=ent_sp_a, ent_amount=ent_amt_a,
        contrib=np.ones((len(ent_pu_a), Z)), contrib_kind="default", contrib_table=None, zone_target=zone_target,
        zone_target_occ=np.zeros((S, Z), dtype=np.int64), bound_i=bi, bound_j=bj, bound_b=bb, fixed=np.zeros(n),
        zone_bound_cost=zbc, zone_bound_given=True, lock=lock, puzone=puzone, penalty=penalty, penalty_source="file")
    digest = sha256_file(loaded.path) if loaded.path else None
    sidecar = {
        "landalloc_export": 1,
        "scenario": str(loaded.path) if loaded.path else None,
        "scenario_sha256": digest,
        "parcels": {"path": str(instance.path), "sha256": instance.sha256},
        "sense": model.sense,
        "cost_sign": sign,
        "objective_offset": float(model.offset),
        "relation": ("landalloc objective = cost_sign × Marxan cost + objective_offset "
                     "(BLM 0, every quota lo met: Marxan penalty 0)"),
        "pu_to_parcel": {str(int(k)): (v.item() if hasattr(v, "item") else v) for k, v in zip(pu_ids, ids)},
        "zone_to_use": {str(k + 1): u for k, u in enumerate(codes)},
        "not_exported": not_exported,
        "penalty_rule": "10 × Σ_PU max_zone |cost| + 1 for every feature",
    }
    return p, sidecar, not_exported


def export_scenario(loaded, out: Path) -> ExportReport:
    p, sidecar, not_exported = scenario_to_project(loaded)
    readme = _README_EXPORT.format(
        name=p.name, scenario=sidecar["scenario"], n=p.n_pu, zones=", ".join(f"{i} = {u}" for i, u in sidecar["zone_to_use"].items()),
        sense=sidecar["sense"], sign=_num(sidecar["cost_sign"]),
        not_exported="\n".join(f"- {x}" for x in not_exported) or "- nothing: the project is the same model")
    files = write_project(p, out, readme=readme, sidecar=sidecar)
    return ExportReport(project=Path(out), files=files, n_pu=p.n_pu, zones=list(p.zone_names),
                        features=list(p.feature_names), boundary_pairs=int(len(p.bound_i)), not_exported=not_exported,
                        sidecar=sidecar)


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
