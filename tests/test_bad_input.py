"""Bad scenarios and layers: exit code 2, one message naming the file and the field, no traceback, and an
earlier run in ``--out`` left byte for byte as it was. Fixtures of the classes of issue 17 are in
``tests/data/bad_input/`` (see its README)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import yaml

from .conftest import ROOT, TINY

BAD = ROOT / "tests" / "data" / "bad_input"


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory):
    """An optimal run of the tiny case, copied into ``--out`` before each bad input is tried there."""
    from click.testing import CliRunner

    from optimizer.cli import main

    out = tmp_path_factory.mktemp("earlier") / "run"
    res = CliRunner().invoke(main, ["solve", str(TINY), "--out", str(out), "--no-marginals", "--store", "none"])
    assert res.exit_code == 0, res.output
    return out


def _snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


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


@pytest.fixture
def fails(cli, earlier_run, tmp_path):
    """``fails(scenario, *needles, args=())``: ``solve`` exits 2 before solving, without a traceback, its
    message holding every needle (the file, the field, the fix), the earlier run in --out unchanged byte
    for byte and nothing written beside it."""

    def check(scenario, *needles, args=()):
        out = tmp_path / "out"
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(earlier_run, out)
        before = _snapshot(out)
        res = cli("solve", scenario, "--out", out, "--store", "none", "--no-marginals", *args)
        assert res.exit_code == 2, res.output
        assert "Traceback" not in res.output
        for n in needles:
            assert n in res.stderr, res.stderr
        assert "solving" not in res.stderr, "a bad input must be refused before the solve"
        assert _snapshot(out) == before
        assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith("out")) == ["out"]
        return res.stderr

    return check


def test_unknown_scenario_key(cli, fails, case):
    d, raw, write = case
    raw["quota"] = raw.pop("quotas")
    fails(write(), "scenario.yaml", "quota", "Extra inputs are not permitted", "remove it or check its spelling")


def test_code_turned_into_number_by_yaml(cli, fails, case):
    d, raw, write = case
    text = (d / "tiny.yaml").read_text().replace('allocate: ["SKK", "TMD"]', "allocate: [01234, \"TMD\"]")
    fails(write(text), "scenario.yaml", "allocate.0", "668", "quote")


def test_numeric_key_from_yaml(cli, fails, case):
    d, raw, write = case
    text = (d / "tiny.yaml").read_text().replace('"SKK": {lo: 3', "01234: {lo: 3")
    fails(write(text), "scenario.yaml", "quotas.668", "quote codes")


def test_quota_lo_above_hi(cli, fails, case):
    d, raw, write = case
    raw["quotas"]["SKK"] = {"lo": 5, "hi": 3}
    fails(write(), "scenario.yaml", "quotas.SKK", "lo (5.0) is greater than hi (3.0)")


def test_invalid_yaml(cli, fails, case):
    d, raw, write = case
    fails(write("name: [unclosed\n"), "scenario.yaml", "invalid YAML", "line")


def test_missing_scenario_file(cli, tmp_path):
    res = cli("solve", tmp_path / "nope.yaml")
    assert res.exit_code == 2 and "nope.yaml" in res.stderr and "not found" in res.stderr


def test_missing_parcel_layer(cli, fails, case):
    d, raw, write = case
    raw["parcels"]["path"] = "missing.gpkg"
    fails(write(), "missing.gpkg", "parcel layer not found")


def test_unknown_land_use_code_in_data(cli, fails, case):
    d, raw, write = case
    del raw["land_uses"]["RSX"]
    fails(write(), "parcels.geojson", "current_use", "unknown land-use code(s) ['RSX']")


def test_layer_without_crs(cli, fails, case):
    d, raw, write = case
    gdf = gpd.read_file(d / "parcels.geojson").set_crs(None, allow_override=True)
    gdf.to_file(d / "nocrs.gpkg", layer="parcels", engine="pyogrio")
    raw["parcels"]["path"] = "nocrs.gpkg"
    fails(write(), "nocrs.gpkg", "no CRS")


def test_duplicate_ids(cli, fails, case):
    d, raw, write = case
    gdf = gpd.read_file(d / "parcels.geojson")
    gdf.loc[gdf["parcel_id"] == 2, "parcel_id"] = 1
    gdf.to_file(d / "dup.gpkg", layer="parcels", engine="pyogrio")
    raw["parcels"]["path"] = "dup.gpkg"
    fails(write(), "dup.gpkg", "parcel_id", "duplicate parcel ids: [1]")


def test_invalid_geometry_reports_ids(cli, fails, case):
    d, raw, write = case
    gdf = gpd.read_file(d / "parcels.geojson")
    i = gdf.index[gdf["parcel_id"] == 4][0]
    x0, y0, x1, y1 = gdf.geometry[i].bounds
    gdf.loc[i, "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])  # bow-tie
    gdf.to_file(d / "bad.gpkg", layer="parcels", engine="pyogrio")
    raw["parcels"]["path"] = "bad.gpkg"
    fails(write(), "bad.gpkg", "geometry", "invalid geometries", "[4]")


def test_missing_objective_field_names_its_user(cli, fails, case):
    d, raw, write = case
    raw["objective"]["terms"]["suitability"]["per_use"]["SKK"] = "suit_missing"
    fails(write(), "parcels.geojson", "suit_missing", "objective.terms.suitability")


def test_non_numeric_field(cli, fails, case):
    d, raw, write = case
    gdf = gpd.read_file(d / "parcels.geojson")
    gdf["suit_industry"] = gdf["suit_industry"].astype(object)
    gdf.loc[gdf["parcel_id"] == 5, "suit_industry"] = "cao"
    gdf.to_file(d / "txt.gpkg", layer="parcels", engine="pyogrio")
    raw["parcels"]["path"] = "txt.gpkg"
    fails(write(), "txt.gpkg", "suit_industry", "non-numeric", "5")


def test_unknown_constraint_family(cli, fails, case):
    d, raw, write = case
    raw["constraints"]["contiguity_magic"] = {}
    fails(write(), "constraints.contiguity_magic", "unknown constraint family")


def test_bad_family_config(cli, fails, case):
    d, raw, write = case
    raw["constraints"]["allowed_uses"]["rules"]["strict"] = {"allowed": [], "forbidden": ["SKK"]}
    fails(write(), "constraints.allowed_uses.rules.strict", "exactly one of allowed or forbidden")


def test_url_refused(cli, fails, case):
    d, raw, write = case
    raw["parcels"]["path"] = "https://example.org/parcels.gpkg"
    fails(write(), "parcels.path", "URL")


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


# ---------------------------------------------------------------- every layer through the front door

@pytest.mark.parametrize("fixture, needles", [
    ("zones_points.yaml", ("zones_points.geojson", "geometry", "must hold polygons", "Point", "feature rows [1, 2]")),
    ("zones_wrong_crs.yaml", ("zones_wrong_crs.geojson", "CRS", "does not overlap the parcels", "km away",
                              "CRS label (EPSG:32648) is wrong")),
    ("zones_bowtie.yaml", ("zones_bowtie.geojson", "geometry", "1 invalid geometries, feature rows [1]", "--repair")),
])
def test_zone_layer_of_the_wrong_kind_refused(fails, fixture, needles):
    """Each of these once solved with exit 0 and put industry into the strict zone (objective 33, not 29)."""
    fails(BAD / fixture, *needles)


def test_zone_lines_and_a_geographic_label_on_metres_refused(fails, case):
    d, raw, write = case
    zones = gpd.read_file(d / "zones.geojson")
    zones.set_geometry(zones.boundary).to_file(d / "zones_lines.gpkg")
    raw["constraints"]["allowed_uses"]["layer"] = "zones_lines.gpkg"
    fails(write(), "zones_lines.gpkg", "geometry", "must hold polygons", "LineString")
    zones.set_crs("EPSG:4326", allow_override=True).to_file(d / "zones_4326.gpkg")
    raw["constraints"]["allowed_uses"]["layer"] = "zones_4326.gpkg"
    fails(write(), "zones_4326.gpkg", "CRS", "not longitudes and latitudes", "EPSG:4326")


def test_parcel_layer_with_a_wrong_crs_label_refused(fails, case):
    d, raw, write = case
    gpd.read_file(d / "parcels.geojson").set_crs("EPSG:4326", allow_override=True).to_file(d / "p4326.gpkg")
    raw["parcels"]["path"] = "p4326.gpkg"
    fails(write(), "p4326.gpkg", "CRS", "not longitudes and latitudes")


def test_target_layer_far_from_the_parcels_refused(fails, case):
    """A proximity target may lie outside the parcels, but not 100 km away (one parcel-extent at most)."""
    d, raw, write = case
    zones = gpd.read_file(d / "zones.geojson")
    zones.set_geometry(zones.geometry.translate(100_000, 0)).to_file(d / "far.gpkg")
    raw["constraints"]["proximity"] = {"rules": [{"use": "TMD", "layer": "far.gpkg", "within_km": 1}]}
    fails(write(), "far.gpkg", "CRS", "does not lie near the parcels", "99.")


def test_repaired_zone_still_protects(cli, tmp_path):
    """With --repair the bow-tie's two triangles still cover parcel 3: the hand optimum 29 of test_tiny.py
    holds (33 if parcel 3 could become SKK)."""
    import json

    res = cli("solve", BAD / "zones_bowtie.yaml", "--out", tmp_path / "r", "--repair", "--store", "none",
              "--no-marginals", "--json")
    assert res.exit_code == 0, res.output
    assert "zones_bowtie.geojson: repaired 1 invalid geometries" in res.stderr
    assert json.loads(res.stdout)["objective"] == pytest.approx(29.0)


def test_fifo_as_zone_layer_refused_without_hanging(fails, case):
    d, raw, write = case
    os.mkfifo(d / "zones.fifo")
    raw["constraints"]["allowed_uses"]["layer"] = "zones.fifo"
    fails(write(), "zones.fifo", "not a regular file")


def test_zone_layer_covering_no_parcel_is_a_warning(cli, case, tmp_path):
    d, raw, write = case
    parcels = gpd.read_file(d / "parcels.geojson")
    parcels[parcels["parcel_id"] != 3].to_file(d / "five.gpkg")  # the strict zone lies on parcel 3 only
    zones = gpd.read_file(d / "zones.geojson")
    zones[zones["zone_class"] == "strict"].to_file(d / "strict_only.gpkg")
    raw["parcels"]["path"] = "five.gpkg"
    raw["constraints"]["allowed_uses"]["layer"] = "strict_only.gpkg"
    res = cli("solve", write(), "--out", tmp_path / "r", "--store", "none", "--no-marginals")
    assert res.exit_code == 0, res.output
    assert "strict_only.gpkg: the zone layer covers no parcel" in res.stderr


# ---------------------------------------------------------------- strict YAML

def test_duplicate_key_names_both_lines(fails):
    fails(BAD / "duplicate_key.yaml", "duplicate_key.yaml", "line 5, column 1", "key 'quotas' is given twice",
          "first at line 2, column 1", "merge the two")


def test_second_quotas_block_no_longer_drops_the_first(fails, case):
    """The issue's repro: a second ``quotas:`` appended to tiny.yaml silently dropped the TMD quota."""
    d, raw, write = case
    text = TINY.read_text()
    first = text.splitlines().index("quotas:") + 1
    last = len(text.splitlines()) + 1
    fails(write(text + 'quotas:\n  "SKK": {lo: 3, hi: 3}\n'), "scenario.yaml", f"line {last}, column 1",
          f"first at line {first}, column 1")


def test_decimal_comma_is_an_error(fails):
    fails(BAD / "decimal_comma.yaml", "decimal_comma.yaml", "line 3", "`193,06` has a decimal comma",
          "use a decimal point (193.06)")


def test_decimal_comma_in_block_style(fails, case):
    d, raw, write = case
    text = TINY.read_text().replace('"TMD": {lo: 1, hi: 2, source: "tiny case: 1–2 ha of tourism/service"}',
                                    '"TMD":\n    lo: 1\n    hi: 1,5')
    fails(write(text), "scenario.yaml", "quotas.TMD.hi", "use a decimal point: 1.5")


def test_deep_nesting_refused(fails):
    fails(BAD / "deep_nesting.yaml", "deep_nesting.yaml", "line 3", "nested more than 32 levels deep")


def test_alias_bomb_refused(fails):
    fails(BAD / "alias_bomb.yaml", "alias_bomb.yaml", "aliases expand", "alias bomb")


def test_modest_aliases_load_and_recursive_ones_do_not():
    from optimizer.engine.errors import InputError
    from optimizer.engine.strict_yaml import load_yaml

    assert load_yaml("a: &x {lo: 1, hi: 2}\nb: *x\nc: {<<: *x, hi: 3}\n", "t.yaml") == {
        "a": {"lo": 1, "hi": 2}, "b": {"lo": 1, "hi": 2}, "c": {"lo": 1, "hi": 3}}
    with pytest.raises(InputError, match="refers to the node that contains it"):
        load_yaml("a: &x [1, *x]\n", "t.yaml")


# ---------------------------------------------------------------- values checked before the solve

@pytest.mark.parametrize("fixture, needles", [
    ("nan_weight.yaml", ("objective.terms.forest_loss.weight", "not a finite number")),
    ("bad_colour.yaml", ("land_uses.SKK.colour", "#rrggbb")),
    ("unknown_crs.yaml", ("crs", "EPSG:99999", "not a CRS PROJ knows")),
    ("huge_seed.yaml", ("solver.seed", "2147483647")),
])
def test_value_that_used_to_crash_after_the_solve(fails, fixture, needles):
    fails(BAD / fixture, fixture, *needles)


def _set(raw: dict, path: tuple, value) -> None:
    for key in path[:-1]:
        raw = raw.setdefault(key, {})
    raw[path[-1]] = value


@pytest.mark.parametrize("path, value, needles", [
    (("quotas", "TMD", "hi"), float("inf"), ("quotas.TMD.hi", "not a finite number")),
    (("crs",), "garbage", ("crs", "'garbage' is not a CRS PROJ knows")),
    (("crs",), "EPSG:4326", ("crs", "not projected")),
    (("crs",), "EPSG:2263", ("crs", "US survey foot")),
    (("solver", "options"), {"mip_rel_gap_typo": 1}, ("solver.options", "does not take these settings",
                                                        "mip_rel_gap_typo")),
    (("solver", "options"), {"presolve": {"on": True}}, ("solver.options", "a solver option is a number")),
    (("solver", "threads"), 100_000, ("solver.threads", "256")),
    (("constraints", "proximity"), {"rules": [{"use": "TMD", "points": [[float("inf"), 2.5e6]], "within_km": 1}]},
     ("constraints.proximity.rules.0.points.0.0", "not a finite number")),
    (("metadata", "area_m2"), 1e300, ("metadata.area_m2", "beyond ±1e+12")),
])
def test_value_checked_before_the_solve(fails, case, path, value, needles):
    d, raw, write = case
    _set(raw, path, value)
    fails(write(), "scenario.yaml", *needles)


@pytest.mark.parametrize("verb", ["explain", "instance-info"])
def test_unknown_crs_in_explain_and_instance_info(cli, verb):
    res = cli(verb, BAD / "unknown_crs.yaml")
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and "unknown_crs.yaml: crs:" in res.stderr


def test_unwritable_out_found_before_the_solve(cli, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory")
    res = cli("solve", TINY, "--out", blocker / "run", "--store", "none")
    assert res.exit_code == 2, res.output
    assert f"{blocker / 'run'}: cannot be created: {blocker} is a file" in res.stderr
    assert "solving" not in res.stderr and "Traceback" not in res.output


def test_no_room_found_before_the_solve(fails, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    fails(TINY, "out: not enough room", "0.0 MB free on the disk holding it", "MB needed")


# ---------------------------------------------------------------- verify's own inputs

def test_verify_refuses_a_run_json_that_is_a_list(cli):
    res = cli("verify", BAD / "run_json_list")
    assert res.exit_code == 2, res.output
    assert "run_json_list/run.json: holds a JSON list" in res.stderr and "Traceback" not in res.output


def test_verify_refuses_a_truncated_plan(cli, earlier_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(earlier_run, run)
    gpkg = run / "allocation.gpkg"
    gpkg.write_bytes(gpkg.read_bytes()[: gpkg.stat().st_size // 3])
    res = cli("verify", run)
    assert res.exit_code == 2, res.output
    assert "allocation.gpkg: layer allocation: cannot be read" in res.stderr and "damaged or incomplete" in res.stderr
