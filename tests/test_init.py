"""`landalloc init`: a land office's own parcel layer read (fields, encodings, codes, CRS) and turned into a
scenario skeleton that `explain` accepts and that solves; bad input exits 2 naming the file and field.

The small layers here are written the way Vietnamese desktop GIS writes them: a Shapefile whose .dbf
text is Windows-1258 (tones as combining marks) or TCVN3 (one byte per toned lower-case letter), with
cadastral field names. Expected code readings follow the rules of ``optimizer/engine/land_codes.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
import yaml

from instances.department.build import write_cp1258_shapefile
from optimizer.engine.land_codes import resolve_codes
from optimizer.engine.vn_encodings import decode_latin1, encode_cp1258, encode_tcvn3, guess

from .grid_instance import X0, Y0

COMMUNES = ["Xã Hưng Đạo", "Xã Hưng Đạo", "Xã Hưng Đạo", "Xã Hưng Đạo", "Xã Bạch Đằng", "Xã Bạch Đằng",
            "Xã Bạch Đằng", "Xã Bạch Đằng"]
# 8 one-hectare parcels, 4 × 2. Codes: national (LUC, CLN), earlier classification (BHK → HNK,
# RSN → RSX, LNQ → CLN), combined (ODT+CLN → ODT), and one no table knows (XYZ).
CODES = ["LUC", "BHK", "ODT+CLN", "CLN", "RSN", "XYZ", "LNQ", "BHK"]


def cadastral_layer(**fields) -> gpd.GeoDataFrame:
    boxes = [shapely.box(X0 + 100 * (i % 4), Y0 + 100 * (i // 4), X0 + 100 * (i % 4 + 1), Y0 + 100 * (i // 4 + 1))
             for i in range(8)]
    data = {"SoTo": [1, 1, 1, 1, 2, 2, 2, 2], "SoThua": [1, 2, 3, 4, 1, 2, 3, 4], "MaLoaiDat": CODES,
            "TenXa": COMMUNES, "DienTich": [10000.0] * 7 + [11000.0]}  # the last legal area is 10 % off
    data.update(fields)
    return gpd.GeoDataFrame(data, geometry=boxes, crs="EPSG:9210")


@pytest.fixture
def cp1258_shp(tmp_path) -> Path:
    path = tmp_path / "thua_dat.shp"
    write_cp1258_shapefile(cadastral_layer(), path)
    return path


def test_department_example_init_explains_and_solves(cli, tmp_path):
    """The bundled department Shapefile (CP1258, 300 parcels): every code read as stated in its metadata,
    the two unknown codes listed with their counts, and the skeleton explained and solved (exit 0, verified)."""
    root = Path(__file__).resolve().parents[1] / "instances" / "department" / "data"
    meta = json.loads((root / "metadata.json").read_text(encoding="utf-8"))
    out = tmp_path / "work"
    r = cli("init", root / "hien_trang.shp", "--out", out, "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["encoding"] == {"encoding": "cp1258", "decided_by": "the .cpg says cp1258"}
    fields = {role: v["field"] for role, v in report["fields"].items()}
    assert fields == {"current_use": "MaLoaiDat", "commune": "TenXa", "sheet": "SoTo", "id": "SoThua", "area_m2": "DienTich"}
    assert report["parcel_id"]["composed_from"] == ["SoTo", "SoThua"]
    read = {row["value"]: (row["code"], row["rule"], row["parcels"]) for row in report["codes"]}
    assert read == {**{c: (c, "national", n) for c, n in meta["codes"].items()
                       if c in ("BCS", "CLN", "LUC", "LUK", "NTS", "ONT", "RPH", "RSX")},
                    "BHK": ("HNK", "crosswalk", meta["codes"]["BHK"]), "NHK": ("HNK", "crosswalk", meta["codes"]["NHK"]),
                    "LNQ": ("CLN", "crosswalk", 3), "RST": ("RSX", "crosswalk", 3),
                    "ONT+CLN": ("ONT", "combined", meta["codes"]["ONT+CLN"]), "LUK/LUC": ("LUK", "combined", 2),
                    "LUX": ("LUX", "unmapped", 3), "KHAC": ("KHAC", "unmapped", 2)}
    assert report["unmapped"] == {"LUX": 3, "KHAC": 2}
    assert sum(report["codes_by_rule"].values()) == meta["parcels"]
    assert report["crs"]["scenario_crs"] == "EPSG:9210"
    assert any("4 parcels' DienTich" in w for w in report["warnings"])
    scenario = out / "scenario.yaml"
    assert cli("explain", scenario).exit_code == 0
    r = cli("solve", scenario, "--out", tmp_path / "run")
    assert r.exit_code == 0, r.output
    assert cli("verify", tmp_path / "run").exit_code == 0
    plan = gpd.read_file(tmp_path / "run" / "allocation.gpkg", layer="allocation")
    assert len(plan) == meta["parcels"] and set(plan["district"]) == {"Xã Hưng Đạo", "Xã Bạch Đằng", "Xã Hồng Việt"}
    assert not ({"BHK", "NHK", "ONT+CLN", "LNQ"} & set(plan["current_use"]))


def test_cp1258_shapefile_mapped_solved_and_read_back(cli, cp1258_shp, tmp_path):
    """A CP1258 Shapefile of 8 parcels: codes read by each rule, the unknown code counted, Vietnamese
    names intact (GDAL's own CP1258 reading would cut names short), the legal area 10 % off warned,
    and the skeleton solves with the codes read by the parcel loader from the original file."""
    out = tmp_path / "init"
    r = cli("init", cp1258_shp, "--out", out, "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    rules = {row["value"]: (row["code"], row["rule"], row["parcels"]) for row in report["codes"]}
    assert rules == {"BHK": ("HNK", "crosswalk", 2), "LUC": ("LUC", "national", 1), "ODT+CLN": ("ODT", "combined", 1),
                     "CLN": ("CLN", "national", 1), "RSN": ("RSX", "crosswalk", 1), "XYZ": ("XYZ", "unmapped", 1),
                     "LNQ": ("CLN", "crosswalk", 1)}
    assert report["unmapped"] == {"XYZ": 1}
    assert any("1 parcels' DienTich" in w and "parcel 2 / 4: 11,000.0 m² vs 10,000.0 m²" in w for w in report["warnings"])
    sc = yaml.safe_load((out / "scenario.yaml").read_text(encoding="utf-8"))
    assert sc["parcels"]["encoding"] == "cp1258" and sc["parcels"]["cadastral"]["id_from"] == ["SoTo", "SoThua"]
    assert sc["land_uses"]["XYZ"]["group"] == "unused"  # kept as its own use until mapped
    assert cli("explain", out / "scenario.yaml").exit_code == 0
    r = cli("solve", out / "scenario.yaml", "--out", tmp_path / "run")
    assert r.exit_code == 0, r.output
    assert cli("verify", tmp_path / "run").exit_code == 0
    plan = gpd.read_file(tmp_path / "run" / "allocation.gpkg", layer="allocation").sort_values("parcel_id")
    # ids composed from sheet and parcel number: sheet 2, parcel 3 → 23
    assert plan["parcel_id"].tolist() == [11, 12, 13, 14, 21, 22, 23, 24]
    assert plan["district"].tolist() == sorted(COMMUNES, key=lambda c: c != "Xã Hưng Đạo")
    assert plan["current_use"].tolist() == ["LUC", "HNK", "ODT", "CLN", "RSX", "XYZ", "CLN", "HNK"]


def test_loader_maps_codes_and_still_rejects_truly_unknown(tmp_path, cp1258_shp):
    """`parcels.cadastral` in the loader: the planner's map is tried first; a code nothing maps still stops
    the load with the engine's own message."""
    from optimizer.engine.errors import InputError
    from optimizer.engine.instance import load_instance
    from optimizer.engine.scenario import load_scenario

    base = {"name": "t", "crs": "EPSG:9210",
            "parcels": {"path": str(cp1258_shp), "encoding": "cp1258",
                        "fields": {"id": "pid", "current_use": "MaLoaiDat", "district": "TenXa"},
                        "cadastral": {"id_from": ["SoTo", "SoThua"], "map": {"xyz": "BCS"}}},
            "land_uses": {c: {"name_vi": c, "name_en": c, "group": "agricultural"}
                          for c in ("LUC", "HNK", "ODT", "CLN", "RSX", "BCS", "SKN")},
            "allocate": ["SKN"], "objective": {"terms": {"a": {"weight": 1.0}}}}
    (tmp_path / "ok.yaml").write_text(yaml.safe_dump(base, allow_unicode=True), encoding="utf-8")
    inst = load_instance(load_scenario(tmp_path / "ok.yaml"))
    assert dict(zip(inst.ids, inst.current_use))[22] == "BCS"  # XYZ by the planner's map
    assert dict(zip(inst.ids, inst.attrs["code_secondary"]))[13] == "CLN"
    assert dict(zip(inst.ids, inst.attrs["code_mapping"]))[12] == "crosswalk"
    base["parcels"]["cadastral"]["map"] = {}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(base, allow_unicode=True), encoding="utf-8")
    with pytest.raises(InputError, match=r"unknown land-use code\(s\) \['XYZ'\]"):
        load_instance(load_scenario(tmp_path / "bad.yaml"))


def test_fields_by_name_and_by_flag(cli, tmp_path):
    """Names are matched without case or accents (Số_Thửa, MALOAIDAT, ten_xa); unusual names need the flags,
    and the report says which way each field was found."""
    gdf = cadastral_layer().rename(columns={"SoThua": "Số_Thửa", "MaLoaiDat": "MALOAIDAT", "TenXa": "ten_xa"})
    gdf = gdf.drop(columns=["SoTo", "DienTich"]).assign(**{"Số_Thửa": range(1, 9)})
    gdf.to_file(tmp_path / "a.gpkg", layer="parcels")
    pyogrio.write_dataframe(gdf.head(1), tmp_path / "a.gpkg", layer="notes")  # a second layer: --layer chooses
    r = cli("init", tmp_path / "a.gpkg", "--out", tmp_path / "a", "--layer", "parcels", "--json")
    assert r.exit_code == 0, r.output
    assert yaml.safe_load((tmp_path / "a" / "scenario.yaml").read_text(encoding="utf-8"))["parcels"]["layer"] == "parcels"
    f = json.loads(r.stdout)["fields"]
    assert (f["id"], f["current_use"], f["commune"]) == ({"field": "Số_Thửa", "found_by": "name"},
                                                          {"field": "MALOAIDAT", "found_by": "name"},
                                                          {"field": "ten_xa", "found_by": "name"})
    odd = cadastral_layer().rename(columns={"MaLoaiDat": "HT2024", "TenXa": "DonVi"})
    odd.to_file(tmp_path / "b.geojson", driver="GeoJSON")
    r = cli("init", tmp_path / "b.geojson", "--out", tmp_path / "b")
    assert r.exit_code == 2 and "no current-use field found" in r.stderr and "--use-field" in r.stderr
    r = cli("init", tmp_path / "b.geojson", "--out", tmp_path / "b", "--use-field", "ht2024",
            "--commune-field", "DonVi", "--json")
    assert r.exit_code == 0, r.output
    f = json.loads(r.stdout)["fields"]
    assert f["current_use"] == {"field": "HT2024", "found_by": "flag"} and f["commune"]["found_by"] == "flag"


def test_admin_level_follows_the_unit_field(cli, tmp_path):
    """parcels.admin_level says what fills the district column, so the report names its tables after it:
    a commune field (TenXa, or any name not a district's) → commune; a district field (Huyen, TEN_HUYEN,
    District) → district."""
    from optimizer.workflows.init_fields import admin_level

    assert [admin_level(f) for f in ("TenXa", "ten_xa", "DonVi", "Huyện", "TEN_HUYEN", "district_name")] == \
        ["commune", "commune", "commune", "district", "district", "district"]
    for name, level in (("TenXa", "commune"), ("Huyen", "district")):
        path = tmp_path / f"{name}.gpkg"
        cadastral_layer().rename(columns={"TenXa": name}).to_file(path, layer="parcels")
        r = cli("init", path, "--out", tmp_path / name, "--commune-field", name)
        assert r.exit_code == 0, r.output
        parcels = yaml.safe_load((tmp_path / name / "scenario.yaml").read_text(encoding="utf-8"))["parcels"]
        assert parcels["fields"]["district"] == name and parcels["admin_level"] == level


def test_tcvn3_attribute_table_decoded(cli, tmp_path):
    """A TCVN3 .dbf without .cpg: detected from the text (or named with --encoding) and decoded."""
    gdf = cadastral_layer()
    gdf["TenXa"] = [encode_tcvn3(c).decode("latin-1") for c in COMMUNES]
    pyogrio.write_dataframe(gdf, tmp_path / "t.shp", encoding="cp1252")  # bytes 0xA1–0xFE pass unchanged
    (tmp_path / "t.cpg").unlink()
    r = cli("init", tmp_path / "t.shp", "--out", tmp_path / "o", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["encoding"] == {"encoding": "tcvn3", "decided_by": "detected from the text (tcvn3)"}
    r = cli("init", tmp_path / "t.shp", "--out", tmp_path / "o2", "--encoding", "tcvn3")
    assert r.exit_code == 0
    sc = tmp_path / "o2" / "scenario.yaml"
    assert yaml.safe_load(sc.read_text(encoding="utf-8"))["parcels"]["encoding"] == "tcvn3"
    r = cli("solve", sc, "--out", tmp_path / "run")
    assert r.exit_code == 0, r.output
    plan = gpd.read_file(tmp_path / "run" / "allocation.gpkg", layer="allocation")
    assert set(plan["district"]) == {"Xã Hưng Đạo", "Xã Bạch Đằng"}


def test_bad_input_exits_2_naming_file_and_field(cli, tmp_path, cp1258_shp):
    (tmp_path / "table.csv").write_text("SoThua,MaLoaiDat\n1,LUC\n", encoding="utf-8")
    r = cli("init", tmp_path / "table.csv", "--out", tmp_path / "x")
    assert r.exit_code == 2 and "table.csv" in r.stderr and "no geometry" in r.stderr
    r = cli("init", cp1258_shp, "--out", tmp_path / "y", "--use-field", "LoaiDatMoi")
    assert r.exit_code == 2 and "LoaiDatMoi: no such field (given as --use-field)" in r.stderr and "MaLoaiDat" in r.stderr
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("mine", encoding="utf-8")
    r = cli("init", cp1258_shp, "--out", full)
    assert r.exit_code == 2 and "exists and is not empty" in r.stderr and "--force" in r.stderr
    assert sorted(p.name for p in full.iterdir()) == ["notes.txt"]
    r = cli("init", cp1258_shp, "--out", full, "--force")
    assert r.exit_code == 0 and (full / "notes.txt").read_text() == "mine" and (full / "scenario.yaml").is_file()
    r = cli("init", tmp_path / "missing.shp", "--out", tmp_path / "z")
    assert r.exit_code == 2 and "missing.shp" in r.stderr and not (tmp_path / "z").exists()


def test_crs_choice_and_local_vn2000_warning(cli, tmp_path):
    """A layer in WGS 84 is measured in the TM-3 plane of --province (Cao Bằng: EPSG:9210); a 'nội bộ'
    VN-2000 PROJ string without towgs84 is warned about; --crs picks VN-2000 / UTM 48N."""
    layer = cadastral_layer()
    layer.to_crs(4326).to_file(tmp_path / "wgs.geojson", driver="GeoJSON")
    r = cli("init", tmp_path / "wgs.geojson", "--out", tmp_path / "a", "--province", "cao bang", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["crs"]["scenario_crs"] == "EPSG:9210" and "Cao Bằng" in report["crs"]["why"]
    assert report["parcels"]["area_ha"] == pytest.approx(8.0, abs=1e-4)
    layer.to_file(tmp_path / "local.shp")  # then its .prj as a 'nội bộ' export writes it: TM-3 on WGS 84, no shift
    (tmp_path / "local.prj").write_text(
        'PROJCS["VN2000_noi_bo",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
        'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
        'PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",105.75],'
        'PARAMETER["Scale_Factor",0.9999],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]', encoding="ascii")
    r = cli("init", tmp_path / "local.shp", "--out", tmp_path / "b", "--json")
    assert r.exit_code == 0, r.output
    assert any("'nội bộ'" in w and "towgs84" in w for w in json.loads(r.stdout)["warnings"])
    r = cli("init", tmp_path / "wgs.geojson", "--out", tmp_path / "c", "--crs", "EPSG:3405", "--json")
    assert json.loads(r.stdout)["crs"]["scenario_crs"] == "EPSG:3405"
    r = cli("init", tmp_path / "wgs.geojson", "--out", tmp_path / "d", "--crs", "EPSG:4326")
    assert r.exit_code == 2 and "not a projected CRS" in r.stderr


def test_code_rules():
    """Each rule of land_codes on its own, in its order: planner's map, scenario code, national, crosswalk,
    combined (first code; the rest recorded), unmapped (kept as written)."""
    r = resolve_codes(["ONT+CLN", " luk / luc ", "BHK", "RST", "LUX", "DTS", "SKK", "ODT+XYZ", "XYZ+ODT"],
                      planner_map={"lux": "LUC"}, scenario_codes={"DTS"})
    assert list(zip(r.code, r.rule, r.secondary)) == [
        ("ONT", "combined", "CLN"), ("LUK", "combined", "LUC"), ("HNK", "crosswalk", ""), ("RSX", "crosswalk", ""),
        ("LUC", "map", ""), ("DTS", "scenario", ""), ("SKK", "national", ""), ("ODT", "combined", "XYZ"),
        ("XYZ+ODT", "unmapped", "")]
    assert r.unmapped == {"XYZ+ODT": 1}


def test_vietnamese_legacy_encodings_round_trip():
    """CP1258 keeps tones as combining marks (ậ = â + dot below); TCVN3 has one byte per toned lower-case
    letter (ư = 0xAD, ạ = 0xB9, đ = 0xAE). Both decode back to the NFC text, and each is told apart."""
    text = "Xã Hưng Đạo, Bạch Đằng, Hồng Việt, Mường Khương, Phường Sông Hiến"
    cp, tc = encode_cp1258(text).decode("latin-1"), encode_tcvn3(text).decode("latin-1")
    assert decode_latin1(cp, "cp1258") == text and decode_latin1(tc, "tcvn3") == text
    assert encode_tcvn3("ưạđ") == b"\xad\xb9\xae" and encode_cp1258("ậ") == b"\xe2\xf2"
    assert (guess([cp]), guess([tc]), guess(["plain ASCII"])) == ("cp1258", "tcvn3", None)


def test_text_ids_when_numbers_repeat_on_a_sheet(cli, tmp_path):
    """Each commune numbers its own sheet 1 from 1: the id is composed from commune, sheet and number, as text
    ("Xã Bạch Đằng/1/4"), and the plan carries those ids."""
    cadastral_layer(SoTo=[1] * 8, SoThua=[1, 2, 3, 4, 1, 2, 3, 4]).to_file(tmp_path / "p.gpkg")
    r = cli("init", tmp_path / "p.gpkg", "--out", tmp_path / "o", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["parcel_id"]["composed_from"] == ["TenXa", "SoTo", "SoThua"]
    r = cli("solve", tmp_path / "o" / "scenario.yaml", "--out", tmp_path / "run")
    assert r.exit_code == 0, r.output
    plan = gpd.read_file(tmp_path / "run" / "allocation.gpkg", layer="allocation")
    assert sorted(plan["parcel_id"])[:2] == ["Xã Bạch Đằng/1/1", "Xã Bạch Đằng/1/2"] and plan["parcel_id"].is_unique


def test_shipped_tables_are_consistent():
    """The classification, crosswalk and meridian tables agree with each other and with the scenario schema:
    every crosswalk target is a current code and no code is both; every row is a valid `land_uses` entry;
    Cao Bằng's meridian 105°45′ is EPSG:9210 and 105°00′ (no EPSG code) is still on the VN-2000 datum."""
    from optimizer.engine.land_codes import crosswalk, default_allocate, national_classification
    from optimizer.engine.scenario import LandUse
    from optimizer.workflows.init_crs import provinces, tm3

    table, walk = national_classification(), crosswalk()
    assert not set(table) & set(walk) and {row["to"] for row in walk.values()} <= set(table)
    for row in table.values():
        LandUse(**{k: row[k] for k in ("name_vi", "name_en", "colour", "group")}, forest=row.get("forest", False))
    assert set(default_allocate()) <= set(table)
    assert provinces()["Cao Bằng"]["lon_0"] == 105.75 and tm3(105.75)[1] == "EPSG:9210"
    crs, name = tm3(105.0)
    assert name.startswith("PROJCRS") and crs.datum.name == "Vietnam 2000"
