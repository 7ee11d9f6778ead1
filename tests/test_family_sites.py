"""sites: exact rows on a hand-made grid, optima checked against brute-force enumeration, anchors,
existing land, verify on perturbed plans, error messages.

Grids are drawn here: cell (row r, column c) is parcel r·ncol + c + 1, row 0 at the bottom, columns
100 m wide unless given (so a cell is 1 ha), EPSG:9210. Every parcel is HNK; the only objective term is
``suit`` per hectare for each allocated use, so the objective is Σ suit·area over converted parcels.
"""

from __future__ import annotations

import itertools
import json

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse as sp
import shapely
import yaml
from scipy.sparse.csgraph import connected_components

from constraints.sites import Sites
from optimizer.engine.compile import compile_model
from optimizer.engine.decode import decode
from optimizer.engine.errors import InputError
from optimizer.engine.instance import load_instance
from optimizer.engine.run import solve_scenario, verify_run
from optimizer.engine.scenario import load_scenario
from optimizer.engine.solvers import get_adapter
from optimizer.engine.verify import verify_allocation

X0, Y0 = 600000.0, 2500000.0
LAND_USES = {c: {"name_vi": c, "name_en": c, "group": g} for c, g in
             (("HNK", "agricultural"), ("SKK", "non_agricultural"), ("TMD", "non_agricultural"))}


TWO_BLOBS = np.array([[9, 8, 0, 1, 0],
                      [2, 3, 0, 2, 1],
                      [0, 1, 4, 1, 0],
                      [1, 0, 3, 2, 3],
                      [0, 2, 1, 8, 9]], dtype=float)
"""5×5 suitability whose four best cells form two blobs in opposite corners (used by solve and verify tests)."""


def grid(tmp_path, values, sites, *, widths=None, allocate=("SKK",), current=None, cfg=None, quotas=None):
    """Write parcels.gpkg and s.yaml for a grid of cells with suitability ``values`` (row 0 = bottom)."""
    values = np.asarray(values, dtype=float)
    nr, nc = values.shape
    widths = np.full(nc, 100.0) if widths is None else np.asarray(widths, dtype=float)
    xs = np.concatenate([[0.0], np.cumsum(widths)])
    rows, geoms = [], []
    for r in range(nr):
        for c in range(nc):
            geoms.append(shapely.box(X0 + xs[c], Y0 + 100.0 * r, X0 + xs[c + 1], Y0 + 100.0 * (r + 1)))
            rows.append({"parcel_id": r * nc + c + 1, "district": "D",
                         "current_use": "HNK" if current is None else current[r][c], "suit": values[r, c]})
    gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:9210").to_file(tmp_path / "parcels.gpkg", layer="parcels")
    raw = {"name": "grid", "crs": "EPSG:9210", "parcels": {"path": "parcels.gpkg", "layer": "parcels"},
           "land_uses": LAND_USES, "allocate": list(allocate), "quotas": quotas or {},
           "constraints": {"sites": {"neighbourhood": 100.0, **(cfg or {}), "sites": sites}},
           "objective": {"sense": "maximize", "terms": {"suit": {"per_use": {u: "suit" for u in allocate}}}},
           "solver": {"name": "highs", "time_limit": 60, "gap": 0, "threads": 1, "seed": 0}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False))
    return path


def solve(path):
    loaded = load_scenario(path)
    inst = load_instance(loaded)
    compiled = compile_model(inst, loaded)
    result = get_adapter("highs").solve(compiled.model, loaded.scenario.solver)
    plan = decode(compiled, inst, result.x) if result.has_solution else None
    return loaded, inst, compiled, result, plan


def row_of(model, key):
    """{column key: coefficient} and (lo, hi) of the row with this key."""
    r = model.rows.index[model.rows["key"] == key]
    assert len(r) == 1, key
    r = r[0]
    row = model.A.getrow(r)
    return dict(zip(model.columns["key"].to_numpy()[row.indices], row.data)), (model.row_lo[r], model.row_hi[r])


# ---------------------------------------------------------------- brute force (independent of the model)
def rook_graph(nr, nc):
    a, b = [], []
    for r in range(nr):
        for c in range(nc):
            i = r * nc + c
            if c + 1 < nc:
                a.append(i), b.append(i + 1)
            if r + 1 < nr:
                a.append(i), b.append(i + nc)
    g = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(nr * nc, nr * nc))
    return (g + g.T).tocsr()


def connected_sets(g, area, lo, hi, max_size):
    """Every connected cell set with lo ≤ area ≤ hi, as frozensets of cell indices."""
    out = []
    for size in range(1, max_size + 1):
        for combo in itertools.combinations(range(g.shape[0]), size):
            a = area[list(combo)].sum()
            if a < lo - 1e-9 or a > hi + 1e-9:
                continue
            idx = np.array(combo)
            if connected_components(g[idx][:, idx], directed=False)[0] == 1:
                out.append(frozenset(combo))
    return out


# ---------------------------------------------------------------- compile
def test_compile_rows_on_a_2x2_grid(tmp_path):
    """One site of 2–3 ha on a 2×2 grid of 1-ha cells; suit 4, 3 / 2, 1 ranks the parcels 1, 2, 3, 4.

    Candidates: all 4. Arcs: 1↔2, 1↔3, 2↔4, 3↔4 (8 directed). M = (3 cells fit in 3 ha) − 1 = 2.
    Columns: y, r (4 binaries each), z (4 continuous), f (8 continuous in [0, 2]).
    Rows: window 1, running root count 4, root-first 4, root-in-site 4, balance 4, neighbour 4, arc 8,
    link 4 = 33.
    """
    path = grid(tmp_path, [[4, 3], [2, 1]], [{"name": "KCN", "use": "SKK", "min_ha": 2, "max_ha": 3}])
    loaded = load_scenario(path)
    inst = load_instance(loaded)
    m = compile_model(inst, loaded).model
    cols = m.columns[m.columns["family"] == "sites"]
    assert len(cols) == 20
    ykeys = [f"KCN: {p}" for p in (1, 2, 3, 4)]
    assert list(cols["key"][:4]) == ykeys and list(cols["use"][:4]) == ["SKK"] * 4
    assert list(inst.ids[cols["parcel"][:4]]) == [1, 2, 3, 4]
    assert m.integer[cols.index[:8]].all() and not m.integer[cols.index[8:]].any()
    flows = cols.index[12:]
    assert set(cols["key"][12:]) == {"KCN: flow 1→2", "KCN: flow 2→1", "KCN: flow 1→3", "KCN: flow 3→1",
                                     "KCN: flow 2→4", "KCN: flow 4→2", "KCN: flow 3→4", "KCN: flow 4→3"}
    assert (m.col_hi[flows] == 2.0).all() and (m.col_lo[flows] == 0.0).all()

    rows = m.rows[m.rows["family"] == "sites"]
    assert len(rows) == 33
    coef, (lo, hi) = row_of(m, "KCN")
    assert coef == pytest.approx({k: 1.0 for k in ykeys}) and (lo, hi) == (2.0, 3.0)
    assert bool(rows.loc[rows["key"] == "KCN", "soft"].iloc[0]) and rows.loc[rows["key"] == "KCN", "unit"].iloc[0] == "ha"
    # running root count in rank order 1, 2, 3, 4; nothing ranks before the root
    assert row_of(m, "KCN: roots counted to rank 0") == ({"KCN: root within rank 0": 1.0, "KCN: root 1": -1.0}, (0.0, 0.0))
    assert row_of(m, "KCN: roots counted to rank 2") == ({"KCN: root within rank 2": 1.0, "KCN: root within rank 1": -1.0,
                                                         "KCN: root 3": -1.0}, (0.0, 0.0))
    assert row_of(m, "KCN: root ranks first 2") == ({"KCN: 2": 1.0, "KCN: root within rank 1": -1.0}, (-np.inf, 0.0))
    assert row_of(m, "KCN: root in site 4") == ({"KCN: root 4": 1.0, "KCN: 4": -1.0}, (-np.inf, 0.0))
    # parcel 1: in − out − y + (M+1)·r ≥ 0
    assert row_of(m, "KCN: flow balance 1") == ({"KCN: flow 2→1": 1.0, "KCN: flow 3→1": 1.0, "KCN: flow 1→2": -1.0,
                                                "KCN: flow 1→3": -1.0, "KCN: 1": -1.0, "KCN: root 1": 3.0}, (0.0, np.inf))
    assert row_of(m, "KCN: has a neighbour in the site 4") == ({"KCN: 4": 1.0, "KCN: root 4": -1.0, "KCN: 2": -1.0,
                                                               "KCN: 3": -1.0}, (-np.inf, 0.0))
    assert row_of(m, "KCN: flow into 2 from 1") == ({"KCN: flow 1→2": 1.0, "KCN: 2": -2.0}, (-np.inf, 0.0))
    # link: y − x[p, SKK] = 0
    assert row_of(m, "SKK: in one site 3") == ({"KCN: 3": 1.0, "3:SKK": -1.0}, (0.0, 0.0))
    assert not (rows["key"] == "SKK: outside every site's neighbourhood").any()


def test_compile_neighbourhood_is_grown_from_the_best_surroundings(tmp_path):
    """5×5 grid, one site of ≤ 2 ha with neighbourhood 2.5 (5 ha). The single best cell (9, top right) sits
    among zeros; the smoothed value (h = 1 hop) prefers cell 13 (7) with its cross of 5s, so the
    neighbourhood is 13 plus its first ring 8, 12, 14, 18 (5 ha); the other 20 parcels may not become SKK."""
    v = [[0, 0, 0, 0, 0],
         [0, 0, 5, 0, 0],
         [0, 5, 7, 5, 0],
         [0, 0, 5, 0, 0],
         [0, 0, 0, 0, 9]]
    path = grid(tmp_path, v, [{"name": "KCN", "use": "SKK", "max_ha": 2}], cfg={"neighbourhood": 2.5})
    loaded = load_scenario(path)
    inst = load_instance(loaded)
    m = compile_model(inst, loaded).model
    y = m.columns[(m.columns["family"] == "sites") & (m.columns["use"] == "SKK")]
    assert sorted(inst.ids[y["parcel"]]) == [8, 12, 13, 14, 18]
    closed = m.ineligible[m.ineligible["reason"] == "sites: outside every SKK site's candidate neighbourhood"]
    assert len(closed) == 20 and 24 in set(closed["parcel"]) and (closed["use"] == "SKK").all()
    assert not m.columns["key"].eq("25:SKK").any()      # screened before its column existed
    res = get_adapter("highs").solve(m, loaded.scenario.solver)
    assert res.objective == pytest.approx(12.0)  # 13 + one of its 5-neighbours


def candidates_and_optimum(path, site: str) -> tuple[list[int], float]:
    """The site's candidate parcel ids (sorted) and the optimum HiGHS finds over them."""
    loaded = load_scenario(path)
    inst = load_instance(loaded)
    compiled = compile_model(inst, loaded)
    fam = next(f for f in compiled.families if f.name == "sites")
    res = get_adapter("highs").solve(compiled.model, loaded.scenario.solver)
    return sorted(inst.ids[fam.candidates()[site]].tolist()), res.objective


def test_compile_neighbourhood_grows_from_included_parcels(tmp_path):
    """Same grid; ``include: [25]`` (the lone 9 in the corner, as phasing does for an expanded site)
    starts the neighbourhood there instead of at 13: 25 and its ring 20, 24 (3 ha ≥ 2.5 × 1 ha)."""
    v = [[0, 0, 0, 0, 0],
         [0, 0, 5, 0, 0],
         [0, 5, 7, 5, 0],
         [0, 0, 5, 0, 0],
         [0, 0, 0, 0, 9]]
    path = grid(tmp_path, v, [{"name": "KCN", "use": "SKK", "max_ha": 1, "include": [25]}], cfg={"neighbourhood": 2.5})
    assert candidates_and_optimum(path, "KCN") == ([20, 24, 25], pytest.approx(9.0))


def test_compile_centre_avoids_a_sliver_cut_off_from_enough_land(tmp_path):
    """Row of 6 cells; cell 3 is already SKK, so with ``existing: outside`` it is no candidate. Cells 1
    (value 9) and 2 are cut off from the rest, 2 ha < min_ha 3: the centre must lie in cells 4–6 (3 ha)
    even though cell 1 has the best smoothed value."""
    current = [["HNK", "HNK", "SKK", "HNK", "HNK", "HNK"]]
    path = grid(tmp_path, [[9, 0, 0, 1, 2, 1]], [{"name": "KCN", "use": "SKK", "min_ha": 3, "max_ha": 3}],
                current=current, cfg={"neighbourhood": 1.0})
    assert candidates_and_optimum(path, "KCN") == ([4, 5, 6], pytest.approx(4.0))


def test_start_is_a_connected_core_per_site_that_the_model_accepts(tmp_path):
    """The greedy start (Family.start): per site a connected set of at least min_ha whose root is its
    best-ranked parcel, on parcels no other core took; fixing it leaves a feasible model, and the
    optimum over the fixed model is no better than the free optimum."""
    rng = np.random.default_rng(7)
    v = rng.integers(0, 10, size=(6, 6))
    sites = [{"name": n, "use": "SKK", "min_ha": 3, "max_ha": 5} for n in ("A", "B", "C")]
    path = grid(tmp_path, v, sites, cfg={"neighbourhood": 2.0})
    loaded = load_scenario(path)
    inst = load_instance(loaded)
    compiled = compile_model(inst, loaded)
    m = compiled.model
    cols, values = next(f for f in compiled.families if f.name == "sites").start()
    assert len(cols) and (values == 1.0).all()
    keys = set(m.columns["key"].to_numpy()[cols])
    adj = inst.adjacency()
    taken = set()
    for name in ("A", "B", "C"):
        members = [i for i, pid in enumerate(inst.ids) if f"{name}: {pid}" in keys]
        roots = [i for i, pid in enumerate(inst.ids) if f"{name}: root {pid}" in keys]
        assert inst.area_ha[members].sum() >= 3 - 1e-9 and len(roots) == 1 and roots[0] in members
        assert connected_components(adj[members][:, members], directed=False)[0] == 1
        assert not taken & set(members)
        taken |= set(members)
        assert all(f"{inst.ids[i]}:SKK" in keys for i in members)
    lo, hi = m.col_lo.copy(), m.col_hi.copy()
    lo[cols] = hi[cols] = values
    from optimizer.engine.model import CompiledModel

    fixed = get_adapter("highs").solve(CompiledModel(**{**m.__dict__, "col_lo": lo, "col_hi": hi}), loaded.scenario.solver)
    free = get_adapter("highs").solve(m, loaded.scenario.solver)
    assert fixed.termination == free.termination == "optimal"
    assert fixed.objective <= free.objective + 1e-9


# ---------------------------------------------------------------- solve, checked by brute force
def test_solve_contiguity_forces_one_blob_brute_force(tmp_path):
    """5×5 grid, one site of exactly 4 ha. The four best cells (9, 9, 8, 8) form two blobs in opposite
    corners, 34 if contiguity did not hold; the optimum is the best connected 4-set, found by enumerating
    all 12,650 four-cell subsets."""
    v = TWO_BLOBS
    path = grid(tmp_path, v, [{"name": "KCN", "use": "SKK", "min_ha": 4, "max_ha": 4}])
    loaded, inst, compiled, res, plan = solve(path)
    g = rook_graph(5, 5)
    best = max(connected_sets(g, np.ones(25), 4, 4, 4), key=lambda s: v.ravel()[list(s)].sum())
    best_value = v.ravel()[list(best)].sum()
    assert np.sort(v.ravel())[-4:].sum() == 34 > best_value
    assert res.termination == "optimal" and res.objective == pytest.approx(best_value)
    chosen = set(plan.loc[plan["site"] == "KCN", "parcel_id"])
    assert v.ravel()[[p - 1 for p in chosen]].sum() == pytest.approx(best_value)
    assert set(plan.loc[plan["new_use"] == "SKK", "parcel_id"]) == chosen
    report = verify_allocation(loaded, inst, plan, compiled.families)
    assert report.ok, report.violations
    assert report.figures["sites"] == [{"use": "SKK", "name": "KCN", "area_ha": 4.0, "parcels": 4, "connected": True,
                                        "anchor_distance_km": None, "min_ha": 4.0, "max_ha": 4.0, "anchor_max_km": None}]


def test_solve_two_sites_with_unequal_areas_brute_force(tmp_path):
    """4×4 grid with columns 100, 150, 80, 120 m wide (1, 1.5, 0.8, 1.2 ha cells), two interchangeable parks
    of 2–3 ha each (they may touch). Brute force: every connected set in the window, then the best
    disjoint pair."""
    v = np.array([[7, 1, 6, 2],
                  [3, 8, 1, 5],
                  [2, 4, 9, 1],
                  [6, 1, 3, 7]], dtype=float)
    widths = [100, 150, 80, 120]
    sites = [{"name": f"KCN {i}", "use": "SKK", "min_ha": 2, "max_ha": 3} for i in (1, 2)]
    path = grid(tmp_path, v, sites, widths=widths)
    loaded, inst, compiled, res, plan = solve(path)
    area = np.tile(np.array(widths) / 100.0, 4)
    value = v.ravel() * area
    sets = connected_sets(rook_graph(4, 4), area, 2, 3, 4)
    scored = sorted(((value[list(s)].sum(), s) for s in sets), key=lambda t: -t[0])
    best = max(a + b for (a, s), (b, t) in itertools.combinations(scored, 2) if not s & t)
    assert res.termination == "optimal" and res.objective == pytest.approx(best)
    m = compiled.model
    assert (m.rows["key"].str.contains("root ranks before KCN 2's")).sum() == 16  # same 16 candidates: ordered
    report = verify_allocation(loaded, inst, plan, compiled.families)
    assert report.ok, report.violations
    figs = {f["name"]: f for f in report.figures["sites"]}
    assert all(f["connected"] and 2 - 1e-9 <= f["area_ha"] <= 3 + 1e-9 for f in figs.values())
    assert sum(figs[n]["area_ha"] for n in figs) == pytest.approx(area[plan["site"].to_numpy() != ""].sum())


def test_solve_anchor_from_a_point_layer(tmp_path):
    """A 1×8 strip of 1-ha cells; the port lies within 0.37 km of a point 50 m left of the strip's lower-left
    corner and 50 m up. Parcel k's farthest corner is at hypot(100k + 50, 50) m: 0.158, 0.255, 0.354, 0.453 km
    for k = 1..4, so only parcels 1–3 qualify, and parcels 4–8 are screened with the anchor's reason.
    The best 2-ha connected pair among them is {2, 3} (5 + 4)."""
    v = [[1, 5, 4, 9, 9, 9, 9, 9]]
    places = gpd.GeoDataFrame({"place_id": ["ta_lung", "tra_linh"], "name": ["Tà Lùng", "Trà Lĩnh"]},
                              geometry=[shapely.Point(X0 - 50, Y0 + 50), shapely.Point(X0 + 5000, Y0)], crs="EPSG:9210")
    places.to_file(tmp_path / "places.gpkg", layer="places")
    anchor = {"layer": "places.gpkg", "field": "place_id", "value": "ta_lung", "max_km": 0.37, "label": "Tà Lùng"}
    path = grid(tmp_path, v, [{"name": "Cảng cạn Tà Lùng", "use": "TMD", "min_ha": 2, "max_ha": 2, "anchor": anchor}],
                allocate=("TMD",))
    loaded, inst, compiled, res, plan = solve(path)
    assert res.objective == pytest.approx(9.0)
    assert set(plan.loc[plan["site"] == "Cảng cạn Tà Lùng", "parcel_id"]) == {2, 3}
    assert (plan.loc[plan["parcel_id"] >= 4, "reason"] == "sites: > 0.37 km from Tà Lùng (TMD)").all()
    fam = compiled.families[0]
    assert [p.name for p in fam.input_paths()] == ["places.gpkg"]
    report = verify_allocation(loaded, inst, plan, [Sites.from_scenario(loaded)])
    assert report.ok
    far = report.figures["sites"][0]["anchor_distance_km"]
    assert far == pytest.approx(np.hypot(0.35, 0.05), abs=1e-6) and far <= 0.37


def test_existing_land_may_join_a_site(tmp_path):
    """1×5 strip with an existing park on parcel 3. A 3-ha site cannot avoid parcel 3 (two cells on each
    side), so with existing: outside the compile stops (the neighbourhood holds 2 ha); with may_join the
    site is {2, 3, 4} and the existing hectare counts towards its window (objective 5 + 6: parcel 3
    keeps its use, which is worth 0)."""
    v = [[1, 5, 100, 6, 2]]
    current = [["HNK", "HNK", "SKK", "HNK", "HNK"]]
    sites = [{"name": "KCN", "use": "SKK", "min_ha": 3, "max_ha": 3}]
    with pytest.raises(InputError, match="holds only 2.00 ha"):
        solve(grid(tmp_path, v, sites, current=current))
    loaded, inst, compiled, res, plan = solve(grid(tmp_path, v, sites, current=current, cfg={"existing": "may_join"}))
    assert res.objective == pytest.approx(11.0)
    assert list(plan.sort_values("parcel_id")["site"]) == ["", "KCN", "KCN", "KCN", ""]
    assert verify_allocation(loaded, inst, plan, compiled.families).ok


def test_end_to_end_run_json_and_verify_dir(tmp_path):
    """3×3 grid; the port must lie within 0.25 km of the grid's top-right corner, which admits parcels 6, 8, 9
    (farthest corners at 0.224, 0.224, 0.141 km). Optimum: KCN {1, 2} (9 + 8) and port {6, 9} (7 + 6)."""
    v = [[9, 8, 1], [1, 2, 7], [1, 1, 6]]
    anchor = {"x": X0 + 300, "y": Y0 + 300, "max_km": 0.25}
    sites = [{"name": "KCN", "use": "SKK", "min_ha": 2, "max_ha": 2},
             {"name": "Cảng cạn", "use": "TMD", "min_ha": 2, "max_ha": 2, "anchor": anchor}]
    path = grid(tmp_path, v, sites, allocate=("SKK", "TMD"))
    outcome = solve_scenario(load_scenario(path), tmp_path / "run")
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["status"] == "optimal" and run["verify"]["ok"]
    assert run["objective"] == pytest.approx(17 + 13)
    assert [(s["name"], s["area_ha"], s["parcels"], s["connected"]) for s in run["sites"]] == [
        ("KCN", 2.0, 2, True), ("Cảng cạn", 2.0, 2, True)]
    assert run["sites"][1]["anchor_distance_km"] == pytest.approx(np.hypot(0.1, 0.2), abs=1e-6)
    layer = gpd.read_file(tmp_path / "run" / "allocation.gpkg", layer="allocation")
    assert dict(zip(layer["parcel_id"], layer["site"].fillna(""))) == {1: "KCN", 2: "KCN", 6: "Cảng cạn", 9: "Cảng cạn",
                                                                     3: "", 4: "", 5: "", 7: "", 8: ""}
    _, report = verify_run(tmp_path / "run")
    assert report.ok, report.violations
    assert outcome.exit_code == 0


# ---------------------------------------------------------------- verify
def test_verify_catches_broken_sites(tmp_path):
    v = TWO_BLOBS
    path = grid(tmp_path, v, [{"name": "KCN", "use": "SKK", "min_ha": 4, "max_ha": 4}])
    loaded, inst, _, _, plan = solve(path)
    fam = Sites.from_scenario(loaded)           # fresh: verify must not depend on prepare/build
    assert verify_allocation(loaded, inst, plan, [fam]).ok

    def check(mutate):
        p = plan.copy()
        mutate(p)
        return {(x.key, x.message.split(" ")[-1]) for x in verify_allocation(loaded, inst, p, [fam]).violations}

    members = sorted(plan.loc[plan["site"] == "KCN", "parcel_id"])
    far = 25 if 25 not in members else 21

    def move_one_far(p):    # same area, same count, but one parcel jumps to the far corner
        p.loc[p["parcel_id"] == members[-1], ["new_use", "changed", "site"]] = ["HNK", False, ""]
        p.loc[p["parcel_id"] == far, ["new_use", "changed", "site"]] = ["SKK", True, "KCN"]
    assert check(move_one_far) == {("KCN", "polygon")}

    def unnamed(p):         # converted to SKK but in no site, and the site drops below its window
        p.loc[p["parcel_id"] == members[0], "site"] = ""
    assert check(unnamed) == {("KCN", "ha"), ("SKK", "site")}

    def two_names(p):
        p.loc[p["parcel_id"] == members[0], "site"] = "KCN;KCN 2"
    v2 = check(two_names)
    assert ("site", "site") in v2 and ("SKK", "site") in v2

    def wrong_use(p):       # a parcel named in the site that kept its use
        p.loc[p["parcel_id"] == far, "site"] = "KCN"
    v3 = check(wrong_use)
    assert {("existing", "only"), ("KCN", "SKK"), ("KCN", "polygon"), ("KCN", "ha")} == v3


def test_verify_catches_anchor_distance(tmp_path):
    anchor = {"x": X0, "y": Y0, "max_km": 0.25}
    path = grid(tmp_path, [[5, 4, 3, 2]], [{"name": "P", "use": "SKK", "min_ha": 1, "max_ha": 2, "anchor": anchor}])
    loaded, inst, _, _, plan = solve(path)
    assert set(plan.loc[plan["site"] == "P", "parcel_id"]) == {1, 2}
    plan.loc[plan["parcel_id"] == 3, ["new_use", "changed", "site"]] = ["SKK", True, "P"]
    plan.loc[plan["parcel_id"] == 1, ["new_use", "changed", "site"]] = ["HNK", False, ""]
    out = verify_allocation(loaded, inst, plan, [Sites.from_scenario(loaded)]).violations
    assert [(x.key, "more than max_km" in x.message) for x in out] == [("P", True)]


# ---------------------------------------------------------------- errors
def test_error_use_not_allocated(tmp_path):
    path = grid(tmp_path, [[1, 2]], [{"name": "P", "use": "TMD", "min_ha": 1, "max_ha": 2}])
    loaded = load_scenario(path)
    with pytest.raises(InputError) as e:
        compile_model(load_instance(loaded), loaded)
    assert e.value.field == "constraints.sites.sites.0.use" and "not in `allocate`" in e.value.message
    assert e.value.file.endswith("s.yaml") and "allocate" in e.value.fix


def test_error_window_and_duplicate_names(tmp_path):
    path = grid(tmp_path, [[1, 2]], [{"name": "P", "use": "SKK", "min_ha": 3, "max_ha": 2}])
    with pytest.raises(InputError, match=r"constraints.sites.sites.0: min_ha \(3.0\) is greater than max_ha"):
        Sites.from_scenario(load_scenario(path))
    path = grid(tmp_path, [[1, 2]], [{"name": "P", "use": "SKK", "max_ha": 2}, {"name": "P", "use": "SKK", "max_ha": 1}])
    with pytest.raises(InputError, match=r"constraints.sites.sites: .*unique.*\['P'\]"):
        Sites.from_scenario(load_scenario(path))
    anchor = {"x": 1.0, "y": 2.0, "layer": "places.gpkg", "field": "id", "value": "a", "max_km": 1}
    path = grid(tmp_path, [[1, 2]], [{"name": "P", "use": "SKK", "max_ha": 2, "anchor": anchor}])
    with pytest.raises(InputError, match=r"constraints.sites.sites.0.anchor: .*either as x, y or as layer"):
        Sites.from_scenario(load_scenario(path))


def test_error_anchor_feature_missing(tmp_path):
    gpd.GeoDataFrame({"place_id": ["ta_lung"]}, geometry=[shapely.Point(X0, Y0)], crs="EPSG:9210").to_file(
        tmp_path / "places.gpkg", layer="places")
    anchor = {"layer": "places.gpkg", "field": "place_id", "value": "tra_linh", "max_km": 3}
    path = grid(tmp_path, [[1, 2]], [{"name": "Cảng cạn Trà Lĩnh", "use": "SKK", "max_ha": 2, "anchor": anchor}])
    loaded = load_scenario(path)
    with pytest.raises(InputError) as e:
        compile_model(load_instance(loaded), loaded)
    assert e.value.file.endswith("places.gpkg") and e.value.field == "place_id"
    assert "no feature has place_id = 'tra_linh'" in e.value.message and "ta_lung" in e.value.fix
    anchor["field"] = "ma"
    loaded = load_scenario(grid(tmp_path, [[1, 2]], [{"name": "P", "use": "SKK", "max_ha": 2, "anchor": anchor}]))
    with pytest.raises(InputError, match=r"places.gpkg: ma: field missing"):
        compile_model(load_instance(loaded), loaded)


def test_error_included_parcel_not_in_layer(tmp_path):
    path = grid(tmp_path, [[1, 2]], [{"name": "KCN", "use": "SKK", "max_ha": 1, "include": [1, 99]}])
    loaded = load_scenario(path)
    with pytest.raises(InputError, match=r"parcel id\(s\) \['99'\] of site 'KCN' are not in the parcel layer") as e:
        compile_model(load_instance(loaded), loaded)
    assert e.value.field == "constraints.sites.sites.0.include"


def test_error_neighbourhood_too_small(tmp_path):
    """Only 2 ha lie within 0.25 km of the anchor, but the site needs 3 ha."""
    anchor = {"x": X0, "y": Y0, "max_km": 0.25}
    path = grid(tmp_path, [[1, 2, 3, 4]], [{"name": "P", "use": "SKK", "min_ha": 3, "max_ha": 4, "anchor": anchor}])
    loaded = load_scenario(path)
    with pytest.raises(InputError) as e:
        compile_model(load_instance(loaded), loaded)
    assert e.value.field == "constraints.sites.sites.0.min_ha"
    assert "holds only 2.00 ha" in e.value.message and "anchor.max_km" in e.value.fix
