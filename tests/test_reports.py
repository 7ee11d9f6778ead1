"""Appraisal-council reports: PDF (WeasyPrint), DOCX (python-docx), offline HTML (Leaflet inlined),
comparison, the QGIS style in the GeoPackage, and the metrics behind every number.

Needs Debian's poppler-utils (pdftotext) and chromium; .ci/run installs them. A missing tool is a
failure, not a skip: the offline map is only proven by a real browser.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import yaml
from click.testing import CliRunner

from .conftest import ROOT

TINY_DIR = ROOT / "instances" / "tiny"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
VI_HEADINGS = ["BÁO CÁO PHƯƠNG ÁN PHÂN BỔ SỬ DỤNG ĐẤT", "Thông tin chung", "Tóm tắt phương án",
               "Kiểm tra các chỉ tiêu của quy hoạch", "Chỉ tiêu sử dụng đất", "Bản đồ phương án",
               "Chuyển mục đích sử dụng đất", "Chuyển mục đích theo đơn vị hành chính",
               "Chỉ tiêu ràng buộc và giá trị biên", "Chứng nhận tối ưu", "Thuộc tính tổng hợp (giả lập)",
               "Hiện trạng", "Quy hoạch", "Cơ cấu (%)", "Đánh giá", "Đất khu công nghiệp", "Đất thương mại, dịch vụ"]


def vi(x: float, digits: int = 2) -> str:
    """Vietnamese number format, written independently of reports.document.num: 1234.5 → 1.234,50."""
    return f"{x:,.{digits}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; .ci/run installs it (apt-get install poppler-utils chromium)")
    return path


def pdf_text(path: Path) -> str:
    out = subprocess.run([_tool("pdftotext"), "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, timeout=60)
    return re.sub(r"\s+", " ", nfc(out.stdout.decode("utf-8")))  # table headers wrap inside their cells


def _invoke(*args):
    from optimizer.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _scenario(base: dict, tmp: Path, name: str, **changes) -> Path:
    sc = json.loads(json.dumps(base))
    sc["name"] = name
    for k, v in changes.items():
        sc[k] = v
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(sc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """The tiny case with report metadata (province, sources, synthetic fields, a places layer) and an
    extra non-binding HNK quota (so a quota has a non-zero current area), a variant B, and an infeasible variant."""
    tmp = tmp_path_factory.mktemp("reports")
    for f in ("parcels.geojson", "zones.geojson"):
        shutil.copy(TINY_DIR / f, tmp / f)
    (tmp / "places.geojson").write_text(json.dumps({
        "type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::9210"}},
        "features": [{"type": "Feature", "properties": {"name": "Cửa khẩu Tà Lùng (thử nghiệm)"},
                      "geometry": {"type": "Point", "coordinates": [600150, 2500150]}}]}, ensure_ascii=False), encoding="utf-8")
    base = yaml.safe_load((TINY_DIR / "tiny.yaml").read_text(encoding="utf-8"))
    base["quotas"]["HNK"] = {"hi": 10, "source": "không tăng đất trồng cây hằng năm"}
    base["metadata"] = {
        "province": "Cao Bằng",
        "sources": [{"name": "parcels.geojson", "licence": "CC0"}, {"name": "zones.geojson", "licence": "CC0",
                                                                     "note": "https://example.org/zones"}],
        "synthetic_fields": ["current_use", "suit_industry", "suit_tourism", "is_forest"],
        "layers": {"places": "places.geojson"},
    }
    out = {}
    a = _scenario(base, tmp, "tiny_a")
    b = _scenario(base, tmp, "tiny_b", quotas={**base["quotas"], "SKK": {"lo": 2, "hi": 2, "source": "phương án B"}})
    bad = _scenario(base, tmp, "tiny_infeasible", quotas={"SKK": {"lo": 5, "hi": 6}, "TMD": {"lo": 3, "hi": 4}})
    for key, path, code in (("a", a, 0), ("b", b, 0), ("infeasible", bad, 3)):
        out[key] = tmp / f"run_{key}"
        r = _invoke("solve", path, "--out", out[key], "--json")
        assert r.exit_code == code, r.output
    out["tmp"] = tmp
    return out


@pytest.fixture(scope="module")
def vi_report(runs) -> dict[str, Path]:
    from reports.build import build_report

    return build_report(runs["a"], lang="vi", formats="pdf,docx,html", out=runs["tmp"] / "report_vi")


def _run(path: Path) -> dict:
    return json.loads((path / "run.json").read_text(encoding="utf-8"))


def _quota_cells(q: dict) -> tuple[str, str]:
    planned = vi(q["achieved"])
    if q["lo"] is not None and q["hi"] is not None:
        quota = vi(q["lo"]) if q["lo"] == q["hi"] else f"{vi(q['lo'])} – {vi(q['hi'])}"
    else:
        quota = f"≥ {vi(q['lo'])}" if q["lo"] is not None else f"≤ {vi(q['hi'])}"
    return planned, quota


def _current_area(use: str) -> float:
    parcels = pyogrio.read_dataframe(TINY_DIR / "parcels.geojson").to_crs("EPSG:9210")
    return float(parcels.geometry.area[parcels["current_use"] == use].sum() / 1e4)


# --- PDF -------------------------------------------------------------------------------------------------

def test_pdf_vietnamese_headings_and_indicator_numbers(runs, vi_report):
    run = _run(runs["a"])
    text = pdf_text(vi_report["pdf"])
    for heading in VI_HEADINGS:
        assert heading in text, f"PDF lacks {heading!r}"
    assert "EPSG:9210 (VN-2000 / TM-3 105°45′)" in text
    for q in run["quotas"]:
        planned, quota = _quota_cells(q)
        assert planned in text and quota in text, (q, planned, quota)
    hnk = next(q for q in run["quotas"] if q["key"] == "HNK")
    current = _current_area("HNK")
    assert current > 0 and vi(current) in text
    change = hnk["achieved"] - current
    assert (("+" if change > 0 else "−" if change < 0 else "") + vi(abs(change))) in text
    assert vi(run["changed_area_ha"]) in text
    assert vi(run["certificate"]["objective"], 4) in text
    assert vi(run["certificate"]["bound"], 4) in text
    for mv in run["marginal_values"]:  # binding quotas with their marginal values
        assert vi(mv["marginal_value"], 4).replace("-", "−") in text
        assert f"{vi(mv['bound'])} → {vi(mv['moved_to'])} ha" in text
    pages = subprocess.run([_tool("pdfinfo"), str(vi_report["pdf"])], capture_output=True, text=True).stdout
    assert int(re.search(r"Pages:\s+(\d+)", pages).group(1)) >= 2


def test_pdf_english(runs, tmp_path):
    from reports.build import build_report

    paths = build_report(runs["a"], lang="en", formats="pdf", out=tmp_path)
    text = pdf_text(paths["pdf"])
    for heading in ("LAND ALLOCATION PLAN REPORT", "Land-use indicators", "Conversion matrix", "Optimality certificate",
                    "Industrial park"):
        assert heading in text
    run = _run(runs["a"])
    assert f"{run['changed_area_ha']:,.2f}" in text


# --- DOCX ------------------------------------------------------------------------------------------------

def test_docx_holds_the_same_indicator_table(runs, vi_report):
    """The DOCX shows the land-use table by code in the official two-row header layout, the same cells as
    the document model (which the PDF renders too), and its current/planned areas are the parcels'."""
    import docx
    from docx.shared import Mm

    from reports.data import load_run
    from reports.document import build_document

    d = docx.Document(str(vi_report["docx"]))
    sec = d.sections[0]
    assert abs(sec.page_width - Mm(210)) < Mm(0.5) and abs(sec.page_height - Mm(297)) < Mm(0.5)
    assert d.styles["Normal"].font.name == "Times New Roman"
    table = next(t for t in d.tables if [nfc(c.text) for c in t.rows[1].cells][3:7] ==
                 ["Diện tích (ha)", "Cơ cấu (%)", "Diện tích (ha)", "Cơ cấu (%)"])
    top = [nfc(c.text) for c in table.rows[0].cells]
    assert top[:3] == ["STT", "Chỉ tiêu sử dụng đất", "Mã"] and top[3] == top[4] == "Hiện trạng" and top[5] == "Quy hoạch"
    rows = [[nfc(c.text) for c in r.cells] for r in table.rows[2:]]
    doc = build_document(load_run(runs["a"]), "vi")
    assert rows == doc.table("indicators").rows
    parcels = pyogrio.read_dataframe(TINY_DIR / "parcels.geojson").to_crs("EPSG:9210")
    plan = pyogrio.read_dataframe(runs["a"] / "allocation.gpkg", layer="allocation")
    by_code = {r[2]: r for r in rows if r[2]}
    for code in set(parcels["current_use"]) | set(plan["new_use"]):
        current = float(parcels.geometry.area[parcels["current_use"] == code].sum() / 1e4)
        planned = float(plan.loc[plan["new_use"] == code, "area_ha"].sum())
        assert by_code[code][3] == vi(current) and by_code[code][5] == vi(planned), code
    run = _run(runs["a"])
    for q in run["quotas"]:  # the allocated quota stands beside its code
        assert by_code[q["use"]][8] == _quota_cells(q)[1]
    assert len(d.inline_shapes) >= 1  # the plan map


# --- HTML ------------------------------------------------------------------------------------------------

SVG_NS = "http://www.w3.org/2000/svg"


def test_html_references_nothing_outside_itself(vi_report):
    html = vi_report["html"].read_text(encoding="utf-8")
    # the one place a URL may appear: Leaflet's preserved licence header (/* @preserve … */)
    header = re.search(r"/\* @preserve.*?\*/", html, flags=re.S)
    assert header is not None
    rest = html[: header.start()] + html[header.end():]
    urls = re.findall(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>)]*", rest)
    # the SVG namespace name in Leaflet's code is an identifier, never fetched
    assert set(urls) <= {SVG_NS}, set(urls) - {SVG_NS}
    assert "example.org/zones" in html  # the source note is shown, without its scheme
    for attr in re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", html):
        assert attr.startswith(("data:", "#")), attr
    for ref in re.findall(r"url\(\s*['\"]?([^)'\"]*)", html):
        assert ref.startswith(("data:", "#")), ref
    assert "@import" not in html
    assert "<script src" not in html and "<link" not in html
    assert "L.tileLayer" not in html
    for heading in VI_HEADINGS[:5]:
        assert heading in nfc(html)


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("chromium is not installed; .ci/run installs it (apt-get install chromium)")
    return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000", *args],
                          capture_output=True, timeout=120)


def test_html_map_works_offline_in_chromium(runs, vi_report, tmp_path):
    run = _run(runs["a"])
    html = vi_report["html"]
    dom = _chromium(["--dump-dom", html.as_uri()], tmp_path / "profile1").stdout.decode("utf-8")
    assert "leaflet-container" in dom, "Leaflet did not start"
    assert re.search(r'id="map"[^>]*data-features="(\d+)"', dom).group(1) == str(run["model"]["parcels"])
    assert dom.count("leaflet-interactive") >= run["model"]["parcels"]
    assert "map-legend" in dom
    # screenshot of the Leaflet map alone: hide everything else (the static PNG map included)
    only_map = html.read_text(encoding="utf-8").replace(
        "</head>", "<style>body>*:not(#section-map),#section-map>*:not(#map){display:none!important}"
                   "body{padding:0!important;margin:0!important}#map{height:560px!important}</style></head>", 1)
    page = tmp_path / "only_map.html"
    page.write_text(only_map, encoding="utf-8")
    shot = tmp_path / "map.png"
    _chromium([f"--screenshot={shot}", "--window-size=800,600", page.as_uri()], tmp_path / "profile2")
    assert shot.exists() and shot.stat().st_size > 0
    import matplotlib.image as mpimg

    img = (mpimg.imread(shot)[..., :3] * 255).round().astype(int)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 20, "blank screenshot"
    # SKK's colour (#d94a8c) at fillOpacity 0.9 over the map background #f8f8f8 ≈ (220, 91, 151)
    skk = np.abs(img - np.array([220, 91, 151])).max(axis=2) <= 12
    assert skk.sum() > 500, "the SKK parcels are not drawn"


# --- comparison ------------------------------------------------------------------------------------------

def test_comparison_report(runs, tmp_path):
    r = _invoke("report", runs["a"], "--compare", runs["b"], "--format", "pdf,html", "--out", tmp_path, "--json")
    assert r.exit_code == 0, r.output
    paths = json.loads(r.stdout)
    assert set(paths) >= {"pdf", "html", "qgis_style"}
    text = pdf_text(Path(paths["pdf"]))
    a, b = _run(runs["a"]), _run(runs["b"])
    assert "So sánh phương án" in text and "Khác biệt giữa hai phương án theo thửa" in text
    assert "Bản đồ khác biệt giữa hai phương án" in text
    assert vi(a["objective"], 4) in text and vi(b["objective"], 4) in text
    diff = b["changed_area_ha"] - a["changed_area_ha"]
    assert ("+" if diff > 0 else "−") + vi(abs(diff)) in text
    html = Path(paths["html"]).read_text(encoding="utf-8")
    assert 'id="figure-difference_map"' in html and 'src="data:image/png;base64,' in html


# --- infeasible runs -------------------------------------------------------------------------------------

def test_infeasible_run_reports_its_diagnosis(runs, tmp_path):
    from reports.build import build_report

    run = _run(runs["infeasible"])
    paths = build_report(runs["infeasible"], formats="pdf,docx,html", out=tmp_path)
    text = pdf_text(paths["pdf"])
    assert "Chẩn đoán không khả thi" in text and "Chứng nhận tối ưu" in text
    d = run["diagnosis"][0]
    assert vi(d["required"]) in text and vi(d["shortfall"]) in text
    assert "Hình" not in text  # no plan, no map
    assert "qgis_style" not in paths


# --- QGIS style ------------------------------------------------------------------------------------------

def test_layer_styles_in_the_geopackage(runs, vi_report):
    from optimizer.engine.qgis_style import add_style, rgb

    gpkg = runs["a"] / "allocation.gpkg"
    assert vi_report["qgis_style"] == gpkg
    land_uses = _run(runs["a"])["scenario"]["land_uses"]
    add_style(gpkg, land_uses)  # idempotent: still one style row
    with sqlite3.connect(gpkg) as con:
        assert con.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone() == ("attributes",)
        rows = con.execute("SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM layer_styles").fetchall()
    assert len(rows) == 1
    table, geom, default, qml = rows[0]
    assert (table, geom, default) == ("allocation", "geom", 1)
    root = ET.fromstring(qml.split("\n", 1)[1])  # well-formed XML after the DOCTYPE line
    renderer = root.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "new_use"
    values = [c.get("value") for c in renderer.find("categories")]
    assert values == list(land_uses)
    for code, use in land_uses.items():
        r, g, b = rgb(use["colour"])
        assert f'value="{r},{g},{b},255"' in qml, f"{code} colour {use['colour']} missing from the QML"
    plan = pyogrio.read_dataframe(gpkg, layer="allocation")
    assert len(plan) == 6


def test_add_style_takes_the_scenario_models(tmp_path):
    """run.py can call add_style with the validated scenario's land uses (pydantic models)."""
    from optimizer.engine.scenario import load_scenario
    from optimizer.engine.qgis_style import add_style

    out = tmp_path / "run"
    assert _invoke("solve", TINY_DIR / "tiny.yaml", "--out", out, "--json").exit_code == 0
    add_style(out / "allocation.gpkg", load_scenario(TINY_DIR / "tiny.yaml").scenario.land_uses)
    with sqlite3.connect(out / "allocation.gpkg") as con:
        assert con.execute("SELECT count(*) FROM layer_styles WHERE useAsDefault = 1").fetchone() == (1,)


# --- metrics ---------------------------------------------------------------------------------------------

def test_metrics_agree_with_run_json(runs):
    from optimizer.workflows import metrics
    from reports.data import load_run

    data = load_run(runs["a"])
    run = data.run
    order = list(run["scenario"]["land_uses"])
    conv = metrics.conversion_matrix(data.plan, order)
    assert conv.loc[metrics.TOTAL, metrics.TOTAL] == pytest.approx(run["changed_area_ha"])
    for q in run["quotas"]:
        if q["use"] in run["scenario"]["allocate"]:
            assert conv.loc[metrics.TOTAL, q["use"]] == pytest.approx(q["achieved"])  # tiny: no existing SKK/TMD
    districts = metrics.by_region(data.plan, "district", run["scenario"]["allocate"])
    assert districts.loc[metrics.TOTAL, "changed_ha"] == pytest.approx(run["changed_area_ha"])
    assert districts.loc[metrics.TOTAL, "area_ha"] == pytest.approx(sum(run["area_by_use"].values()))
    current = metrics.quota_current_areas(data.loaded, data.plan)
    assert current["HNK"] == pytest.approx(_current_area("HNK"))
    ind = metrics.indicator_table(run, current)
    assert ind["planned_ha"].tolist() == [q["achieved"] for q in run["quotas"]]
    assert set(ind["status"]) == {"met"}


def test_commune_table_when_the_input_has_communes(tmp_path):
    """commune_2025 in the parcel input → a per-commune table joined via run.json inputs."""
    from instances.synthetic import write_instance
    from reports.data import load_run
    from reports.document import build_document

    scenario = write_instance(tmp_path / "syn", n=120, seed=5, gap=0.0)
    parcels = pyogrio.read_dataframe(tmp_path / "syn" / "parcels.gpkg", layer="parcels")
    parcels["commune_2025"] = np.where(parcels["parcel_id"].to_numpy() % 3 == 0, "Xã Đàm Thủy", "Phường Thục Phán")
    pyogrio.write_dataframe(parcels, tmp_path / "syn" / "parcels.gpkg", layer="parcels", driver="GPKG")
    assert _invoke("solve", scenario, "--out", tmp_path / "run", "--json").exit_code == 0
    doc = build_document(load_run(tmp_path / "run"), "vi")
    communes = doc.table("communes")
    assert communes is not None
    run = _run(tmp_path / "run")
    total = communes.rows[-1]
    assert total[0] == "Tổng" and total[4] == vi(run["changed_area_ha"])
    names = [r[0] for r in communes.rows[:-1]]
    assert names and set(names) <= {"Xã Đàm Thủy", "Phường Thục Phán"} and names == sorted(names)


def test_vietnamese_alphabetical_order():
    from optimizer.workflows.metrics import vi_sort_key

    names = ["Huyện Hoà An", "Huyện Hà Quảng", "Huyện Bảo Lâm", "Huyện Bảo Lạc", "Huyện Đông Khê", "Huyện Dương"]
    assert sorted(names, key=vi_sort_key) == ["Huyện Bảo Lạc", "Huyện Bảo Lâm", "Huyện Dương", "Huyện Đông Khê",
                                              "Huyện Hà Quảng", "Huyện Hoà An"]


def test_sites_table_from_run_json(runs, tmp_path):
    """run.json ``sites`` (written by the sites family) become the sites table, read as they are."""
    from reports.data import load_run
    from reports.document import build_document

    run_dir = tmp_path / "run"
    shutil.copytree(runs["a"], run_dir)
    run = _run(run_dir)
    run["sites"] = [{"use": "SKK", "name": "KCN Đề Thám", "area_ha": 3.0, "parcels": 2, "connected": True,
                     "anchor_distance_km": 1.234, "min_ha": 2.0, "max_ha": 4.0, "anchor_max_km": 5.0}]
    (run_dir / "run.json").write_text(json.dumps(run, ensure_ascii=False), encoding="utf-8")
    table = build_document(load_run(run_dir), "vi").table("sites")
    assert table.rows == [["1", "KCN Đề Thám", "SKK", "—", "3,00", "2,00", "4,00", "—", "1,23", "5,00"]]


def test_bad_format_is_exit_2(runs):
    r = _invoke("report", runs["a"], "--format", "pdf,xls")
    assert r.exit_code == 2 and "--format" in r.output


def test_pdf_shows_the_objective_term_by_term_and_binding_limits_in_words(runs, vi_report):
    """What the objective is made of (each term's contribution, and the total) and, for each priced
    binding row, its sentence in Vietnamese — as run.json gives them."""
    run = _run(runs["a"])
    text = pdf_text(vi_report["pdf"])
    assert "Cơ cấu hàm mục tiêu" in text and "mức độ thích hợp" in text and "mất đất rừng" in text
    for t in run["objective_terms"]:
        assert vi(abs(t["contribution"])) in text
    assert vi(run["objective"]) in text
    sentences = [m["explanation_vi"] for m in run["marginal_values"] if m.get("explanation_vi")]
    assert sentences and all(nfc(s.split(": ", 1)[1][:40]) in text for s in sentences)
    assert "đẳng thức" not in text  # a band narrower than a parcel is not an equality


def test_compare_shows_the_change_per_objective_term(runs):
    """kpis: one row per objective term with A, B and B − A, whose differences add up to the objective's."""
    from optimizer.workflows.metrics import compare_kpis

    a, b = _run(runs["a"]), _run(runs["b"])
    kpis = compare_kpis(a, b)
    terms = kpis[kpis["kind"] == "objective_term"]
    assert set(terms["key"]) == {t["name"] for t in a["objective_terms"]}
    assert terms["diff"].sum() == pytest.approx(b["objective"] - a["objective"])
