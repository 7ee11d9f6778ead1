"""Write Marxan projects — Marxan with Zones or classic Marxan — back to their files.

Numbers are written with Python's shortest round-trip ``repr``, so a written project re-reads to the
same arrays bit for bit. A Marxan with Zones project always carries a PENALTYNAME file: its start-up
penalty estimate depends on PU order and tie-breaking, a file fixes it. A classic project keeps its
source's RUNMODE: where that run mode estimates penalties (Marxan ignores PENALTYNAME there), the
rewritten files reproduce the estimate exactly (same unit order, same bound.dat order, same
MATRIXSPORDERNAME choice); where it reads PENALTYNAME, the file is written.

``export.py`` builds such projects from landalloc scenarios.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from optimizer import __version__
from optimizer.engine.files import write_dir_atomically
from optimizer.marxan.arrays import MarxanProject
from optimizer.marxan.tables import token

SIDECAR = "landalloc_export.json"


def _num(v) -> str:
    v = float(v)
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _write(path: Path, header: str, rows) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(header + "\n")
        for r in rows:
            f.write(",".join(r) + "\n")


INPUT_DAT = """{title} input file written by landalloc {version}
{comment}
General Parameters
BLM {blm}
PROP 0.5
RANDSEED -1
NUMREPS {numreps}

Annealing Parameters
NUMITNS 1000000
STARTTEMP -1
NUMTEMP 10000

Cost Threshold
COSTTHRESH {costthresh}
THRESHPEN1 {threshpen1}
THRESHPEN2 {threshpen2}

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
RUNMODE {runmode}
MISSLEVEL {misslevel}
ITIMPTYPE 0
HEURTYPE -1
CLUMPTYPE 0
VERBOSITY 2
{extra}"""


def _bound_rows(p: MarxanProject) -> list[list[str]]:
    """bound.dat: self-rows first, then the pairs in the order read (the classic penalty estimate sums them so)."""
    fx = np.nonzero(p.fixed != 0)[0]
    return ([[str(int(p.pu_ids[i])), str(int(p.pu_ids[i])), _num(p.fixed[i])] for i in fx]
            + [[str(int(p.pu_ids[i])), str(int(p.pu_ids[j])), _num(b)] for i, j, b in zip(p.bound_i, p.bound_j, p.bound_b)])


def _input_dat(p: MarxanProject, out: Path, files: dict[str, str], comment: str, **settings) -> list[str]:
    values = {"title": "Marxan", "numreps": 10, "costthresh": 0, "threshpen1": 0, "threshpen2": 0, "runmode": 1,
              "misslevel": 1, "extra": "", **settings}
    text = INPUT_DAT.format(version=__version__, comment=comment, blm=_num(p.blm), scenname=token(p.name) or "output",
                            files="\n".join(f"{k} {v}" for k, v in files.items()),
                            **{k: (_num(v) if isinstance(v, (int, float)) else v) for k, v in values.items()})
    (out / "input.dat").write_text(text, encoding="utf-8")
    return ["input.dat"] + [f"input/{v}" for v in files.values()]


def _classic_files(p: MarxanProject, out: Path, inp: Path, comment: str) -> list[str]:
    """pu.dat (id, cost, status), spec.dat (target, or prop where the source had one), puvspr.dat (and its
    species-ordered twin when the source had one), bound.dat, and penalty.dat when RUNMODE reads it."""
    files: dict[str, str] = {}
    _write(inp / "pu.dat", "id,cost,status",
           ([str(int(i)), _num(c), str(int(s))] for i, c, s in zip(p.pu_ids, p.costs[:, 0], p.status)))
    files["PUNAME"] = "pu.dat"
    prop = p.prop if p.prop is not None else np.zeros(p.n_features)
    with_prop = bool((prop > 0).any())
    _write(inp / "spec.dat", "id,name,target," + ("prop," if with_prop else "") + "targetocc,spf",
           ([str(int(f)), token(n), _num(0 if r > 0 else t)] + ([_num(r)] if with_prop else []) + [str(int(o)), _num(s)]
            for f, n, t, r, o, s in zip(p.feature_ids, p.feature_names, p.target, prop, p.target_occ, p.spf)))
    files["SPECNAME"] = "spec.dat"
    order = np.lexsort((p.ent_sp, p.ent_pu))
    rows = [[str(int(p.feature_ids[s])), str(int(p.pu_ids[i])), _num(a)]
            for i, s, a in zip(p.ent_pu[order], p.ent_sp[order], p.ent_amount[order])]
    _write(inp / "puvspr.dat", "species,pu,amount", rows)
    files["PUVSPRNAME"] = "puvspr.dat"
    if p.options.get("sporder"):
        by_species = np.lexsort((p.ent_pu, p.ent_sp))
        _write(inp / "puvspr_sporder.dat", "species,pu,amount",
               ([str(int(p.feature_ids[s])), str(int(p.pu_ids[i])), _num(a)]
                for i, s, a in zip(p.ent_pu[by_species], p.ent_sp[by_species], p.ent_amount[by_species])))
        files["MATRIXSPORDERNAME"] = "puvspr_sporder.dat"
    if len(p.bound_i) or (p.fixed != 0).any():
        _write(inp / "bound.dat", "id1,id2,boundary", _bound_rows(p))
        files["BOUNDNAME"] = "bound.dat"
    if p.penalty_source == "file":
        _write(inp / "penalty.dat", "spid,penalty", ([str(int(f)), _num(v)] for f, v in zip(p.feature_ids, p.penalty)))
        files["PENALTYNAME"] = "penalty.dat"
    o = p.options
    return _input_dat(p, out, files, comment, numreps=o.get("NUMREPS", 10), costthresh=o.get("COSTTHRESH", 0),
                      threshpen1=o.get("THRESHPEN1", 0), threshpen2=o.get("THRESHPEN2", 0), runmode=o.get("RUNMODE", 1),
                      misslevel=p.misslevel, extra="CONNECTIVITYIN 1\n" if o.get("CONNECTIVITYIN") else "")


def write_project_files(p: MarxanProject, out: Path, *, comment: str = "") -> list[str]:
    """Write ``p`` as ``out/input.dat`` + ``out/input/*.dat`` (out must exist); returns the files written."""
    inp = out / "input"
    inp.mkdir(parents=True, exist_ok=True)
    (out / "output").mkdir(exist_ok=True)
    if p.classic:
        return _classic_files(p, out, inp, comment)
    files: dict[str, str] = {}
    cost_names = [token(c) for c in p.cost_names]
    if len(set(cost_names)) != len(cost_names):
        cost_names = [f"cost{k + 1}" for k in range(len(cost_names))]
    _write(inp / "pu.dat", "id," + ",".join(cost_names),
           ([str(int(i))] + [_num(v) for v in row] for i, row in zip(p.pu_ids, p.costs)))
    files["PUNAME"] = "pu.dat"
    _write(inp / "costs.dat", "costid,costname", ([str(k + 1), n] for k, n in enumerate(cost_names)))
    files["COSTSNAME"] = "costs.dat"
    _write(inp / "zones.dat", "zoneid,zonename", ([str(int(z)), token(n)] for z, n in zip(p.zone_ids, p.zone_names)))
    files["ZONESNAME"] = "zones.dat"
    _write(inp / "zonecost.dat", "zoneid,costid,multiplier",
           ([str(int(p.zone_ids[z])), str(k + 1), _num(p.zone_cost[k, z])]
            for z in range(p.n_zones) for k in range(len(cost_names)) if p.zone_cost[k, z] != 0))
    files["ZONECOSTNAME"] = "zonecost.dat"
    _write(inp / "spec.dat", "id,name,target,targetocc,spf",
           ([str(int(f)), token(n), _num(t), str(int(o)), _num(s)]
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
        _write(inp / "bound.dat", "id1,id2,boundary", _bound_rows(p))
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

    return _input_dat(p, out, files, comment, title="Marxan with Zones")


def write_project(p: MarxanProject, out: Path, *, readme: str | None = None, sidecar: dict | None = None) -> list[str]:
    """Write ``p`` into the project directory ``out`` (replaced atomically)."""
    written: list[str] = []

    def fill(tmp: Path) -> None:
        written.extend(write_project_files(p, tmp))
        plain = _README_CLASSIC if p.classic else _README_PLAIN
        (tmp / "README.md").write_text(readme or plain.format(name=p.name), encoding="utf-8")
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


_README_CLASSIC = """# Marxan project `{name}` (written by landalloc)

Run Marxan in this directory (`Marxan input.dat`); read its best plan and selection frequencies back with

    landalloc import-marxan . --out ../{name}-scenario --solve --evaluate output/{name}_best.csv \\
        --evaluate output/{name}_ssoln.csv

which prints the exact optimum of the same score next to the score of Marxan's plan and reports any
unit whose status (2 locked in, 3 locked out) a plan breaks.
"""
