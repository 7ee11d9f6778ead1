"""Classic Marxan projects: read with classic semantics, scored as Marxan scores them, solved exactly,
evaluated (``_best`` / ``_r`` / ``_ssoln``), exported and round-tripped.

Hand computations. ``tests/data/marxan/classic_csv`` (``classic_tab`` is the same project with tabs, the
old key CM for BLM, CONNECTIONNAME, xloc/yloc columns and its columns in another order): units on a
2 × 3 grid 1 2 3 / 4 5 6, each cell 1 wide and 2 tall; BLM 0.5; MISSLEVEL 0.95.

    unit    1  2  3  4  5  6         bound.dat: (1,2) (2,3) (4,5) (5,6) length 2; (1,4) (2,5) (3,6) length 1;
    cost    4  3  5  2  6  1         self-rows = the exposed edge: 3 1 3 3 1 3 (every perimeter is 6)
    status  0  2  0  1  3  0         (2 locked in, 3 locked out, 1 initial reserve)
    fish    2  .  4  2  .  2         prop 0.5 → target 0.5 · 10 = 5, spf 10
    coral   .  1  2  .  5  3         target 4 (absolute), spf 5
    kelp    1  .  .  1  3  .         target 2 and targetocc 2, spf 2

Penalties (Marxan's estimate, marxan.cpp computePenalties). Unit value v = cost + BLM·(self + all its
boundaries) = cost + 0.5·6: v = 7 6 8 5 9 4. Every locked-in unit (unit 2) comes first for every
feature: its amount, one occurrence, and v = 6.
- fish: held 0, occ 1, 6. Rest 5: no unit holds 5 alone; best amount/v: 1 → 2/7, 3 → 4/8 = .5, 4 → 2/5,
  6 → 2/4 = .5 (not above .5): unit 3 (held 4, 14). Rest 1: units 1, 4, 6 meet it alone, the cheapest
  is 6 (v 4): held 6 ≥ 5 → 18.
- coral: held 1, occ 1, 6. Rest 3: unit 3 (2/8) then unit 6 (3 ≥ 3 alone) → unit 6, held 4 → 6 + 4 = 10.
- kelp: held 0, occ 1 (unit 2 counts although it holds no kelp), 6. Rest 2: 1 → 1/7, 4 → 1/5: unit 4
  (held 1, occ 2, 11); rest 1: unit 1 meets it: held 2, occ 3 → 18.
With MATRIXSPORDERNAME (computePenaltiesOptimise) a locked-in unit counts only for the features it
holds: fish 8 + 4 = 12, coral 6 + 4 = 10, kelp 5 + 7 = 12.

Score of a plan with x1, x3, x4, x6 (x2 = 1, x5 = 0 by the locks), as Marxan computes it
(computeReserveValue): cost = 3 + 4x1 + 5x3 + 2x4 + x6; boundary = Σ_reserved self + Σ_pairs split
= 6 + x1 + x3 + 5x4 + 5x6 + |x1 − x4| + |x3 − x6|, × BLM; fish held 2x1 + 4x3 + 2x4 + 2x6, coral
1 + 2x3 + 3x6, kelp amount = occurrences = x1 + x4, so its F = ((2 − n)/2 + (2 − n)/2)/2 = (2 − n)/2;
penalty = 18·10·F_fish + 10·5·F_coral + 18·2·F_kelp.

    x1 x3 x4 x6 | cost boundary penalty | BLM 0.5   BLM 0
     1  0  1  1 |  10    18       0     |   19       10      ← the optimum for both BLMs
     1  1  1  1 |  15    18       0     |   24       15      (output/classic_best.csv)
     1  1  1  0 |  14    14      12.5   |   33.5     26.5
     0  1  1  1 |  11    18      18     |   38       29
     0  0  0  0 |   3     6     253.5   |  259.5    256.5    (fish F 1: 180, coral 3/4: 37.5, kelp 1: 36)

Kelp needs both units 1 and 4 (unit 5 is locked out; each missing one costs 18), coral then needs unit 6
(1 + 2 < 4 without it) and fish holds 6 ≥ 5: every target is met by {1, 2, 4, 6}; adding unit 3 costs 5
and saves no boundary. Of the 16 plans (listed by the test's own enumeration) it is the only one that
meets all targets more cheaply than 24, so it is the optimum with soft and hard targets alike.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
import shutil
from collections import defaultdict
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from optimizer.engine.compile import compile_model
from optimizer.engine.errors import InputError
from optimizer.engine.instance import load_instance
from optimizer.engine.scenario import SolverSettings, load_scenario
from optimizer.marxan.model import build_model, objective_of_plan, solve
from optimizer.marxan.reader import read_project
from optimizer.marxan.score import evaluate
from optimizer.marxan.solutions import read_plan
from optimizer.marxan.writer import write_project

DATA = Path(__file__).parent / "data" / "marxan"
CSV, TAB, TINY_SKK = DATA / "classic_csv", DATA / "classic_tab", DATA / "tiny_skk.yaml"
EXACT = SolverSettings(gap=0.0, time_limit=60)
ARRAYS = ("pu_ids", "costs", "status", "feature_ids", "target", "prop", "target_occ", "spf", "ent_pu", "ent_sp",
          "ent_amount", "bound_i", "bound_j", "bound_b", "fixed", "lock", "penalty", "zone_bound_cost")
OPTIMUM = [1, 1, 0, 1, 0, 1]


# ------------------------------------------------------------------------------------- an independent Marxan

def _rows(path: Path) -> list[list[str]]:
    text = path.read_text()
    delim = "\t" if "\t" in text.splitlines()[0] else ","
    return [[c.strip().strip('"') for c in row] for row in csv.reader(text.splitlines(), delimiter=delim) if row]


class RawProject:
    """A classic project read straight from its files with the csv module (not with optimizer.marxan)."""

    def __init__(self, root: Path):
        settings = dict(line.split() for line in (root / "input.dat").read_text().splitlines() if len(line.split()) == 2)
        self.blm = float(settings.get("BLM", 0))
        self.connectivity_in = settings.get("CONNECTIVITYIN", "0") == "1"
        d = root / settings["INPUTDIR"]

        def table(name: str) -> list[dict]:
            rows = _rows(d / name)
            return [dict(zip(rows[0], r)) for r in rows[1:]]

        self.cost = {int(r["id"]): float(r.get("cost", 1)) for r in table("pu.dat")}
        spec = table("spec.dat")
        self.amount = {(int(r[1]), int(r[0])): float(r[2]) for r in _rows(d / "puvspr.dat")[1:]}
        self.species = [int(r["id"]) for r in spec]
        self.spf = {int(r["id"]): float(r.get("spf", 1)) for r in spec}
        self.targetocc = {int(r["id"]): int(r.get("targetocc", 0)) for r in spec}
        self.target = {}
        for r in spec:
            s = int(r["id"])
            prop = float(r.get("prop", 0))
            total = sum(a for (_, sp), a in self.amount.items() if sp == s)
            self.target[s] = prop * total if prop > 0 else max(0.0, float(r.get("target", 0)))
        self.fixed: dict[int, float] = defaultdict(float)
        self.neighbours: dict[int, list] = defaultdict(list)
        bound = d / "bound.dat"
        for r in (_rows(bound)[1:] if bound.exists() else []):
            i, j, b = int(r[0]), int(r[1]), float(r[2])
            if i == j:
                self.fixed[i] += b
            else:
                self.neighbours[i].append((j, b))
                self.neighbours[j].append((i, b))

    def score(self, reserved: set[int], penalty: dict[int, float]) -> float:
        """Marxan v4 computeReserveValue with ConnectionCost2 (imode 1, imode2 0), loop for loop."""
        cost = sum(self.cost[i] for i in reserved)
        connection = 0.0
        for i in reserved:
            f = self.fixed[i]
            for j, b in self.neighbours[i]:
                if self.connectivity_in:
                    f += b if j in reserved else 0.0
                else:
                    f += 0.0 if j in reserved else b
            connection += f * self.blm
        pen = 0.0
        for s in self.species:
            held = sum(a for (i, sp), a in self.amount.items() if sp == s and i in reserved)
            occ = sum(1 for (i, sp) in self.amount if sp == s and i in reserved)
            T, O = self.target[s], self.targetocc[s]
            frac = (T - held) / T if T > held and T != 0 else 0.0
            if O > 0:
                if O > occ:
                    frac += (O - occ) / O
                if T and O:
                    frac /= 2
            pen += frac * penalty[s] * self.spf[s]
        return cost + connection + pen


def plans(p):
    for plan in itertools.product(*[np.nonzero(row)[0] for row in p.allowed]):
        yield np.array(plan)


def reserved_ids(p, zone) -> set[int]:
    return {int(i) for i in p.pu_ids[np.asarray(zone) == 1]}


@pytest.fixture
def copy_of(tmp_path):
    def make(src: Path = CSV) -> Path:
        d = tmp_path / f"{src.name}_{len(list(tmp_path.iterdir()))}"
        shutil.copytree(src, d)
        return d
    return make


def flat(text: str) -> str:
    """A rich table's text with its borders and line wraps removed."""
    return re.sub(r"[│┃|\s]+", " ", text)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


# ------------------------------------------------------------------------------------- reading, penalties, score

def test_comma_and_tab_variants_read_to_the_same_classic_project():
    a, b = read_project(CSV), read_project(TAB)
    assert (a.flavour, b.flavour) == ("classic", "classic")
    for name in ARRAYS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert (a.blm, b.blm, a.misslevel, b.misslevel) == (0.5, 0.5, 0.95, 0.95)
    assert a.status.tolist() == [0, 2, 0, 1, 3, 0] and a.lock.tolist() == [-1, 1, -1, -1, 0, -1]
    assert a.target.tolist() == [5.0, 4.0, 2.0] and a.prop.tolist() == [0.5, 0.0, 0.0]
    assert a.fixed.tolist() == [3, 1, 3, 3, 1, 3] and a.zone_costs[:, 1].tolist() == [4, 3, 5, 2, 6, 1]
    assert a.warnings == () and b.warnings == () and a.approximations == ()


def test_penalty_estimate_by_hand(copy_of):
    """The docstring's 18, 10, 18; 12, 10, 12 with a sporder file; and a target no plan can meet: coral target 20,
    targetocc 5 holds 1 (locked), then unit 6 (3/4 beats 2/8), then unit 3: 6 of 20 in 3 units, no unit left →
    (6 + 4 + 8) · (20/6 + 5/3), the occurrence ratio in single precision as Marxan computes it."""
    p = read_project(CSV)
    assert p.penalty.tolist() == [18.0, 10.0, 18.0] and p.penalty_source == "estimated"
    d = copy_of()
    rows = (d / "input" / "puvspr.dat").read_text().splitlines()
    (d / "input" / "sporder.dat").write_text("\n".join([rows[0]] + sorted(rows[1:], key=lambda r: int(r.split(",")[0]))) + "\n")
    edit(d / "input.dat", "BOUNDNAME bound.dat\n", "BOUNDNAME bound.dat\nMATRIXSPORDERNAME sporder.dat\n")
    q = read_project(d)
    assert q.penalty.tolist() == [12.0, 10.0, 12.0] and q.penalty_source == "estimated (sporder)"
    edit(d / "input" / "spec.dat", "2,0,4,5,0,coral", "2,0,20,5,5,coral")
    edit(d / "input.dat", "MATRIXSPORDERNAME sporder.dat\n", "")
    r = read_project(d)
    assert r.penalty[1] == 18 * (20 / 6 + float(np.float32(5) / np.float32(3))) and r.penalty[1] != 90.0


def test_scores_by_hand_and_against_an_independent_marxan():
    """The docstring's table, and every plan: optimizer.marxan's score = the loop-for-loop re-implementation."""
    p = read_project(CSV)
    raw = RawProject(CSV)
    by_hand = {(1, 0, 1, 1): (10, 9, 0, 19), (1, 1, 1, 1): (15, 9, 0, 24), (1, 1, 1, 0): (14, 7, 12.5, 33.5),
               (0, 1, 1, 1): (11, 9, 18, 38), (0, 0, 0, 0): (3, 3, 253.5, 259.5)}
    for (x1, x3, x4, x6), want in by_hand.items():
        s = evaluate(p, np.array([x1, 1, x3, x4, 0, x6]))
        assert (s.cost, s.connection, s.penalty, s.total) == want
    penalty = dict(zip(raw.species, p.penalty))
    for zone in plans(p):
        assert evaluate(p, zone).total == pytest.approx(raw.score(reserved_ids(p, zone), penalty), rel=1e-12)
    # the kelp rule: amount and occurrence fractions averaged; MISSLEVEL 0.95 counts kelp 1 of 2 as missing
    s = evaluate(p, np.array([0, 1, 1, 1, 0, 1]))
    assert s.features["F"].tolist() == [0.0, 0.0, 0.5] and s.as_dict()["missing_values"] == 1


@pytest.mark.parametrize("name", ["classic_best.csv", "classic_r00001.csv"])
def test_best_and_run_files_score_as_an_independent_marxan(name):
    """_best (SAVEBEST 3: PUID,SOLUTION, last unit first) and _r00001 (SAVERUN 2: "planning_unit","solution")."""
    p = read_project(CSV)
    zone = read_plan(p, CSV / "output" / name)
    raw = RawProject(CSV)
    want = raw.score(reserved_ids(p, zone), dict(zip(raw.species, p.penalty)))
    assert evaluate(p, zone).total == pytest.approx(want, rel=1e-12)
    assert {"classic_best.csv": 24.0, "classic_r00001.csv": 19.0}[name] == want


def test_solution_file_without_header_as_savebest_1_writes_it(tmp_path):
    """SAVEBEST 1: no header, a reserved unit as its id alone, the others as id,0 (output.cpp writeSolution)."""
    p = read_project(CSV)
    f = tmp_path / "classic_best.txt"
    f.write_text("6\n5,0\n4\n3,0\n2\n1\n")
    assert read_plan(p, f).tolist() == OPTIMUM
    f.write_text("6\n5,0\n4\n3,0\n2\n")
    with pytest.raises(InputError, match=r"1 PU\(s\) missing, e.g. \[1\]"):
        read_plan(p, f)
    f.write_text("PUID,SOLUTION\n6,2\n")
    with pytest.raises(InputError, match=r"line 2, column solution: 2 is neither 0"):
        read_plan(p, f)


@pytest.mark.parametrize("blm,optimum", [(0.5, 19.0), (0.0, 10.0)])
def test_optimum_by_hand_for_blm_positive_and_zero(copy_of, blm, optimum):
    d = copy_of()
    edit(d / "input.dat", "BLM 0.5", f"BLM {blm:g}")
    p = read_project(d)
    for targets in ("soft", "hard"):
        for linearization in ("aggregated", "marginal"):
            mm = build_model(p, targets, linearization)
            r = solve(mm, EXACT)
            assert r.termination == "optimal" and r.objective == pytest.approx(optimum, abs=1e-9)
            assert mm.zone_of(r.x).tolist() == OPTIMUM


def _random_classic(root: Path, seed: int) -> Path:
    """8 units with every status, costs 0–5, three features (prop, absolute, occurrence targets, one both),
    self-boundaries, BLM 0 or 0.7, CONNECTIVITYIN on every third seed; written as Marxan files."""
    rng = np.random.default_rng(seed)
    inp = root / "input"
    inp.mkdir(parents=True)
    status = rng.choice([0, 0, 0, 1, 2, 3], 8)
    (inp / "pu.dat").write_text("id,cost,status\n" + "".join(f"{i + 1},{rng.integers(0, 6)},{s}\n" for i, s in enumerate(status)))
    (inp / "spec.dat").write_text("id,name,target,prop,targetocc,spf\n1,a,0,0.4,0,3\n2,b,5,0,2,1.5\n3,c,0,0,3,2\n")
    rows = [f"{s},{i},{rng.integers(0, 4)}\n" for i in range(1, 9) for s in (1, 2, 3) if rng.random() < 0.6]
    (inp / "puvspr.dat").write_text("species,pu,amount\n" + "".join(sorted(rows, key=lambda r: int(r.split(",")[1]))))
    pairs = [(i, j) for i in range(1, 9) for j in range(i + 1, 9) if rng.random() < 0.35]
    (inp / "bound.dat").write_text("id1,id2,boundary\n" + "".join(f"{i},{i},{rng.integers(0, 3)}\n" for i in range(1, 9))
                                   + "".join(f"{i},{j},{rng.choice([0.5, 1, 2])}\n" for i, j in pairs))
    extra = "CONNECTIVITYIN 1\n" if seed % 3 == 0 else ""
    (root / "input.dat").write_text(f"INPUTDIR input\nOUTPUTDIR output\nRUNMODE 1\nBLM {rng.choice([0, 0.7])}\n{extra}"
                                    "PUNAME pu.dat\nSPECNAME spec.dat\nPUVSPRNAME puvspr.dat\nBOUNDNAME bound.dat\n")
    return root


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_projects_mip_score_and_independent_marxan_agree_on_every_plan(tmp_path, seed):
    """… and the project written back by landalloc and read again is the same model."""
    p = read_project(_random_classic(tmp_path / f"r{seed}", seed))
    raw = RawProject(tmp_path / f"r{seed}")
    penalty = dict(zip(raw.species, p.penalty))
    write_project(p, tmp_path / "again")
    again = read_project(tmp_path / "again")
    assert again.options == p.options and np.array_equal(again.penalty, p.penalty)
    for linearization in ("aggregated", "marginal"):
        mm = build_model(p, "soft", linearization)
        values = []
        for zone in plans(p):
            s = evaluate(p, zone).total
            assert s == pytest.approx(raw.score(reserved_ids(p, zone), penalty), rel=1e-12, abs=1e-9)
            assert objective_of_plan(mm, zone) == pytest.approx(s, rel=1e-12, abs=1e-9)
            assert evaluate(again, zone).total == s
            values.append(s)
        r = solve(mm, EXACT)
        assert r.termination == "optimal" and evaluate(p, mm.zone_of(r.x)).total == pytest.approx(min(values), abs=1e-7)


def test_soft_targets_by_default_hard_on_request(cli, copy_of, tmp_path):
    """With spf 0.1 for every feature, missing targets is cheap: fish 18·0.1·F, coral 10·0.1·F, kelp 18·0.1·F.
    Reserving only the locked unit 2: cost 3, boundary 6·0.5 = 3, penalty 1.8 + 0.75 + 1.8 = 4.35 → 10.35;
    every unit added costs more than the shortfall it saves (unit 6: +1 cost, +0.5·6 boundary — its own edge 3 and
    2 + 1 to units 5 and 3 — saves 0.72 + 0.75 = 1.47), so the soft optimum is 10.35 and the hard one stays 19."""
    d = copy_of()
    for line in ("1,0.5,0,10,0,fish", "2,0,4,5,0,coral", "3,0,2,2,2,kelp"):
        f = line.split(",")
        edit(d / "input" / "spec.dat", line, ",".join(f[:3] + ["0.1"] + f[4:]))
    soft = json.loads(cli("import-marxan", d, "--out", tmp_path / "s", "--solve", "--json").stdout)
    assert soft["targets"] == "soft" and soft["solve"]["objective"] == pytest.approx(10.35)
    assert pd.read_csv(tmp_path / "s" / "run" / "best.csv")["solution"].tolist() == [0, 1, 0, 0, 0, 0]
    hard = json.loads(cli("import-marxan", d, "--out", tmp_path / "h", "--solve", "--targets", "hard", "--json").stdout)
    assert hard["solve"]["objective"] == pytest.approx(19.0)
    # the first plan is the lower-scoring of Marxan's initial reserve — status 1 (unit 4) and the locked-in
    # unit 2, the docstring's plan (0, 0, 1, 0) at spf 0.1: cost 5, boundary 6, penalty 1.8·0.6 + 0.75 +
    # 1.8·0.5 = 2.73, so 13.73 — and the annealing's plan, which here is already the optimum 10.35
    p = read_project(d)
    reserve = np.isin(p.pu_ids, [2, 4]).astype(int)
    assert evaluate(p, reserve).total == pytest.approx(13.73)
    warm = json.loads((tmp_path / "s" / "run" / "run.json").read_text())["warm_start"]
    assert warm["source"].startswith("annealing") and warm["score"] == pytest.approx(10.35)


def test_hard_targets_no_plan_can_meet_are_exit_3_with_a_diagnosis(cli, copy_of, tmp_path):
    """coral target 20: at most 1 + 2 + 3 = 6 can be held (unit 5, with 5, is locked out)."""
    d = copy_of()
    edit(d / "input" / "spec.dat", "2,0,4,5,0,coral", "2,0,20,5,0,coral")
    res = cli("import-marxan", d, "--out", tmp_path / "s", "--solve", "--targets", "hard", "--json")
    assert res.exit_code == 3
    diagnosis = json.loads(res.stdout)["solve"]["diagnosis"]
    assert [(x["key"], x["required"], x["achievable"]) for x in diagnosis] == [("2:amount", 20.0, 6.0)]


# ------------------------------------------------------------------------------------- locks

def test_no_returned_plan_breaks_a_lock(cli, copy_of, tmp_path):
    """Locks that bind: with unit 2 (locked in) costing 30 and unit 5 (locked out) costing 0, the optimum without
    the locks drops unit 2 and takes unit 5 (14: {3, 4, 5} or {1, 4, 5, 6}). With them, every plan landalloc returns — read back
    from the run directory as a file and checked against pu.dat's status column with csv — keeps unit 2 and
    leaves unit 5 out ({1, 2, 4, 6}: 46), for soft and hard targets, through import-marxan --solve and solve."""
    d = copy_of()
    edit(d / "input" / "pu.dat", "2,3,2", "2,30,2")
    edit(d / "input" / "pu.dat", "5,6,3", "5,0,3")
    free = copy_of(d)
    edit(free / "input" / "pu.dat", "2,30,2", "2,30,0")
    edit(free / "input" / "pu.dat", "5,0,3", "5,0,0")
    res = cli("import-marxan", free, "--out", tmp_path / "free", "--solve", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["solve"]["objective"] == pytest.approx(14.0)
    unlocked = dict(_rows(tmp_path / "free" / "run" / "best.csv")[1:])
    assert (unlocked["2"], unlocked["5"]) == ("0", "1")
    status = {r[0]: r[2] for r in _rows(d / "input" / "pu.dat")[1:]}
    for targets in ("soft", "hard"):
        out = tmp_path / targets
        res = cli("import-marxan", d, "--out", out, "--solve", "--targets", targets, "--json")
        assert res.exit_code == 0 and json.loads(res.stdout)["solve"]["objective"] == pytest.approx(46.0)
        assert cli("solve", out / "scenario.yaml", "--out", tmp_path / f"{targets}-solve", "--json").exit_code == 0
        for run in (out / "run", tmp_path / f"{targets}-solve"):
            plan = dict(_rows(run / "best.csv")[1:])
            assert set(plan) == set(status)
            assert all(plan[i] == "1" for i, s in status.items() if s == "2")
            assert all(plan[i] == "0" for i, s in status.items() if s == "3")
            assert cli("verify", run, "--json").exit_code == 0
    # a tampered plan that reserves the locked-out unit is caught by verify
    plan = tmp_path / "soft" / "run" / "best.csv"
    plan.write_text(plan.read_text().replace("5,0", "5,1"))
    res = cli("verify", tmp_path / "soft" / "run", "--json")
    assert res.exit_code == 1 and "locked out (status 3) but reserved" in res.stdout


@pytest.mark.parametrize("bad,needle", [("4", "status 4 cannot be honoured"), ("2.5", "status 2.5 cannot be honoured"),
                                        ("x", "'x' is not a number")])
def test_a_status_that_cannot_be_honoured_is_exit_2_never_a_plan(cli, copy_of, tmp_path, bad, needle):
    d = copy_of()
    edit(d / "input" / "pu.dat", "4,2,1", f"4,2,{bad}")
    res = cli("import-marxan", d, "--out", tmp_path / "s", "--solve")
    assert res.exit_code == 2 and "Traceback" not in res.output
    msg = " ".join(res.stderr.split())
    assert "pu.dat: line 5, column status" in msg and needle in msg and "(fix:" in msg
    assert not (tmp_path / "s").exists()


def test_evaluated_plans_and_frequencies_report_lock_breaches(cli, tmp_path):
    good = cli("import-marxan", CSV, "--out", tmp_path / "a", "--solve", "--evaluate", CSV / "output" / "classic_best.csv",
               "--evaluate", CSV / "output" / "classic_ssoln.csv", "--json")
    assert good.exit_code == 0, good.output
    data = json.loads(good.stdout)
    ev, sf = data["evaluate"], data["selection_frequency"]
    assert (ev["score"], ev["above_optimum"], ev["violations"]) == (24.0, 5.0, [])
    # ssoln: 10 runs; the optimum {1, 2, 4, 6} was chosen 10, 10, 10, 7 times, the rest (3, 5) 4 and 0 times
    assert (sf["runs"], sf["always_reserved"], sf["never_reserved"], sf["violations"]) == (10, 3, 1, [])
    assert sf["optimum"]["mean_frequency_reserved"] == pytest.approx(0.925)
    assert sf["optimum"]["mean_frequency_not_reserved"] == pytest.approx(0.2)
    bad_best, bad_ssoln = tmp_path / "x_best.csv", tmp_path / "x_ssoln.csv"
    bad_best.write_text("PUID,SOLUTION\n6,1\n5,1\n4,1\n3,0\n2,0\n1,1\n")
    bad_ssoln.write_text('"planning_unit","number"\n1,10\n2,9\n3,4\n4,10\n5,1\n6,7\n')
    res = cli("import-marxan", CSV, "--out", tmp_path / "b", "--evaluate", bad_best, "--evaluate", bad_ssoln, "--json")
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert [(v["kind"], v["planning_units"]) for v in data["evaluate"]["violations"]] == [("status", [2]), ("status", [5])]
    assert [v["planning_units"] for v in data["selection_frequency"]["violations"]] == [[2], [5]]
    human = cli("import-marxan", CSV, "--out", tmp_path / "b", "--evaluate", bad_best)
    assert human.exit_code == 1 and "locked in (status 2) but not reserved (PU 2)" in flat(human.stdout)


# ------------------------------------------------------------------------------------- what cannot be honoured

BAD = [
    ("input/pu.dat", "id,cost,status", "id,cost,status,area", "column area: 'area' is not a column classic Marxan reads"),
    ("input/puvspr.dat", "species,pu,amount\n", "", "the first line holds data"),
    ("input/spec.dat", "id,prop,target,spf,targetocc,name\n1,0.5,0,10,0,fish\n",
     "id,prop,target,spf,targetocc,name,sepnum\n1,0.5,0,10,0,fish,2\n", "separation targets are not supported"),
    ("input.dat", "RUNMODE 1", "RUNMODE 1\nASYMMETRICCONNECTIVITY 1", "asymmetric connectivity is not supported"),
    ("input.dat", "RUNMODE 1", "RUNMODE 3", "RUNMODE 3: this run mode skips Marxan's penalty estimate"),
    ("input.dat", "BOUNDNAME bound.dat", "BOUNDNAME bound.dat\nZONESNAME zones.dat", "names Marxan with Zones files"),
]


@pytest.mark.parametrize("path,old,new,needle", BAD, ids=[f"{b[0]}-{k}" for k, b in enumerate(BAD)])
def test_what_cannot_be_honoured_is_an_error(copy_of, path, old, new, needle):
    d = copy_of()
    edit(d / path, old, new)
    with pytest.raises(InputError) as e:
        read_project(d, "classic")
    assert needle in str(e.value) and "fix:" in str(e.value)


def test_costthresh_is_a_stated_approximation_and_penalty_files_follow_runmode(cli, copy_of, tmp_path):
    d = copy_of()
    edit(d / "input.dat", "COSTTHRESH 0", "COSTTHRESH 12")
    res = cli("import-marxan", d, "--out", tmp_path / "s", "--solve", "--json")
    data = json.loads(res.stdout)
    assert res.exit_code == 0 and data["approximations"][0].startswith("COSTTHRESH 12:")
    scenario = (tmp_path / "s" / "scenario.yaml").read_text()
    assert "COSTTHRESH 12:" in scenario and "locked in (2): 1" in scenario
    assert data["solve"]["cost_threshold"] == {"costthresh": 12.0, "cost_plus_connection": 19.0, "exceeded": True}
    human = flat(cli("import-marxan", d, "--out", tmp_path / "s", "--solve").stdout)
    assert "approximation COSTTHRESH 12: Marxan's cost-threshold penalty" in human and "19.0000 vs 12.0000" in human
    # RUNMODE 3 reads PENALTYNAME by feature id; RUNMODE 1 estimates and says the file is not used
    (d / "input" / "penalty.dat").write_text("spid,penalty\n3,7\n1,2.5\n")
    edit(d / "input.dat", "BOUNDNAME bound.dat", "BOUNDNAME bound.dat\nPENALTYNAME penalty.dat")
    p = read_project(d)
    assert p.penalty.tolist() == [18.0, 10.0, 18.0] and any("PENALTYNAME is not used" in w for w in p.warnings)
    edit(d / "input.dat", "RUNMODE 1", "RUNMODE 3")
    q = read_project(d)
    assert q.penalty.tolist() == [2.5, 0.0, 7.0] and q.penalty_source == "file"


# ------------------------------------------------------------------------------------- round trips

def test_classic_project_round_trip_gives_the_same_model(cli, tmp_path):
    """classic project → scenario → export-marxan → re-import: the same arrays, the same MIP, the same value on
    every plan; the rewritten files are classic Marxan's (pu.dat with status, no zones files)."""
    for src in (CSV, TAB):
        assert cli("import-marxan", src, "--out", tmp_path / src.name).exit_code == 0
        res = cli("export-marxan", tmp_path / src.name / "scenario.yaml", "--out", tmp_path / f"{src.name}-again", "--json")
        assert res.exit_code == 0 and json.loads(res.stdout)["flavour"] == "classic"
        a, b = read_project(src), read_project(tmp_path / f"{src.name}-again")
        assert b.flavour == "classic" and not (tmp_path / f"{src.name}-again" / "input" / "zones.dat").exists()
        for name in ARRAYS:
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert (a.blm, a.misslevel, a.options) == (b.blm, b.misslevel, b.options)
        for targets in ("soft", "hard"):
            ma, mb = build_model(a, targets), build_model(b, targets)
            assert (ma.model.A != mb.model.A).nnz == 0 and np.array_equal(ma.model.c, mb.model.c)
            for zone in plans(a):
                assert objective_of_plan(ma, zone) == objective_of_plan(mb, zone)


def test_landalloc_scenario_with_one_use_exports_as_classic_and_back(cli, tmp_path):
    """tests/data/marxan/tiny_skk.yaml (the tiny case, SKK only; SKK lo = hi = 3 ha) → classic project:
    reserve = SKK; p3 (strict zone) and p6 (buffer: no SKK) cannot take it → status 3; costs = −(suitability
    gain − 2·forest loss) per parcel. On every plan landalloc's objective = −(Marxan's cost) + offset and the
    quota's lo is met exactly when Marxan's target is; landalloc's optimum (17) read back as a Marxan plan
    passes landalloc verify with the same objective."""
    res = cli("export-marxan", TINY_SKK, "--out", tmp_path / "p", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["flavour"] == "classic" and out["features"] == ["SKK"]
    assert any("hi = 3.0" in x for x in out["not_exported"])
    assert "Reserve = the allocated use SKK" in (tmp_path / "p" / "README.md").read_text()
    p = read_project(tmp_path / "p")
    side = json.loads((tmp_path / "p" / "landalloc_export.json").read_text())
    assert p.status.tolist() == [0, 0, 3, 0, 0, 3] and p.penalty_source == "file"
    loaded = load_scenario(TINY_SKK)
    inst = load_instance(loaded)
    comp = compile_model(inst, loaded)
    cols = comp.model.columns.iloc[: comp.n_assign]
    col = {(int(a), u): c for c, (a, u) in enumerate(zip(cols["parcel"], cols["use"]))}
    quota = np.nonzero((comp.model.rows["family"] == "quota_area").to_numpy())[0]
    mm = build_model(p, "soft")
    for zone in plans(p):
        x = np.zeros(comp.model.n_cols)
        x[[col[(i, "SKK" if z else str(inst.current_use[i]))] for i, z in enumerate(zone)]] = 1.0
        s = evaluate(p, zone)
        assert comp.model.objective_value(x) == pytest.approx(side["cost_sign"] * s.cost + side["objective_offset"], abs=1e-9)
        assert objective_of_plan(mm, zone) == pytest.approx(s.total, rel=1e-12)
        assert bool(s.features["met"].all()) == bool((comp.model.row_activity(x)[quota] >= 3 - 1e-9).all())
    res = cli("solve", TINY_SKK, "--out", tmp_path / "la", "--json")
    assert json.loads(res.stdout)["objective"] == pytest.approx(17.0)
    plan = gpd.read_file(tmp_path / "la" / "allocation.gpkg", layer="allocation")
    reserved = dict(zip(plan["parcel_id"].astype(str), plan["new_use"] == "SKK"))
    pu_of = {str(v): k for k, v in side["pu_to_parcel"].items()}
    best = tmp_path / "p" / "output" / "tiny_skk_best.csv"
    best.write_text("PUID,SOLUTION\n" + "".join(f"{pu_of[k]},{int(v)}\n" for k, v in reserved.items()))
    ev = json.loads(cli("import-marxan", tmp_path / "p", "--out", tmp_path / "back", "--evaluate", best, "--json").stdout)["evaluate"]
    assert ev["score"] == pytest.approx(-17.0) and ev["landalloc"]["ok"]
    assert ev["landalloc"]["landalloc_objective"] == pytest.approx(17.0) and ev["landalloc"]["objective_matches"]


def test_a_scenario_with_several_uses_is_refused_as_classic(cli, tmp_path):
    from .conftest import TINY
    res = cli("export-marxan", TINY, "--out", tmp_path / "p", "--flavour", "classic")
    assert res.exit_code == 2 and "allocates 2 uses (SKK, TMD)" in " ".join(res.stderr.split())
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("verb", ["import-marxan", "export-marxan"])
def test_help_examples_run(cli, tmp_path, monkeypatch, verb):
    """Every command in the verb's --help example runs (from the repository root, /tmp redirected)."""
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    text = cli(verb, "--help").stdout
    block = text[text.index("Example:"):].split("Exit codes")[0].split("Options:")[0]
    lines = re.sub(r"\\\n\s*", " ", block).splitlines()
    commands = [c.strip() for line in lines if line.strip().startswith("landalloc ") for c in line.split("&&")]
    assert commands
    for command in commands:
        args = command.replace("/tmp/", f"{tmp_path}/").split()[1:]
        res = cli(*args)
        assert res.exit_code == 0, (command, res.output)
