"""The annealing start on Marxan's score (``optimizer/marxan/anneal.py``).

What can be wrong in it, and what checks it here:
- the incremental bookkeeping (each move's change of score, from the unit's neighbours and its own
  features): after thousands of moves the tracked score must equal ``score.evaluate`` of the plan, and
  each priced move must equal the difference of two independent scores (the scorer written from Marxan
  with Zones' source in ``test_marxan_scorer_independent.py``);
- the search: on the hand-made project, whose optimum is known by enumerating all 32 plans, it must reach
  that optimum; it never breaks a lock or an allowed-zone set; a seed gives the same plan twice;
- the run: ``landalloc solve`` starts from its plan (run.json ``warm_start``, several runs on a small
  project) and the final score is no worse than it;
- what goes beyond Marxan's search: the kept run is the lowest of several, and the two-unit moves leave a
  local optimum of single moves.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from optimizer.marxan import anneal as an
from optimizer.marxan.reader import read_project
from optimizer.marxan.score import evaluate, plan_violations
from tests.test_marxan_scorer_independent import every_plan, independent_score, write_project


def _grid(side: int, seed: int):
    """A seeded grid project with zone targets, occurrence targets, locks and puzone (benchmarks' generator,
    plus occurrence targets so that Marxan's integer-division rule is exercised)."""
    from dataclasses import replace

    from benchmarks.marzone.generator import grid_project

    p = grid_project(side, seed)
    occ = p.zone_target_occ.copy()
    occ[1, 2] = 3
    target_occ = p.target_occ.copy()
    target_occ[2] = 5
    return replace(p, zone_target_occ=occ, target_occ=target_occ)


def _classic(side: int, seed: int):
    """A classic project (two zones, the classic fractions and self-boundaries) on the same grid."""
    from optimizer.marxan.arrays import classic_project

    g = _grid(side, seed)
    rng = np.random.default_rng(seed)
    n = g.n_pu
    status = np.where(rng.random(n) < 0.05, 2, np.where(rng.random(n) < 0.05, 3, 0))
    return classic_project(pu_ids=g.pu_ids, cost=g.costs[:, 0], status=status, feature_ids=g.feature_ids,
                           target=g.target, prop=np.zeros(g.n_features), target_occ=g.target_occ, spf=g.spf,
                           ent_pu=g.ent_pu, ent_sp=g.ent_sp, ent_amount=g.ent_amount, input_dat=g.input_dat,
                           input_dir=g.input_dir, files={}, name="classic", blm=0.7, feature_names=g.feature_names,
                           bound_i=g.bound_i, bound_j=g.bound_j, bound_b=g.bound_b,
                           fixed=rng.uniform(0, 2, n).round(2), penalty=g.penalty, penalty_source="file")


@pytest.mark.parametrize("make", [_grid, _classic], ids=["zones", "classic"])
def test_tracked_score_equals_the_scorer_after_many_moves(make):
    p = make(12, 3)
    k = an._arrays(p)
    state = an._State(p, an.start_zones(p))
    before = evaluate(p, state.zone).total
    change = an._anneal_chunk(0, 0, 20_000, 20_000, 5.0, 0.5, *state.args(), *an._project_args(k),
                              k.movable, k.allowed)
    assert before + change == pytest.approx(evaluate(p, state.zone).total, rel=1e-9)
    improved, _ = an._improve_until(k, state, 1, 50, True, None)
    assert improved <= 0
    assert before + change + improved == pytest.approx(evaluate(p, state.zone).total, rel=1e-9)
    moved = (state.zone != an.start_zones(p)).sum()
    assert moved > 0.1 * p.n_pu  # the moves did move the plan: the equality above is not trivial


def test_each_priced_move_is_the_independent_scorers_difference(tmp_path):
    root = write_project(tmp_path / "p")
    p = read_project(root)
    k = an._arrays(p)
    zone_id = {k_: int(z) for k_, z in enumerate(p.zone_ids)}
    for plan in every_plan(root):
        zone = np.array([list(p.zone_ids).index(plan[int(i)]) for i in p.pu_ids])
        state = an._State(p, zone)
        here = independent_score(root, plan)[0]
        for i in k.movable:
            b = 1 - zone[i]
            moved = {**plan, int(p.pu_ids[i]): zone_id[b]}
            d = an.price(k, state, i, b)
            assert d == pytest.approx(independent_score(root, moved)[0] - here, abs=1e-9)


def test_reaches_the_enumerated_optimum_and_keeps_locks(tmp_path):
    root = write_project(tmp_path / "p")
    p = read_project(root)
    optimum = min(independent_score(root, plan)[0] for plan in every_plan(root))
    found = an.anneal(p, moves=20_000, seed=0)
    assert found.score.total == pytest.approx(optimum, rel=1e-12)
    assert not plan_violations(p, found.zone)


@pytest.mark.parametrize("make", [_grid, _classic], ids=["zones", "classic"])
def test_same_seed_same_plan_and_allowed_zones_only(make):
    p = make(15, 5)
    a, b = an.anneal(p, moves=60_000, seed=7), an.anneal(p, moves=60_000, seed=7)
    assert np.array_equal(a.zone, b.zone) and a.score.total == b.score.total
    assert not plan_violations(p, a.zone)
    other = an.anneal(p, moves=60_000, seed=8)
    assert not np.array_equal(a.zone, other.zone)  # the seed does drive the search
    cheapest = evaluate(p, an.start_zones(p)).total
    assert a.score.total < cheapest  # and the search improves on the plan it starts from


def test_solve_starts_from_the_annealed_plan(cli, tmp_path):
    """The run records the annealing start; the final score is no worse than it; the plan keeps locks."""
    root = write_project(tmp_path / "p")
    res = cli("import-marxan", root, "--out", tmp_path / "s", "--targets", "soft", "--json")
    assert res.exit_code == 0, res.output
    res = cli("solve", tmp_path / "s" / "scenario.yaml", "--out", tmp_path / "run", "--json", "--store", "none")
    assert res.exit_code == 0, res.output
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    warm = run["warm_start"]
    assert warm["source"].startswith("annealing") and warm["within_time_limit"]
    assert warm["moves"] > 0 and run["objective"] <= warm["score"] + 1e-9
    assert warm["runs"] > 1 and 0 <= warm["best_run"] < warm["runs"]  # a small project's budget buys several runs
    assert run["progress"][0]["found_by"] == "start"




def test_engine_polishes_the_lp_guided_plan(tmp_path):
    """The primal engine with the Marxan project's polish, from no start: the LP-guided plan is polished
    (step ``polish`` of ``heuristic:lp-fixing``) to a lower score; the result is that polished plan (the
    LP bound proves it within 5 %, so no MIP runs), meets every row of the model, is scored by Marxan's
    formula at the engine's objective, and the same seed gives the same plan twice. (On the benchmark grids the
polish improved the LP-guided plan on 4 of 6 projects of 225–900 units; this is one of the four.)"""
    from benchmarks.marzone.generator import write_grid_project
    from optimizer.engine.primal import engine
    from optimizer.engine.scenario import load_scenario
    from optimizer.engine.solvers import get_adapter
    from optimizer.marxan.problem import MarxanProject
    from optimizer.marxan.project import import_project

    write_grid_project(tmp_path / "project", 15, seed=1)  # the LP-guided plan 289.97, polished to 289.82
    loaded = load_scenario(import_project(tmp_path / "project", tmp_path / "s", targets="soft").scenario_path)
    settings = loaded.scenario.solver.model_copy(update={"time_limit": 60.0, "gap": 0.05, "threads": 1, "seed": 3})
    problem = MarxanProject(loaded, settings)
    runs = [engine.solve(get_adapter("highs"), problem.model, settings, problem.complete, polish=problem.polish)
            for _ in range(2)]
    res = runs[0]
    steps = {s["step"]: s for s in res.extra["primal"]["steps"]}
    assert steps["polish"]["of"] == "heuristic:lp-fixing" and steps["polish"]["improved"]
    assert res.objective < steps["lp-fixing"]["objective"] - 1e-6
    assert res.extra["primal"]["found_by"] == "heuristic:polish" and res.termination == "optimal"
    assert not len(problem.model.violations(res.x))
    assert evaluate(problem.project, problem.mm.zone_of(res.x)).total == pytest.approx(res.objective, rel=1e-12)
    assert np.array_equal(runs[1].x, res.x)


def test_two_threads_find_the_start_beside_the_lp(cli, tmp_path):
    """With two threads the annealing runs in a second thread while the LP solves (run.json
    ``warm_start.beside_lp``); the engine takes its plan once the LP is done, so the run is the same twice,
    the final score is no worse than the start's, and ``verify`` passes."""
    import pandas as pd

    from benchmarks.marzone.generator import write_grid_project
    from optimizer.marxan.project import import_project

    write_grid_project(tmp_path / "project", 15, seed=1)
    scenario = import_project(tmp_path / "project", tmp_path / "s", targets="soft").scenario_path
    runs = []
    for k in range(2):
        res = cli("solve", scenario, "--out", tmp_path / f"r{k}", "--json", "--store", "none", "--threads", "2",
                  "--gap", "0.05", "--seed", "4", "--no-marginals")
        assert res.exit_code == 0, res.output
        runs.append(json.loads((tmp_path / f"r{k}" / "run.json").read_text()))
    warm = runs[0]["warm_start"]
    assert warm["beside_lp"] and warm["source"].startswith("annealing")
    assert runs[0]["objective"] <= warm["score"] + 1e-9 and runs[0]["objective"] == runs[1]["objective"]
    assert pd.read_csv(tmp_path / "r0" / "best.csv").equals(pd.read_csv(tmp_path / "r1" / "best.csv"))
    assert cli("verify", tmp_path / "r0").exit_code == 0


THREE_ZONES = {
    "input/zones.dat": "zoneid,zonename\n1,available\n2,reserve\n3,partial\n",
    "input/zonecost.dat": "zoneid,costid,multiplier\n2,1,1\n2,2,0.5\n3,1,0.4\n3,2,0.1\n",
    "input/zonecontrib.dat": "zoneid,featureid,fraction\n1,1,0.25\n2,1,1\n2,2,1\n3,1,0.5\n3,2,0.5\n",
    "input/zonetarget.dat": "zoneid,featureid,target,targettype\n2,2,3,0\n2,2,1,2\n3,1,2,0\n1,2,1,0\n3,2,2,2\n",
    "input/zoneboundcost.dat": "zoneid1,zoneid2,cost\n1,2,1\n1,3,0.5\n2,3,0.7\n",
}
"""the hand-made project with a third zone (``partial``) and zone targets in every zone, amounts and occurrences:
a move between two zones must leave the third zone's terms as they are, which the price skips"""


def test_three_zone_price_is_the_independent_scorers_difference(tmp_path):
    """Each move's price (the overall terms and only the two zones it touches) equals the difference of two
    independent scores, on 20 random plans of the three-zone project, every unit, every other zone."""
    root = write_project(tmp_path / "p", **THREE_ZONES)
    p = read_project(root)
    k = an._arrays(p)
    ids = [int(z) for z in p.zone_ids]
    rng = np.random.default_rng(11)
    priced = 0
    for _ in range(20):
        zone = np.where(p.lock >= 0, p.lock, rng.integers(3, size=p.n_pu))
        plan = {int(u): ids[z] for u, z in zip(p.pu_ids, zone)}
        state, here = an._State(p, zone), independent_score(root, plan)[0]
        for i in k.movable:
            for b in range(3):
                if b != zone[i]:
                    moved = independent_score(root, {**plan, int(p.pu_ids[i]): ids[b]})[0]
                    assert an.price(k, state, i, b) == pytest.approx(moved - here, abs=1e-9)
                    priced += 1
    assert priced == 20 * len(k.movable) * 2


def test_restarts_keep_the_best_run():
    """``restarts`` shares the moves among runs with their own random streams and keeps the lowest score: run 0
    is the plain annealing with the same seed and moves, the runs end at different scores (so keeping the best
    is a choice), the kept plan is the lowest run's and its score by ``score.evaluate`` is the tracked one."""
    p = _grid(15, 5)
    moves = 40 * p.n_pu
    single = an.anneal(p, moves=moves, seed=3)
    several = an.anneal(p, moves=4 * moves, seed=3, restarts=4)
    assert several.runs == 4 and len(several.run_scores) == 4 and several.moves == 4 * moves
    assert several.run_scores[0] == pytest.approx(single.score.total, rel=1e-9)
    assert len({round(s, 6) for s in several.run_scores}) > 1
    assert several.best_run == int(np.argmin(several.run_scores))
    assert several.score.total == pytest.approx(min(several.run_scores), rel=1e-9)
    assert several.score.total <= single.score.total + 1e-9
    assert not plan_violations(p, several.zone)
    again = an.anneal(p, moves=4 * moves, seed=3, restarts=4)
    assert np.array_equal(again.zone, several.zone) and again.run_scores == several.run_scores


def _two_units():
    """Two adjacent units, both ``available`` (cost 0) or ``reserve`` (cost 1 each); one feature of amount 1 in
    each, target 2 held only in reserve, penalty × spf 3; the shared edge costs BLM 1 × 1 between zones.
    Both available: 0 + 0 + 3·(2/2) = 3. One reserved: 1 + 1 + 3·(1/2) = 3.5 (each single move +0.5, so both
    available is a local optimum of single moves). Both reserved: 2 + 0 + 0 = 2 (the pair move, −1)."""
    from optimizer.marxan.arrays import MarxanProject

    return MarxanProject(
        input_dat=Path("input.dat"), input_dir=Path("input"), files={}, name="pair", blm=1.0, pu_ids=np.array([1, 2]),
        cost_ids=np.array([1]), cost_names=("cost",), costs=np.array([[1.0], [1.0]]), zone_ids=np.array([1, 2]),
        zone_names=("available", "reserve"), zone_cost=np.array([[0.0, 1.0]]), feature_ids=np.array([1]),
        feature_names=("f",), target=np.array([2.0]), target_occ=np.zeros(1, dtype=np.int64), spf=np.array([1.0]),
        ent_pu=np.array([0, 1]), ent_sp=np.array([0, 0]), ent_amount=np.array([1.0, 1.0]),
        contrib=np.array([[0.0, 1.0], [0.0, 1.0]]), contrib_kind="zonecontrib", contrib_table=np.array([[0.0, 1.0]]),
        zone_target=np.zeros((1, 2)), zone_target_occ=np.zeros((1, 2), dtype=np.int64), bound_i=np.array([0]),
        bound_j=np.array([1]), bound_b=np.array([1.0]), fixed=np.zeros(2),
        zone_bound_cost=np.array([[0.0, 1.0], [1.0, 0.0]]), zone_bound_given=True, lock=np.array([-1, -1]),
        puzone=np.ones((2, 2), dtype=bool), penalty=np.array([3.0]), penalty_source="file")


def test_pair_moves_leave_a_single_move_local_optimum():
    """The improvement's two-unit moves (docstring of ``_two_units``): without them the plan stays at 3, with
    them both units are reserved at 2, and the tracked change equals the scorer's."""
    p = _two_units()
    k = an._arrays(p)
    start = np.array([0, 0])
    assert evaluate(p, start).total == pytest.approx(3.0)
    for pairs, want in ((False, 3.0), (True, 2.0)):
        state = an._State(p, start)
        change, _ = an._improve_until(k, state, 0, 10, pairs, None)
        assert evaluate(p, state.zone).total == pytest.approx(want) and 3.0 + change == pytest.approx(want)
    assert state.zone.tolist() == [1, 1]


def test_the_start_hands_the_engine_its_runs_for_a_crossover(tmp_path, monkeypatch):
    """A small project's start is every annealing run's plan, best first (each row scored by ``score.evaluate``
    at its run's tracked score); the engine merges them (step ``crossover``: the columns where the runs differ
    freed) and the run's plan is no worse than the best run, meets every row and scores at the objective."""
    from benchmarks.marzone.generator import write_grid_project
    from optimizer.engine.primal import engine
    from optimizer.engine.scenario import load_scenario
    from optimizer.engine.solvers import get_adapter
    from optimizer.marxan.problem import MarxanProject
    from optimizer.marxan.project import import_project

    monkeypatch.setattr("optimizer.marxan.problem.ANNEAL_TIME_CAP", 1e6)  # all runs even on a loaded machine
    write_grid_project(tmp_path / "project", 15, seed=1)
    loaded = load_scenario(import_project(tmp_path / "project", tmp_path / "s", targets="soft").scenario_path)
    settings = loaded.scenario.solver.model_copy(update={"time_limit": 1.0, "gap": 0.0, "threads": 1, "seed": 2})
    problem = MarxanProject(loaded, settings)
    start, warm = problem.initial_plan(lambda _: None)
    assert start.ndim == 2 and len(start) == warm["runs"] > 1
    scores = [evaluate(problem.project, problem.mm.zone_of(x)).total for x in start]
    assert scores == sorted(scores) and scores[0] == pytest.approx(warm["score"], rel=1e-12)
    differ = problem.model.integer & (np.abs(start[1:] - start[0]) > 0.5).any(axis=0)
    assert differ.any()  # the runs end at different plans, so there is something to merge
    res = engine.solve(get_adapter("highs"), problem.model, settings, problem.complete, start=start,
                       polish=problem.polish)
    crossover = next(s for s in res.extra["primal"]["steps"] if s["step"] == "crossover")
    assert crossover["free_columns"] == int(differ.sum())
    assert res.objective <= scores[0] + 1e-9 and not len(problem.model.violations(res.x))
    assert evaluate(problem.project, problem.mm.zone_of(res.x)).total == pytest.approx(res.objective, rel=1e-12)
