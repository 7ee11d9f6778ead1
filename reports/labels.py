"""What the report prints for data that is not written in the report's language: place labels,
attribute names, zone classes, the scenario's source notes, administrative units.

The data speaks several languages: the Cao Bằng places layer has no Vietnamese label field (its
names are mixed, "Bản Giốc waterfall", "Thị trấn Bảo Lạc (seat of Bảo Lạc)"), sources mix the plan's
Vietnamese quotes with English explanations, and towns and districts were abolished on 1 July 2025.
So the report translates here, by the patterns in ``templates/strings.<lang>.yaml`` (``place_patterns``,
``source_phrases``, ``field_names``), and never guesses: what no pattern knows is printed as written.

* Places that are administrative seats (``place_admin_patterns``: a town, a district seat, a pre-2025
  commune) are labelled by the 2025 commune they lie in ("Trung tâm xã Bảo Lạc"), read from the
  parcels under them; two seats in one commune get one label.
* A source keeps the plan's own quotes ("…" or “…”) as quoted; the text around them (our explanation)
  is translated phrase by phrase, and its numbers are written the report's way (2,395 → 2.395).
"""

from __future__ import annotations

import re

import geopandas as gpd

from optimizer.engine.reasons import reason_vi, zone_class_vi
from reports.blocks import num
from reports.data import COMMUNE_FIELD

QUOTED = re.compile(r"(\"[^\"]*\"|“[^”]*”)")
EN_NUMBER = re.compile(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+)(?![\d.,]*\d)")


def short_name(name: str) -> str:
    """'Thị trấn Bảo Lạc (seat of Bảo Lạc)' → 'Thị trấn Bảo Lạc': map labels drop qualifiers
    after ' (', ' - ' or ' ~ ' (tables keep the full name)."""
    return re.split(r"\s+(?:\(|-\s|~\s)", name.strip())[0]


def _numbers(text: str, lang: str) -> str:
    """English-formatted numbers in our own explanations, written the report's way."""
    if lang != "vi":
        return text
    def convert(m: re.Match) -> str:
        raw = m.group(1).replace(",", "")
        digits = len(raw.split(".")[1]) if "." in raw else 0
        return num(float(raw), lang, digits)
    return EN_NUMBER.sub(convert, text)


def _phrases(text: str, T: dict) -> str:
    for pattern, repl in T.get("source_phrases") or []:
        text = re.sub(pattern, repl, text)
    return text


def source_text(text: str | None, lang: str, T: dict) -> str:
    """A source note with the plan's quotes as quoted and everything else in the report's language."""
    if not text:
        return ""
    parts = QUOTED.split(str(text))
    return "".join(p if QUOTED.fullmatch(p) else _numbers(_phrases(p, T), lang) for p in parts)


def field_label(name: str, T: dict) -> str:
    """An attribute name in words ('suit_industry' → 'mức độ thích hợp cho khu công nghiệp'); unknown
    names stay as they are."""
    names = T.get("field_names") or {}
    if name in names:
        return names[name]
    m = re.fullmatch(r"suit_(\w+)", name)
    if m and "suit_any" in names:
        return names["suit_any"].format(what=m.group(1).replace("_", " "))
    return name


def fields_text(fields, T: dict) -> str:
    return ", ".join(field_label(str(f), T) for f in fields)


def zone_class_text(cls: str, lang: str) -> str:
    """'strict' → 'Vùng bảo vệ nghiêm ngặt' (vi, the same words as the layer's reason_vi) / 'strict zone' (en)."""
    if lang == "vi":
        text = zone_class_vi(str(cls))
        return text[0].upper() + text[1:]
    return f"{cls} zone".capitalize()


def zone_rule_label(cls: str, rule: dict, T: dict, lang: str) -> str:
    """A legend entry: the zone class in words and what its rule forbids."""
    uses = ", ".join(rule.get("allowed") or rule.get("forbidden") or [])
    kind = "none" if rule.get("allowed") is not None and not rule["allowed"] else \
        "allowed" if rule.get("allowed") is not None else "forbidden"
    return T[f"map_zone_{kind}"].format(zone=zone_class_text(cls, lang), uses=uses)


def reason_text(reason: str, lang: str) -> str:
    return reason_vi(reason) if lang == "vi" else reason


def units_legend(units, T: dict) -> str:
    """The legend of the administrative units a map draws (``reports.context.MapContext.units``): the 2025
    communes, else the unit of the parcels' district field, worded by ``parcels.admin_level``."""
    return T["map_communes" if units.label == COMMUNE_FIELD else "map_districts"]


def former_district(name: str, T: dict) -> str:
    """A pre-2025 district as the report names it: 'Huyện Quảng Hòa (cũ)'."""
    return T["former_district"].format(name=name) if name else "—"


# --- places -------------------------------------------------------------------------------------------

def _is_admin(name: str, T: dict) -> bool:
    return any(re.search(p, name) for p in T.get("place_admin_patterns") or [])


def _translate_place(name: str, T: dict, lang: str) -> str:
    short = short_name(name)
    for pattern, repl in T.get("place_patterns") or []:
        new = re.sub(pattern, repl, short)
        if new != short:
            return new
    return short


def communes_at(points: gpd.GeoSeries, plan: gpd.GeoDataFrame, field: str, max_m: float = 3000.0) -> list[str | None]:
    """The value of ``field`` of the parcel under (or, within ``max_m``, nearest to) each point."""
    if field not in plan.columns or not len(points):
        return [None] * len(points)
    pts = gpd.GeoDataFrame(geometry=points.reset_index(drop=True), crs=plan.crs)
    joined = gpd.sjoin_nearest(pts, plan[[field, "geometry"]], how="left", max_distance=max_m)
    joined = joined[~joined.index.duplicated(keep="first")]
    return [None if not isinstance(v, str) or not v else v for v in joined[field].reindex(range(len(pts))).tolist()]


def place_labels(names: list, points: gpd.GeoSeries, plan: gpd.GeoDataFrame | None, field: str,
                 lang: str, T: dict) -> list[str | None]:
    """Each place's label in the report's language, or None where it would repeat an earlier label
    (two former seats merged into one 2025 commune)."""
    communes = communes_at(points, plan, field) if plan is not None else [None] * len(names)
    out, seen = [], set()
    for name, commune in zip(names, communes):
        if not isinstance(name, str) or not name.strip():
            out.append(None)
            continue
        if _is_admin(name, T) and commune:
            label = T["place_commune_centre"].format(commune=commune[0].lower() + commune[1:] if lang == "vi" else commune)
        elif _is_admin(name, T):
            label = None  # a pre-2025 unit we cannot place in a 2025 commune: no label rather than an abolished name
        else:
            label = _translate_place(name, T, lang)
        if label in seen:
            label = None
        if label:
            seen.add(label)
        out.append(label)
    return out
