"""resettlement: exact regional and transport rows, hand-derived optima, verify, errors.

The instance (EPSG:9210, 100 m × 100 m cells, 1 ha each, all HNK; x of the left edge):

    p1 x=0     Huyện A  30 households  suit 10  resettle_cost 2
    p2 x=200   Huyện A   0             suit  8  resettle_cost 3
    p3 x=400   Huyện A   0             suit  1  resettle_cost 1
    p4 x=3000  Huyện B   0             suit  1  resettle_cost 0.5

Centroid distances from p1: p2 0.2 km, p3 0.4 km, p4 3.0 km. allocate [SKK, ONT]; SKK quota exactly
1 ha; maximize suit × area over SKK minus resettle_cost × area over ONT. SKK displaces households,
new ONT houses 40 per ha (one parcel houses p1's 30).

Hand derivation:
- no resettlement rule: p1 → SKK = 10 (nobody needs ONT);
- province-wide balance: p1 → SKK needs one ONT parcel; the cheapest is p4 (0.5) → 9.5;
- per district (region_field district): the site must be in Huyện A: p3 (1) → 9 > p2 → SKK alone 8;
- within 1 km (max_km 1): p4 is 3 km away; p3 → 9;
- within 5 km: p4 → 9.5;
- within 5 km but nearest_k 1: p1 may only use p2 (nearest): p1 + p2 ONT = 7 < p2 → SKK = 8, so
  the restriction (documented as conservative) gives 8 with p2 → SKK.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from constraints.resettlement import Resettlement
from optimizer.engine.compile import compile_model
from optimizer.engine.errors import InputError
from optimizer.engine.instance import load_instance
from optimizer.engine.verify import verify_allocation

from .grid_instance import X0, Y0
from .helpers import SUIT_SKK, solve_highs, strip_parcels, strip_scenario

LAND_USES = {
    "HNK": {"name_vi": "Đất trồng cây hằng năm khác", "name_en": "Other annual crops", "group": "agricultural"},
    "ONT": {"name_vi": "Đất ở tại nông thôn", "name_en": "Rural residential", "group": "non_agricultural"},
    "SKK": {"name_vi": "Đất khu công nghiệp", "name_en": "Industrial park", "group": "non_agricultural"},
    "TMD": {"name_vi": "Đất thương mại, dịch vụ", "name_en": "Commercial and service", "group": "non_agricultural"},
}
# id, x, district, households, suit, resettle_cost
PARCELS = [(1, 0, "Huyện A", 30, 10, 2), (2, 200, "Huyện A", 0, 8, 3), (3, 400, "Huyện A", 0, 1, 1),
           (4, 3000, "Huyện B", 0, 1, 0.5)]
BASE = {"displacing_uses": ["SKK", "TMD"], "resettlement_use": "ONT", "households_per_ha": 40}


def _loaded(tmp_path: Path, resettlement: dict | None, allocate=("SKK", "ONT")):
    parcels = strip_parcels({"parcel_id": [p[0] for p in PARCELS], "current_use": "HNK",
                             "district": [p[2] for p in PARCELS], "households": [p[3] for p in PARCELS],
                             "suit_industry": [float(p[4]) for p in PARCELS],
                             "resettle_cost": [float(p[5]) for p in PARCELS]},
                            [(p[1], p[1] + 100) for p in PARCELS])
    resettle = {"resettle": {"weight": -1.0, "column": "resettle_cost", "uses": ["ONT"]}} if "ONT" in allocate else {}
    return strip_scenario(tmp_path, parcels, name="rs", land_uses=LAND_USES, allocate=allocate,
                          quotas={"SKK": {"lo": 1, "hi": 1}},
                          constraints={} if resettlement is None else {"resettlement": resettlement},
                          terms={**SUIT_SKK, **resettle})


def _entries(m, inst, r):
    row = m.A.getrow(r)
    cols = m.columns.iloc[row.indices]
    names = np.where(cols["family"] == "assign",
                     [f"x[{inst.ids[p] if p >= 0 else ''},{u}]" for p, u in zip(cols["parcel"], cols["use"])],
                     cols["key"].to_numpy())
    return sorted(zip(names.tolist(), np.round(row.data, 9).tolist()))


def test_compile_regional_rows(tmp_path):
    loaded = _loaded(tmp_path, {**BASE, "region_field": "district"})
    inst = load_instance(loaded)
    m = compile_model(inst, loaded).model
    rows = m.rows[m.rows["family"] == "resettlement"]
    # only Huyện A has a parcel that can displace households
    assert list(rows["key"]) == ["district: Huyện A"]
    r = rows.index[0]
    assert (m.row_lo[r], m.row_hi[r], bool(rows.loc[r, "soft"]), rows.loc[r, "unit"]) == (-np.inf, 0.0, True, "households")
    assert _entries(m, inst, r) == [("x[1,ONT]", -40.0), ("x[1,SKK]", 30.0), ("x[2,ONT]", -40.0), ("x[3,ONT]", -40.0)]


def test_compile_transport_rows(tmp_path):
    loaded = _loaded(tmp_path, {**BASE, "max_km": 1})
    inst = load_instance(loaded)
    compiled = compile_model(inst, loaded)
    m = compiled.model
    flows = m.columns.iloc[compiled.n_assign:]
    assert list(flows["key"]) == ["flow:1->2", "flow:1->3"]  # p4 is 3 km away; no self-pair
    assert list(flows["family"]) == ["resettlement"] * 2 and (flows["parcel"] == -1).all()
    f = np.arange(compiled.n_assign, m.n_cols)
    assert list(m.col_lo[f]) == [0, 0] and list(m.col_hi[f]) == [30, 30] and not m.integer[f].any()
    rows = m.rows[m.rows["family"] == "resettlement"]
    # the province-wide balance (the soft handle), then hard demand, per-pair link and capacity rows
    assert list(rows["key"]) == ["province", "demand:1", "link:1->2", "link:1->3", "capacity:2", "capacity:3"]
    p, d, l2, l3, c2, c3 = rows.index
    assert (m.row_hi[p], bool(rows.loc[p, "soft"])) == (0.0, True)
    assert _entries(m, inst, p) == [("x[1,ONT]", -40.0), ("x[1,SKK]", 30.0), ("x[2,ONT]", -40.0), ("x[3,ONT]", -40.0),
                                    ("x[4,ONT]", -40.0)]
    assert (m.row_lo[d], m.row_hi[d], bool(rows.loc[d, "soft"])) == (0.0, np.inf, False)
    assert _entries(m, inst, d) == [("flow:1->2", 1.0), ("flow:1->3", 1.0), ("x[1,SKK]", -30.0)]
    assert (m.row_lo[l2], m.row_hi[l2], bool(rows.loc[l2, "soft"])) == (-np.inf, 0.0, False)
    assert _entries(m, inst, l2) == [("flow:1->2", 1.0), ("x[2,ONT]", -30.0)]
    assert _entries(m, inst, l3) == [("flow:1->3", 1.0), ("x[3,ONT]", -30.0)]
    assert (m.row_lo[c2], m.row_hi[c2], bool(rows.loc[c2, "soft"])) == (-np.inf, 0.0, False)
    assert _entries(m, inst, c2) == [("flow:1->2", 1.0), ("x[2,ONT]", -40.0)]
    assert _entries(m, inst, c3) == [("flow:1->3", 1.0), ("x[3,ONT]", -40.0)]


def test_compile_nearest_k_and_no_link_rows(tmp_path):
    loaded = _loaded(tmp_path, {**BASE, "max_km": 5, "nearest_k": 2, "link_pairs": False})
    inst = load_instance(loaded)
    compiled = compile_model(inst, loaded)
    assert list(compiled.model.columns["key"].iloc[compiled.n_assign:]) == ["flow:1->2", "flow:1->3"]
    rows = compiled.model.rows
    assert list(rows.loc[rows["family"] == "resettlement", "key"]) == ["province", "demand:1", "capacity:2", "capacity:3"]


@pytest.mark.parametrize("cfg, objective, uses", [
    (None, 10.0, {1: "SKK"}),
    (BASE, 9.5, {1: "SKK", 4: "ONT"}),
    ({**BASE, "region_field": "district"}, 9.0, {1: "SKK", 3: "ONT"}),
    ({**BASE, "max_km": 1}, 9.0, {1: "SKK", 3: "ONT"}),
    ({**BASE, "max_km": 5}, 9.5, {1: "SKK", 4: "ONT"}),
    ({**BASE, "max_km": 5, "nearest_k": 1}, 8.0, {2: "SKK"}),
    ({**BASE, "max_km": 1, "link_pairs": False}, 9.0, {1: "SKK", 3: "ONT"}),
    ({**BASE, "max_km": 5, "region_field": "district"}, 9.0, {1: "SKK", 3: "ONT"}),
])
def test_solve_hand_optimum(tmp_path, cfg, objective, uses):
    loaded = _loaded(tmp_path, cfg)
    inst, _, result, plan = solve_highs(loaded)
    assert result.objective == pytest.approx(objective, abs=1e-6)
    changed = plan[plan["changed"]]
    assert dict(zip(changed["parcel_id"], changed["new_use"])) == uses
    report = verify_allocation(loaded, inst, plan)
    assert report.ok, report.violations
    assert report.objective == pytest.approx(objective, abs=1e-6)


def test_report_rows(tmp_path):
    loaded = _loaded(tmp_path, {**BASE, "max_km": 1, "region_field": "district"})
    inst, _, _, plan = solve_highs(loaded)
    rows = verify_allocation(loaded, inst, plan).figures["resettlement"]
    assert rows == [
        {"key": "district: Huyện A", "mode": "region", "displaced_households": 30.0, "capacity_households": 40.0, "ok": True},
        {"key": "site:3", "mode": "transport", "displaced_households": 30.0, "capacity_households": 40.0, "ok": True},
        {"key": "within 1.0 km", "mode": "transport", "displaced_households": 30.0, "capacity_households": 40.0,
         "unplaced_households": 0.0, "ok": True},
    ]


def test_verify_catches_missing_or_distant_site(tmp_path):
    loaded = _loaded(tmp_path, {**BASE, "max_km": 1, "region_field": "district"})
    inst, _, _, plan = solve_highs(loaded)
    fam = Resettlement.from_scenario(loaded)
    assert verify_allocation(loaded, inst, plan, [fam]).ok
    # the site moves to p4, in the other district and 3 km away: both rules are broken
    moved = plan.copy()
    moved.loc[moved["parcel_id"] == 3, ["new_use", "changed"]] = ["HNK", False]
    moved.loc[moved["parcel_id"] == 4, ["new_use", "changed"]] = ["ONT", True]
    v = verify_allocation(loaded, inst, moved, [fam]).violations
    assert [(x.family, x.key, x.parcels) for x in v] == [("resettlement", "district: Huyện A", (1,)),
                                                         ("resettlement", "within 1.0 km", (1,))]
    assert "30.0000 displaced households exceed the resettlement capacity 0.0000" in v[0].message
    assert "30.0000 of 30.0000 displaced households cannot be resettled within 1.0 km" in v[1].message
    # a half-hectare site is too small: 20 households of capacity for 30
    small = plan.copy()
    small.geometry = small.geometry.where(small["parcel_id"] != 3, shapely.box(X0 + 400, Y0, X0 + 450, Y0 + 100))
    v = verify_allocation(loaded, inst, small, [fam]).violations
    assert [x.key for x in v] == ["district: Huyện A", "within 1.0 km"]
    assert "10.0000 of 30.0000 displaced households cannot be resettled" in v[1].message


def test_error_households_field_missing(tmp_path):
    loaded = _loaded(tmp_path, {**BASE, "households_field": "so_ho"})
    with pytest.raises(InputError, match=r"parcels.geojson: so_ho: field missing \(needed by resettlement \(households_field\)\).*fix: add a numeric field 'so_ho'"):
        compile_model(load_instance(loaded), loaded)


def test_error_unknown_displacing_code(tmp_path):
    loaded = _loaded(tmp_path, {**BASE, "displacing_uses": ["SKK", "SKN"]})
    with pytest.raises(InputError, match=r"test.yaml: constraints.resettlement.displacing_uses: unknown land-use code\(s\) \['SKN'\].*fix: use codes from land_uses"):
        compile_model(load_instance(loaded), loaded)


def test_error_resettlement_use_not_allocated(tmp_path):
    loaded = _loaded(tmp_path, BASE, allocate=("SKK",))
    with pytest.raises(InputError, match=r"constraints.resettlement.resettlement_use: 'ONT' is not in allocate.*fix: add 'ONT' to allocate"):
        compile_model(load_instance(loaded), loaded)


def test_error_too_many_pairs_and_bad_values(tmp_path):
    loaded = _loaded(tmp_path, {**BASE, "max_km": 5, "max_pairs": 2})
    with pytest.raises(InputError, match=r"constraints.resettlement.max_km: 3 \(source, site\) pairs within 5.0 km exceed max_pairs = 2.*fix: set nearest_k"):
        compile_model(load_instance(loaded), loaded)
    with pytest.raises(InputError, match=r"constraints.resettlement.households_per_ha: Input should be greater than 0"):
        Resettlement.from_scenario(_loaded(tmp_path, {**BASE, "households_per_ha": 0}))
    loaded = _loaded(tmp_path, {**BASE, "region_field": "xa"})
    with pytest.raises(InputError, match=r"parcels.geojson: xa: field missing"):
        compile_model(load_instance(loaded), loaded)
