"""The commented scenario skeleton `landalloc init` writes: valid at once (``landalloc explain`` accepts it
and it solves), with every number a planner must replace marked ``TODO`` / ``ĐIỀN``, in English and
Vietnamese.

Its defaults are deliberately cautious, so a first solve shows the mechanics without deciding anything:
small quota bands (today's area of each allocated use + 0.5 % of the layer's area, as wide as the
largest parcel so whole parcels can meet them), no conversion of paddy land, forest
cover kept within one percentage point, and the least land converted as the objective.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from optimizer.engine.land_codes import national_classification

UNMAPPED_COLOUR = "#ff00ff"
ADMIN_WORDS = {"commune": ("communes", "xã"), "district": ("districts (before 1 July 2025)", "huyện")}
"""parcels.admin_level → (what the field holds, the unit in Vietnamese), for the skeleton's comment"""


def q(value) -> str:
    """A YAML scalar: JSON's double-quoted string is valid YAML and keeps codes strings (``"01234"``)."""
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class Skeleton:
    name: str
    source: str
    parcels_path: str
    layer: str | None
    encoding: str | None
    fields: dict[str, str]
    admin_level: str
    """what ``fields["district"]`` holds: commune or district (init_fields.admin_level)"""
    id_from: list[str] | None
    repair: bool
    crs_name: str
    crs_why: str
    codes_present: dict[str, float]
    """code read → area (ha)"""
    unmapped: dict[str, int]
    allocate: list[str]
    total_ha: float
    largest_parcel_ha: float
    real_fields: list[str]


def _land_use_line(code: str) -> str:
    row = national_classification()[code]
    extra = ", forest: true" if row.get("forest") else ""
    return (f"  {q(code)}: {{name_vi: {q(row['name_vi'])}, name_en: {q(row['name_en'])}, colour: {q(row['colour'])}, "
            f"group: {row['group']}{extra}}}")


def render(s: Skeleton) -> str:
    table = national_classification()
    known = [c for c in s.codes_present if c in table]
    lines = [
        f"# Scenario skeleton written by `landalloc init` from {s.source}.",
        f"# Khung kịch bản do `landalloc init` lập từ lớp thửa đất {s.source}.",
        "#",
        "# It is valid as it stands: `landalloc explain` accepts it and it solves. Replace every TODO / ĐIỀN",
        "# with the plan's own figures (chỉ tiêu của quy hoạch), then:",
        "#   landalloc explain scenario.yaml && landalloc solve scenario.yaml --out runs/first",
        "# Paths are relative to this file; land-use codes are strings and stay quoted.",
        f"name: {q(s.name)}",
        f"title: {q('TODO: the plan this scenario encodes / ĐIỀN: tên phương án quy hoạch')}",
        f"# Areas are measured in {s.crs_why}.",
        "# Diện tích được tính trong hệ tọa độ này (VN-2000 múi 3° của tỉnh, hoặc hệ do người lập chọn bằng --crs).",
        f"crs: {q(s.crs_name)}",
        "parcels:",
        f"  path: {q(s.parcels_path)}",
    ]
    if s.layer:
        lines.append(f"  layer: {q(s.layer)}")
    if s.encoding:
        lines.append(f"  encoding: {s.encoding}   # the attribute table's text encoding / bảng mã của bảng thuộc tính")
    if s.repair:
        lines.append("  repair: true   # some geometries are invalid and are repaired with make_valid (see init_report.txt)")
    f = s.fields
    lines += [
        f"  fields: {{id: {q(f['id'])}, current_use: {q(f['current_use'])}, district: {q(f['district'])}}}",
        f"  admin_level: {s.admin_level}   # {f['district']} holds {ADMIN_WORDS[s.admin_level][0]}; the report names its "
        f"tables by it / đơn vị hành chính: {ADMIN_WORDS[s.admin_level][1]}",
        "  # How the land office's layer is read: current-use codes through the national classification",
        "  # (Circular 08/2024/TT-BTNMT) and the crosswalk of earlier codes (BHK → HNK, LNQ → CLN, RST → RSX …);",
        "  # a combined code such as ONT+CLN or LUK/LUC is read as its FIRST code, the others are kept in",
        "  # `code_secondary`. Mã loại đất được đọc theo bảng phân loại quốc gia; mã ghép lấy mã đầu tiên.",
        "  cadastral:",
    ]
    if s.id_from:
        lines.append(f"    id_from: [{', '.join(q(x) for x in s.id_from)}]   # số tờ / số thửa: a parcel number is unique only on its sheet")
    if s.unmapped:
        lines.append(f"    # TODO: {', '.join(sorted(s.unmapped))}: no table knows them; map each to a real code here")
        lines.append("    # (ĐIỀN: mã đúng), e.g. map: {\"LUX\": \"LUC\"}, and delete its entry under land_uses.")
    lines.append("    map: {}   # your own corrections, code → code, tried before the national table")
    lines += ["land_uses:",
              "  # Every code the layer holds once read (names, colours and groups from the national classification)."]
    lines += [_land_use_line(c) for c in sorted(known)]
    for code in sorted(s.unmapped):
        lines.append(f"  # TODO: {s.unmapped[code]} parcel(s) carry {code!r}, which no table knows: map it above or correct the data")
        lines.append(f"  {q(code)}: {{name_vi: {q('Mã chưa xác định: ' + code)}, name_en: {q('Unmapped code ' + code)}, "
                     f"colour: {q(UNMAPPED_COLOUR)}, group: unused}}")
    lines.append("  # Uses the plan allocates / loại đất được phân bổ:")
    lines += [_land_use_line(c) for c in s.allocate if c not in known]
    lines += ["# Uses parcels may be converted to (keeping the current use is always allowed).",
              "# Loại đất mà thửa có thể được chuyển sang.",
              f"allocate: [{', '.join(q(c) for c in s.allocate)}]",
              "# Area bands (ha) per use: the PLANNED TOTAL (today's area of the use + new land), as plan figures are.",
              "# TODO: the plan's figures; these are today's area + 0.5 % of the layer's area, and a band as wide",
              "# as the largest parcel (1 % of the area when that is wider), so whole parcels can meet it.",
              "# Chỉ tiêu diện tích (ha): tổng diện tích đến cuối kỳ quy hoạch. ĐIỀN: số liệu của quy hoạch.",
              "quotas:"]
    step = max(round(s.total_ha * 0.005, 1), 0.1)
    width = max(step, math.ceil(s.largest_parcel_ha * 10) / 10)  # whole parcels can always land in the band
    for code in s.allocate:
        today = math.floor(s.codes_present.get(code, 0.0) * 10) / 10
        lines.append(f"  {q(code)}: {{lo: {today + step:g}, hi: {round(today + step + width, 1):g}, "
                     f"source: {q(f'TODO: the plan wording (today {today:g} ha) / ĐIỀN: trích dẫn quy hoạch')}}}")
    lines += _constraints(s)
    lines += ["# What the plan prefers among the plans that meet every limit. Start: convert the least land.",
              "# Add suitability (a `suitability:` section, or suit_* fields) with `per_use`, e.g.",
              "#   suitability: {weight: 1.0, per_use: {\"SKN\": suit_industry}}   and sense: maximize",
              "# Mục tiêu: chuyển mục đích ít đất nhất; thêm điểm thích hợp khi có.",
              "objective:",
              "  sense: minimize",
              "  terms:",
              "    converted_area: {weight: 1.0}   # ha converted to any allocated use / diện tích chuyển mục đích",
              "solver: {name: highs, time_limit: 120, gap: 0.001, seed: 0, threads: 1}",
              "# What the report says about the data: the layer's surveyed fields; list under synthetic_fields",
              "# any field that is modelled or estimated (trường dữ liệu mô phỏng / ước tính).",
              "metadata:",
              f"  real_fields: [{', '.join(q(x) for x in s.real_fields)}]",
              "  # synthetic_fields: []",
              ""]
    return "\n".join(lines)


def _constraints(s: Skeleton) -> list[str]:
    table = national_classification()
    rice = sorted(c for c in s.codes_present if table.get(c, {}).get("rice"))
    forest_ha = sum(a for c, a in s.codes_present.items() if table.get(c, {}).get("forest"))
    out = ["constraints:"]
    if rice:
        out += ["  land_balance:",
                "    caps:",
                "      # Paddy land (đất trồng lúa) is not converted. TODO: the area the plan allows to convert.",
                f"      rice: {{codes: [{', '.join(q(c) for c in rice)}], max_converted_ha: 0, "
                f"source: {q('TODO: the plan wording / ĐIỀN: chỉ tiêu chuyển mục đích đất trồng lúa')}}}"]
    if forest_ha > 0:
        share = math.floor(100 * forest_ha / s.total_ha - 1) / 100
        out += ["  # Forest cover (độ che phủ rừng) stays within one point of today's. TODO: the plan's target.",
                f"  forest_cover: {{min_share: {max(share, 0):.2f}, source: {q('TODO: the plan wording / ĐIỀN: chỉ tiêu che phủ rừng')}}}"]
    out += ["  # Exclusions: zones closed to some uses (strict protection, buffers), from a polygon layer with",
            "  # zone_class and zone_name fields. Vùng cấm chuyển mục đích:",
            "  # allowed_uses:",
            "  #   layer: ../data/protection.gpkg",
            "  #   rules: {strict: {allowed: []}}"]
    if len(out) == 6:  # nothing but the commented example: an empty mapping keeps the key valid
        out[0] = "constraints: {}"
    return out
