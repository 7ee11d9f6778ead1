"""adjacency_conflict: screened pairs near zones and current uses, exact pair rows between planned uses,
penalties solved by hand and recomputed from geometry, verify by distances, error messages."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
import yaml

from constraints.adjacency_conflict import AdjacencyConflict
from optimizer.engine.compile import compile_model
from optimizer.engine.errors import InputError
from optimizer.engine.instance import load_instance
from optimizer.engine.run import solve_scenario
from optimizer.engine.scenario import parse_scenario
from optimizer.engine.verify import verify_allocation

from .grid_instance import X0, Y0, grid_scenario, write_grid

# a 1×6 strip of 100 m cells, ids 1..6 from x = 0 to 600 m; a strict zone 50 m right of cell 6
ZONE_RULE = {"uses": ["SKK", "SKN"], "near": {"zone_layer": "zones.gpkg", "zone_class": ["strict"]}, "buffer_m": 160}
ONT_RULE = {"uses": ["SKK"], "near": {"current_uses": ["ONT"]}, "buffer_m": 150}


def _zones(tmp_path):
    gdf = gpd.GeoDataFrame({"zone_class": ["strict", "buffer"], "zone_name": ["Khu bảo tồn thử nghiệm", "vùng đệm"]},
                           geometry=[shapely.box(X0 + 650, Y0, X0 + 700, Y0 + 100), shapely.box(X0 - 500, Y0, X0 - 400, Y0 + 100)],
                           crs="EPSG:9210")
    gdf.to_file(tmp_path / "zones.gpkg", driver="GPKG")


def _loaded(tmp_path, rules, current=("ONT",) + ("HNK",) * 5, quotas=None, suit=None, sense="maximize"):
    suit = suit or {}
    n = len(current)
    write_grid(tmp_path, 1, n, list(current), suit_industry=suit.get("SKK", [1] * n), suit_cluster=suit.get("SKN", [1] * n),
               suit_tourism=suit.get("TMD", [1] * n))
    _zones(tmp_path)
    return grid_scenario(tmp_path, allocate=["SKK", "SKN", "TMD"], constraints={"adjacency_conflict": {"rules": rules}},
                         quotas=quotas or {}, objective={"sense": sense, "terms": {"s": {"per_use": {
                             "SKK": "suit_industry", "SKN": "suit_cluster", "TMD": "suit_tourism"}}}})


def _rows(m):
    """[(key, {column key: coef}, hi)] of the family's rows."""
    out = []
    for r in m.rows.index[m.rows["family"] == "adjacency_conflict"]:
        row = m.A.getrow(r)
        out.append((m.rows.loc[r, "key"], {m.columns.loc[c, "key"]: v for c, v in zip(row.indices, row.data)}, m.row_hi[r]))
    return out


def test_compile_screens_near_zone_and_current_use(tmp_path):
    """Cells 5 (150 m) and 6 (50 m) are within 160 m of the strict zone; cells 2 (touching) and 3 (100 m) are
    within 150 m of the ONT cell 1, which is not screened against itself. Nearest-point distances, not centroids."""
    loaded = _loaded(tmp_path, [ZONE_RULE, ONT_RULE])
    inst = load_instance(loaded)
    m = compile_model(inst, loaded).model
    t = m.ineligible[m.ineligible["family"] == "adjacency_conflict"]
    assert sorted(zip(inst.ids[t["parcel"]].tolist(), t["use"], t["reason"])) == [
        (2, "SKK", "conflict: SKK within 150 m of current ONT (parcel 1)"),
        (3, "SKK", "conflict: SKK within 150 m of current ONT (parcel 1)"),
        (5, "SKK", "conflict: SKK within 160 m of strict zone Khu bảo tồn thử nghiệm"),
        (5, "SKN", "conflict: SKN within 160 m of strict zone Khu bảo tồn thử nghiệm"),
        (6, "SKK", "conflict: SKK within 160 m of strict zone Khu bảo tồn thử nghiệm"),
        (6, "SKN", "conflict: SKN within 160 m of strict zone Khu bảo tồn thử nghiệm"),
    ]
    assert "adjacency_conflict" not in set(m.rows["family"])


def test_compile_pair_rows_between_planned_uses(tmp_path):
    """SKN must not touch TMD (buffer 0). Cell 3 is SKN and cell 4 TMD today: that pair is grandfathered and
    gets no row (neither can convert into the other side's use without leaving it); cell 3 keeping SKN still
    forbids converting 2 to TMD (a new conflict)."""
    rule = {"name": "skn_tmd", "uses": ["SKN"], "near": {"uses": ["TMD"]}, "buffer_m": 0}
    loaded = _loaded(tmp_path, [rule], current=("HNK", "HNK", "SKN", "TMD"))
    m = compile_model(load_instance(loaded), loaded).model
    assert _rows(m) == [
        ("skn_tmd:1~2", {"1:SKN": 1.0, "2:TMD": 1.0}, 1.0),
        ("skn_tmd:2~1", {"2:SKN": 1.0, "1:TMD": 1.0}, 1.0),
        ("skn_tmd:2~3", {"2:SKN": 1.0, "3:TMD": 1.0}, 1.0),
        ("skn_tmd:3~2", {"3:SKN": 1.0, "2:TMD": 1.0}, 1.0),   # 3:SKN is 3's keep column
        ("skn_tmd:4~3", {"4:SKN": 1.0, "3:TMD": 1.0}, 1.0),   # 4 is TMD today: 4 → SKN next to 3 is new
    ]


def test_compile_aggregated_and_penalty_columns(tmp_path):
    """Aggregated: per parcel i, M_i·y_A[i] + Σ_j y_B[j] ≤ M_i. Penalty: one continuous v per pair, row − v ≤ 1,
    cost −weight in a maximized objective; a zone penalty is −weight·area on conversion columns."""
    rule = {"name": "agg", "uses": ["SKN"], "near": {"uses": ["TMD"]}, "buffer_m": 0, "linearization": "aggregated"}
    loaded = _loaded(tmp_path, [rule], current=("HNK",) * 3)
    m = compile_model(load_instance(loaded), loaded).model
    assert _rows(m) == [
        ("agg:1(c)", {"1:SKN": 1.0, "2:TMD": 1.0}, 1.0),
        ("agg:2(c)", {"2:SKN": 2.0, "1:TMD": 1.0, "3:TMD": 1.0}, 2.0),
        ("agg:3(c)", {"3:SKN": 1.0, "2:TMD": 1.0}, 1.0),
    ]
    rules = [{"name": "pen", "uses": ["SKN"], "near": {"uses": ["TMD"]}, "buffer_m": 0, "mode": "penalty", "weight": 7},
             {"name": "zpen", **ZONE_RULE, "mode": "penalty", "weight": 3}]
    loaded = _loaded(tmp_path / "p", rules, current=("HNK",) * 6)
    m = compile_model(load_instance(loaded), loaded).model
    v = m.columns.index[m.columns["family"] == "adjacency_conflict"]
    assert list(m.columns.loc[v, "key"])[:3] == ["pen:1~2", "pen:2~1", "pen:2~3"] and len(v) == 10
    assert not m.integer[v].any() and np.all(m.c[v] == -7.0)
    rows = _rows(m)
    assert rows[0] == ("pen:1~2", {"1:SKN": 1.0, "2:TMD": 1.0, "pen:1~2": -1.0}, 1.0)
    # exact_incumbents: v ≤ y_A[i] and v ≤ y_B[j] pin v to the conflict indicator at every integer plan
    pins = [r for r in rows if r[0].startswith("pen:1~2≤")]
    assert pins == [("pen:1~2≤A", {"pen:1~2": 1.0, "1:SKN": -1.0}, 0.0), ("pen:1~2≤B", {"pen:1~2": 1.0, "2:TMD": -1.0}, 0.0)]
    assert len(rows) == 10 + 2 * 10
    key = m.columns["key"].to_numpy()
    c = dict(zip(key, m.c))
    # cells 5, 6 near the zone: SKK and SKN lose 3 per ha (suitability 1 per ha from the objective terms)
    assert (c["5:SKK"], c["6:SKN"], c["4:SKK"]) == pytest.approx((1 - 3.0, 1 - 3.0, 1.0))


@pytest.mark.parametrize("weight,plan,objective", [
    (3.0, {1: "SKK", 2: "TMD"}, 7.0),   # 5 + 5 − 3 beats any split pair (5 + 1)
    (5.0, None, 6.0),                   # 5 + 5 − 5 = 5 < 6: keep them apart (SKK 1 + TMD 3 or 4, or TMD 2 + SKK 4)
])
def test_solve_pair_penalty_by_hand(tmp_path, weight, plan, objective):
    """1×4 strip, one hectare of SKK and one of TMD; SKK suits cell 1 (5), TMD cell 2 (5), all else 1.
    A penalty `weight` per touching SKK–TMD pair."""
    rule = {"uses": ["SKK"], "near": {"uses": ["TMD"]}, "buffer_m": 0, "mode": "penalty", "weight": weight}
    loaded = _loaded(tmp_path, [rule], current=("HNK",) * 4, quotas={"SKK": {"lo": 1, "hi": 1}, "TMD": {"lo": 1, "hi": 1}, "SKN": {"hi": 0}},
                     suit={"SKK": [5, 1, 1, 1], "TMD": [1, 5, 1, 1]})
    out = solve_scenario(loaded, tmp_path / "run")
    run = out.run
    assert run["status"] == "optimal" and run["objective"] == pytest.approx(objective)
    assert run["verify"]["ok"] and run["verify"]["recomputed_objective"] == pytest.approx(objective)
    got = dict(out.allocation.loc[out.allocation["changed"], ["parcel_id", "new_use"]].itertuples(index=False))
    if weight == 3.0:
        assert got == plan
        assert run["conflicts"][0]["conflicts"] == 1 and run["conflicts"][0]["penalty"] == pytest.approx(3.0)
    else:
        assert got in ({1: "SKK", 3: "TMD"}, {1: "SKK", 4: "TMD"}, {4: "SKK", 2: "TMD"})
        assert run["conflicts"][0]["conflicts"] == 0


def test_solve_synthetic_penalties_match_geometry(tmp_path, synthetic_small):
    """300 synthetic parcels: industry kept 300 m from villages and the strict zone, tourism penalized next to
    industry, clusters forbidden within 150 m of tourism (aggregated rows): verify passes and the objective
    recomputed from the output geometry equals the solver's."""
    raw = yaml.safe_load(synthetic_small.read_text())
    raw["constraints"]["adjacency_conflict"] = {"rules": [
        {"uses": ["SKK", "SKN"], "near": {"zone_layer": "zones.gpkg", "layer_name": "zones", "zone_class": ["strict"]},
         "buffer_m": 300},
        {"uses": ["SKK"], "near": {"current_uses": ["ONT"]}, "buffer_m": 100, "mode": "penalty", "weight": 20},
        {"uses": ["TMD"], "near": {"uses": ["SKK", "SKN"]}, "buffer_m": 0, "mode": "penalty", "weight": 15},
        {"uses": ["SKN"], "near": {"uses": ["TMD"]}, "buffer_m": 150, "linearization": "aggregated"},
    ]}
    raw["solver"]["gap"] = 1e-3
    loaded = parse_scenario(raw, str(synthetic_small), synthetic_small.parent)
    run = solve_scenario(loaded, None).run
    assert run["status"] == "optimal" and run["verify"]["ok"], run["verify"]
    assert run["verify"]["recomputed_objective"] == pytest.approx(run["objective"], rel=1e-9)
    assert {r["key"][:2] for r in run["conflicts"]} == {"1:", "2:"}


def test_verify_catches_conversions_near_targets_and_conflicting_pairs(tmp_path):
    rules = [ZONE_RULE, ONT_RULE, {"name": "skn_tmd", "uses": ["SKN"], "near": {"uses": ["TMD"]}, "buffer_m": 0}]
    loaded = _loaded(tmp_path, rules, quotas={"TMD": {"lo": 1, "hi": 1}, "SKK": {"hi": 0}, "SKN": {"hi": 0}},
                     suit={"TMD": [1, 1, 1, 5, 1, 1]})
    inst = load_instance(loaded)
    plan = solve_scenario(loaded, None).allocation
    fam = AdjacencyConflict.from_scenario(loaded)  # fresh object: no prepare()
    assert verify_allocation(loaded, inst, plan, [fam]).ok
    assert set(plan.loc[plan["changed"], "parcel_id"]) == {4}
    for pid, use in ((6, "SKK"), (2, "SKK"), (5, "SKN")):
        plan.loc[plan["parcel_id"] == pid, ["new_use", "changed"]] = [use, True]
    v = verify_allocation(loaded, inst, plan, [fam]).violations
    assert [(x.family, x.key, x.parcels) for x in v] == [
        ("adjacency_conflict", "0:SKK+SKN~zone:strict@160m", (5, 6)),
        ("adjacency_conflict", "1:SKK~current:ONT@150m", (2,)),
        ("adjacency_conflict", "skn_tmd", (4, 5)),
    ]
    assert "5~4" in v[2].message


def test_error_zone_field_and_class(tmp_path):
    rule = {**ZONE_RULE, "near": {"zone_layer": "zones.gpkg", "class_field": "kind"}}
    loaded = _loaded(tmp_path, [rule])
    with pytest.raises(InputError) as e:
        compile_model(load_instance(loaded), loaded)
    assert e.value.file == str(tmp_path / "zones.gpkg") and e.value.field == "kind"
    assert "field missing" in e.value.message and "constraints.adjacency_conflict.rules.0.near.class_field" in e.value.fix
    rule = {**ZONE_RULE, "near": {"zone_layer": "zones.gpkg", "zone_class": ["stric"]}}
    loaded = _loaded(tmp_path / "b", [rule])
    with pytest.raises(InputError, match=r"zones.gpkg: zone_class: zone class\(es\) \['stric'\] never occur.*fix: use classes"):
        compile_model(load_instance(loaded), loaded)


def test_error_config(tmp_path):
    with pytest.raises(InputError, match=r"constraints.adjacency_conflict.rules.0.*weight is required with mode: penalty"):
        AdjacencyConflict.from_scenario(_loaded(tmp_path, [{**ONT_RULE, "mode": "penalty"}]))
    with pytest.raises(InputError, match=r"rules.0.near.*exactly one of zone_layer, uses or current_uses"):
        AdjacencyConflict.from_scenario(_loaded(tmp_path / "b", [{**ONT_RULE, "near": {"uses": ["TMD"], "current_uses": ["ONT"]}}]))
    loaded = _loaded(tmp_path / "c", [{**ONT_RULE, "near": {"current_uses": ["XYZ"]}}])
    with pytest.raises(InputError) as e:
        compile_model(load_instance(loaded), loaded)
    assert e.value.field == "constraints.adjacency_conflict.rules.0.near.current_uses" and "land_uses" in e.value.fix


@pytest.mark.parametrize("linearization", ["pairwise", "aggregated", "penalty"])
def test_compile_rows_accept_exactly_the_plans_verify_accepts(tmp_path, linearization):
    """2×3 grid, SKN must not touch TMD (corners count: distance 0), with a grandfathered SKN–TMD pair
    today (cells 1 and 2). Over every plan, the family's rows hold iff verify finds no conflict; in penalty
    mode the pair columns are pinned to the conflict count recomputed from geometry, which is also the
    objective contribution."""
    import itertools

    from constraints._api import VerifyContext

    current = ["SKN", "TMD", "HNK", "HNK", "SKN", "HNK"]
    write_grid(tmp_path, 2, 3, current)
    _zones(tmp_path)
    rule = {"name": "r", "uses": ["SKN"], "near": {"uses": ["TMD"]}, "buffer_m": 0}
    if linearization == "penalty":
        rule.update(mode="penalty", weight=1.0)
    else:
        rule["linearization"] = linearization
    loaded = grid_scenario(tmp_path, allocate=["SKN", "TMD"], constraints={"adjacency_conflict": {"rules": [rule]}})
    inst = load_instance(loaded)
    compiled = compile_model(inst, loaded)
    m = compiled.model
    fam_rows = (m.rows["family"] == "adjacency_conflict").to_numpy()
    A = m.A[fam_rows]
    lo, hi = m.row_lo[fam_rows], m.row_hi[fam_rows]
    cols = m.columns.iloc[: compiled.n_assign]
    fam = AdjacencyConflict.from_scenario(loaded)
    plan = gpd.GeoDataFrame({"parcel_id": inst.ids, "current_use": inst.current_use}, geometry=inst.geometry.values, crs=inst.crs)
    ctx = VerifyContext(loaded=loaded, allocation=plan, area_ha=inst.area_ha)
    v_cols = np.nonzero((m.columns["family"] == "adjacency_conflict").to_numpy())[0]
    v_keys = m.columns.loc[v_cols, "key"].str.split(":").str[1].to_numpy()
    options = [[u for u in dict.fromkeys([c, "SKN", "TMD"])] for c in current]
    n_ok = 0
    for uses in itertools.product(*options):
        plan["new_use"] = list(uses)
        plan["changed"] = plan["new_use"] != plan["current_use"]
        x = np.zeros(m.n_cols)
        x[: compiled.n_assign] = (cols["use"].to_numpy() == np.asarray(uses, dtype=object)[cols["parcel"].to_numpy()])
        if linearization == "penalty":
            p, q = fam._conflicts(ctx, 0, 0.0)
            conflict = {f"{a}~{b}" for a, b in zip(inst.ids[p], inst.ids[q])}
            x[v_cols] = np.isin(v_keys, list(conflict))
            act = A @ x
            assert np.all(act <= hi + 1e-9) and np.all(act >= lo - 1e-9), uses
            # the model's penalty (cost −1 per pair) equals the contribution recomputed from geometry
            assert m.c[v_cols] @ x[v_cols] == sum(t["contribution"] for t in fam.objective_terms(ctx)) == -len(conflict)
            # exact_incumbents: flipping any pair column away from the conflict indicator breaks a row
            for k in range(len(v_cols)):
                x[v_cols[k]] = 1 - x[v_cols[k]]
                assert np.any(A @ x > hi + 1e-9), (uses, v_keys[k])
                x[v_cols[k]] = 1 - x[v_cols[k]]
            continue
        act = A @ x
        feasible = bool(np.all(act <= hi + 1e-9) and np.all(act >= lo - 1e-9))
        ok = not fam.verify(ctx)
        assert feasible == ok, uses
        n_ok += ok
    if linearization != "penalty":
        assert n_ok > 0 and n_ok < np.prod([len(o) for o in options])
