"""The bundled default scenario end to end: solve, then re-check every planning figure from the output geometry."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely

from .conftest import ROOT

SCENARIO = ROOT / "instances" / "cao_bang" / "scenarios" / "cao_bang_2030_quick.yaml"
DATA = ROOT / "instances" / "cao_bang" / "data"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from click.testing import CliRunner

    from optimizer.cli import main

    out = tmp_path_factory.mktemp("cb") / "run"
    res = CliRunner().invoke(main, ["solve", str(SCENARIO), "--out", str(out), "--json", "--no-marginals"])
    assert res.exit_code == 0, res.output
    return out, json.loads(res.stdout)


def test_default_scenario_solves_and_verifies(run):
    out, r = run
    assert r["status"] == "optimal" and r["gap"] <= 0.005
    from click.testing import CliRunner

    from optimizer.cli import main

    check = CliRunner().invoke(main, ["verify", str(out), "--json"])
    assert check.exit_code == 0, check.output


def test_plan_figures_from_geometry(run):
    out, r = run
    plan = gpd.read_file(out / "allocation.gpkg", layer="allocation")
    area = plan.geometry.area / 1e4
    skk, skn = area[plan["new_use"] == "SKK"].sum(), area[plan["new_use"] == "SKN"].sum()
    assert 197 * 0.98 - 1e-6 <= skk <= 197 * 1.02 + 1e-6
    assert 115 * 0.98 - 1e-6 <= skn <= 115 * 1.02 + 1e-6
    forest_codes = {"RSX", "RPH", "RDD"}
    assert area[plan["new_use"].isin(forest_codes)].sum() >= 0.60 * 670030
    non_agri = {"ONT", "ODT", "DGT", "SKC", "TMD", "SKK", "SKN", "SON"}
    assert area[plan["new_use"].isin(non_agri)].sum() <= 38346 + 1e-6
    # no developed parcel overlaps a strict-protection zone; no industry within 500 m of one
    zones = gpd.read_file(DATA / "zones.gpkg", layer="zones")
    strict = shapely.union_all(zones.loc[zones["zone_class"] == "strict"].geometry.to_numpy())
    developed = plan[plan["changed"]]
    overlap = developed.geometry.intersection(strict).area
    assert (overlap <= 1.0).all()
    industry = plan[plan["new_use"].isin(["SKK", "SKN"]) & plan["changed"]]
    assert (industry.geometry.distance(strict) >= 500 - 1e-6).all()
    # resettlement capacity covers the displaced households in every district
    for row in r["resettlement"]:
        assert row["capacity_households"] >= row["displaced_households"] - 1e-6
