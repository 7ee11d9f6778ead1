"""Bad scenarios and layers: exit code 2, one message naming the file and the field, no traceback."""

from __future__ import annotations

import shutil

import geopandas as gpd
import pytest
import shapely
import yaml

from .conftest import TINY


@pytest.fixture
def case(tmp_path):
    """A writable copy of the tiny instance; returns (dir, raw scenario dict, writer)."""
    d = tmp_path / "case"
    shutil.copytree(TINY.parent, d, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    raw = yaml.safe_load(TINY.read_text())

    def write(text: str | None = None) -> str:
        path = d / "scenario.yaml"
        path.write_text(text if text is not None else yaml.safe_dump(raw, allow_unicode=True))
        return path

    return d, raw, write


def _fails(cli, scenario, *needles):
    res = cli("solve", scenario, "--out", scenario.parent / "out")
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    for n in needles:
        assert n in res.stderr, res.stderr
    assert not (scenario.parent / "out").exists()
    return res.stderr


def test_unknown_scenario_key(cli, case):
    d, raw, write = case
    raw["quota"] = raw.pop("quotas")
    _fails(cli, write(), "scenario.yaml", "quota", "Extra inputs are not permitted", "remove it or check its spelling")


def test_code_turned_into_number_by_yaml(cli, case):
    d, raw, write = case
    text = (d / "tiny.yaml").read_text().replace('allocate: ["SKK", "TMD"]', "allocate: [01234, \"TMD\"]")
    _fails(cli, write(text), "scenario.yaml", "allocate.0", "668", "quote")


def test_numeric_key_from_yaml(cli, case):
    d, raw, write = case
    text = (d / "tiny.yaml").read_text().replace('"SKK": {lo: 3', "01234: {lo: 3")
    _fails(cli, write(text), "scenario.yaml", "quotas.668", "quote codes")


def test_quota_lo_above_hi(cli, case):
    d, raw, write = case
    raw["quotas"]["SKK"] = {"lo": 5, "hi": 3}
    _fails(cli, write(), "scenario.yaml", "quotas.SKK", "lo (5.0) is greater than hi (3.0)")


def test_invalid_yaml(cli, case):
    d, raw, write = case
    _fails(cli, write("name: [unclosed\n"), "scenario.yaml", "invalid YAML", "line")


def test_missing_scenario_file(cli, tmp_path):
    res = cli("solve", tmp_path / "nope.yaml")
    assert res.exit_code == 2 and "nope.yaml" in res.stderr and "not found" in res.stderr


def test_missing_parcel_layer(cli, case):
    d, raw, write = case
    raw["parcels"]["path"] = "missing.gpkg"
    _fails(cli, write(), "missing.gpkg", "parcel layer not found")


def test_unknown_land_use_code_in_data(cli, case):
    d, raw, write = case
    del raw["land_uses"]["RSX"]
    _fails(cli, write(), "parcels.geojson", "current_use", "unknown land-use code(s) ['RSX']")


def test_layer_without_crs(cli, case):
    d, raw, write = case
    gdf = gpd.read_file(d / "parcels.geojson").set_crs(None, allow_override=True)
    gdf.to_file(d / "nocrs.gpkg", layer="parcels", engine="pyogrio")
    raw["parcels"]["path"] = "nocrs.gpkg"
    _fails(cli, write(), "nocrs.gpkg", "no CRS")


def test_duplicate_ids(cli, case):
    d, raw, write = case
    gdf = gpd.read_file(d / "parcels.geojson")
    gdf.loc[gdf["parcel_id"] == 2, "parcel_id"] = 1
    gdf.to_file(d / "dup.gpkg", layer="parcels", engine="pyogrio")
    raw["parcels"]["path"] = "dup.gpkg"
    _fails(cli, write(), "dup.gpkg", "parcel_id", "duplicate parcel ids: [1]")


def test_invalid_geometry_reports_ids(cli, case):
    d, raw, write = case
    gdf = gpd.read_file(d / "parcels.geojson")
    i = gdf.index[gdf["parcel_id"] == 4][0]
    x0, y0, x1, y1 = gdf.geometry[i].bounds
    gdf.loc[i, "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])  # bow-tie
    gdf.to_file(d / "bad.gpkg", layer="parcels", engine="pyogrio")
    raw["parcels"]["path"] = "bad.gpkg"
    _fails(cli, write(), "bad.gpkg", "geometry", "invalid geometries", "[4]")


def test_missing_objective_field_names_its_user(cli, case):
    d, raw, write = case
    raw["objective"]["terms"]["suitability"]["per_use"]["SKK"] = "suit_missing"
    _fails(cli, write(), "parcels.geojson", "suit_missing", "objective.terms.suitability")


def test_non_numeric_field(cli, case):
    d, raw, write = case
    gdf = gpd.read_file(d / "parcels.geojson")
    gdf["suit_industry"] = gdf["suit_industry"].astype(object)
    gdf.loc[gdf["parcel_id"] == 5, "suit_industry"] = "cao"
    gdf.to_file(d / "txt.gpkg", layer="parcels", engine="pyogrio")
    raw["parcels"]["path"] = "txt.gpkg"
    _fails(cli, write(), "txt.gpkg", "suit_industry", "non-numeric", "5")


def test_unknown_constraint_family(cli, case):
    d, raw, write = case
    raw["constraints"]["contiguity_magic"] = {}
    _fails(cli, write(), "constraints.contiguity_magic", "unknown constraint family")


def test_bad_family_config(cli, case):
    d, raw, write = case
    raw["constraints"]["allowed_uses"]["rules"]["strict"] = {"allowed": [], "forbidden": ["SKK"]}
    _fails(cli, write(), "constraints.allowed_uses.rules.strict", "exactly one of allowed or forbidden")


def test_url_refused(cli, case):
    d, raw, write = case
    raw["parcels"]["path"] = "https://example.org/parcels.gpkg"
    _fails(cli, write(), "parcels.path", "URL")


def test_unavailable_solver_name(cli, case):
    res = cli("solve", TINY, "--solver", "gurobi")
    assert res.exit_code == 2 and "gurobi" in res.output


def test_failed_solve_keeps_previous_outputs(cli, case, tmp_path):
    d, raw, write = case
    out = tmp_path / "run"
    assert cli("solve", TINY, "--out", out).exit_code == 0
    before = (out / "run.json").read_bytes()
    raw["parcels"]["path"] = "missing.gpkg"
    res = cli("solve", write(), "--out", out)
    assert res.exit_code == 2
    assert (out / "run.json").read_bytes() == before
