"""The bundled default scenario end to end: solve, then re-check every planning figure from the output geometry."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pytest
import shapely

from .conftest import ROOT
from .contract import CONTRACTS, assert_same_contract

SCENARIO = ROOT / "instances" / "cao_bang" / "scenarios" / "cao_bang_2030_quick.yaml"
DATA = ROOT / "instances" / "cao_bang" / "data"


def _solve(scenario, out, *options):
    from click.testing import CliRunner

    from optimizer.cli import main

    res = CliRunner().invoke(main, ["solve", str(scenario), "--out", str(out), "--json", *options])
    assert res.exit_code == 0, res.output
    return out, json.loads(res.stdout)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return _solve(SCENARIO, tmp_path_factory.mktemp("cb") / "run", "--no-marginals")


def test_default_scenario_solves_and_verifies(run):
    out, r = run
    assert r["status"] == "optimal" and r["gap"] <= 0.005
    from click.testing import CliRunner

    from optimizer.cli import main

    check = CliRunner().invoke(main, ["verify", str(out), "--json"])
    assert check.exit_code == 0, check.output


def test_default_scenario_keeps_the_run_contract(run):
    assert_same_contract(run[0], CONTRACTS / "run_quick.json")


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


def test_report_keeps_naming_the_former_districts(run, tmp_path):
    """The Cao Bằng parcels' district field holds the districts before 1 July 2025 (no parcels.admin_level:
    district, the default), so the council report keeps calling them former districts (huyện cũ) in both
    languages, where the department example's communes are named as communes (tests/test_department_example.py)."""
    from reports.data import load_run
    from reports.document import build_document
    from reports.html import write_pdf

    from .test_reports import pdf_text

    data = load_run(run[0])
    assert data.admin_level == "district"
    phrases = {"vi": [r"Từ ngày 01/7/2025 không còn cấp huyện", r"trong \d+ huyện cũ có di dời",
                      r"Tái định cư trong huyện [^()]+ \(cũ\)", r"tái định cư trong huyện \(cũ\) nơi ở của các hộ",
                      r"Thuộc tính từ dữ liệu thực huyện \(trước 01/7/2025\)"],
               "en": [r"Since 1 July 2025 there are no districts", r"within each of the \d+ former districts",
                      r"Resettlement within Huyện [^()]+ \(former district\)", r"within their \(former\) district",
                      r"Attributes from real data district \(before 1 July 2025\)"]}
    for lang, wanted in phrases.items():
        write_pdf(build_document(data, lang, dpi=60), tmp_path / f"report_{lang}.pdf")
        text = pdf_text(tmp_path / f"report_{lang}.pdf")
        for phrase in wanted:
            assert re.search(phrase, text), (lang, phrase)


# ---------------------------------------------------------------- cao_bang_2030: every family, named sites
FULL = ROOT / "instances" / "cao_bang" / "scenarios" / "cao_bang_2030.yaml"


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    return _solve(FULL, tmp_path_factory.mktemp("cb2030") / "run", "--marginals")


def _dissolves_to_one(geoms) -> bool:
    return shapely.union_all(shapely.buffer(geoms.to_numpy(), 0.01)).geom_type == "Polygon"


def test_full_scenario_sites_from_geometry(full_run):
    """Issue 4's must-show, recomputed here from the output layer and the input layers only."""
    out, r = full_run
    assert r["status"] == "optimal" and r["verify"]["ok"]
    plan = gpd.read_file(out / "allocation.gpkg", layer="allocation")
    plan["ha"] = plan.geometry.area / 1e4
    by_site = {name: g for name, g in plan[plan["site"] != ""].groupby("site")}
    kcn = [g for g in by_site.values() if (g["new_use"] == "SKK").all()]
    ccn = [g for g in by_site.values() if (g["new_use"] == "SKN").all()]
    ports = {n: g for n, g in by_site.items() if (g["new_use"] == "DGT").all()}
    assert len(kcn) == 2 and len(ccn) == 4 and len(ports) == 2 and len(by_site) == 8
    assert 192 - 1e-6 <= sum(g["ha"].sum() for g in kcn) <= 202 + 1e-6
    assert 110 - 1e-6 <= sum(g["ha"].sum() for g in ccn) <= 120 + 1e-6
    assert all(60 - 1e-6 <= g["ha"].sum() <= 140 + 1e-6 for g in kcn)
    assert all(15 - 1e-6 <= g["ha"].sum() <= 45 + 1e-6 for g in ccn)
    assert all(_dissolves_to_one(g.geometry) for g in by_site.values())
    # every converted industrial/port parcel belongs to a site
    conv = plan[plan["changed"] & plan["new_use"].isin(["SKK", "SKN", "DGT"])]
    assert (conv["site"] != "").all()
    # dry ports: 15–25 ha, farthest vertex within 3 km of its border gate
    places = gpd.read_file(DATA / "places.gpkg", layer="places").to_crs(plan.crs).set_index("place_id")
    for name, gate in (("Cảng cạn Tà Lùng", "ta_lung"), ("Cảng cạn Trà Lĩnh", "tra_linh")):
        g = ports[name]
        assert 15 - 1e-6 <= g["ha"].sum() <= 25 + 1e-6
        pt = places.geometry[gate]
        xy = shapely.get_coordinates(g.geometry.to_numpy())
        assert (((xy[:, 0] - pt.x) ** 2 + (xy[:, 1] - pt.y) ** 2) ** 0.5).max() <= 3000 + 1e-6
    # run.json `sites` agrees with the geometry
    reported = {s["name"]: s for s in r["sites"]}
    for name, g in by_site.items():
        assert reported[name]["area_ha"] == pytest.approx(g["ha"].sum(), abs=1e-3)
        assert reported[name]["parcels"] == len(g) and reported[name]["connected"] is True


def test_full_scenario_protection_balance_and_resettlement(full_run):
    out, r = full_run
    plan = gpd.read_file(out / "allocation.gpkg", layer="allocation")
    area = plan.geometry.area / 1e4
    zones = gpd.read_file(DATA / "zones.gpkg", layer="zones")
    strict = zones.loc[zones["zone_class"] == "strict"]
    hits = gpd.sjoin(plan[plan["changed"]], strict, predicate="intersects")
    inside = hits.geometry.intersection(shapely.union_all(strict.geometry.to_numpy())).area
    assert (inside <= 1.0).all()  # touching a zone edge is allowed, overlapping it is not
    assert area[plan["new_use"].isin(["RSX", "RPH", "RDD"])].sum() >= 0.60 * 670030
    assert area[plan["new_use"].isin(["ONT", "ODT", "DGT", "SKC", "TMD", "SKK", "SKN", "SON"])].sum() <= 38346 + 1e-6
    # displaced households (converted to SKK/SKN/DGT) per district vs 40 households per new ONT hectare
    conv = plan["changed"]
    displaced = plan.loc[conv & plan["new_use"].isin(["SKK", "SKN", "DGT"])].groupby("district").size()
    assert len(displaced) > 0
    rows = {row["region"] if "region" in row else row.get("key"): row for row in r["resettlement"]}
    assert all(row["capacity_households"] >= row["displaced_households"] - 1e-6 for row in rows.values())


def test_full_scenario_lists_binding_quotas_with_marginal_values(full_run):
    """Issue 6's must-show: binding rows are those closer to their bound than any single parcel can
    move them. Each is priced by the next parcel: its binding side relaxed by the largest parcel that
    could cross it and re-solved from the plan (a relaxation: the optimum cannot get worse), within the
    time budget; a row the budget leaves out is listed as skipped with the reason."""
    out, r = full_run
    plan = gpd.read_file(out / "allocation.gpkg", layer="allocation")
    area = plan.geometry.area / 1e4
    smallest, largest = area.min(), area.max()
    quotas = [b for b in r["binding"] if b["family"] == "quota_area"]
    assert quotas, "a 10 ha grid cannot meet 110–120 ha and 192–202 ha with room for another parcel"
    by_key = {q["key"]: q for q in r["quotas"]}
    for b in quotas:
        q = by_key[b["key"]]
        room = q["hi"] - q["achieved"] if b["side"] == "hi" else q["achieved"] - q["lo"]
        assert room < smallest and b["slack"] == pytest.approx(room, abs=1e-4)
        assert q["binding"] == b["side"]
    mv = {(m["family"], m["key"], m.get("period")): m for m in r["marginal_values"]}
    priced = 0
    for b in r["binding"]:
        m = mv[(b["family"], b["key"], b.get("period"))]
        if "skipped" in m:
            assert m["skipped"] and r["marginal_values_skipped"]
            continue
        priced += 1
        relax = m["moved_to"] - m["bound"]
        assert (relax > 0) == (m["side"] == "hi") and relax != 0
        if m["unit"] == "ha":  # by one parcel at most (rows in households move by a parcel's households)
            assert abs(relax) <= largest * (1 + 1e-9) + 1e-6
        if m["achieved"] is None:
            continue
        assert m["achieved"] - m["activity"] == pytest.approx(m["step"], abs=1e-6)
        assert m["delta_objective"] >= -1e-6  # a relaxation from a feasible start: never worse (maximize)
        if m["marginal_range"] is not None and m["marginal_value"] is not None:
            low, high = m["marginal_range"]
            assert (low is None or low - 1e-6 <= m["marginal_value"]) and (high is None or m["marginal_value"] <= high + 1e-6)
            if m["conclusive"]:
                assert high - low <= abs(m["marginal_value"]) + 1e-6
            # per one more unit: a cap that binds is worth ≥ 0, a floor that binds costs (≤ 0)
            assert m["marginal_value"] >= -1e-6 if m["side"] == "hi" else m["marginal_value"] <= 1e-6
    assert priced or r["marginal_values_skipped"]