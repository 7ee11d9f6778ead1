"""The imported Marxan with Zones score equals an independent scorer's, in soft and hard modes.

The scorer below reads the project's files itself and follows Marxan with Zones' source (reserve.hpp,
zones.hpp; ../shared/marxan_zones.md), without landalloc's reader, score or model. The hand-made project
(2×3 grid, PUs 1 2 3 / 4 5 6; zones 1 available, 2 reserve):

    pu.dat      cost 4 2 3 5 1 2, opp 2 2 1 0 4 2;  zonecost: reserve = cost + 0.5·opp, available = 0
    bound.dat   PU 1 self-boundary 3 (a constant: Marxan with Zones adds it whatever the zone); (1,2) (2,3)
                (4,5) (5,6) length 1, (1,4) (2,5) (3,6) length 2; zoneboundcost available–reserve 1; BLM 0.5
    forest      amounts 2 1 0 3 1 2, contribution available 0.25, reserve 1; target 5; spf 2, penalty 6
    wetland     amounts 0 2 2 0 1 0; zone target: 3 raw units in reserve (type 0) and 1 occurrence in
                reserve (type 2: Marxan's integer division charges it only when none is held); spf 1, penalty 4
    pulock      PU 6 in reserve

By hand, plan (reserve, reserve, available, available, available, reserve) — zones 2 2 1 1 1 2:
cost 5 + 3 + 3 = 11; boundary (2,3) 1 + (4,5)·0 + (5,6) 1 + (1,4) 2 + (2,5) 2 + (3,6) 2 = 8, plus 3 fixed,
× 0.5 = 5.5; forest 2 + 1 + 2 + 0.25·(0 + 3 + 1) = 6 ≥ 5; wetland in reserve 2 < 3 → 4·(1/3), one
occurrence ≥ 1 → 0. Score 11 + 5.5 + 4/3 = 17.8333…
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FILES = {
    "input.dat": "INPUTDIR input\nOUTPUTDIR output\nSCENNAME handmade\nRUNMODE 1\nNUMREPS 10\nBLM 0.5\n"
                 "PUNAME pu.dat\nCOSTSNAME costs.dat\nZONESNAME zones.dat\nZONECOSTNAME zonecost.dat\nSPECNAME spec.dat\n"
                 "PUVSPRNAME puvspr.dat\nBOUNDNAME bound.dat\nZONEBOUNDCOSTNAME zoneboundcost.dat\n"
                 "ZONECONTRIBNAME zonecontrib.dat\nZONETARGETNAME zonetarget.dat\nPULOCKNAME pulock.dat\nPENALTYNAME penalty.dat\n",
    "input/pu.dat": "id,cost,opp\n1,4,2\n2,2,2\n3,3,1\n4,5,0\n5,1,4\n6,2,2\n",
    "input/costs.dat": "costid,costname\n1,cost\n2,opp\n",
    "input/zones.dat": "zoneid,zonename\n1,available\n2,reserve\n",
    "input/zonecost.dat": "zoneid,costid,multiplier\n2,1,1\n2,2,0.5\n",
    "input/spec.dat": "id,name,target,spf\n1,forest,5,2\n2,wetland,0,1\n",
    "input/puvspr.dat": "species,pu,amount\n1,1,2\n1,2,1\n2,2,2\n2,3,2\n1,4,3\n1,5,1\n2,5,1\n1,6,2\n",
    "input/bound.dat": "id1,id2,boundary\n1,1,3\n1,2,1\n2,3,1\n4,5,1\n5,6,1\n1,4,2\n2,5,2\n3,6,2\n",
    "input/zoneboundcost.dat": "zoneid1,zoneid2,cost\n1,2,1\n",
    "input/zonecontrib.dat": "zoneid,featureid,fraction\n1,1,0.25\n2,1,1\n2,2,1\n",
    "input/zonetarget.dat": "zoneid,featureid,target,targettype\n2,2,3,0\n2,2,1,2\n",
    "input/pulock.dat": "puid,zoneid\n6,2\n",
    "input/penalty.dat": "spid,penalty\n1,6\n2,4\n",
}


def write_project(root: Path, **replace: str) -> Path:
    for name, text in {**FILES, **replace}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "output").mkdir(exist_ok=True)
    return root


def _csv(root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(root / "input" / name)


def independent_score(root: Path, plan: dict[int, int]) -> tuple[float, bool]:
    """(Marxan with Zones' score, every target met) of ``plan`` {puid: zoneid}, from the files alone."""
    blm = float(next(line.split()[1] for line in (root / "input.dat").read_text().splitlines() if line.startswith("BLM")))
    pu, zc = _csv(root, "pu.dat"), _csv(root, "zonecost.dat")
    costs = dict(zip(_csv(root, "costs.dat")["costid"], _csv(root, "costs.dat")["costname"]))
    cost = sum(float(pu.loc[pu["id"] == i, costs[c]].iloc[0]) * m
               for i, z in plan.items() for zz, c, m in zc.itertuples(index=False) if zz == z)
    zbc = {}
    for a, b, c in _csv(root, "zoneboundcost.dat").itertuples(index=False):
        zbc[(a, b)] = zbc[(b, a)] = c
    conn = 0.0
    for i, j, b in _csv(root, "bound.dat").itertuples(index=False):
        conn += b if i == j else b * zbc.get((plan[i], plan[j]), 0.0)
    contrib = {(z, s): f for z, s, f in _csv(root, "zonecontrib.dat").itertuples(index=False)}
    spec, puv = _csv(root, "spec.dat"), _csv(root, "puvspr.dat")
    penalty = dict(_csv(root, "penalty.dat").itertuples(index=False))
    targets = _csv(root, "zonetarget.dat")
    total_penalty, met = 0.0, True
    for s, _, target, spf in spec.itertuples(index=False):
        rows = puv[puv["species"] == s]
        held = sum(a * contrib.get((plan[i], s), 0.0) for _, i, a in rows.itertuples(index=False))
        F = (target - held) / target if target > 0 and held < target else 0.0
        met &= not (target > 0 and held < target)
        for z, _, zt, kind in targets[targets["featureid"] == s].itertuples(index=False):
            in_zone = [a for _, i, a in rows.itertuples(index=False) if plan[i] == z]
            got = sum(in_zone) if kind == 0 else sum(a > 0 for a in in_zone)
            if got < zt:
                met = False
                F += (zt - got) / zt if kind == 0 else (zt - got) // zt   # occurrences: Marxan's integer division
        total_penalty += penalty[s] * spf * F
    return cost + blm * conn + total_penalty, met


def every_plan(root: Path):
    locks = dict(_csv(root, "pulock.dat").itertuples(index=False))
    ids = _csv(root, "pu.dat")["id"].tolist()
    for zones in itertools.product(*[[locks[i]] if i in locks else [1, 2] for i in ids]):
        yield dict(zip(ids, zones))


def test_independent_scorer_by_hand(tmp_path):
    root = write_project(tmp_path / "p")
    score, met = independent_score(root, {1: 2, 2: 2, 3: 1, 4: 1, 5: 1, 6: 2})
    assert score == pytest.approx(11 + 5.5 + 4 / 3, abs=1e-12) and not met


@pytest.mark.parametrize("targets", ["soft", "hard"])
@pytest.mark.parametrize("penalties", ["as written", "cheap"])
def test_imported_optimum_is_the_independent_scorers(cli, tmp_path, targets, penalties):
    """import-marxan --solve: the run's objective equals the independent score of its best.csv, and the
    minimum of the independent score over all 32 allowed plans (soft) or over those meeting every target
    (hard). Cheap penalties make the soft optimum leave a target short, so the two modes differ there."""
    root = write_project(tmp_path / "p", **({"input/penalty.dat": "spid,penalty\n1,0.5\n2,0.5\n"} if penalties == "cheap" else {}))
    scores = [independent_score(root, plan) for plan in every_plan(root)]
    best = min(s for s, met in scores if targets == "soft" or met)
    res = cli("import-marxan", root, "--out", tmp_path / "s", "--solve", "--targets", targets, "--json")
    assert res.exit_code == 0, res.output
    run = json.loads((tmp_path / "s" / "run" / "run.json").read_text())
    plan = pd.read_csv(tmp_path / "s" / "run" / "best.csv")
    score, met = independent_score(root, dict(zip(plan["planning_unit"], plan["zone"])))
    assert run["objective"] == pytest.approx(score, rel=1e-12)
    assert run["marxan"]["score"]["score"] == pytest.approx(score, rel=1e-12)
    assert score == pytest.approx(best, rel=1e-12) and (met or targets == "soft")
    if penalties == "cheap":
        hard_best = min(s for s, m in scores if m)
        assert (best < hard_best - 1e-9) == (targets == "soft")


def test_model_value_of_every_plan_is_the_independent_score(tmp_path):
    """Every allowed plan, soft targets: the imported model's objective (auxiliary columns at their best
    values for the plan) equals the independent score — not only at the optimum."""
    from optimizer.marxan.model import build_model, objective_of_plan
    from optimizer.marxan.reader import read_project

    root = write_project(tmp_path / "p")
    p = read_project(root)
    zone_index = {int(z): k for k, z in enumerate(p.zone_ids)}
    for linearization in ("auto", "aggregated", "marginal"):
        mm = build_model(p, "soft", linearization)
        for plan in every_plan(root):
            zone = np.array([zone_index[plan[int(i)]] for i in p.pu_ids])
            assert objective_of_plan(mm, zone) == pytest.approx(independent_score(root, plan)[0], rel=1e-12, abs=1e-12)
