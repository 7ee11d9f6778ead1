"""compactness: exact z columns and rows on a strip, a hand-derived optimum, the reward recomputed from
geometry, plans completed after the solve (z = y_i·y_j) worth what the per-edge rows z ≥ y_i + y_j − 1
made them, prioritizr's p6 boundary-penalty problem inside its published bracket, error messages."""

from __future__ import annotations

import json

import numpy as np
import pyogrio
import pytest

from constraints.compactness import Compactness
from optimizer.engine.compile import compile_model
from optimizer.engine.errors import InputError
from optimizer.engine.instance import load_instance
from optimizer.engine.run import solve_scenario, verify_run
from optimizer.engine.scenario import apply_overrides

from .conftest import SHARED
from .grid_instance import grid_scenario, write_grid

SUIT = [10.0, 6.0, 7.0, 10.0]


def _strip(tmp_path, compactness, current=("HNK",) * 4, suit=SUIT, sense="maximize", quota=2.0):
    """1×4 strip of 1-ha cells, ids 1..4 left to right; SKK quota exactly ``quota`` ha; suitability per cell."""
    write_grid(tmp_path, 1, 4, list(current), suit_industry=list(suit))
    constraints = {"compactness": compactness} if compactness is not None else {}
    return grid_scenario(tmp_path, allocate=["SKK"], quotas={"SKK": {"lo": quota, "hi": quota}}, constraints=constraints,
                         objective={"sense": sense, "terms": {"suit": {"per_use": {"SKK": "suit_industry"}}}})


def _block(m, family="compactness"):
    cols = m.columns.index[m.columns["family"] == family].to_numpy()
    rows = m.rows.index[m.rows["family"] == family].to_numpy()
    return cols, rows


def _row_terms(m, r):
    """{column key: coefficient} of model row r."""
    row = m.A.getrow(r)
    return {m.columns.loc[c, "key"]: v for c, v in zip(row.indices, row.data)}


def test_compile_pairwise_rows_on_strip(tmp_path):
    """Currents HNK HNK SKK SKK: in `new` mode edge 3-4 (both SKK today) earns nothing and gets no column;
    edges 1-2 and 2-3 each get z with cost 40 · 0.1 km = 4 and two rows z ≤ y, and no z ≥ y + y − 1 row:
    the plan's z are completed after the solve instead."""
    loaded = _strip(tmp_path, {"weights": {"SKK": 40}}, current=("HNK", "HNK", "SKK", "SKK"))
    compiled = compile_model(load_instance(loaded), loaded)
    m = compiled.model
    cols, rows = _block(m)
    assert list(m.columns.loc[cols, "key"]) == ["SKK:1-2", "SKK:2-3"]
    assert m.c[cols] == pytest.approx([4.0, 4.0])
    assert not m.integer[cols].any() and list(m.col_lo[cols]) == [0, 0] and list(m.col_hi[cols]) == [1, 1]
    assert list(m.rows.loc[rows, "key"]) == ["SKK:1-2≤1", "SKK:2-3≤2", "SKK:1-2≤2", "SKK:2-3≤3"]
    assert [_row_terms(m, r) for r in rows] == [
        {"SKK:1-2": 1.0, "1:SKK": -1.0}, {"SKK:2-3": 1.0, "2:SKK": -1.0},
        {"SKK:1-2": 1.0, "2:SKK": -1.0}, {"SKK:2-3": 1.0, "3:SKK": -1.0},  # 3:SKK is parcel 3's keep column
    ]
    assert np.all(np.isneginf(m.row_lo[rows])) and np.all(m.row_hi[rows] == 0)
    # an integer plan (all four SKK) whose z stay 0 meets the rows but understates its reward by 8;
    # completing it sets both z to 1, within the rows, and the model's objective counts the reward
    key = m.columns["key"].to_numpy()
    x = np.isin(key, ["1:SKK", "2:SKK", "3:SKK", "4:SKK"]).astype(float)
    assert (m.violations(x)["family"] != "compactness").all()
    fam = next(f for f in compiled.families if f.name == "compactness")
    done = fam.complete(x)
    assert list(done[cols]) == [1.0, 1.0] and np.array_equal(np.delete(done, cols), np.delete(x, cols))
    assert (m.violations(done)["family"] != "compactness").all()
    assert m.objective_value(done) - m.objective_value(x) == pytest.approx(8.0)

    loaded = _strip(tmp_path / "all", {"weights": {"SKK": 40}, "count": "all"}, current=("HNK", "HNK", "SKK", "SKK"))
    m = compile_model(load_instance(loaded), loaded).model
    cols, rows = _block(m)
    assert list(m.columns.loc[cols, "key"]) == ["SKK:1-2", "SKK:2-3", "SKK:3-4"] and len(rows) == 6


def test_compile_aggregated_rows_and_minimize_sign(tmp_path):
    """One row per parcel: Σ_{e∋p} z_e ≤ deg(p) · y_p; in a minimized objective the reward is a negative
    cost. ``exact_incumbents`` (deprecated) is still accepted and changes nothing."""
    loaded = _strip(tmp_path, {"weights": {"SKK": 40}, "linearization": "aggregated", "exact_incumbents": True},
                    sense="minimize")
    m = compile_model(load_instance(loaded), loaded).model
    cols, rows = _block(m)
    assert list(m.columns.loc[cols, "key"]) == ["SKK:1-2", "SKK:2-3", "SKK:3-4"]
    assert m.c[cols] == pytest.approx([-4.0, -4.0, -4.0])
    assert list(m.rows.loc[rows, "key"]) == ["SKK:1", "SKK:2", "SKK:3", "SKK:4"]
    assert [_row_terms(m, r) for r in rows] == [
        {"SKK:1-2": 1.0, "1:SKK": -1.0},
        {"SKK:1-2": 1.0, "SKK:2-3": 1.0, "2:SKK": -2.0},
        {"SKK:2-3": 1.0, "SKK:3-4": 1.0, "3:SKK": -2.0},
        {"SKK:3-4": 1.0, "4:SKK": -1.0},
    ]


def test_compile_group_and_queen_point_contacts(tmp_path):
    """2×2 grid, queen adjacency: diagonal point contacts earn nothing (no column). A group {SKK, TMD}
    sums both uses' columns in each z ≤ y row."""
    write_grid(tmp_path, 2, 2, ["HNK"] * 4)
    loaded = grid_scenario(tmp_path, allocate=["SKK", "TMD"], adjacency="queen",
                           constraints={"compactness": {"groups": [{"uses": ["SKK", "TMD"], "weight": 10, "name": "dev"}]}})
    inst = load_instance(loaded)
    assert inst.adjacency().nnz == 12  # 4 rook + 2 diagonal pairs, both directions
    m = compile_model(inst, loaded).model
    cols, rows = _block(m)
    assert list(m.columns.loc[cols, "key"]) == ["dev:1-2", "dev:1-3", "dev:2-4", "dev:3-4"]
    assert m.c[cols] == pytest.approx([1.0] * 4)
    assert _row_terms(m, rows[0]) == {"dev:1-2": 1.0, "1:SKK": -1.0, "1:TMD": -1.0}


@pytest.mark.parametrize("linearization", ["pairwise", "aggregated"])
@pytest.mark.parametrize("weight,chosen,objective", [
    (20.0, {1, 4}, 20.0),        # adjacent pairs: 1-2 16+2, 2-3 13+2, 3-4 17+2 = 19 < 20 for the split pair
    (40.0, {3, 4}, 21.0),        # 3-4: 17 + 40 · 0.1 = 21 > 20
])
def test_solve_strip_optimum_by_hand(tmp_path, linearization, weight, chosen, objective):
    """Choose 2 of 4 one-hectare cells (suitability 10, 6, 7, 10): the reward for 100 m of shared boundary
    decides whether the best split pair (1, 4) or the best adjacent pair (3, 4) wins."""
    loaded = _strip(tmp_path, {"weights": {"SKK": weight}, "linearization": linearization})
    out = solve_scenario(loaded, tmp_path / "run")
    run = out.run
    assert run["status"] == "optimal" and run["objective"] == pytest.approx(objective)
    assert set(out.allocation.loc[out.allocation["new_use"] == "SKK", "parcel_id"]) == chosen
    assert run["verify"]["ok"] and run["verify"]["recomputed_objective"] == pytest.approx(objective)
    shared = 0.1 if chosen == {3, 4} else 0.0
    assert run["compactness"] == [{"family": "compactness", "key": "SKK", "uses": ["SKK"], "weight_per_km": weight,
                                   "count": "new", "shared_km": pytest.approx(shared), "reward": pytest.approx(weight * shared)}]


def test_verify_catches_plan_whose_reward_differs(tmp_path):
    """Plan {3, 4} earns 17 + 4. Swapping cell 4 for cell 1 keeps the suitability (10 + 7 = 17) and the quota,
    so only the compactness reward recomputed from the output geometry (0 km shared) exposes it."""
    loaded = _strip(tmp_path, {"weights": {"SKK": 40}})
    out = tmp_path / "run"
    solve_scenario(loaded, out)
    run, report = verify_run(out)
    assert report.ok and report.objective == pytest.approx(21.0)
    gpkg = out / "allocation.gpkg"
    plan = pyogrio.read_dataframe(gpkg, layer="allocation")
    plan.loc[plan["parcel_id"] == 4, ["new_use", "changed"]] = ["HNK", False]
    plan.loc[plan["parcel_id"] == 1, ["new_use", "changed"]] = ["SKK", True]
    pyogrio.write_dataframe(plan, gpkg, layer="allocation")
    run, report = verify_run(out)
    assert [(v.family, v.key) for v in report.violations] == [("objective", "objective")]
    assert report.objective == pytest.approx(17.0)
    assert json.loads((out / "run.json").read_text())["objective"] == pytest.approx(21.0)
    # the family itself, on a fresh object (no prepare): no hard rows to break, 0 km of SKK boundary left
    fam = Compactness.from_scenario(loaded)
    from optimizer.engine.verify import verify_allocation

    inst = load_instance(loaded)
    rep = verify_allocation(loaded, inst, plan.assign(changed=plan["changed"].astype(bool)), [fam])
    assert rep.ok and rep.figures["compactness"][0]["shared_km"] == 0.0 and rep.objective == pytest.approx(17.0)


def _irregular(tmp_path, count, linearization="pairwise"):
    """64 synthetic parcels of unequal sizes (so shared lengths differ), five of them industrial parks today,
    per-use weights and an industry group; stopped at a 2 % gap."""
    from instances.synthetic import make_parcels

    parcels, _ = make_parcels(64, seed=1)
    parcels.loc[parcels["parcel_id"].isin([3, 4, 11, 12, 40]), "current_use"] = "SKK"
    parcels.to_file(tmp_path / "parcels.gpkg", layer="parcels", driver="GPKG")
    total = float(parcels.geometry.area.sum() / 1e4)
    loaded = grid_scenario(tmp_path, allocate=["SKK", "SKN", "TMD"],
                           quotas={"SKK": {"lo": 0.15 * total, "hi": 0.2 * total}, "SKN": {"lo": 0.05 * total, "hi": 0.1 * total},
                                   "TMD": {"lo": 0.05 * total, "hi": 0.1 * total}},
                           constraints={"compactness": {"weights": {"SKK": 300.0, "TMD": 200.0}, "count": count,
                                                        "linearization": linearization,
                                                        "groups": [{"uses": ["SKK", "SKN"], "weight": 100.0, "name": "industry"}]}},
                           objective={"sense": "maximize", "terms": {"suit": {"per_use": {
                               "SKK": "suit_industry", "SKN": "suit_cluster", "TMD": "suit_tourism"}}}})
    # a 2 % gap: proving optimality takes HiGHS tens of seconds even here (knapsack-like quota bands), and a
    # gap-limited incumbent must also carry z = min(y_i, y_j), or verify would flag the objective
    return apply_overrides(loaded, {"solver.gap": 0.02, "solver.time_limit": 30})


@pytest.mark.parametrize("count", ["new", "all"])
def test_solve_irregular_grid_reward_matches_geometry(tmp_path, count):
    """On the irregular grid (``_irregular``), the solver's objective equals the core objective plus the
    reward recomputed by shapely from the output geometry, in both counting modes."""
    run = solve_scenario(_irregular(tmp_path, count), None).run
    assert run["status"] in ("optimal", "feasible") and run["verify"]["ok"]
    assert run["verify"]["recomputed_objective"] == pytest.approx(run["objective"], rel=1e-9)
    km = {r["key"]: r["shared_km"] for r in run["compactness"]}
    assert km["SKK"] > 0 and km["industry"] >= km["SKK"]


P6 = SHARED / "cases" / "prioritizr_zones_sim"


@pytest.mark.parametrize("products", ["zones", "groups"])
def test_solve_prioritizr_p6_inside_published_bracket(products):
    """prioritizr's p6 (boundary penalty 640, zone matrix [[1,1,0],[1,1,0],[0,0,1]]) with the compactness
    linearization: HiGHS's proven optimum lies in Gurobi's published [bound 10056, incumbent 11112].
    `zones` is prioritizr's own model (Gurobi's log: 1905 rows, 1200 columns, 5400 nonzeros);
    `groups` folds the block {few, many traps} into one product per edge and must reach the same optimum."""
    from optimizer.engine.scenario import SolverSettings
    from optimizer.engine.solvers import get_adapter

    from .cases_prioritizr import build_p6, p6_objective

    pub = json.loads((P6 / "expected.json").read_text())["problems"]["p6"]
    m = build_p6(P6, products)
    if products == "zones":
        assert (m.n_rows, m.n_cols, m.A.nnz) == (1905, 1200, 5400)
    r = get_adapter("highs").solve(m, SolverSettings(time_limit=60, gap=0))
    assert r.termination == "optimal"
    assert pub["published_bound"] - 1e-6 <= r.objective <= pub["published_incumbent"] + 1e-6
    x = np.round(r.x[:300]).reshape(100, 3)
    zone = np.where(x.sum(axis=1) > 0.5, x.argmax(axis=1), -1)
    assert p6_objective(P6, zone) == pytest.approx(r.objective)  # the linearization is exact at the optimum
    assert r.objective == pytest.approx(10260.0)


def test_error_unknown_use_names_scenario_field_and_fix(tmp_path):
    loaded = _strip(tmp_path, {"weights": {"XYZ": 5}})
    with pytest.raises(InputError) as e:
        compile_model(load_instance(loaded), loaded)
    assert e.value.file == str(tmp_path / "grid.yaml")
    assert e.value.field == "constraints.compactness.weights.XYZ"
    assert "unknown use 'XYZ'" in e.value.message and "land_uses" in e.value.fix


def test_error_non_positive_weight(tmp_path):
    with pytest.raises(InputError) as e:
        Compactness.from_scenario(_strip(tmp_path, {"weights": {"SKK": -3}}))
    assert e.value.field == "constraints.compactness.weights"
    assert "must be > 0" in e.value.message
    with pytest.raises(InputError, match=r"constraints.compactness.<root>: give weights"):
        Compactness.from_scenario(_strip(tmp_path / "b", {}))


@pytest.mark.parametrize("linearization", ["pairwise", "aggregated"])
@pytest.mark.parametrize("count", ["new", "all"])
def test_completion_gives_geometric_reward_on_every_plan(tmp_path, count, linearization):
    """2×3 grid with two industrial parks today, a per-use weight and an industry group: for every plan
    (each parcel keeps its use or takes SKK or SKN; z left at 0, as a plan stopped by a limit may carry
    them), ``complete`` sets each z to the largest value the rows allow, and the model's reward c·z then
    equals the reward recomputed by shapely from the geometry."""
    import itertools

    import geopandas as gpd

    from constraints._api import VerifyContext

    current = ["SKK", "SKK", "HNK", "HNK", "SKN", "HNK"]
    write_grid(tmp_path, 2, 3, current)
    loaded = grid_scenario(tmp_path, allocate=["SKK", "SKN"], constraints={"compactness": {
        "weights": {"SKK": 20.0}, "groups": [{"uses": ["SKK", "SKN"], "weight": 10.0}], "count": count,
        "linearization": linearization}})
    inst = load_instance(loaded)
    compiled = compile_model(inst, loaded)
    m = compiled.model
    fam = next(f for f in compiled.families if f.name == "compactness")
    cols = m.columns.iloc[: compiled.n_assign]
    z = np.nonzero((m.columns["family"] == "compactness").to_numpy())[0]
    plan = gpd.GeoDataFrame({"parcel_id": inst.ids, "current_use": inst.current_use}, geometry=inst.geometry.values, crs=inst.crs)
    ctx = VerifyContext(loaded=loaded, allocation=plan, area_ha=inst.area_ha)
    options = [list(dict.fromkeys([c, "SKK", "SKN"])) for c in current]
    rewarded = 0
    for uses in itertools.product(*options):
        plan["new_use"] = list(uses)
        x = np.zeros(m.n_cols)
        x[: compiled.n_assign] = cols["use"].to_numpy() == np.asarray(uses, dtype=object)[cols["parcel"].to_numpy()]
        done = fam.complete(x)
        assert np.array_equal(done[: compiled.n_assign], x[: compiled.n_assign])
        assert len(m.violations(done)) == 0, uses
        for zi in z[done[z] == 0]:  # no z left short: raising any z still at 0 breaks a row
            up = done.copy()
            up[zi] = 1.0
            assert len(m.violations(up)) > 0, (uses, m.columns.loc[zi, "key"])
        assert m.c[z] @ done[z] == pytest.approx(sum(t["contribution"] for t in fam.objective_terms(ctx)), abs=1e-9), uses
        rewarded += bool(done[z].any())
    assert rewarded > 0


def _with_exact_incumbent_rows(m):
    """The model plus the per-edge rows the family used to add, z ≥ y_i + y_j − 1, read off its own pairwise
    rows: each z has two rows z − y_i ≤ 0 and z − y_j ≤ 0, whose sum minus one z is z − y_i − y_j."""
    import pandas as pd
    import scipy.sparse as sp

    from optimizer.engine.model import extend

    fam_rows = np.nonzero((m.rows["family"] == "compactness").to_numpy())[0]
    z = np.nonzero((m.columns["family"] == "compactness").to_numpy())[0]
    A = m.A.tocsc()
    lower = []
    for zi in z:
        two = A[fam_rows, zi].nonzero()[0]
        assert len(two) == 2
        lower.append(m.A[fam_rows[two[0]]] + m.A[fam_rows[two[1]]] - sp.csr_matrix(([1.0], ([0], [zi])), shape=(1, m.n_cols)))
    rows = pd.DataFrame({"family": "exact_incumbent", "key": m.columns["key"].to_numpy()[z], "lo": -1.0,
                         "hi": np.inf, "soft": False, "unit": "z≥y+y-1"})
    return extend(m, rows=rows, A_rows=sp.vstack(lower).tocsr())


def test_completion_equals_exact_incumbent_rows(tmp_path):
    """Issue 19: the objective a plan gets from ``complete`` (z set after the solve) equals the one the
    per-edge rows z ≥ y_i + y_j − 1 gave it (the same plan's assignment fixed, the rows' model solved by
    HiGHS), on the irregular grid's gap-limited plan and on that plan with every z left at 0, with the
    solver's bound kept; the completed plan's objective is the one verify recomputes from geometry."""
    from dataclasses import replace

    from optimizer.engine.problem import SinglePeriod, completed
    from optimizer.engine.solvers import get_adapter

    loaded = _irregular(tmp_path, "new")
    problem = SinglePeriod(loaded, loaded.scenario.solver)
    m, n_assign = problem.model, problem.compiled.n_assign
    adapter = get_adapter("highs")
    solved = adapter.solve(m, loaded.scenario.solver)
    assert solved.has_solution
    z = np.nonzero((m.columns["family"] == "compactness").to_numpy())[0]
    exact = _with_exact_incumbent_rows(m)
    short = solved.x.copy()
    short[z] = 0.0
    for x in (solved.x, short):
        assign = np.round(x[:n_assign])
        lo, hi = exact.col_lo.copy(), exact.col_hi.copy()
        lo[:n_assign] = hi[:n_assign] = assign
        rows_res = adapter.solve(replace(exact, col_lo=lo, col_hi=hi), loaded.scenario.solver)
        assert rows_res.termination == "optimal"
        done = completed(m, replace(solved, x=x, objective=m.objective_value(x)), problem.complete)
        assert done.objective == pytest.approx(rows_res.objective, rel=1e-9)
        assert done.bound == solved.bound and len(m.violations(done.x)) == 0
    assert m.objective_value(short) < done.objective - 1.0  # the zeroed plan was really short of its reward
    assert done.extra["solver_objective"] == pytest.approx(m.objective_value(short))

    plan = problem.decode(done.x)
    report = problem.verify(plan)
    assert report.ok and report.objective == pytest.approx(done.objective, rel=1e-9)
