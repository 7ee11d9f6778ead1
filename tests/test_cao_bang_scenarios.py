"""Every plan figure the Cao Bằng scenarios use, checked against ../shared/plan/caobang_plan.md.

The figures are parsed from the plan document (Vietnamese number format: 38.346 = 38,346;
572,8 = 572.8), not typed again here, so a typo in a scenario cannot hide behind a typo in a test.
"""

from __future__ import annotations

import re

import pytest

from optimizer.engine.scenario import load_scenario

from .conftest import ROOT, SHARED

PLAN = (SHARED / "plan" / "caobang_plan.md").read_text(encoding="utf-8")
SCEN = ROOT / "instances" / "cao_bang" / "scenarios"
TOL = 0.02  # the scenarios' stated tolerance on "about" totals
HALF_PARCEL_HA = 5.0  # the sited 10 ha scenarios: sites are whole ~10 ha parcels, so ± half a parcel


def vn_number(text: str) -> float:
    """'38.346' → 38346; '572,8' → 572.8; '6.700,3' → 6700.3."""
    return float(text.replace(".", "").replace(",", "."))


def quoted(pattern: str) -> float:
    m = re.search(pattern, PLAN)
    assert m, f"pattern not in plan: {pattern}"
    return vn_number(m.group(1))


PLAN_FIGURES = {
    "skk_2030_ha": quoted(r"02 khu công nghiệp, với tổng diện tích ([\d.,]+)ha"),
    "skn_2030_ha": quoted(r"04 cụm công nghiệp, với tổng diện tích ([\d.,]+)ha"),
    "skk_2050_ha": quoted(r"thành lập mới 02 khu công nghiệp, với tổng diện tích ([\d.,]+)ha"),
    "skn_2050_ha": quoted(r"tổng diện tích quy hoạch là ([\d.,]+)ha"),
    "non_agri_ha": quoted(r"đất phi nông nghiệp là ([\d.,]+) ha"),
    "agri_ha": quoted(r"đất nông nghiệp khoảng ([\d.,]+) ha"),
    "unused_ha": quoted(r"đất chưa sử dụng ([\d.,]+) ha"),
    "forest_pct": quoted(r"che phủ rừng ổn định khoảng ([\d.,]+)%"),
    "natural_km2": quoted(r"tổng diện tích tự nhiên là ([\d.,]+) km2"),
}
DRY_PORT = re.search(r"diện tích mỗi khu khoảng (\d+) - (\d+) ha", PLAN)


def test_plan_document_figures_parse():
    assert PLAN_FIGURES["skk_2030_ha"] == 197 and PLAN_FIGURES["skn_2050_ha"] == 572.8
    assert PLAN_FIGURES["natural_km2"] == 6700.3


def test_land_balance_sums_and_difference_reported():
    total = PLAN_FIGURES["agri_ha"] + PLAN_FIGURES["non_agri_ha"] + PLAN_FIGURES["unused_ha"]
    natural_ha = round(PLAN_FIGURES["natural_km2"] * 100)
    assert total == 670039 and natural_ha == 670030 and total - natural_ha == 9


@pytest.fixture(scope="module")
def sc2030():
    return load_scenario(SCEN / "cao_bang_2030.yaml").scenario


def _band(q, figure, tol_ha=None):
    """The quota is the plan figure ± the tolerance its source states (2 % unless tol_ha is given)."""
    tol = figure * TOL if tol_ha is None else tol_ha
    assert q.lo == pytest.approx(figure - tol, abs=0.005)
    assert q.hi == pytest.approx(figure + tol, abs=0.005)
    assert f"{figure:g}ha" in q.source.replace(" ", "").replace(",", ".")
    assert ("± 2 %" if tol_ha is None else f"± {tol_ha:g} ha") in q.source


def test_2030_industrial_quotas(sc2030):
    _band(sc2030.quotas["SKK"], PLAN_FIGURES["skk_2030_ha"], HALF_PARCEL_HA)
    _band(sc2030.quotas["SKN"], PLAN_FIGURES["skn_2030_ha"], HALF_PARCEL_HA)


def test_2030_site_counts_and_dry_ports(sc2030):
    sites = sc2030.constraints["sites"]["sites"]
    assert sum(s["use"] == "SKK" for s in sites) == 2
    assert sum(s["use"] == "SKN" for s in sites) == 4
    ports = [s for s in sites if s["use"] == "DGT"]
    lo, hi = float(DRY_PORT.group(1)), float(DRY_PORT.group(2))
    assert sorted(s["anchor"]["value"] for s in ports) == ["ta_lung", "tra_linh"]
    assert all((s["min_ha"], s["max_ha"]) == (lo, hi) for s in ports)


def test_2030_land_balance_and_forest(sc2030):
    lb = sc2030.constraints["land_balance"]
    assert lb["groups"]["non_agricultural"]["hi"] == PLAN_FIGURES["non_agri_ha"]
    assert lb["groups"]["agricultural"]["lo"] == PLAN_FIGURES["agri_ha"]
    assert lb["natural_area_ha"] == round(PLAN_FIGURES["natural_km2"] * 100)
    fc = sc2030.constraints["forest_cover"]
    assert fc["min_share"] == PLAN_FIGURES["forest_pct"] / 100
    assert fc["natural_area_ha"] == round(PLAN_FIGURES["natural_km2"] * 100)


def test_codes_are_quoted_strings_in_every_scenario():
    """Codes must be strings even where YAML 1.1 would turn them into numbers or booleans."""
    for path in SCEN.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"allocate: \[(.*?)\]", text):
            assert all(c.strip().startswith('"') for c in m.group(1).split(",")), path.name


def test_extends_merges_and_detects_cycles(tmp_path):
    from optimizer.engine.errors import InputError

    sc = load_scenario(SCEN / "cao_bang_2030.yaml")
    assert "RPH" in sc.scenario.land_uses and sc.scenario.land_uses["RPH"].forest  # from land_uses.yaml
    assert sc.scenario.parcels.path.endswith("province_10ha.gpkg")
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    with pytest.raises(InputError, match=r"circular extends: a.yaml → b.yaml → a.yaml"):
        load_scenario(tmp_path / "a.yaml")


def test_2050_quotas_and_sites():
    sc = load_scenario(SCEN / "cao_bang_2050.yaml").scenario
    _band(sc.quotas["SKK"], PLAN_FIGURES["skk_2050_ha"])
    _band(sc.quotas["SKN"], PLAN_FIGURES["skn_2050_ha"])
    sites = sc.constraints["sites"]["sites"]
    assert sum(s["use"] == "SKK" for s in sites) == 4
    assert sum(s["use"] == "SKN" for s in sites) == 14  # 4 of 2030 (3 expanded, 1 kept) + 10 new


def test_phased_scenario_expansions_match_the_plan():
    from optimizer.engine.phasing import period_scenarios

    loaded = load_scenario(SCEN / "cao_bang_2030_2050.yaml")
    periods = dict(period_scenarios(loaded))
    assert list(periods) == ["2030", "2050"]
    _band(periods["2030"].scenario.quotas["SKK"], PLAN_FIGURES["skk_2030_ha"], HALF_PARCEL_HA)
    _band(periods["2050"].scenario.quotas["SKN"], PLAN_FIGURES["skn_2050_ha"])
    exp = loaded.scenario.periods["2050"].site_expansions
    sites_2030 = {s["name"]: s for s in periods["2030"].scenario.constraints["sites"]["sites"]}
    sites_2050 = {s["name"]: s for s in periods["2050"].scenario.constraints["sites"]["sites"]}
    assert set(exp.values()) == set(sites_2030)  # every 2030 site lives on in 2050
    expanded_kcn = [n for n in exp if sites_2050[n]["use"] == "SKK"]
    new_kcn = [n for n, s in sites_2050.items() if s["use"] == "SKK" and n not in exp]
    assert len(expanded_kcn) == 2 and len(new_kcn) == 2
    new_ccn = [n for n, s in sites_2050.items() if s["use"] == "SKN" and n not in exp]
    assert len(new_ccn) == 10


def test_bez_scenario_dry_ports_and_footprint():
    import json

    sc = load_scenario(SCEN / "bez_2030.yaml").scenario
    ports = [s for s in sc.constraints["sites"]["sites"] if s["use"] == "DGT"]
    lo, hi = float(DRY_PORT.group(1)), float(DRY_PORT.group(2))
    assert sorted(s["anchor"]["value"] for s in ports) == ["ta_lung", "tra_linh"]
    assert all((s["min_ha"], s["max_ha"]) == (lo, hi) for s in ports)
    meta = json.loads((ROOT / "instances" / "cao_bang" / "data" / "metadata.json").read_text())
    published = float(re.search(r"about ([\d,]+) ha", PLAN).group(1).replace(",", ""))
    assert sc.metadata["area_ha_published"] == published == 30130
    bez_area = meta["bez"]["area_ha"]
    assert abs(bez_area - published) <= 0.02 * published
