"""The sites' greedy start in the primal engine: every site gets a core of its own, the cores together
leave a feasible model, and the engine's greedy step turns them into a plan that meets every row of
the model and passes verify (``found_by`` heuristic:greedy).

Two ways the start used to be infeasible, each on a hand-made grid (cells of 1 ha, rook adjacency,
the arrays below are drawn as maps, top row first, and parcel id r·ncol + c + 1 counts rows from
the bottom; every parcel HNK, the objective Σ suit · ha of SKK):

* a later site with no room: cores were grown anywhere free in a site's neighbourhood, so earlier
  cores could cut a later site's neighbourhood into pieces smaller than its min_ha (the synthetic
  10,000-parcel sites model: 4 of 5 sites had a core, and fixing even one of them left the other
  sites' windows infeasible in the LP);
* interchangeable sites out of order: the symmetry rows require the roots of three or more
  interchangeable sites in rank order, and one pass of swapping neighbouring pairs does not sort them.

And the engine's two sites steps stay small: the cores are completed around the LP before the whole
model is tried, and the sites grow with only their own land freed (on the synthetic 30,000-parcel
sites model each used to be an 84,000-column sub-MIP that found nothing in its time cap).
"""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import numpy as np
import pytest
import shapely
import yaml
from scipy.sparse.csgraph import connected_components

from optimizer.engine.compile import ASSIGN
from optimizer.engine.primal import engine
from optimizer.engine.run import problem_class
from optimizer.engine.scenario import load_scenario
from optimizer.engine.solvers import get_adapter

from .test_primal import _recorded_offers

X0, Y0 = 600000.0, 2500000.0
HIGHS = get_adapter("highs")

CROWDED = np.array([[8, 0, 6, 0, 3],
                    [0, 5, 1, 1, 2],
                    [0, 4, 7, 3, 9],
                    [5, 6, 9, 6, 5],
                    [3, 8, 5, 0, 3]])
"""Four sites of exactly 4 ha, neighbourhood 2.5 (10 ha each). The first three cores fill the bottom
rows (S1: 7 8 9 13, S2: 5 10 14 15, S3: 1 2 3 6); S4's neighbourhood used to be 8–10, 12–15, 18–20,
where they leave 12 alone and 18 19 20 (3 ha < 4 ha): no core, and no plan with the three held. Its
room must be land no earlier site's room holds (the top-left: 17 21 22 23)."""

INTERCHANGEABLE = np.array([[6, 4, 5, 2, 4, 3, 2, 9],
                            [0, 1, 5, 9, 4, 8, 9, 8],
                            [2, 8, 1, 8, 6, 1, 0, 4],
                            [9, 8, 7, 7, 6, 3, 9, 4],
                            [2, 9, 4, 4, 5, 5, 5, 5],
                            [7, 1, 4, 8, 3, 3, 2, 7],
                            [3, 2, 8, 9, 0, 4, 8, 1],
                            [6, 6, 8, 5, 7, 8, 2, 0]])
"""Three sites of exactly 2 ha over all the land (neighbourhood 100): the same candidates, so the
symmetry rows order their roots."""


def grid(tmp_path, values, sites, neighbourhood):
    values = np.asarray(values)
    nr, nc = values.shape
    rows, geoms = [], []
    for r in range(nr):
        for c in range(nc):
            geoms.append(shapely.box(X0 + 100 * c, Y0 + 100 * r, X0 + 100 * (c + 1), Y0 + 100 * (r + 1)))
            rows.append({"parcel_id": r * nc + c + 1, "district": "D", "current_use": "HNK", "suit": float(values[r, c])})
    gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:9210").to_file(tmp_path / "parcels.gpkg", layer="parcels")
    raw = {"name": "grid", "crs": "EPSG:9210", "parcels": {"path": "parcels.gpkg", "layer": "parcels"},
           "land_uses": {"HNK": {"name_vi": "HNK", "name_en": "HNK", "group": "agricultural"},
                         "SKK": {"name_vi": "SKK", "name_en": "SKK", "group": "non_agricultural"}},
           "allocate": ["SKK"], "quotas": {},
           "constraints": {"sites": {"neighbourhood": neighbourhood, "sites": sites}},
           "objective": {"sense": "maximize", "terms": {"suit": {"per_use": {"SKK": "suit"}}}},
           "solver": {"name": "highs", "time_limit": 30, "gap": 0, "threads": 1, "seed": 0}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _windows(names, ha):
    return [{"name": n, "use": "SKK", "min_ha": ha, "max_ha": ha} for n in names]


CASES = {
    "a later site with no room": (CROWDED[::-1], _windows(["S1", "S2", "S3", "S4"], 4.0), 2.5),
    "interchangeable sites": (INTERCHANGEABLE[::-1], _windows(["A", "B", "C"], 2.0), 100.0),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_greedy_start_is_a_plan_that_meets_every_row_and_verify(case, tmp_path, monkeypatch):
    values, sites, neighbourhood = CASES[case]
    loaded = load_scenario(grid(tmp_path, values, sites, neighbourhood))
    problem = problem_class(loaded.raw)(loaded, loaded.scenario.solver)
    model, inst = problem.model, problem.instance
    start, _ = problem.initial_plan(lambda _: None)
    keys = model.columns["key"].to_numpy()
    held = ~np.isnan(start)

    # every site has a core: connected, at least min_ha, rooted, on parcels no other core holds
    taken: set[int] = set()
    adj = inst.adjacency()
    for s in sites:
        members = [i for i, pid in enumerate(inst.ids) if held[keys == f"{s['name']}: {pid}"].any()]
        roots = [i for i, pid in enumerate(inst.ids) if held[keys == f"{s['name']}: root {pid}"].any()]
        assert inst.area_ha[members].sum() >= s["min_ha"] - 1e-9, (case, s["name"], members)
        assert len(roots) == 1 and roots[0] in members
        assert connected_components(adj[members][:, members], directed=False)[0] == 1
        assert not taken & set(members)
        taken |= set(members)

    # the cores held leave the model feasible, and its optimum no better than the free one
    lo, hi = model.col_lo.copy(), model.col_hi.copy()
    lo[held] = hi[held] = start[held]
    fixed = HIGHS.solve(replace(model, col_lo=lo, col_hi=hi), loaded.scenario.solver)
    free = HIGHS.solve(model, loaded.scenario.solver)
    assert fixed.termination == free.termination == "optimal", case
    assert fixed.objective <= free.objective + 1e-9

    # the engine's greedy step finds a plan; every plan offered meets every row and passes verify
    seen = _recorded_offers(monkeypatch)
    res = engine.solve(HIGHS, model, loaded.scenario.solver, problem.complete, start=start)
    greedy = [inc for inc in seen if inc.found_by == "heuristic:greedy"]
    assert greedy, res.extra["primal"]["steps"]
    for inc in greedy:
        assert model.violations(inc.x).empty
        report = problem.verify(problem.decode(inc.x))
        assert report.ok, report.violations[:3]
        assert report.objective == pytest.approx(inc.objective, rel=1e-9)
        assert inc.objective <= free.objective + 1e-9
    assert res.termination == "optimal" and res.objective == pytest.approx(free.objective)


def test_interchangeable_sites_get_their_cores_in_root_rank_order(tmp_path):
    """Grown in the order listed, the cores' roots rank 1, 5, 0 here (A takes the second-best cell
    and its neighbour, B the sixth, C the best); the symmetry rows need A's root to rank no later
    than B's and B's no later than C's, so the cores are handed out sorted by root: 0, 1, 5."""
    values, sites, neighbourhood = CASES["interchangeable sites"]
    loaded = load_scenario(grid(tmp_path, values, sites, neighbourhood))
    problem = problem_class(loaded.raw)(loaded, loaded.scenario.solver)
    family = next(f for f in problem.compiled.families if f.name == "sites")
    ranked = family._hoods[0].ranked
    assert all(np.array_equal(family._hoods[i].ranked, ranked) for i in range(3))
    cols, _ = family.start()
    keys = problem.model.columns["key"].to_numpy()[cols]
    pid_rank = {str(problem.instance.ids[p]): t for t, p in enumerate(ranked)}
    root_rank = [next(pid_rank[k.split(": root ")[1]] for k in keys if k.startswith(f"{s['name']}: root "))
                 for s in sites]
    assert root_rank == sorted(root_rank) and len(set(root_rank)) == 3


GROWING = np.array([[6, 7, 6, 0, 0, 0],
                    [7, 9, 7, 0, 0, 0],
                    [6, 7, 6, 0, 0, 0],
                    [0, 0, 0, 0, 0, 0],
                    [0, 0, 0, 0, 0, 0],
                    [0, 0, 0, 0, 0, 0]])
"""One site of 2–4 ha, neighbourhood 1.5 (6 ha): its candidates lie around the 9, and the parcels
far from it have no SKK column. The greedy core is min_ha: the 9 and a 7 (16); the best site is the
9 and three 7s (30)."""


def _one_site(tmp_path, values, min_ha, max_ha, neighbourhood):
    """One SKK site S on the grid ``values`` (drawn top row first): the scenario, its problem and its
    start (the greedy core)."""
    sites = [{"name": "S", "use": "SKK", "min_ha": min_ha, "max_ha": max_ha}]
    loaded = load_scenario(grid(tmp_path, np.asarray(values)[::-1], sites, neighbourhood))
    problem = problem_class(loaded.raw)(loaded, loaded.scenario.solver)
    return loaded, problem, problem.initial_plan(lambda _: None)[0]


def test_sites_grow_around_their_cores_with_only_their_land_freed(tmp_path, monkeypatch):
    """``greedy-grown`` frees the sites and the land they reach through the sparse rows (the candidate
    parcels' uses), not every column the start leaves open; it still reaches the optimum."""
    loaded, problem, start = _one_site(tmp_path, GROWING, 2.0, 4.0, 1.5)
    model = problem.model
    seen = _recorded_offers(monkeypatch)
    res = engine.solve(HIGHS, model, loaded.scenario.solver, problem.complete, start=start)
    steps = {s["step"]: s for s in res.extra["primal"]["steps"]}
    assert steps["greedy"]["objective"] == pytest.approx(16.0), steps
    grown = steps["greedy-grown"]
    assert grown["improved"] and grown["objective"] == pytest.approx(30.0), steps
    assert 0 < grown["free_columns"] < int((np.isnan(start) & model.integer).sum())
    assert res.objective == pytest.approx(30.0) == HIGHS.solve(model, loaded.scenario.solver).objective
    plan = problem.decode(res.x)
    site = set(plan.loc[plan["new_use"] == "SKK", "parcel_id"].astype(int))
    assert len(site) == 4 and 26 in site  # the 9: row 4 from the bottom, column 1
    for inc in seen:
        assert model.violations(inc.x).empty
        assert problem.verify(problem.decode(inc.x)).ok


def test_greedy_cores_are_completed_around_the_lp_before_the_whole_model(tmp_path):
    """The cores held and the LP's values held away from them: the first greedy sub-MIP frees only
    the LP's fractional columns and the parcels where the cores and the LP disagree, and has a plan.
    One site of exactly 2 ha over all of GROWING: its core, the 9 and a 7 (16), is also the optimum."""
    loaded = load_scenario(grid(tmp_path, GROWING[::-1], _windows(["S"], 2.0), 100.0))
    problem = problem_class(loaded.raw)(loaded, loaded.scenario.solver)
    model = problem.model
    start, _ = problem.initial_plan(lambda _: None)
    res = engine.solve(HIGHS, model, loaded.scenario.solver, problem.complete, start=start,
                       budget=engine.Budget(greedy_sizes=(0,)))
    first = next(s for s in res.extra["primal"]["steps"] if s["step"] == "greedy")
    open_assignments = int((np.isnan(start) & model.integer & (model.columns["family"] == ASSIGN).to_numpy()).sum())
    assert first["improved"] and 0 < first["free_columns"] < open_assignments, (first, open_assignments)
    assert first["objective"] == pytest.approx(16.0) and res.objective == pytest.approx(16.0)
    assert res.extra["primal"]["found_by"] == "heuristic:greedy"


PLATEAU = np.array([[7, 7, 7, 0, 0, 0],
                    [7, 7, 7, 0, 0, 0],
                    [7, 7, 7, 0, 0, 9],
                    [0, 0, 0, 0, 0, 9],
                    [0, 0, 0, 0, 0, 9]])
"""One site of exactly 3 ha over all the land (neighbourhood 100). The greedy core starts where the
surroundings are best, on the plateau of 7s (21), and a site of exactly 3 ha cannot grow around it;
the best site is the column of 9s on the right (27): the only three connected cells above 21."""


def test_a_site_moves_off_its_greedy_core(tmp_path, monkeypatch):
    """``greedy-grown`` holds the core, so it keeps the plateau (21); the site freed whole, core and
    root too (``site-move``), is the column of 9s (27), before the MIP runs. RINS is off here: around
    this LP's integral optimum it would find the 9s too, and the step under test is the site's move."""
    loaded, problem, start = _one_site(tmp_path, PLATEAU, 3.0, 3.0, 100.0)
    model = problem.model
    seen = _recorded_offers(monkeypatch)
    res = engine.solve(HIGHS, model, loaded.scenario.solver, problem.complete, start=start,
                       budget=engine.Budget(rins_sizes=()))
    steps = res.extra["primal"]["steps"]
    grown = next(s for s in steps if s["step"] == "greedy-grown")
    moved = next(s for s in steps if s["step"] == "site-move")
    assert grown["objective"] == pytest.approx(21.0) and not grown["improved"], steps
    assert moved["improved"] and moved["objective"] == pytest.approx(27.0), steps
    assert [s["step"] for s in steps][-1] == "site-move"  # proven by the LP bound (27): nothing after it
    assert res.extra["primal"]["found_by"] == "heuristic:site-move"
    assert res.objective == pytest.approx(27.0) == HIGHS.solve(model, loaded.scenario.solver).objective
    plan = problem.decode(res.x)
    assert set(plan.loc[plan["new_use"] == "SKK", "parcel_id"].astype(int)) == {6, 12, 18}  # column 5, rows 0–2 from the bottom
    for inc in seen:
        assert model.violations(inc.x).empty
        assert problem.verify(problem.decode(inc.x)).ok
