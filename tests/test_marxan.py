"""Marxan with Zones interoperability: reader, exact score, exact MIP, writer, CLI, round trips.

Hand computations. ``tests/data/marxan/small3_csv`` (``small3_tab`` is the same project with tabs,
aliases FEATNAME / CONNECTIONNAME / ZONECONNECTIONCOSTNAME, fpf, extra pu.dat columns and a header-less
puvspr.dat): PUs on a 2×3 grid 1 2 3 / 4 5 6; zones 1 available, 2 reserve, 3 fishing; BLM 2.

    zone cost = cost·ZC[cost] + opp·ZC[opp]: reserve = cost + opp, fishing = 0.5·cost, available = 0
        PU1 0/12/5  PU2 0/13/6  PU3 0/12/4  PU4 0/12/4.5  PU5 0/11/5.5  PU6 0/12/3.5
    bound: fixed 3 (PU1 self-row); (1,2) (2,3) (4,5) (5,6) length 1; (1,4) (2,5) (3,6) length 2
    ZBC: available–reserve 1, available–fishing 0.5, reserve–fishing 1, diagonal 0
    coral: target 6, spf 10, penalty 20, contrib reserve 1 / fishing 0.5 / available 0
    fish:  zone targets 5 (raw amount in fishing) and 1 occurrence in reserve, spf 5, penalty 15
    PU6 locked to fishing; PU1 may be available/reserve, PU5 available/fishing.

Plan A = zones (2,2,1,2,3,3): cost 12+13+0+12+5.5+3.5 = 46; boundary (2,3) 1·1 + (4,5) 1·1 + (2,5) 2·1
+ (3,6) 2·0.5 = 5, + fixed 3 = 8, × BLM 2 = 16; coral held 3+2+4+0.5·1 = 9.5 ≥ 6; fish 3+4 = 7 ≥ 5 in
fishing and PU2 in reserve: 1 occurrence. Score 62, penalty 0.
Plan B = (1,1,1,1,1,3): cost 3.5; boundary (5,6) 0.5 + (3,6) 2·0.5 = 1.5, + 3, × 2 = 9; coral held 0:
F = 1, 20·10·1 = 200; fish: fishing 4 < 5 → 0.2, reserve occurrences 0 → ⌊1/1⌋ = 1, F = 1.2, 15·5·1.2 = 90.
Score 3.5 + 9 + 290 = 302.5.

``tests/data/marxan/minimal`` read as Marxan with Zones (``--flavour zones``: with no zones file the project
would be read as classic Marxan, tests/test_marxan_classic.py): only pu.dat, spec.dat, puvspr.dat (default zones available/reserved,
one cost column `cost`, multipliers 1, contributions 1, BLM 1, no boundary). Costs 4, 2, 5, 1 → 12 for
every plan. Feature a (target 5): Marxan's penalty estimate adds PUs by amount/cost 2/2, 4/5, 3/4, 0.5/1:
PU2 (2) then PU3 (6 ≥ 5) → penalty 2 + 5 = 7. Feature b (target 20, spf 2): PU3 9/5 then PU1 1/4, 10 < 20
never met → (5 + 4)·20/10 = 18. Every plan holds a 9.5 ≥ 5 and b 10 < 20: score 12 + 18·2·(10/20) = 30.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.errors import InputError
from optimizer.marxan.model import build_model, objective_of_plan, solve
from optimizer.marxan.arrays import MarxanProject
from optimizer.marxan.reader import read_project
from optimizer.marxan.solutions import read_zones_solution as read_solution
from optimizer.marxan.score import evaluate, plan_violations
from optimizer.engine.scenario import SolverSettings, load_scenario

from .conftest import SHARED, TINY

DATA = Path(__file__).parent / "data" / "marxan"
SMALL, SMALL_TAB, MINIMAL = DATA / "small3_csv", DATA / "small3_tab", DATA / "minimal"
EXACT = SolverSettings(gap=0.0, time_limit=120)
ARRAYS = ("pu_ids", "costs", "zone_ids", "zone_cost", "feature_ids", "target", "target_occ", "spf", "ent_pu", "ent_sp",
          "ent_amount", "contrib", "zone_target", "zone_target_occ", "bound_i", "bound_j", "bound_b", "fixed",
          "zone_bound_cost", "lock", "puzone", "penalty")
PLAN_A, PLAN_B = np.array([1, 1, 0, 1, 2, 2]), np.array([0, 0, 0, 0, 0, 2])


def same_project(a: MarxanProject, b: MarxanProject) -> None:
    for name in ARRAYS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.blm == b.blm


def plans(p: MarxanProject):
    choices = [np.nonzero(row)[0] for row in p.allowed]
    for plan in itertools.product(*choices):
        yield np.array(plan)


@pytest.fixture
def project_copy(tmp_path):
    def make(src: Path = SMALL) -> Path:
        d = tmp_path / src.name
        shutil.copytree(src, d)
        return d
    return make


# ------------------------------------------------------------------------------------------- reading, score

def test_comma_and_tab_variants_read_to_the_same_project():
    a, b = read_project(SMALL), read_project(SMALL_TAB)
    same_project(a, b)
    assert a.zone_names == ("available", "reserve", "fishing") and a.penalty_source == "file"
    assert a.zone_costs.tolist() == [[0, 12, 5], [0, 13, 6], [0, 12, 4], [0, 12, 4.5], [0, 11, 5.5], [0, 12, 3.5]]
    assert a.warnings == () and b.warnings == ()


def test_hand_computed_scores():
    p = read_project(SMALL)
    a = evaluate(p, PLAN_A)
    assert (a.cost, a.connection, a.penalty, a.total) == (46.0, 16.0, 0.0, 62.0)
    b = evaluate(p, PLAN_B)
    assert (b.cost, b.connection, b.penalty, b.total) == (3.5, 9.0, 290.0, 302.5)
    assert b.features["F"].tolist() == [1.0, pytest.approx(1.2)]
    assert plan_violations(p, PLAN_A) == [] and plan_violations(p, PLAN_B) == []
    bad = plan_violations(p, np.array([2, 0, 0, 0, 1, 0]))  # PU1 fishing, PU5 reserve: puzone; PU6 not fishing: lock
    assert [v["kind"] for v in bad] == ["pulock", "puzone"]
    assert bad[0]["planning_units"] == [6] and bad[1]["planning_units"] == [1, 5]


def test_missing_optional_files_defaults_and_penalty_estimate():
    p = read_project(MINIMAL, "zones")
    assert p.zone_names == ("available", "reserved") and p.cost_names == ("cost",) and p.blm == 1.0
    assert p.penalty_source == "estimated" and p.penalty.tolist() == [7.0, 18.0]
    for plan in plans(p):
        s = evaluate(p, plan)
        assert (s.cost, s.penalty, s.total) == (12.0, 18.0, 30.0)


def test_penalty_estimate_with_a_locked_pu(project_copy):
    """small3 without penalty.dat. coral: T 6, no lock; by amount / raw cost (cost + opp) PU4 4/12, PU1 3/12 → 7 ≥ 6,
    penalty 12 + 12 = 24. fish: T = Σ zone targets 5, O = 1; locked PU6 holds 4: cost max_z(0, 12, 3.5) = 12 plus
    its boundary 1 + 2 → 15; then PU2 5/13 → 9 ≥ 5 → 15 + 13 = 28."""
    d = project_copy()
    (d / "input.dat").write_text((d / "input.dat").read_text().replace("PENALTYNAME penalty.dat\n", ""))
    p = read_project(d)
    assert p.penalty_source == "estimated" and p.penalty.tolist() == [24.0, 28.0]


def test_best_file_is_read_and_checked(tmp_path):
    p = read_project(SMALL)
    assert read_solution(p, SMALL / "output" / "small3_best.csv").tolist() == PLAN_A.tolist()
    f = tmp_path / "r1.csv"
    f.write_text("planning_unit,zone\n1,2\n2,2\n3,1\n4,2\n5,3\n")
    with pytest.raises(InputError, match=r"r1.csv: 1 PU\(s\) missing, e.g. \[6\].*fix: write the SAVEBEST file"):
        read_solution(p, f)
    f.write_text("planning_unit,zone\n1,2\n2,9\n")
    with pytest.raises(InputError, match=r"r1.csv: line 3, column zone: zone id 9 is not in zones.dat"):
        read_solution(p, f)


# ------------------------------------------------------------------------------------------- exact MIP

@pytest.mark.parametrize("linearization", ["aggregated", "marginal"])
@pytest.mark.parametrize("penalties", ["as given", "cheap"])
def test_exact_solve_equals_brute_force(project_copy, linearization, penalties):
    """Every allowed plan (108): the MIP's value equals the score (soft) or the score with targets met (hard);
    the solver's optimum equals the enumeration's. Cheap penalties make the soft optimum leave targets short."""
    d = project_copy()
    if penalties == "cheap":
        (d / "input" / "penalty.dat").write_text("spid,penalty\n1,0.5\n2,1\n")
    p = read_project(d)
    results = {}
    for targets in ("soft", "hard"):
        mm = build_model(p, targets, linearization)
        best = np.inf
        for plan in plans(p):
            s = evaluate(p, plan)
            x = mm.complete(plan)
            feasible = len(mm.model.violations(x)) == 0
            assert feasible == (targets == "soft" or bool(s.features["met"].all()))
            if feasible:
                assert mm.model.objective_value(x) == pytest.approx(s.total, rel=1e-12, abs=1e-12)
                best = min(best, s.total)
        r = solve(mm, EXACT)
        zone = mm.zone_of(r.x)
        assert r.termination == "optimal"
        assert evaluate(p, zone).total == pytest.approx(best, abs=1e-9)
        assert r.objective == pytest.approx(best, abs=1e-6) and r.bound == pytest.approx(best, abs=1e-6)
        results[targets] = best
    if penalties == "as given":
        assert results == {"soft": 53.5, "hard": 53.5}
    else:
        assert results["soft"] < results["hard"]


def _random_project(seed: int) -> MarxanProject:
    """7 PUs, 3 zones: arbitrary symmetric ZBC (negative entries, nonzero diagonal), per-PU contributions,
    every kind of target, locks and puzone, some negative boundary weights."""
    rng = np.random.default_rng(seed)
    N, Z, S, K = 7, 3, 3, 2
    base = read_project(SMALL)
    ent_pu, ent_sp = np.nonzero(rng.random((N, S)) < 0.6)
    E = len(ent_pu)
    zbc = rng.integers(-2, 4, (Z, Z)).astype(float)
    zbc = np.triu(zbc) + np.triu(zbc, 1).T
    pairs = [(i, j) for i in range(N) for j in range(i + 1, N) if rng.random() < 0.45]
    bi, bj = (np.array(x, dtype=np.int64) for x in zip(*pairs))
    lock = np.full(N, -1)
    lock[rng.integers(N)] = rng.integers(Z)
    puzone = np.ones((N, Z), dtype=bool)
    puzone[rng.integers(N), rng.integers(Z)] = False
    return MarxanProject(
        input_dat=base.input_dat, input_dir=base.input_dir, files={}, name=f"random{seed}", blm=float(rng.choice([0.5, 2.0])),
        pu_ids=np.arange(1, N + 1), cost_ids=np.arange(1, K + 1), cost_names=("a", "b"), costs=rng.integers(0, 10, (N, K)).astype(float),
        zone_ids=np.arange(1, Z + 1), zone_names=("z1", "z2", "z3"), zone_cost=rng.choice([0, 0.5, 1, 2], (K, Z)),
        feature_ids=np.arange(1, S + 1), feature_names=("f1", "f2", "f3"), target=np.array([4.0, 0.0, 2.5]),
        target_occ=np.array([0, 2, 1]), spf=np.array([1.0, 2.0, 0.5]), ent_pu=ent_pu, ent_sp=ent_sp,
        ent_amount=rng.integers(1, 5, E).astype(float), contrib=rng.choice([0, 0.5, 1], (E, Z)), contrib_kind="zonecontrib3",
        contrib_table=None, zone_target=np.array([[0, 3, 0], [0, 0, 2.0], [0, 0, 0]]),
        zone_target_occ=np.array([[0, 0, 0], [1, 0, 0], [0, 0, 2]]), bound_i=bi, bound_j=bj,
        bound_b=rng.choice([-1.0, 1.0, 2.0, 0.5], len(bi)), fixed=np.where(rng.random(N) < 0.3, 1.0, 0.0),
        zone_bound_cost=zbc, zone_bound_given=True, lock=lock, puzone=puzone, penalty=np.array([10.0, 4.0, 6.0]),
        penalty_source="file")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_projects_mip_value_is_the_score_on_every_plan(seed):
    p = _random_project(seed)
    for linearization in ("aggregated", "marginal"):
        mm = build_model(p, "soft", linearization)
        values = []
        for plan in plans(p):
            v = objective_of_plan(mm, plan)
            assert v == pytest.approx(evaluate(p, plan).total, rel=1e-12, abs=1e-9)
            values.append(v)
        r = solve(mm, EXACT)
        assert r.termination == "optimal" and evaluate(p, mm.zone_of(r.x)).total == pytest.approx(min(values), abs=1e-7)


# ------------------------------------------------------------------------------------------- bad input

BAD = [
    ("input/puvspr.dat", lambda t: t.replace("1,4,4", "1,4,abc"),
     [r"puvspr.dat: line 4, column amount: 'abc' is not a number", "fix: write a number for amount"]),
    ("input/puvspr.dat", lambda t: t + "1,2,7\n",
     [r"puvspr.dat: line 10: feature 1 in PU 2 repeats line 3", "merge the two rows"]),
    ("input/bound.dat", lambda t: t + "3,99,1\n",
     [r"bound.dat: line 10, column id2: planning-unit id 99 is not in pu.dat", "fix: use an id listed in pu.dat"]),
    ("input/bound.dat", lambda t: t + "2,1,5\n", [r"bound.dat: line 10: the boundary between PUs 2 and 1 repeats line 3"]),
    ("input/zonecost.dat", lambda t: t + "7,1,1\n", [r"zonecost.dat: line 5, column zoneid: zone id 7 is not in zones.dat"]),
    ("input/costs.dat", lambda t: t.replace("2,opp", "3,opp"), [r"costs.dat: costid: cost ids are \[1, 3\]", "number the costs 1, 2"]),
    ("input/zonetarget.dat", lambda t: t.replace("3,2,5,0", "3,2,5"),
     [r"zonetarget.dat: line 2: 3 value\(s\), expected 4: zoneid, featureid, target, targettype"]),
    ("input/zonetarget.dat", lambda t: t.replace("3,2,5,0", "3,2,5,7"), [r"line 2, column targettype: target type 7 is not 0–3"]),
    ("input/puzone.dat", lambda t: t.replace("5,1\n", ""), [r"puzone.dat: line 4: PU 5 is allowed a single zone", "pulock.dat"]),
    ("input/pulock.dat", lambda t: t + "6,1\n", [r"pulock.dat: line 3: PU 6 is locked to two zones"]),
    ("input/spec.dat", lambda t: t.replace("id,name,target,spf", "id,name,target,spf,target2").replace("10\n", "10,3\n", 1).replace("5\n", "5,0\n"),
     [r"spec.dat: line 2, column target2: clumping targets are not supported"]),
    ("input/penalty.dat", lambda t: "spid,penalty\n2,15\n1,20\n", [r"penalty.dat: line 2: feature 2 where spec.dat has 1"]),
    ("input.dat", lambda t: t.replace("PUZONENAME puzone.dat", "PUZONENAME puzones.dat"),
     [r"puzones.dat: PUZONENAME: file named by input.dat line 26 not found"]),
    ("input.dat", lambda t: t + "A comment: BLM is the boundary length modifier\n",
     [r"input.dat: line 39: BLM: value 'is' is not a number", "even a comment"]),
    ("input.dat", lambda t: t.replace("INPUTDIR input\n", ""), [r"input.dat: INPUTDIR: missing"]),
    ("input/zones.dat", lambda t: t.replace("zoneid,zonename\n", ""),
     [r"zone id 1 is not in zones.dat"]),
]


@pytest.mark.parametrize("path,edit,needles", BAD, ids=[f"{b[0]}-{k}" for k, b in enumerate(BAD)])
def test_bad_rows_name_file_line_and_fix(project_copy, path, edit, needles):
    d = project_copy()
    f = d / path
    f.write_text(edit(f.read_text()))
    with pytest.raises(InputError) as e:
        read_project(d)
    msg = str(e.value)
    for n in needles:
        assert __import__("re").search(n, msg), msg


def test_cli_bad_input_exits_2_with_one_line(cli, project_copy, tmp_path):
    d = project_copy()
    (d / "input" / "puvspr.dat").write_text("species,pu,amount\n1,1,x\n")
    res = cli("import-marxan", d, "--out", tmp_path / "s")
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "puvspr.dat: line 2, column amount: 'x' is not a number (fix:" in " ".join(res.stderr.split())
    assert not (tmp_path / "s").exists()
    res = cli("import-marxan", tmp_path / "nowhere", "--out", tmp_path / "s")
    assert res.exit_code == 2 and "input.dat not found" in res.stderr


# ------------------------------------------------------------------------------------------- CLI, scenario

def test_cli_import_solve_and_evaluate_best(cli, tmp_path):
    out = tmp_path / "small3"
    res = cli("import-marxan", SMALL, "--out", out, "--solve", "--targets", "soft",
              "--evaluate", SMALL / "output" / "small3_best.csv", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    s, ev = data["solve"], data["evaluate"]
    assert (s["status"], s["objective"], s["bound"], s["gap"]) == ("optimal", 53.5, pytest.approx(53.5), pytest.approx(0.0))
    assert s["score"]["cost"] + s["score"]["connection"] + s["score"]["penalty"] == pytest.approx(53.5)
    assert (ev["score"], ev["cost"], ev["connection"], ev["penalty"]) == (62.0, 46.0, 16.0, 0.0)
    assert ev["above_optimum"] == pytest.approx(8.5) and ev["violations"] == []
    assert (out / "scenario.yaml").exists() and (out / "marxan" / "input.dat").exists()
    assert pd.read_csv(out / "parcels.csv")["allowed_zones"].tolist()[0] == "1 2"
    same_project(read_project(out / "marxan"), read_project(SMALL))
    # human output names both numbers
    res = cli("import-marxan", SMALL, "--out", out, "--solve", "--evaluate", SMALL / "output" / "small3_best.csv")
    assert res.exit_code == 0 and "53.5000" in res.stdout and "62.0000" in res.stdout


def test_cli_evaluate_reports_lock_and_puzone_breaches(cli, tmp_path):
    best = tmp_path / "bad_best.csv"
    best.write_text("planning_unit,zone\n1,3\n2,2\n3,1\n4,2\n5,3\n6,1\n")
    res = cli("import-marxan", SMALL, "--out", tmp_path / "s", "--evaluate", best, "--json")
    assert res.exit_code == 1
    ev = json.loads(res.stdout)["evaluate"]
    assert [(v["kind"], v["planning_units"]) for v in ev["violations"]] == [("pulock", [6]), ("puzone", [1])]
    assert ev["score"] == evaluate(read_project(SMALL), np.array([2, 1, 0, 1, 2, 0])).total


def test_solve_and_verify_route_imported_scenario(cli, tmp_path):
    res = cli("import-marxan", SMALL, "--out", tmp_path / "s", "--targets", "hard")
    assert res.exit_code == 0, res.output
    res = cli("solve", tmp_path / "s" / "scenario.yaml", "--out", tmp_path / "run", "--json")
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)
    assert run["objective"] == 53.5 and run["verify"]["ok"] and run["marxan"]["targets"] == "hard"
    assert pd.read_csv(tmp_path / "run" / "best.csv").columns.tolist() == ["planning_unit", "zone"]
    res = cli("verify", tmp_path / "run", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["recomputed_objective"] == 53.5
    (tmp_path / "run" / "best.csv").write_text("planning_unit,zone\n1,2\n2,2\n3,1\n4,2\n5,3\n6,3\n")  # plan A: 62
    res = cli("verify", tmp_path / "run", "--json")
    assert res.exit_code == 1
    assert [v["family"] for v in json.loads(res.stdout)["violations"]] == ["objective"]


def test_hard_targets_unreachable_exit_3_with_diagnosis(cli, tmp_path):
    res = cli("import-marxan", MINIMAL, "--out", tmp_path / "m", "--flavour", "zones", "--solve", "--targets", "hard",
              "--json")
    assert res.exit_code == 3
    d = json.loads(res.stdout)["solve"]["diagnosis"]
    assert [(x["key"], x["required"], x["achievable"]) for x in d] == [("2:amount", 20.0, 10.0)]
    res = cli("import-marxan", MINIMAL, "--out", tmp_path / "m", "--flavour", "zones", "--solve", "--targets", "soft",
              "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["solve"]["objective"] == 30.0


def test_targets_are_soft_by_default_as_marxan_scores_them(cli, tmp_path):
    """Without --targets a Marxan with Zones import is scored as Marxan scores a plan: the unreachable
    target of the minimal project is a penalized shortfall (objective 30), not an infeasible model."""
    res = cli("import-marxan", MINIMAL, "--out", tmp_path / "m", "--flavour", "zones", "--solve", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["targets"] == "soft"
    assert json.loads(res.stdout)["solve"]["objective"] == 30.0


# ------------------------------------------------------------------------------------------- round trips

def test_marxan_project_round_trip_gives_the_same_model(cli, tmp_path):
    """project → scenario → export-marxan → re-import: the same arrays and the same MIP, entry for entry."""
    for src in (SMALL, MINIMAL):
        assert cli("import-marxan", src, "--out", tmp_path / src.name, "--flavour", "zones").exit_code == 0
        res = cli("export-marxan", tmp_path / src.name / "scenario.yaml", "--out", tmp_path / f"{src.name}-again")
        assert res.exit_code == 0, res.output
        a, b = read_project(src, "zones"), read_project(tmp_path / f"{src.name}-again")
        same_project(a, b)
        for targets in ("soft", "hard"):
            ma, mb = build_model(a, targets).model, build_model(b, targets).model
            assert (ma.A != mb.A).nnz == 0 and np.array_equal(ma.c, mb.c) and ma.offset == mb.offset
            assert np.array_equal(ma.row_lo, mb.row_lo) and np.array_equal(ma.col_hi, mb.col_hi)


def _landalloc_vs_marxan(loaded, project_dir, plans_per_parcel):
    """For each plan (use per parcel): landalloc's objective and quota sums vs the re-imported project's."""
    from optimizer.engine.compile import compile_model
    from optimizer.engine.instance import load_instance

    inst = load_instance(loaded)
    comp = compile_model(inst, loaded)
    cols = comp.model.columns.iloc[: comp.n_assign]
    p = read_project(project_dir)
    side = json.loads((project_dir / "landalloc_export.json").read_text())
    zone_of_use = {u: int(z) - 1 for z, u in side["zone_to_use"].items()}
    pu_of_parcel = {v: k for k, v in enumerate(inst.ids.tolist())}
    order = np.array([pu_of_parcel[side["pu_to_parcel"][str(int(i))]] for i in p.pu_ids])
    assert (order == np.arange(inst.n)).all()
    # eligibility: the project's allowed zones are exactly the model's columns
    landalloc_allowed = np.zeros_like(p.allowed)
    landalloc_allowed[cols["parcel"].to_numpy(), [zone_of_use[u] for u in cols["use"]]] = True
    assert np.array_equal(landalloc_allowed, p.allowed)
    mm = build_model(p, "soft")
    col = {(a, zone_of_use[u]): c for c, (a, u) in enumerate(zip(cols["parcel"], cols["use"]))}
    quota_rows = np.nonzero((comp.model.rows["family"] == "quota_area").to_numpy())[0]
    for zone in plans_per_parcel(p):
        x = np.zeros(comp.model.n_cols)
        x[[col[(i, z)] for i, z in enumerate(zone)]] = 1.0
        la = comp.model.objective_value(x)
        s = evaluate(p, zone)
        assert la == pytest.approx(side["cost_sign"] * s.cost + side["objective_offset"], rel=1e-12, abs=1e-9)
        assert objective_of_plan(mm, zone) == pytest.approx(s.total, rel=1e-12, abs=1e-9)
        # quota sums = raw amounts held in the use's zone; lo met in landalloc ⇔ target met in Marxan
        act = comp.model.row_activity(x)[quota_rows]
        lo = comp.model.row_lo[quota_rows]
        held = {str(k): v for k, v in zip(p.feature_names, (s.features["zone_target_total"] - s.features["zone_shortfall"]))}
        keys = comp.model.rows["key"].to_numpy()[quota_rows]
        for k, a, l in zip(keys, act, lo):
            if l > 0:
                assert min(a, l) == pytest.approx(held[k], rel=1e-12)
        assert bool(s.features["met"].all()) == bool((act >= lo - 1e-9).all())
    return p, mm


def test_landalloc_tiny_round_trip_every_plan(cli, tmp_path):
    res = cli("export-marxan", TINY, "--out", tmp_path / "tiny", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["zones"] == ["LUA", "HNK", "RSX", "SKK", "TMD"] and out["features"] == ["SKK", "TMD"]
    assert any("hi = 3.0" in x for x in out["not_exported"])
    assert "upper bound" in (tmp_path / "tiny" / "README.md").read_text()
    _landalloc_vs_marxan(load_scenario(TINY), tmp_path / "tiny", plans)
    # read a Marxan plan back: landalloc's optimum (29) passes landalloc verify; Marxan's own optimum
    # (-33: hi cannot be a Marxan target) is caught by it
    best = tmp_path / "tiny" / "output" / "tiny_best.csv"
    best.write_text("planning_unit,zone\n1,4\n2,3\n3,2\n4,5\n5,4\n6,5\n")
    res = cli("import-marxan", tmp_path / "tiny", "--out", tmp_path / "back", "--solve", "--evaluate", best, "--json")
    data = json.loads(res.stdout)
    assert data["solve"]["objective"] == -33.0
    la = data["evaluate"]["landalloc"]
    assert data["evaluate"]["score"] == -29.0 and la["ok"] and la["landalloc_objective"] == pytest.approx(29.0)
    best.write_text("planning_unit,zone\n1,4\n2,4\n3,2\n4,5\n5,4\n6,5\n")
    la = json.loads(cli("import-marxan", tmp_path / "tiny", "--out", tmp_path / "back", "--evaluate", best, "--json").stdout)["evaluate"]["landalloc"]
    assert not la["ok"] and la["objective_matches"] and la["landalloc_objective"] == pytest.approx(33.0)
    assert [v["key"] for v in la["violations"]] == ["SKK"] and "above hi = 3.0" in la["violations"][0]["message"]


def test_landalloc_synthetic_round_trip(synthetic_small, tmp_path):
    from optimizer.marxan.export import export_scenario

    loaded = load_scenario(synthetic_small)
    rep = export_scenario(loaded, tmp_path / "syn")
    assert rep.n_pu == 300 and rep.boundary_pairs > 500 and rep.features == ["SKK", "SKN", "TMD"]
    rng = np.random.default_rng(0)

    def random_plans(p):
        choices = [np.nonzero(row)[0] for row in p.allowed]
        for _ in range(25):
            yield np.array([rng.choice(c) for c in choices])
        for k in range(3):  # plans that meet the quota lower bounds: convert the cheapest eligible parcels
            yield np.array([c[-1] if (i + k) % 2 else c[0] for i, c in enumerate(choices)])

    _landalloc_vs_marxan(loaded, tmp_path / "syn", random_plans)


# ------------------------------------------------------------------------------------------- published cases

CASE = SHARED / "cases" / "prioritizr_zones_sim"
PUBLISHED = {"p4": (3700.0, 3800.0), "p5": (7000.0, 7000.0), "p6": (10056.0, 11112.0), "p7": (13232.0, 13260.0)}
ZONE_COST, MULT, PENALTY, EDGE_FACTOR = np.array([100.0, 300.0, 200.0]), np.array([0.1, 0.5, 0.8]), 640.0, 0.5
W = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=float)


def write_prioritizr_project(out: Path, problem: str) -> Path:
    """prioritizr's management-zones problem as a Marxan with Zones project, faithfully:

    zone 1 `none` (not selected: cost 0, contribution 0) + few traps / many traps / baiting; costs
    `base` (1 where sim_pu_cost is not NA) × 100/300/200; contributions 0.1/0.5/0.8 (zonecontrib2);
    targets 8 per feature over all zones (spec.dat, hard). Cells 1–80 may not bait (puzone); p7 also
    forbids `none` (mandatory allocation). Boundary (p6, p7): prioritizr's penalty
    p·Σ_z W_zz Σ_i [(B_ii − e_i) + E e_i] x_iz − 2p Σ_{i<j} B_ij Σ W[z_i][z_j] regroups, with W extended
    by 0 for `none`, into p·Σ_{i<j} B_ij·(W_aa + W_bb − 2 W_ab) (a = z_i, b = z_j) plus p·E·e_i for every
    selected cell: BLM = p, bound.dat = B_ij, ZBC[a][b] = W_aa + W_bb − 2W_ab, and p·E·e_i as a second
    cost column `edge` in every selected zone."""
    cells = pd.read_csv(CASE / "cells.csv").sort_values("cell")
    adj = pd.read_csv(CASE / "adjacency.csv")
    n = len(cells)
    i, j, b = adj["cell1"].to_numpy(), adj["cell2"].to_numpy(), adj["shared_length"].to_numpy(float)
    exposed = 0.4 - (np.bincount(i - 1, b, n) + np.bincount(j - 1, b, n))
    boundary = problem in ("p6", "p7")
    inp = out / "input"
    inp.mkdir(parents=True)
    pd.DataFrame({"id": cells["cell"], "base": cells["sim_pu_cost"].notna().astype(int),
                  "edge": PENALTY * EDGE_FACTOR * exposed if boundary else 0.0}).to_csv(inp / "pu.dat", index=False)
    (inp / "costs.dat").write_text("costid,costname\n1,base\n2,edge\n")
    (inp / "zones.dat").write_text("zoneid,zonename\n1,none\n2,few_traps\n3,many_traps\n4,baiting\n")
    (inp / "zonecost.dat").write_text("zoneid,costid,multiplier\n" + "".join(
        f"{z + 2},1,{c:g}\n{z + 2},2,1\n" for z, c in enumerate(ZONE_COST)))
    (inp / "spec.dat").write_text("id,name,target,spf\n" + "".join(f"{k},feature_{k},8,1\n" for k in range(1, 6)))
    feats = cells[[f"feature_{k}" for k in range(1, 6)]].to_numpy()
    (inp / "puvspr.dat").write_text("species,pu,amount\n" + "".join(
        f"{k + 1},{c},{float(feats[r, k])!r}\n" for r, c in enumerate(cells["cell"]) for k in range(5) if feats[r, k] != 0))
    (inp / "zonecontrib2.dat").write_text("zoneid,fraction\n1,0\n" + "".join(f"{z + 2},{m:g}\n" for z, m in enumerate(MULT)))
    names = ["PUNAME pu.dat", "SPECNAME spec.dat", "PUVSPRNAME puvspr.dat", "ZONESNAME zones.dat", "COSTSNAME costs.dat",
             "ZONECOSTNAME zonecost.dat", "ZONECONTRIB2NAME zonecontrib2.dat"]
    if boundary:
        pd.DataFrame({"id1": i, "id2": j, "boundary": b}).to_csv(inp / "bound.dat", index=False)
        We = np.zeros((4, 4))
        We[1:, 1:] = W
        (inp / "zoneboundcost.dat").write_text("zoneid1,zoneid2,cost\n" + "".join(
            f"{a + 1},{c + 1},{We[a, a] + We[c, c] - 2 * We[a, c]:g}\n" for a in range(4) for c in range(a, 4)))
        names += ["BOUNDNAME bound.dat", "ZONEBOUNDCOSTNAME zoneboundcost.dat"]
    rows = []
    for c in cells["cell"]:
        zs = [2, 3, 4] if problem == "p7" else [1, 2, 3, 4]
        if problem != "p4" and c <= 80:
            zs.remove(4)
        rows += [f"{c},{z}\n" for z in zs] if len(zs) < 4 else []
    if rows:
        (inp / "puzone.dat").write_text("puid,zoneid\n" + "".join(rows))
        names.append("PUZONENAME puzone.dat")
    (out / "input.dat").write_text(f"INPUTDIR input\nOUTPUTDIR output\nSCENNAME {problem}\nRUNMODE 1\nNUMREPS 10\n"
                                   f"BLM {PENALTY if boundary else 0:g}\n" + "\n".join(names) + "\n")
    return out


def prioritizr_objective(problem: str, zone: np.ndarray) -> float:
    """The published formulation's objective of a plan (zone 0 = none, 1..3), straight from the formula."""
    cells = pd.read_csv(CASE / "cells.csv").sort_values("cell")
    adj = pd.read_csv(CASE / "adjacency.csv")
    n = len(cells)
    i, j, b = adj["cell1"].to_numpy() - 1, adj["cell2"].to_numpy() - 1, adj["shared_length"].to_numpy(float)
    shared = np.bincount(i, b, n) + np.bincount(j, b, n)
    on, z = zone > 0, np.maximum(zone - 1, 0)
    total = float(np.where(on & cells["sim_pu_cost"].notna().to_numpy(), ZONE_COST[z], 0.0).sum())
    if problem in ("p6", "p7"):
        total += float(np.where(on, PENALTY * W[z, z] * (shared + EDGE_FACTOR * (0.4 - shared)), 0.0).sum())
        total -= float(np.where(on[i] & on[j], 2 * PENALTY * b * W[z[i], z[j]], 0.0).sum())
    return total


@pytest.mark.skipif(not CASE.exists(), reason="needs ../shared/cases/prioritizr_zones_sim")
@pytest.mark.parametrize("problem", ["p4", "p5", "p6", "p7"])
def test_prioritizr_management_zones_solved_exactly(tmp_path, problem):
    p = read_project(write_prioritizr_project(tmp_path / problem, problem))
    mm = build_model(p, "hard")
    r = solve(mm, EXACT)
    assert r.termination == "optimal"
    zone = mm.zone_of(r.x)
    s = evaluate(p, zone)
    assert s.features["met"].all() and plan_violations(p, zone) == []
    lo, hi = PUBLISHED[problem]
    assert lo - 1e-6 <= s.total <= hi + 1e-6, (problem, s.total)
    assert r.bound == pytest.approx(s.total, rel=1e-9)
    # the mapping is faithful: Marxan's score is prioritizr's objective, for the optimum and for other plans
    assert s.total == pytest.approx(prioritizr_objective(problem, zone), rel=1e-12)
    rng = np.random.default_rng(7)
    for _ in range(5):
        other = np.array([rng.choice(np.nonzero(row)[0]) for row in p.allowed])
        o = evaluate(p, other)  # random plans miss targets: compare without the shortfall penalty
        assert o.cost + o.connection == pytest.approx(prioritizr_objective(problem, other), rel=1e-12)
    if problem == "p5":
        assert s.total == 7000.0
