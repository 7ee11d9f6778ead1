"""The primal engine (optimizer/engine/primal): every heuristic plan meets the model's rows and passes
verify; a fixed seed gives the same plan twice; hand-solved cases where a heuristic finds the optimum
and where it finds nothing and the MIP still solves; who found each plan in the trace."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from optimizer.engine.model import CompiledModel, ModelBuilder
from optimizer.engine.primal import engine, plans
from optimizer.engine.run import problem_class, solve_scenario
from optimizer.engine.scenario import SolverSettings, apply_overrides, load_scenario
from optimizer.engine.solvers import get_adapter

from . import test_phasing
from .helpers import tiny_raw, write_scenario

phased = test_phasing.phased  # the fixture: tiny in two periods

HIGHS = get_adapter("highs")
SETTINGS = SolverSettings(name="highs", time_limit=30, gap=0.0, threads=1, seed=0)


def _model(n: int, c, rows: list[tuple[list[float], float, float]]) -> CompiledModel:
    """A MIP of ``n`` binaries maximizing c·x, each row (coefficients, lo, hi)."""
    b = ModelBuilder("max")
    b.add_columns("x", [f"x{j}" for j in range(n)], cost=np.asarray(c, dtype=float))
    for i, (coef, lo, hi) in enumerate(rows):
        nz = [j for j, v in enumerate(coef) if v]
        b.add_rows("r", [f"r{i}"], lo, hi, row=[0] * len(nz), col=nz, coef=[coef[j] for j in nz])
    return b.build(pd.DataFrame(columns=["parcel", "use", "reason", "family"]))


def _same(x):
    return x


def test_relaxation_fixing_finds_the_hand_solved_optimum():
    """Three parcels of 1 ha, columns (p, A) and (p, B), at most 1.5 ha of A; A is worth 10, 9, 1, B 0.
    LP: p1 in A, p2 half in A (14.5). Holding the integral columns (p1 in A, p3 in B) and solving p2
    gives p2 in B: 10, which is the optimum (only one parcel fits in A; p1 is the best). The MIP
    then only proves it: the plan stays the heuristic's."""
    one_use = [([1 if j // 2 == p else 0 for j in range(6)], 1, 1) for p in range(3)]
    model = _model(6, [10, 0, 9, 0, 1, 0], one_use + [([1, 0, 1, 0, 1, 0], -np.inf, 1.5)])
    res = engine.solve(HIGHS, model, SETTINGS, _same)
    assert res.termination == "optimal"
    assert res.objective == pytest.approx(10.0)
    assert res.x[[0, 3, 5]].tolist() == [1, 1, 1]
    assert res.extra["primal"]["found_by"] == "heuristic:lp-fixing"
    assert [s["step"] for s in res.extra["primal"]["steps"]][:2] == ["lp", "lp-fixing"]
    assert res.progress[-1]["incumbent"] == pytest.approx(10.0) and res.progress[-1]["found_by"] == "heuristic:lp-fixing"


def test_integral_relaxation_is_proven_without_the_mip():
    """The same parcels with room for 2 ha of A: the LP puts p1 and p2 in A (19), integral, so its plan
    is the optimum and its bound the proof; no MIP is run."""
    one_use = [([1 if j // 2 == p else 0 for j in range(6)], 1, 1) for p in range(3)]
    model = _model(6, [10, 0, 9, 0, 1, 0], one_use + [([1, 0, 1, 0, 1, 0], -np.inf, 2.0)])
    res = engine.solve(HIGHS, model, SETTINGS, _same)
    assert (res.termination, res.objective, res.bound) == ("optimal", pytest.approx(19.0), pytest.approx(19.0))
    assert "mip" not in [s["step"] for s in res.extra["primal"]["steps"]]


def test_heuristic_finds_nothing_and_the_mip_still_solves():
    """max 10a + b + c with a + b + c = 2 and b = c. The LP takes a = 1, b = c = ½ (11); holding the
    integral a = 1 leaves b + c = 1 with b = c, which no integers meet, so relaxation-guided fixing
    (with no larger neighbourhood allowed) has no plan. The only integer plan is a = 0, b = c = 1 (2),
    which the MIP finds."""
    model = _model(3, [10, 1, 1], [([1, 1, 1], 2, 2), ([0, 1, -1], 0, 0)])
    budget = engine.Budget(fixing_sizes=(0,), rins_sizes=())
    res = engine.solve(HIGHS, model, SETTINGS, _same, budget=budget)
    steps = res.extra["primal"]["steps"]
    assert [(s["step"], s["termination"]) for s in steps[:2]] == [("lp", "optimal"), ("lp-fixing", "infeasible")]
    assert steps[-1]["step"] == "mip"
    assert res.termination == "optimal" and res.objective == pytest.approx(2.0)
    assert res.x.tolist() == [0, 1, 1]
    assert res.extra["primal"]["found_by"] == "mip" and res.progress[-1]["found_by"] == "mip"


def test_crossover_takes_each_plans_good_part_and_holds_what_they_share():
    """Three parcels, each in exactly one of two uses (x0|x1, x2|x3, x4|x5), worth 5|1, 1|4 and 1|7. A start (x0, x2, x4: 7) and a runner-up (x1, x3, x4: 6) differ on the first two parcels and agree on
    the third. The crossover frees the four columns where they differ and holds x4: its plan takes the
    first parcel from the start and the second from the runner-up, x0, x3, x4 = 10, better than both. The
    whole optimum (x0, x3, x5 = 16) needs the column both plans agree on to move, which is left to the
    steps after it — so the crossover's own plan shows it held that column."""
    one_use = [([1 if j // 2 == p else 0 for j in range(6)], 1, 1) for p in range(3)]
    model = _model(6, [5, 1, 1, 4, 1, 7], one_use)
    start = np.array([[1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 1, 0]], dtype=float)
    res = engine.solve(HIGHS, model, SETTINGS, _same, start=start)
    steps = {s["step"]: s for s in res.extra["primal"]["steps"]}
    assert steps["crossover"]["free_columns"] == 4 and steps["crossover"]["improved"]
    assert steps["crossover"]["objective"] == pytest.approx(10.0)
    assert [p["found_by"] for p in res.progress if p["incumbent"] == pytest.approx(10.0)] == ["heuristic:crossover"]
    assert res.termination == "optimal" and res.objective == pytest.approx(16.0)
    assert res.x.tolist() == [1, 0, 0, 1, 0, 1]


def test_a_single_start_has_no_crossover_and_no_time_left_skips_the_mip():
    """One start plan: no runners-up, so no crossover step. With less time left than ``min_mip_seconds``
    the MIP is not started (HiGHS would only overrun the limit): the run ends at the time limit with the
    best heuristic plan and the LP's bound."""
    model = _model(3, [10, 1, 1], [([1, 1, 1], 2, 2), ([0, 1, -1], 0, 0)])  # LP 11, the only plan 2 (the test above)
    budget = engine.Budget(fixing_sizes=(), rins_sizes=(), min_mip_seconds=1e9)
    res = engine.solve(HIGHS, model, SETTINGS, _same, start=np.array([0.0, 1.0, 1.0]), budget=budget)
    steps = [s["step"] for s in res.extra["primal"]["steps"]]
    assert "crossover" not in steps and "mip" not in steps
    assert (res.termination, res.objective, res.bound) == ("time_limit", pytest.approx(2.0), pytest.approx(11.0))
    assert "no time left for the MIP" in res.detail


def test_the_dual_bound_is_valid_for_any_multipliers_and_tight_at_the_optimal_ones():
    """max 3a + 2b + c (a, b, c in [0, 1]) with a + b + c ≤ 2 and a + b ≤ 1.5. LP optimum 4.5 (a 1, b ½, c ½),
    row duals 1 and 1 (c and b fractional: 1 − y₁ = 0, 2 − y₁ − y₂ = 0): the bound there is 2 + 1.5 + a's
    reduced cost 1 = 4.5. Any other multipliers give a weaker bound, never one below 4.5 (weak duality), the
    zero multipliers the column bounds' 6; as a minimization (of −objective) the same numbers with the sign
    turned."""
    rows = [([1, 1, 1], -np.inf, 2.0), ([1, 1, 0], -np.inf, 1.5)]
    model = _model(3, [3, 2, 1], rows)
    lp = engine.relaxation(model)
    res = HIGHS.solve(lp, SETTINGS)
    assert res.objective == pytest.approx(4.5)
    assert model.dual_bound(np.array([1.0, 1.0])) == pytest.approx(4.5)
    assert model.dual_bound(np.zeros(2)) == pytest.approx(6.0)
    rng = np.random.default_rng(0)
    for y in rng.uniform(-3, 3, size=(200, 2)):
        assert model.dual_bound(y) >= 4.5 - 1e-9
    from dataclasses import replace
    mini = replace(model, c=-model.c, sense="min")
    assert mini.dual_bound(np.array([1.0, 1.0])) == pytest.approx(-4.5)
    assert all(mini.dual_bound(y) <= -4.5 + 1e-9 for y in rng.uniform(-3, 3, size=(200, 2)))
    free = replace(model, col_hi=np.array([np.inf, 1.0, 1.0]))  # a without an upper bound: only multipliers
    assert free.dual_bound(np.array([1.0, 1.0])) is None        # pricing it at zero or less prove anything
    assert free.dual_bound(np.array([1.0, 2.0])) == pytest.approx(5.0)  # its LP optimum: a 1.5, c ½
    assert HIGHS.solve(engine.relaxation(free), SETTINGS).objective == pytest.approx(5.0)


def test_an_lp_stopped_early_still_gives_the_engine_a_bound(tmp_path):
    """The 10,000-unit Marxan grid's LP takes seconds; stopped at 0.5 s it has no solution, but (without
    presolve, the Marxan class's LP option) its last duals prove a bound: the engine reports it, below the
    plan it keeps and below the LP optimum's 9,816.66 that the full LP reaches (benchmarks/README.md)."""
    from benchmarks.marzone.generator import write_grid_project
    from optimizer.marxan.problem import MarxanProject
    from optimizer.marxan.project import import_project

    write_grid_project(tmp_path / "project", 100, seed=1)
    loaded = load_scenario(import_project(tmp_path / "project", tmp_path / "s", targets="soft").scenario_path)
    settings = loaded.scenario.solver.model_copy(update={"time_limit": 1.0, "gap": 0.0, "threads": 1})
    problem = MarxanProject(loaded, settings)
    lp = HIGHS.solve(engine.relaxation(problem.model), settings.model_copy(update={"time_limit": 0.5}))
    assert lp.termination == "time_limit" and not lp.has_solution
    assert lp.bound is not None and lp.bound < 9_816.67
    start, _ = problem.initial_plan(lambda _: None)
    res = engine.solve(HIGHS, problem.model, settings, problem.complete, start=start)
    assert res.extra["primal"]["steps"][0]["termination"] == "time_limit"
    assert res.bound is not None and res.bound <= res.objective and res.gap is not None
    assert res.progress[-1]["bound"] == pytest.approx(res.bound)


def _recorded_offers(monkeypatch) -> list:
    """Every plan a heuristic offers that the engine accepted as an incumbent, recorded."""
    seen = []

    def recording(model, complete, x, found_by, rounded=True):
        got = plans.offer(model, complete, x, found_by, rounded)
        if got is not None:
            seen.append(got)
        return got

    monkeypatch.setattr(engine, "offer", recording)
    return seen


@pytest.fixture(scope="module")
def syn150(tmp_path_factory):
    """150 synthetic parcels: with compactness at a 2 % gap, the LP-guided plan (2.5 % below the LP)
    leaves RINS and the MIP something to do, and every step ends by its work limit within seconds."""
    from instances.synthetic import write_instance

    return write_instance(tmp_path_factory.mktemp("syn150"), n=150, seed=3, gap=0.0)


def _synthetic(path, extra: dict):
    return apply_overrides(load_scenario(path), {"solver.time_limit": 60, "solver.gap": 0.02, "solver.threads": 1, **extra})


def _sites(path) -> dict:
    q = yaml.safe_load(path.read_text())["quotas"]["SKK"]
    return {"constraints.sites": {"sites": [{"name": "KCN 1", "use": "SKK", "min_ha": q["lo"], "max_ha": q["hi"]}]}}


CASES = {
    "tiny": lambda syn, tiny, phased: load_scenario(tiny),
    "compactness": lambda syn, tiny, phased: _synthetic(syn, {"constraints.compactness": {
        "weights": {"SKK": 5.0, "SKN": 5.0, "TMD": 5.0}}}),
    "sites": lambda syn, tiny, phased: _synthetic(syn, _sites(syn)),
    "phased": lambda syn, tiny, phased: load_scenario(phased),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_heuristic_plan_meets_the_rows_and_verify(case, monkeypatch, syn150, phased, tmp_path):
    loaded = CASES[case](syn150, write_scenario(tmp_path / "tiny.yaml", tiny_raw()), phased)
    problem = problem_class(loaded.raw)(loaded, loaded.scenario.solver)
    seen = _recorded_offers(monkeypatch)
    start, _ = problem.initial_plan(lambda _: None)
    res = engine.solve(HIGHS, problem.model, loaded.scenario.solver, problem.complete, start=start)
    assert res.has_solution and seen
    heuristic = [inc for inc in seen if inc.found_by.startswith("heuristic:") or inc.found_by == "start"]
    assert heuristic, f"no heuristic plan on {case}: {res.extra['primal']['steps']}"
    for inc in heuristic:
        assert problem.model.violations(inc.x).empty
        report = problem.verify(problem.decode(inc.x))
        assert report.ok, (case, inc.found_by, report.violations[:3])
        assert report.objective == pytest.approx(inc.objective, rel=1e-6, abs=1e-6)
    # the trace names who found each incumbent and ends at the result's own (completed) figures
    assert all(p["found_by"] for p in res.progress if p["incumbent"] is not None)
    assert res.progress[-1]["incumbent"] == pytest.approx(res.objective)


def test_a_fixed_seed_gives_the_same_plan_twice(syn150):
    """Every step ends by its node budget or gap here (the time caps, a safety, are raised so that they
    cannot bind on a loaded machine), so the two runs take the same steps to the same plans."""
    loaded = CASES["compactness"](syn150, None, None)
    budget = engine.Budget(min_share=0.5, step_share=0.5)
    runs = []
    for _ in range(2):
        problem = problem_class(loaded.raw)(loaded, loaded.scenario.solver)
        res = engine.solve(HIGHS, problem.model, loaded.scenario.solver, problem.complete, budget=budget)
        steps = res.extra["primal"]["steps"]
        assert [s["step"] for s in steps] == ["lp", "lp-fixing", "lp-fixing", "rins", "reduced-cost fixing", "mip"]
        assert all(s["termination"] in ("optimal", "infeasible", "other_limit") for s in steps if "termination" in s)
        runs.append((res.x, res.objective, [(s["step"], s.get("objective"), s.get("held_columns")) for s in steps]))
    assert np.array_equal(runs[0][0], runs[1][0])
    assert runs[0][1:] == runs[1][1:]


def test_the_run_says_who_found_the_plan(tmp_path):
    out = tmp_path / "run"
    outcome = solve_scenario(load_scenario(write_scenario(tmp_path / "tiny.yaml", tiny_raw())), out, marginals=False)
    run = json.loads((out / "run.json").read_text())
    assert outcome.exit_code == 0
    found_by = run["solver_extra"]["primal"]["found_by"]
    assert found_by in ("start", "mip") or found_by.startswith("heuristic:")
    assert run["progress"][-1]["found_by"] == found_by
    assert run["progress"][-1]["incumbent"] == pytest.approx(run["objective"])
    assert run["verify"]["ok"]


def test_completion_closes_the_trace_at_the_true_objective():
    """max x + z, z ≤ x: a solver that stops with x = 1, z = 0 reports 1; completing z = x makes the plan
    worth 2, and the run's figures and the trace's last point say 2, the solver's 1 kept aside."""
    from optimizer.engine.solvers.base import SolveResult, progress_point

    b = ModelBuilder("max")
    b.add_columns("x", ["x"], cost=1.0)
    b.add_columns("aux", ["z"], cost=1.0, integer=False)
    b.add_rows("r", ["z ≤ x"], -np.inf, 0.0, row=[0, 0], col=[1, 0], coef=[1.0, -1.0])
    model = b.build(pd.DataFrame(columns=["parcel", "use", "reason", "family"]))
    raw = SolveResult(termination="time_limit", has_solution=True, x=np.array([1.0, 0.0]), objective=1.0, bound=2.0,
                      solver="highs", solver_version="", time_s=1.0, seed=0, threads=1,
                      progress=[progress_point(0.5, 1.0, 2.0)])
    done = plans.completed(model, raw, lambda x: np.array([x[0], x[0]]))
    assert (done.objective, done.gap, done.extra["solver_objective"]) == (2.0, 0.0, 1.0)
    assert [(p["incumbent"], p["gap"]) for p in done.progress] == [(2.0, 0.0)]
