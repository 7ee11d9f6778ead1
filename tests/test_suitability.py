"""Suitability built from criteria (optimizer/engine/suitability.py): hand-computed overlays on a 3×3 grid,
criterion layers in another CRS, DEM slope and elevation, pairwise (AHP) weights, and bad input (exit 2).

The grid (tests/grid_instance.py): 100 m cells, parcel id = 3·row + col + 1 from the bottom-left, centroid
of parcel (r, c) at (X0 + 50 + 100c, Y0 + 50 + 100r) in EPSG:9210.
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
import yaml
from rasterio.transform import from_origin

from optimizer.engine.compile import compile_model
from optimizer.engine.errors import InputError
from optimizer.engine.instance import load_instance
from optimizer.engine.raster import horn_slope
from optimizer.engine.scenario import parse_scenario
from optimizer.engine.suitability_schema import pairwise_weights

from .grid_instance import X0, Y0, grid_scenario, write_grid

FERT = [0, 1, 2, 3, 4, 5, 6, 7, 8]  # id − 1


def write_scenario(path, raw: dict):
    """The scenario as YAML with its keys in their order (criteria are listed, and reported, as written)."""
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _point_layer(path, crs="EPSG:9210", xy=(X0 + 50, Y0 + 50)):
    """One point, at parcel 1's centroid, written in ``crs`` (GeoPackage: coordinates kept as doubles)."""
    pt = gpd.GeoSeries([shapely.Point(*xy)], crs="EPSG:9210").to_crs(crs)
    gpd.GeoDataFrame({"name": ["gate"]}, geometry=pt).to_file(path, driver="GPKG")


def _loaded(tmp_path, suitability: dict, objective: dict | None = None, **extra):
    write_grid(tmp_path, 3, 3, ["LUA"] * 8 + ["BCS"], fert=FERT)
    base = grid_scenario(tmp_path, allocate=["SKK"], objective=objective or
                         {"sense": "maximize", "terms": {"suit": {"per_use": {"SKK": "suit_SKK"}}}})
    raw = {**base.raw, "suitability": suitability, **extra}
    return parse_scenario(raw, str(tmp_path / "grid.yaml"), tmp_path, path=tmp_path / "grid.yaml")


GATE_AND_FERT = {"SKK": {"round": 4, "criteria": {
    "gate": {"distance": {"layer": "gate.gpkg", "unit": "m"}, "near": 200, "weight": 3},
    "fert": {"field": "fert", "linear": [0, 8], "weight": 1}}}}


def test_hand_computed_overlay_on_a_3x3_grid(tmp_path):
    """One distance criterion and one field criterion, weights 3 : 1 → 0.75 : 0.25:

        c_gate = near(d, 200 m) = max(0, 1 − d/200), d = 100·√(r² + c²) from parcel 1's centroid
        c_fert = linear(fert, 0 → 8) = (id − 1)/8
        score  = 100 × (0.75·c_gate + 0.25·c_fert)

    id 1: d 0 → 75 + 0 = 75;  id 2, id 4: d 100 → 37.5 + 3.125 = 40.625 and 37.5 + 9.375 = 46.875;
    id 3: d 200 → 0 + 6.25;  id 5: d 141.42 → 75·(1 − √2/2) + 12.5 = 34.4670;
    ids 6–9: d ≥ 200 → 25·(id − 1)/8 = 15.625, 18.75, 21.875, 25.
    """
    _point_layer(tmp_path / "gate.gpkg")
    loaded = _loaded(tmp_path, GATE_AND_FERT)
    inst = load_instance(loaded)
    expected = [75, 40.625, 6.25, 46.875, 75 * (1 - math.sqrt(2) / 2) + 12.5, 15.625, 18.75, 21.875, 25]
    assert inst.attrs["suit_SKK"].tolist() == pytest.approx(np.round(expected, 4).tolist(), abs=1e-9)
    # the objective reads it as any field: coefficient of x[p, SKK] = suitability × 1 ha
    m = compile_model(inst, loaded).model
    conv = m.columns[m.columns["use"] == "SKK"]
    assert (m.c[conv.index] == pytest.approx(inst.attrs["suit_SKK"].to_numpy()[conv["parcel"]] * inst.area_ha[conv["parcel"]]))
    block = inst.suitability["uses"][0]
    assert block["field"] == "suit_SKK" and block["weights_from"] == "given"
    assert [c["weight"] for c in block["criteria"]] == [0.75, 0.25]
    assert block["criteria"][0]["raw"] == {"min": 0.0, "median": 200.0, "max": round(200 * math.sqrt(2), 4)}
    assert block["criteria"][1]["normalised"] == {"min": 0.0, "median": 0.5, "max": 1.0}
    assert block["result"] == {"min": 6.25, "median": 25.0, "max": 75.0}
    assert block["formula"] == "100 × (0.75·gate + 0.25·fert)"


def test_multipliers_and_current_use_classes(tmp_path):
    """A current-use class table as a constraint (BCS 0, others 1) times a distance from the parcel's boundary:
    score = 100 × [use ≠ BCS] × exp(−d/100 m), d from the point at parcel 1's centroid to the parcel:
    id 1 contains it (d 0 → 100); ids 2 and 4 are 50 m away (→ 100·e^−0.5 = 60.65), id 5 50√2 m (its
    corner, → 49.31); id 9 (BCS) scores 0 whatever its distance."""
    _point_layer(tmp_path / "gate.gpkg")
    loaded = _loaded(tmp_path, {"SKK": {"multipliers": {
        "use": {"current_use": True, "classes": {"BCS": 0}, "default": 1},
        "gate": {"distance": {"layer": "gate.gpkg", "unit": "m", "origin": "boundary"}, "decay": 100}}}})
    s = load_instance(loaded).attrs["suit_SKK"].to_numpy()
    assert s[0] == 100 and s[1] == s[3] == round(100 * math.exp(-0.5), 2)
    assert s[4] == round(100 * math.exp(-50 * math.sqrt(2) / 100), 2) and s[8] == 0


def test_criterion_layer_in_another_crs_is_reprojected(tmp_path, cli):
    """The same point written in WGS 84 and in UTM 48N gives the same scores as in the parcels' EPSG:9210;
    the solve records the layer among the inputs and the block in run.json."""
    scores, raw = {}, {}
    for crs in ("EPSG:9210", "EPSG:4326", "EPSG:32648"):
        _point_layer(tmp_path / "gate.gpkg", crs)
        inst = load_instance(_loaded(tmp_path, GATE_AND_FERT))
        scores[crs], raw[crs] = inst.attrs["suit_SKK"].to_numpy(), inst.suitability["uses"][0]["criteria"][0]["raw"]
    # VN-2000 → WGS 84 → VN-2000 through PROJ's datum shift moves the point by 0.9 mm (checked), so
    # distances agree to 2 mm and scores (near(d, 200 m) × 75) to 0.001
    for crs in ("EPSG:4326", "EPSG:32648"):
        assert scores[crs] == pytest.approx(scores["EPSG:9210"], abs=1e-3)
        assert raw[crs] == pytest.approx(raw["EPSG:9210"], abs=2e-3)
    _point_layer(tmp_path / "gate.gpkg", "EPSG:4326")
    scenario = write_scenario(tmp_path / "grid.yaml", _loaded(tmp_path, GATE_AND_FERT).raw)
    res = cli("solve", scenario, "--out", tmp_path / "run", "--store", "none", "--no-marginals")
    assert res.exit_code == 0, res.output
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["suitability"]["uses"][0]["result"]["max"] == pytest.approx(75.0, abs=1e-3)
    assert any(i["role"] == "suitability" and i["path"].endswith("gate.gpkg") for i in run["inputs"])
    assert cli("verify", tmp_path / "run").exit_code == 0
    # the council report's table: the criteria with their weights and ranges, the result as computed
    from reports.data import load_run
    from reports.document import build_document

    doc = build_document(load_run(tmp_path / "run"), "en")
    table = next(b for sec in doc.sections for b in sec.blocks if getattr(b, "key", None) == "suitability_SKK")
    assert [r[3] for r in table.rows] == ["0.75", "0.25", ""]
    assert table.rows[0][4] == "0.00 / 200.00 / 282.84" and table.rows[1][2] == "0 at 0, 1 at 8, linear between"
    assert table.rows[-1][1] == "100 × (0.75·border gate + 0.25·fert)" and table.rows[-1][5] == "6.25 / 25.00 / 75.00"
    assert table.note is None  # the objective reads suit_SKK


def _dem(path, crs="EPSG:9210", origin=(X0 - 100, Y0 + 400), size=(30, 30), cell=20.0, nodata=None):
    """z = 0.1·(x − X0) on 20 m cells: a plane rising 10 % to the east."""
    x = origin[0] + cell * (np.arange(size[1]) + 0.5)
    z = np.tile(0.1 * (x - X0), (size[0], 1)).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", height=size[0], width=size[1], count=1, dtype="float32", crs=crs,
                       transform=from_origin(origin[0], origin[1], cell, cell), nodata=nodata) as dst:
        dst.write(z, 1)


def test_slope_and_elevation_from_a_dem(tmp_path):
    """On the plane z = 0.1·(x − X0): slope 10 % everywhere (Horn's method is exact on planes, also at the
    raster's edge); mean elevation over parcel (r, c) = 0.1 × its centroid's x offset = 5 + 10c (cells of
    20 m, centres symmetric about the centroid); at the centroid the same (the cell 40–60 m has centre 50)."""
    _dem(tmp_path / "dem.tif")
    loaded = _loaded(tmp_path, {"SKK": {"round": 6, "criteria": {
        "slope": {"raster": {"path": "dem.tif", "value": "slope_pct"}, "linear": [0, 100], "weight": 1},
        "elev": {"raster": {"path": "dem.tif", "at": "centroid"}, "linear": [0, 100], "weight": 1}}}})
    inst = load_instance(loaded)
    crit = {c["name"]: c for c in inst.suitability["uses"][0]["criteria"]}
    assert crit["slope"]["raw"] == {"min": 10.0, "median": 10.0, "max": 10.0}
    assert crit["elev"]["raw"] == {"min": 5.0, "median": 15.0, "max": 25.0}
    col = np.arange(9) % 3
    assert inst.attrs["suit_SKK"].to_numpy() == pytest.approx(100 * (0.5 * 0.1 + 0.5 * (5 + 10 * col) / 100), abs=1e-6)
    assert horn_slope(np.array([[0.0, 1.0], [0.0, 1.0]]), 1.0, 1.0) == pytest.approx(np.ones((2, 2)))


def test_a_raster_not_covering_the_parcels_is_named(tmp_path):
    _dem(tmp_path / "dem.tif", size=(30, 10))  # 200 m wide: parcels of column 1 and 2 lie east of it
    loaded = _loaded(tmp_path, {"SKK": {"multipliers": {"slope": {"raster": {"path": "dem.tif", "value": "slope_pct"},
                                                                  "flat": 25}}}})
    with pytest.raises(InputError) as e:
        load_instance(loaded)
    msg = str(e.value)
    assert "dem.tif" in msg and "suitability.SKK.multipliers.slope.raster" in msg
    assert "does not cover 6 of 9 parcels" in msg and "covering every parcel" in msg


def test_a_missing_raster_exits_2_naming_the_key(tmp_path, cli):
    loaded = _loaded(tmp_path, {"SKK": {"multipliers": {"slope": {"raster": {"path": "no_dem.tif", "value": "slope_pct"},
                                                                  "flat": 25}}}})
    scenario = write_scenario(tmp_path / "grid.yaml", loaded.raw)
    res = cli("solve", scenario, "--out", tmp_path / "run", "--store", "none")
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "no_dem.tif: raster not found" in res.stderr
    assert "suitability.SKK.multipliers.slope.raster.path" in res.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("suitability, needles", [
    ({"SKK": {"criteria": {"g": {"distance": {"layer": "none.gpkg"}, "near": 5, "weight": 1}}}},
     ["none.gpkg", "suitability layer not found", "suitability.SKK.criteria.g.distance.layer"]),
    ({"SKK": {"criteria": {"g": {"field": "fertility", "near": 5, "weight": 1}}}},
     ["parcels.gpkg", "fertility", "needed by suitability.SKK.criteria.g.field"]),
    ({"SKK": {"criteria": {"g": {"distance": {"layer": "gate.gpkg", "where": {"kind": ["gate"]}}, "near": 5,
                                 "weight": 1}}}},
     ["gate.gpkg", "kind", "needed by suitability.SKK.criteria.g.distance.where"]),
    ({"SKK": {"multipliers": {"u": {"current_use": True, "classes": {"BCS": 0}}}}},
     ["suitability.SKK.multipliers.u.classes", "no score for 'LUA' (8 parcels)", "give default:"]),
    ({"SKK": {"field": "fert", "multipliers": {"u": {"current_use": True, "classes": {"BCS": 0}, "default": 1}}}},
     ["suitability.SKK.field", "'fert' is already a field"]),
    ({"SKK": {"criteria": {"g": {"field": "fert", "near": 5}}}}, ["give each a weight"]),
    ({"SKK": {"criteria": {"g": {"field": "fert", "weight": 1}}}}, ["exactly one normalisation"]),
    ({"XXX": {"criteria": {"g": {"field": "fert", "near": 5, "weight": 1}}}}, ["suitability: use 'XXX' is not in land_uses"]),
])
def test_bad_sections_exit_2(tmp_path, cli, suitability, needles):
    _point_layer(tmp_path / "gate.gpkg")
    scenario = write_scenario(tmp_path / "grid.yaml", _raw(tmp_path, suitability))
    res = cli("solve", scenario, "--out", tmp_path / "run", "--store", "none")
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    for n in needles:
        assert n in res.stderr, res.stderr


def test_periods_share_one_suitability(tmp_path):
    """Scores are parcel fields built once per run: a period cannot override them (exit 2, with the key)."""
    _point_layer(tmp_path / "gate.gpkg")
    loaded = _loaded(tmp_path, GATE_AND_FERT, periods={"2030": {}, "2050": {"overrides": {"suitability": {}}}})
    with pytest.raises(InputError, match=r"periods\.2050\.overrides\.suitability: suitability is built once"):
        load_instance(loaded)


def _raw(tmp_path, suitability: dict) -> dict:
    """The grid scenario as a mapping (validated only when read back, so bad sections reach the CLI)."""
    write_grid(tmp_path, 3, 3, ["LUA"] * 8 + ["BCS"], fert=FERT)
    raw = dict(grid_scenario(tmp_path, allocate=["SKK"]).raw)
    raw["suitability"] = suitability
    return raw


# --- pairwise comparisons (AHP) -------------------------------------------------------------------------

def test_ahp_weights_on_the_textbook_matrix():
    """Saaty's 3×3 example [[1, 3, 5], [1/3, 1, 3], [1/5, 1/3, 1]]: principal eigenvector weights 0.637, 0.258,
    0.105, λmax 3.039, CI 0.019, CR = 0.019 / 0.58 = 0.033 (e.g. Saaty 1980; Malczewski 1999, GIS and MCDA,
    table 6.5). A consistent matrix a_ij = w_i / w_j gives back w exactly, with CR 0."""
    got = pairwise_weights([[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]])
    assert [round(w, 3) for w in got["weights"]] == [0.637, 0.258, 0.105]
    assert round(got["lambda_max"], 3) == 3.039 and round(got["consistency_ratio"], 3) == 0.033
    w = np.array([0.5, 0.3, 0.2])
    exact = pairwise_weights((w[:, None] / w[None, :]).tolist())
    assert exact["weights"] == pytest.approx(w.tolist()) and exact["consistency_ratio"] == pytest.approx(0, abs=1e-9)


def test_pairwise_weights_in_a_scenario(tmp_path):
    """Judgements by name, each pair once, fractions as text; the YAML order of the keys does not matter;
    weights and CR recorded; an inconsistent set (a 9× b, b 9× c, c 9× a: CR ≫ 0.1), a missing pair and a
    pair given twice are refused."""
    _point_layer(tmp_path / "gate.gpkg")
    crit = {"gate": {"distance": {"layer": "gate.gpkg", "unit": "m"}, "near": 200},
            "fert": {"field": "fert", "linear": [0, 8]}}
    for judged in ({"gate": {"fert": 3}}, {"fert": {"gate": "1/3"}}):
        inst = load_instance(_loaded(tmp_path, {"SKK": {"round": 4, "criteria": crit, "pairwise": judged}}))
        block = inst.suitability["uses"][0]
        assert block["weights_from"] == "pairwise" and [c["weight"] for c in block["criteria"]] == [0.75, 0.25]
        assert block["pairwise"]["order"] == ["gate", "fert"] and block["pairwise"]["consistency_ratio"] == 0
        assert inst.attrs["suit_SKK"].iloc[0] == 75.0  # the same overlay as weights 3 : 1
    crit["steep"] = {"field": "fert", "flat": 8}
    with pytest.raises(InputError, match=r"consistency ratio \d+\.\d+ > 0\.1"):
        _loaded(tmp_path, {"SKK": {"criteria": crit, "pairwise": {"gate": {"fert": 9}, "fert": {"steep": 9},
                                                                  "steep": {"gate": 9}}}})
    with pytest.raises(InputError, match="no judgement for fert/steep"):
        _loaded(tmp_path, {"SKK": {"criteria": crit, "pairwise": {"gate": {"fert": 3, "steep": 5}}}})
    with pytest.raises(InputError, match="give each pair of different criteria once"):
        _loaded(tmp_path, {"SKK": {"criteria": crit, "pairwise": {"gate": {"fert": 3, "steep": 5},
                                                                  "fert": {"steep": 2, "gate": "1/3"}}}})
