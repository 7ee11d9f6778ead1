"""proximity: screened pairs and reasons on a strip, verify by recomputed distances, error messages."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from constraints.proximity import Proximity
from optimizer.engine.compile import compile_model
from optimizer.engine.errors import InputError
from optimizer.engine.instance import load_instance
from optimizer.engine.run import solve_scenario
from optimizer.engine.verify import verify_allocation

from .grid_instance import X0, Y0, grid_scenario, write_grid

GATE = (X0 + 50.0, Y0 + 50.0)  # centre of cell 1
# nearest-point distances from GATE to cells 1..5 of the 1×5 strip: 0, 50, 150, 250, 350 m
# (centroid distances would be 0, 100, 200, 300, 400 m: cell 3 would fail within 0.18 km)


def _places(tmp_path):
    gdf = gpd.GeoDataFrame({"place_id": ["ban_gioc", "ta_lung"], "name": ["Thác Bản Giốc", "Cửa khẩu Tà Lùng"]},
                           geometry=[shapely.Point(GATE), shapely.Point(X0 + 50_000, Y0)], crs="EPSG:9210")
    gdf.to_file(tmp_path / "places.gpkg", layer="places", driver="GPKG")


def _loaded(tmp_path, rules=None, current=("HNK",) * 5, quotas=None):
    write_grid(tmp_path, 1, 5, list(current), suit_tourism=[1, 2, 3, 9, 9], suit_industry=[9, 9, 3, 1, 1])
    _places(tmp_path)
    if rules is None:
        rules = [{"use": "TMD", "layer": "places.gpkg", "layer_name": "places", "field": "place_id", "values": ["ban_gioc"],
                  "name_field": "name", "within_km": 0.18},
                 {"uses": ["SKK"], "points": [list(GATE)], "label": "Bản Giốc", "beyond_km": 0.1}]
    return grid_scenario(tmp_path, allocate=["SKK", "TMD"], constraints={"proximity": {"rules": rules}},
                         quotas=quotas or {"TMD": {"lo": 1, "hi": 1}, "SKK": {"lo": 1, "hi": 1}},
                         objective={"sense": "maximize", "terms": {"s": {"per_use": {"SKK": "suit_industry", "TMD": "suit_tourism"}}}})


def _screened(m, inst):
    t = m.ineligible[m.ineligible["family"] == "proximity"]
    return sorted(zip(inst.ids[t["parcel"]].tolist(), t["use"], t["reason"]))


def test_compile_screens_by_nearest_point_distance(tmp_path):
    loaded = _loaded(tmp_path)
    inst = load_instance(loaded)
    m = compile_model(inst, loaded).model
    assert "proximity" not in set(m.rows["family"])
    assert _screened(m, inst) == [
        (1, "SKK", "proximity: < 0.1 km from Bản Giốc"),
        (2, "SKK", "proximity: < 0.1 km from Bản Giốc"),
        (4, "TMD", "proximity: > 0.18 km from Thác Bản Giốc"),
        (5, "TMD", "proximity: > 0.18 km from Thác Bản Giốc"),
    ]
    keys = set(zip(inst.ids[m.columns["parcel"]], m.columns["use"]))
    assert {(3, "TMD"), (3, "SKK")} <= keys and not {(4, "TMD"), (1, "SKK")} & keys


def test_compile_keep_is_not_screened_and_beyond_names_nearest(tmp_path):
    """Parcel 5 already TMD keeps it with no reason; `beyond` names the nearest of several targets; a
    parcel exactly at the distance qualifies (cell 3 is 150 m from the gate: beyond 0.15 km admits it)."""
    rules = [{"use": "TMD", "layer": "places.gpkg", "field": "place_id", "values": ["ban_gioc"], "within_km": 0.18},
             {"use": "SKK", "layer": "places.gpkg", "field": "place_id", "name_field": "name", "beyond_km": 0.15}]
    loaded = _loaded(tmp_path, rules, current=("HNK", "HNK", "HNK", "HNK", "TMD"))
    inst = load_instance(loaded)
    m = compile_model(inst, loaded).model
    assert _screened(m, inst) == [
        (1, "SKK", "proximity: < 0.15 km from Thác Bản Giốc"),
        (2, "SKK", "proximity: < 0.15 km from Thác Bản Giốc"),
        (4, "TMD", "proximity: > 0.18 km from ban_gioc"),
    ]


def test_solve_takes_best_admitted_parcels(tmp_path):
    """Tourism suitability 1, 2, 3, 9, 9 but only cells 1–3 are within 0.18 km; industry 9, 9, 3, 1, 1 but
    cells 1–2 are closer than 0.1 km. One hectare each: TMD 3 + SKK 4 = 4, TMD 2 + SKK 3 = 5 (best),
    TMD 1 + SKK 3 = 4. Unconstrained it would be TMD 4 + SKK 1 = 18."""
    loaded = _loaded(tmp_path)
    out = solve_scenario(loaded, tmp_path / "run")
    assert out.run["status"] == "optimal" and out.run["objective"] == pytest.approx(5.0)
    assert out.run["verify"]["ok"]
    assert any(i["role"] == "proximity" and i["path"].endswith("places.gpkg") for i in out.run["inputs"])
    plan = out.allocation.set_index("parcel_id")
    assert plan["new_use"].to_dict() == {1: "HNK", 2: "TMD", 3: "SKK", 4: "HNK", 5: "HNK"}
    assert plan.loc[4, "reason"] == "proximity: > 0.18 km from Thác Bản Giốc (TMD)"


def test_verify_catches_conversions_outside_the_band(tmp_path):
    loaded = _loaded(tmp_path)
    inst = load_instance(loaded)
    plan = solve_scenario(loaded, None).allocation
    fam = Proximity.from_scenario(loaded)  # a fresh object: verify must not rely on prepare()
    assert verify_allocation(loaded, inst, plan, [fam]).ok
    plan.loc[plan["parcel_id"] == 5, ["new_use", "changed"]] = ["TMD", True]
    plan.loc[plan["parcel_id"] == 2, ["new_use", "changed"]] = ["SKK", True]
    v = verify_allocation(loaded, inst, plan, [fam]).violations
    assert [(x.family, x.key, x.parcels) for x in v] == [
        ("proximity", "rules.0: within 0.18 km of Thác Bản Giốc", (5,)),
        ("proximity", "rules.1: beyond 0.1 km of Bản Giốc", (2,)),
    ]
    assert "up to 0.350 km" in v[0].message and "down to 0.050 km" in v[1].message


def test_error_field_missing_names_file_field_and_fix(tmp_path):
    rules = [{"use": "TMD", "layer": "places.gpkg", "field": "plc", "values": ["ban_gioc"], "within_km": 1}]
    loaded = _loaded(tmp_path, rules)
    with pytest.raises(InputError) as e:
        compile_model(load_instance(loaded), loaded)
    assert e.value.file == str(tmp_path / "places.gpkg") and e.value.field == "plc"
    assert "field missing" in e.value.message and "constraints.proximity.rules.0.field" in e.value.fix


def test_error_value_absent_and_layer_missing(tmp_path):
    loaded = _loaded(tmp_path, [{"use": "TMD", "layer": "places.gpkg", "field": "place_id", "values": ["ban_gioc", "pac_bo"],
                                 "within_km": 1}])
    with pytest.raises(InputError, match=r"places.gpkg: place_id: \['pac_bo'\] never occur.*fix: use values that occur"):
        compile_model(load_instance(loaded), loaded)
    loaded = _loaded(tmp_path / "b", [{"use": "TMD", "layer": "nope.gpkg", "within_km": 1}])
    with pytest.raises(InputError, match=r"nope.gpkg: target layer not found.*constraints.proximity.rules.0.layer"):
        compile_model(load_instance(loaded), loaded)


def test_error_config_shape(tmp_path):
    with pytest.raises(InputError, match=r"constraints.proximity.rules.0.*give within_km, beyond_km or both"):
        Proximity.from_scenario(_loaded(tmp_path, [{"use": "TMD", "points": [[0, 0]]}]))
    with pytest.raises(InputError, match=r"constraints.proximity.rules.0.*exactly one of layer"):
        Proximity.from_scenario(_loaded(tmp_path / "b", [{"use": "TMD", "within_km": 2}]))
