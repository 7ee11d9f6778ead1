"""The department example: its committed data is what its builder writes, and the README's walk-through
"From your own layers" runs as written, from `landalloc init` on the raw CP1258 Shapefile to the council
report, with the plan's figures recomputed from the output geometry."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import unicodedata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
import shapely
import yaml

from instances.department.build import build

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "instances" / "department" / "data"


def test_builder_reproduces_the_committed_data(tmp_path):
    meta = build(tmp_path)
    assert json.loads((DATA / "metadata.json").read_text(encoding="utf-8")) == json.loads(json.dumps(meta))
    for name in ("hien_trang.shp", "hien_trang.shx", "hien_trang.dbf", "hien_trang.prj", "hien_trang.cpg"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
    for name in ("roads.gpkg", "communes.gpkg", "protection.gpkg"):
        new, old = pyogrio.read_dataframe(tmp_path / name), pyogrio.read_dataframe(DATA / name)
        assert new.drop(columns="geometry").equals(old.drop(columns="geometry")), name
        assert shapely.equals_exact(new.geometry.to_numpy(), old.geometry.to_numpy(), 0.01).all(), name
    with rasterio.open(tmp_path / "dem.tif") as a, rasterio.open(DATA / "dem.tif") as b:
        assert a.crs == b.crs and a.transform == b.transform and np.array_equal(a.read(1), b.read(1))
    assert sum(p.stat().st_size for p in DATA.iterdir()) < 2_000_000
    assert meta["codes"]["LUX"] == 3 and meta["codes"]["KHAC"] == 2 and meta["codes"]["ONT+CLN"] > 0


def _walkthrough() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### From your own layers", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [shlex.split(line)[1:] for line in block.splitlines() if line.startswith("landalloc ")]


def test_readme_walkthrough_from_raw_layers_to_council_report(cli, tmp_path, monkeypatch):
    """Every `landalloc` line of the README block, in order, from a folder where `instances/` is the
    repository's: all exit 0. The filled-in scenario's plan meets its bands by the output geometry's own
    areas, keeps the protection zone untouched, and the report's PDF carries the decoded commune names under
    the commune's name for the unit (vi and en)."""
    (tmp_path / "instances").symlink_to(ROOT / "instances")
    monkeypatch.chdir(tmp_path)
    commands = _walkthrough()
    assert [c[0] for c in commands] == ["init", "explain", "solve", "solve", "verify", "report"]
    for args in commands:
        r = cli(*args)
        assert r.exit_code == 0, (args, r.output)
    plan = gpd.read_file(tmp_path / "runs" / "department" / "allocation.gpkg", layer="allocation")
    area = plan.geometry.area / 1e4  # EPSG:9210, metres
    bands = {"SKN": (8, 10), "TMD": (3, 5), "ONT": (49.5, 52.5)}
    for use, (lo, hi) in bands.items():
        assert lo - 1e-6 <= area[plan["new_use"] == use].sum() <= hi + 1e-6, use
    zone = gpd.read_file(DATA / "protection.gpkg").geometry.iloc[0]
    inside = plan.geometry.intersection(zone).area > 1.0
    assert inside.any() and not plan.loc[inside, "changed"].astype(bool).any()
    assert not plan.loc[plan["current_use"].isin(["LUC", "LUK"]), "changed"].astype(bool).any()
    assert {"LUX", "KHAC", "BHK", "ONT+CLN"}.isdisjoint(plan["current_use"])
    pdf = next((tmp_path / "runs" / "department" / "report").glob("*.pdf"))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for commune in ("Xã Hưng Đạo", "Xã Bạch Đằng", "Xã Hồng Việt"):
        assert re.search(r"\s+".join(map(re.escape, commune.split())), text), commune
    # The layer's unit field is a commune's (TenXa): init wrote parcels.admin_level: commune, and the table by
    # administrative unit is titled and headed by commune (xã), in both languages, with no district (huyện)
    # left in the text; the Cao Bằng reports, whose field holds the former districts, keep them
    # (tests/test_cao_bang_run.py).
    skeleton = yaml.safe_load((tmp_path / "work" / "department" / "scenario.yaml").read_text(encoding="utf-8"))
    assert skeleton["parcels"]["admin_level"] == "commune"
    r = cli("report", "runs/department", "--lang", "en", "--format", "pdf", "--out", "runs/department/report")
    assert r.exit_code == 0, r.output
    _assert_table_by_commune(text, "vi")
    _assert_table_by_commune(subprocess.run(["pdftotext", str(tmp_path / "runs" / "department" / "report" / "report_en.pdf"),
                                             "-"], capture_output=True, text=True, check=True).stdout, "en")


def _assert_table_by_commune(pdf_text: str, lang: str) -> None:
    caption, header, district = {"vi": (r"Bảng \d+\. Diện tích chuyển mục đích theo đơn vị hành chính cấp xã ", "Xã", "huyện"),
                                 "en": (r"Table \d+\. Converted area by commune ", "Commune", "district")}[lang]
    text = unicodedata.normalize("NFC", pdf_text)
    flat = re.sub(r"\s+", " ", text)
    assert re.search(caption, flat) and re.search(f"^{header}$", text, re.M), lang
    assert district not in flat.lower(), lang


