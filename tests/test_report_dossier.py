"""The council dossier of the 10 ha Cao Bằng run (every named site, every family): every figure of the
plan in the PDF, the land-use table by code against the GeoPackage, the overview map showing the
developed land, a detail map per site, the Excel workbook, and no English left in the Vietnamese text.

One solve (``cao_bang_2030``, --no-marginals, ~30 s) and one report document (written as PDF, HTML and
XLSX, maps at the report's own resolution) serve the whole module. Needs poppler-utils (pdftotext), as tests/test_reports.py does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely

from .conftest import ROOT
from .test_reports import nfc, pdf_text, vi

SCENARIO = ROOT / "instances" / "cao_bang" / "scenarios" / "cao_bang_2030.yaml"
PARCELS = ROOT / "instances" / "cao_bang" / "data" / "province_10ha.gpkg"
ENGLISH_LEAKS = [
    # place labels of the bundled places layer
    "waterfall", "relic", "seat", "border gate", "city centre", "National Park", "ESTIMATE", "Thị trấn",
    # the legend's zone classes and the layer's reasons
    "Vùng strict", "Vùng buffer", "strict:", "buffer:", "conflict:", "within", "proximity:", "sites:", "neighbourhood",
    # our own explanations in the quota and land-balance sources, and the metadata sources
    "half a", "parcel", "reported, not a bound", "synthetic layer", "Province outline", "Plan figures",
    "provincial plan", "Decision", "government GIS portal",
    # the certificate and raw attribute names
    "Hạt giống", "seed", "suit_", "is_forest", "is_rice", "slope_pct", "households", "optimal",
]


@pytest.fixture(scope="module")
def dossier(tmp_path_factory) -> dict:
    from click.testing import CliRunner

    from optimizer.cli import main
    from reports.data import load_run
    from reports.document import build_document
    from reports.html import render_html, write_pdf
    from reports.xlsx_writer import write_xlsx

    tmp = tmp_path_factory.mktemp("dossier")
    res = CliRunner().invoke(main, ["solve", str(SCENARIO), "--out", str(tmp / "run"), "--store", "none",
                                    "--no-marginals", "--json"])
    assert res.exit_code == 0, res.output
    # the document build_report renders, built once and written in each format as build_report writes it
    doc = build_document(load_run(tmp / "run"), "vi")
    out = tmp / "report"
    out.mkdir()
    paths = {"pdf": out / "report_vi.pdf", "html": out / "report_vi.html", "xlsx": out / "report_vi.xlsx"}
    write_pdf(doc, paths["pdf"])
    paths["html"].write_text(render_html(doc, interactive=True), encoding="utf-8")
    write_xlsx(doc, paths["xlsx"])
    run = json.loads((tmp / "run" / "run.json").read_text(encoding="utf-8"))
    plan = pyogrio.read_dataframe(tmp / "run" / "allocation.gpkg", layer="allocation")
    return {"run": run, "plan": plan, "paths": paths, "text": pdf_text(paths["pdf"]), "doc": doc}


def _percent(share: float) -> str:
    return vi(100 * share) + "%"


def test_pdf_holds_every_figure_of_the_plan(dossier):
    """Each plan-level figure of run.json and its achieved value, as the council reads them."""
    run, text = dossier["run"], dossier["text"]
    assert "tái định cư" in text and "che phủ rừng" in text.lower()
    for q in run["quotas"]:
        assert f"{vi(q['lo'])} – {vi(q['hi'])} ha" in text and f"{vi(q['achieved'])} ha" in text, q
    groups = {g["group"]: g for g in run["land_balance"]}
    assert f"≤ {vi(groups['non_agricultural']['hi'])} ha" in text and f"{vi(groups['non_agricultural']['achieved'])} ha" in text
    assert f"≥ {vi(groups['agricultural']['lo'])} ha" in text and f"{vi(groups['agricultural']['achieved'])} ha" in text
    assert f"{vi(groups['unused']['reference'])} ha" in text and f"{vi(groups['unused']['achieved'])} ha" in text
    total = groups["total"]
    for figure in ("natural_area_ha", "reference_total", "difference_ha", "parcel_area_ha"):
        assert vi(total[figure]) in text, figure
    forest = run["forest_cover"][0]
    assert f"≥ {_percent(forest['min_share'])}" in text and _percent(forest["share_after"]) in text
    assert vi(forest["after_ha"]) in text and vi(forest["after_ha"] - forest["required_ha"]) in text
    displaced = 0
    for r in run["resettlement"]:
        district = r["key"].split(": ", 1)[1]
        assert f"huyện {district.split(' ', 1)[1]} (cũ)" in text, district
        assert f"{vi(r['displaced_households'], 0)} hộ phải di dời" in text
        assert f"≤ {vi(r['capacity_households'])} hộ" in text
        displaced += r["displaced_households"]
    assert f"{vi(displaced, 0)} hộ phải di dời" in text  # the summary's total
    # each named site: its window, area, commune (recomputed from the parcel input) and anchor distance
    communes = pyogrio.read_dataframe(PARCELS, layer="parcels", columns=["parcel_id", "commune_2025"], read_geometry=False)
    plan = dossier["plan"].merge(communes, on="parcel_id")
    assert len(run["sites"]) == 8
    for s in run["sites"]:
        mine = plan[plan["site"] == s["name"]]
        commune = mine.groupby("commune_2025")["area_ha"].sum().idxmax()
        row = rf"{re.escape(s['name'])}\s+{s['use']}\s+{re.escape(commune)}\s+{re.escape(vi(s['area_ha']))}\s+" \
              rf"{re.escape(vi(s['min_ha']))}\s+{re.escape(vi(s['max_ha']))}"
        assert re.search(row, text), (s["name"], commune)
        if s["anchor_max_km"] is not None:
            assert f"≤ {vi(s['anchor_max_km'])} km" in text and f"{vi(s['anchor_distance_km'])} km" in text


def test_indicator_table_adds_up_to_the_parcels(dossier):
    """Totals equal the parcels' total area; current + change = planned for every code; each group's
    subtotal is the sum of its codes — all recomputed here from the GeoPackage's geometry."""
    plan = dossier["plan"]
    area = plan.geometry.area.to_numpy() / 1e4
    table = dossier["doc"].table("indicators")
    rows = {r[2]: (printed, r) for printed, r in zip(table.rows, table.raw)}
    total_printed, total = table.rows[0], table.raw[0]
    assert total_printed[3] == total_printed[5] == vi(area.sum())
    assert total[3] == pytest.approx(area.sum(), abs=0.01) and total[5] == pytest.approx(area.sum(), abs=0.01)
    codes = set(plan["current_use"]) | set(plan["new_use"])
    for code in codes:
        printed, raw = rows[code]
        current = area[(plan["current_use"] == code).to_numpy()].sum()
        planned = area[(plan["new_use"] == code).to_numpy()].sum()
        assert raw[3] == pytest.approx(current, abs=0.01) and raw[5] == pytest.approx(planned, abs=0.01), code
        assert raw[3] + raw[7] == pytest.approx(raw[5], abs=1e-9), code
        assert printed[3] == vi(current) and printed[5] == vi(planned), code
    land_uses = dossier["run"]["scenario"]["land_uses"]
    for group_code, group in (("NNP", "agricultural"), ("PNN", "non_agricultural"), ("CSD", "unused")):
        members = [c for c, v in land_uses.items() if v.get("group") == group]
        sub = rows[group_code][1]
        assert sub[3] == pytest.approx(sum(rows[c][1][3] for c in members), abs=1e-6)
        assert sub[5] == pytest.approx(area[plan["new_use"].isin(members).to_numpy()].sum(), abs=0.01)
    assert sum(rows[g][1][5] for g in ("NNP", "PNN", "CSD")) == pytest.approx(area.sum(), abs=0.01)


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])


def _solid(mask: np.ndarray) -> np.ndarray:
    """Pixels whose four neighbours match too: filled land, not the anti-aliased edge of a grey line."""
    out = mask.copy()
    out[0, :] = out[-1, :] = out[:, 0] = out[:, -1] = False
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        out &= np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
    return out


def test_overview_map_shows_the_developed_land(dossier):
    """In the overview PNG, each developed use's colour covers at least the pixels its sites would
    cover at the map's scale (counting solid pixels only), and lies on that land (within 2 km of a
    parcel converted to it): the decision is visible, and the colour is not the base's. Every site has
    a detail map."""
    import matplotlib.image as mpimg
    import io

    run, plan, doc = dossier["run"], dossier["plan"], dossier["doc"]
    fig = next(b for s in doc.sections for b in s.blocks if getattr(b, "key", "") == "plan_map")
    img = (mpimg.imread(io.BytesIO(fig.png))[..., :3] * 255).round().astype(int)
    x0, y0, x1, y1 = (int(round(v)) for v in fig.frame_px)
    minx, miny, maxx, maxy = fig.extent
    m_per_px = (maxx - minx) / (x1 - x0)
    colours = run["scenario"]["land_uses"]
    converted = plan[plan["changed"].astype(bool)]
    for use in sorted({s["use"] for s in run["sites"]}):
        site_ha = sum(s["area_ha"] for s in run["sites"] if s["use"] == use)
        expected_px = site_ha * 1e4 / m_per_px ** 2
        frame = img[y0:y1, x0:x1]
        hit = _solid(np.abs(frame - _rgb(colours[use]["colour"])).max(axis=2) <= 8)
        assert hit.sum() >= expected_px, (use, int(hit.sum()), expected_px)
        rows, cols = np.nonzero(hit)
        points = shapely.points(minx + (cols + 0.5) * m_per_px, maxy - (rows + 0.5) * m_per_px)
        land = shapely.union_all(converted.loc[converted["new_use"] == use].geometry.to_numpy())
        near = shapely.dwithin(points, land, 2000.0)
        assert near.mean() >= 0.99, (use, float(near.mean()))
    detailed = {site for s in doc.sections for b in s.blocks for site in getattr(b, "sites", [])}
    assert detailed == {s["name"] for s in run["sites"]}
    captions = [b.caption for s in doc.sections for b in s.blocks if getattr(b, "sites", None)]
    assert all("Bản đồ chi tiết" in c for c in captions)


def test_workbook_is_numeric_and_agrees_with_the_pdf(dossier):
    """The .xlsx opens with openpyxl; area cells are numbers (not text); its totals are the PDF's."""
    import openpyxl

    wb = openpyxl.load_workbook(dossier["paths"]["xlsx"])
    text, run = dossier["text"], dossier["run"]
    ws = wb["Biểu chỉ tiêu SDĐ"]
    assert ws.print_title_rows == "$3:$4"  # the two header rows repeat on every printed page
    data = [r for r in ws.iter_rows(min_row=5, values_only=True) if r[1]]
    for r in data:
        assert all(isinstance(v, (int, float)) for v in r[3:8]), r
    total = next(r for r in data if r[1] == "Tổng diện tích các thửa đất")
    assert vi(total[3]) in text and vi(total[5]) in text
    for r in data:
        if r[2] in ("NNP", "PNN", "CSD"):
            assert vi(r[3]) in text and vi(r[5]) in text, r
    conv = list(wb["Chuyển mục đích"].iter_rows(min_row=4, values_only=True))
    conv_total = next(r for r in conv if r[0] == "Tổng")
    assert all(isinstance(v, float) for v in conv_total[1:])
    assert conv_total[-1] == pytest.approx(run["changed_area_ha"], abs=1e-6) and vi(conv_total[-1]) in text
    sites = {r[1]: r for r in wb["Danh mục công trình"].iter_rows(min_row=5, values_only=True) if r[1]}
    for s in run["sites"]:
        assert sites[s["name"]][4] == pytest.approx(s["area_ha"]) and vi(sites[s["name"]][4]) in text
    cert = [v for r in wb["Chứng nhận"].iter_rows(values_only=True) for v in r if v is not None]
    for item in run["inputs"]:
        assert item["sha256"] in cert, item["role"]
    assert run["certificate"]["objective"] == pytest.approx(next(v for v in cert if isinstance(v, float)))


def _html_text(path: Path) -> str:
    """What a reader of the HTML sees, plus the interactive map's embedded data (labels, popups);
    without the inlined Leaflet code, its licence and the stylesheets."""
    html = path.read_text(encoding="utf-8")
    payload = re.search(r'<script type="application/json" id="landalloc-data">(.*?)</script>', html, flags=re.S).group(1)
    body = re.sub(r"<script.*?</script>|<style.*?</style>|<!--.*?-->", " ", html, flags=re.S)
    return nfc(re.sub(r"<[^>]+>", " ", body) + " " + payload)


def test_no_english_in_the_vietnamese_dossier(dossier):
    """None of the English that used to leak into the Vietnamese report: in the PDF text, the HTML
    (text and the map's data, its popups' reasons), every word drawn on the static maps, and the
    layer's reason_vi."""
    from optimizer.engine.reasons import reasons_vi

    plan = dossier["plan"]  # the layer keeps `reason` as it was and carries it in Vietnamese beside it
    assert plan["reason"].str.contains("conflict: SKK within 500 m of strict zone").any()
    assert (plan["reason_vi"].to_numpy() == reasons_vi(plan["reason"])).all()
    sources = {"pdf": dossier["text"], "html": _html_text(dossier["paths"]["html"]),
               "maps": " | ".join(t for s in dossier["doc"].sections for b in s.blocks for t in getattr(b, "texts", [])),
               "reason_vi": " | ".join(sorted(set(plan["reason_vi"])))}
    assert "Thác Bản Giốc" in sources["maps"] and "Trung tâm xã Bảo Lạc" in sources["maps"]
    leak = re.compile("|".join(rf"\b{re.escape(w)}" for w in ENGLISH_LEAKS), flags=re.I)
    for where, text in sources.items():
        found = [(m.group(0), text[max(0, m.start() - 60): m.end() + 60]) for m in leak.finditer(text)]
        assert not found, (where, found[:5])
