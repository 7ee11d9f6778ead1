"""Vietnamese for what the data and the families write in English: the layer's reasons (reason_vi),
place labels, the scenario's source notes, attribute names. No solve; fast."""

from __future__ import annotations

import re

import geopandas as gpd
import pytest
import shapely

from .conftest import ROOT

ENGLISH = re.compile(r"\b(conflict|within|proximity|sites|site's|from|every|beyond|outside|neighbourhood|anchor|"
                     r"distance|zone|current|parcel|strict|buffer)\b")


# Every reason the families emit (constraints/*.py, ``Screen(..., reason)``), with the numbers and names
# as they write them, and the Vietnamese the layer's reason_vi must carry.
FAMILY_REASONS = [
    ("strict: Phja Oắc – Phja Đén (DGT, ONT, SKK, SKN)", "vùng bảo vệ nghiêm ngặt: Phja Oắc – Phja Đén (DGT, ONT, SKK, SKN)"),
    ("buffer: vùng đệm: Pác Bó (SKK, SKN)", "vùng đệm: Pác Bó (SKK, SKN)"),
    ("core: A / B (TMD)", "vùng lõi: A / B (TMD)"),
    ("conflict: SKK within 500 m of strict zone Pác Bó (SKK)",
     "xung đột: SKK trong phạm vi 500 m quanh vùng bảo vệ nghiêm ngặt Pác Bó (SKK)"),
    ("conflict: SKN within 250.5 m of current SKC (parcel 12) (SKN)",
     "xung đột: SKN trong phạm vi 250,5 m quanh thửa 12 đang là SKC (SKN)"),
    ("proximity: > 10 km from Thác Bản Giốc (TMD)", "khoảng cách: xa hơn 10 km tính từ Thác Bản Giốc (TMD)"),
    ("proximity: < 2.5 km from Hồ Thang Hen (SKK)", "khoảng cách: gần hơn 2,5 km tính từ Hồ Thang Hen (SKK)"),
    ("sites: > 3 km from Tà Lùng (DGT)", "khu bố trí: xa hơn 3 km tính từ Tà Lùng (DGT)"),
    ("sites: beyond the anchor distance of every DGT site (DGT)",
     "khu bố trí: ngoài khoảng cách cho phép tới điểm neo của mọi khu DGT (DGT)"),
    ("sites: outside every SKK site's candidate neighbourhood (SKK)", "khu bố trí: ngoài vùng ứng viên của mọi khu SKK (SKK)"),
]


@pytest.mark.parametrize("reason, expected", FAMILY_REASONS)
def test_each_family_reason_in_vietnamese(reason, expected):
    from optimizer.engine.reasons import reason_vi

    assert reason_vi(reason) == expected
    assert not ENGLISH.search(reason_vi(reason).replace("Pác Bó", ""))


def test_a_parcels_reasons_keep_their_order_and_uses():
    from optimizer.engine.reasons import reasons_vi

    joined = "; ".join(r for r, _ in FAMILY_REASONS)
    assert reasons_vi([joined, "", joined])[0] == "; ".join(v for _, v in FAMILY_REASONS)
    assert reasons_vi([""])[0] == ""


def test_every_reason_template_in_the_families_is_covered():
    """The reason f-strings of constraints/*.py: each prefix is one translated above."""
    prefixes = set()
    for path in (ROOT / "constraints").glob("*.py"):
        prefixes |= set(re.findall(r'f?"(conflict|proximity|sites): ', path.read_text(encoding="utf-8")))
    assert prefixes == {"conflict", "proximity", "sites"}
    covered = {r.split(":")[0] for r, _ in FAMILY_REASONS}
    assert prefixes <= covered


def test_source_notes_keep_the_plans_quotes():
    from reports.blocks import strings
    from reports.labels import source_text

    T = strings("vi")
    text = 'PP: "đất chưa sử dụng 1.377 ha" (reported, not a bound: the synthetic layer has ~2,395 ha)'
    assert source_text(text, "vi", T) == ('Quy hoạch tỉnh: "đất chưa sử dụng 1.377 ha" (số liệu đối chiếu, không phải '
                                          'giới hạn: lớp dữ liệu giả lập có khoảng 2.395 ha)')
    quoted = 'PP: "04 cụm công nghiệp, với tổng diện tích 115ha" (115 ha ± 5 ha, half a ~10 ha parcel)'
    assert source_text(quoted, "vi", T).endswith('"04 cụm công nghiệp, với tổng diện tích 115ha" (115 ha ± 5 ha, '
                                                 'bằng nửa thửa đất ~10 ha)')
    ours = '(572.8 ha ± 2 %; 4 clusters of 2030: 3 expanded, 1 kept, + 10 new = 14)'
    assert source_text(f'PP: "572,8ha" {ours}', "vi", T) == ('Quy hoạch tỉnh: "572,8ha" (572,8 ha ± 2%; 4 cụm của năm '
                                                             '2030: mở rộng 3, giữ nguyên 1, thêm mới 10, tổng cộng 14 cụm)')
    assert source_text("Cao Bằng provincial plan 2021–2030, vision 2050 (Decision 1486/QĐ-TTg)", "vi", T) == \
        "Quy hoạch tỉnh Cao Bằng thời kỳ 2021–2030, tầm nhìn đến năm 2050 (Quyết định 1486/QĐ-TTg)"


def test_place_labels_use_2025_communes_and_vietnamese():
    """Seats and towns are labelled by the 2025 commune under them (two in one commune: one label);
    English descriptions of other places are translated; unknown names are kept."""
    from reports.blocks import strings
    from reports.labels import place_labels

    T = strings("vi")
    plan = gpd.GeoDataFrame({"commune_2025": ["Xã Trường Hà", "Xã Bảo Lạc"]},
                            geometry=[shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)], crs="EPSG:9210")
    names = ["Thị trấn Xuân Hòa (seat of Hà Quảng) ~ via successor xã Trường Hà", "Xã Sóc Hà seat (commune of Sóc Giang gate)",
             "Thị trấn Bảo Lạc (seat of Bảo Lạc)", "Bản Giốc waterfall", "Pác Bó relic site (Cốc Bó cave)",
             "Cửa khẩu Sóc Giang (Soc Giang border gate) - ESTIMATE", "Hồ Thang Hen (Trà Lĩnh–Thang Hen)"]
    points = gpd.GeoSeries(shapely.points([(2, 2), (3, 3), (15, 5), (5, 5), (5, 5), (5, 5), (15, 5)]), crs="EPSG:9210")
    assert place_labels(names, points, plan, "commune_2025", "vi", T) == [
        "Trung tâm xã Trường Hà", None, "Trung tâm xã Bảo Lạc", "Thác Bản Giốc", "Khu di tích Pác Bó",
        "Cửa khẩu Sóc Giang", "Hồ Thang Hen"]
    en = place_labels(names[:1], points[:1], plan, "commune_2025", "en", strings("en"))
    assert en == ["Xã Trường Hà (centre)"]


def test_attribute_names_in_words():
    from reports.blocks import strings
    from reports.labels import fields_text

    T = strings("vi")
    assert fields_text(["suit_industry", "is_forest", "households", "suit_fishing"], T) == \
        "mức độ thích hợp cho khu công nghiệp, là đất rừng, số hộ dân, mức độ thích hợp (fishing)"
    assert set(strings("vi")) == set(strings("en"))  # every string in both languages


def test_commune_level_words_replace_every_district_word():
    """parcels.admin_level: commune swaps the words naming districts for the commune's, in both languages,
    and adds none: a key misspelt under commune_level would otherwise never reach the report."""
    from reports.blocks import LANGS, strings

    replaced = {"admin_units_text", "former_district", "reg_caption_district", "reg_caption_former_district",
                "reg_district", "map_districts", "pop_district", "units_district", "res_region_district",
                "sheet_districts", "field_names"}
    for lang in LANGS:
        district, commune = strings(lang), strings(lang, "commune")
        assert set(commune) == set(district) and set(commune["field_names"]) == set(district["field_names"]), lang
        assert {k for k in district if commune[k] != district[k]} == replaced, lang
        assert [k for k in district["field_names"] if commune["field_names"][k] != district["field_names"][k]] == ["district"]
    vi, en = strings("vi", "commune"), strings("en", "commune")
    assert (vi["reg_district"], en["reg_district"], vi["former_district"].format(name="Xã Hưng Đạo")) == \
        ("Xã", "Commune", "Xã Hưng Đạo")


def test_unit_boundaries_are_named_after_the_layer_drawn():
    """Maps name the unit layer they draw: the 2025 communes as such, else the parcels' own unit in the
    words of parcels.admin_level (the department's communes.gpkg, labelled by TenXa: communes)."""
    import geopandas as gpd

    from reports.blocks import strings
    from reports.data import Layer
    from reports.labels import units_legend

    empty = gpd.GeoDataFrame(geometry=[])
    vi, vi_commune = strings("vi"), strings("vi", "commune")
    assert units_legend(Layer(empty, "commune_2025", "parcels"), vi_commune) == "Ranh giới xã, phường (2025)"
    assert units_legend(Layer(empty, "TenXa", "communes.gpkg"), vi_commune) == "Ranh giới xã"
    assert units_legend(Layer(empty, "district", "parcels"), vi) == "Ranh giới huyện (trước 01/7/2025)"
