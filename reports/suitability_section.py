"""The dossier's account of suitability built from criteria (run.json ``suitability``): per use, the formula,
each criterion's source, normalising function and weight, and the range of its values before and after
normalising, so a council sees what the objective's suitability is made of and can question a weight.
Words come from ``strings.*.yaml`` (``suit_*``, ``criterion_names``); numbers only from run.json."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reports.blocks import Para, Section, Table, num, use_name
from reports.data import RunData
from reports.labels import field_label


def _name(T: dict, name: str) -> str:
    return (T.get("criterion_names") or {}).get(name, name)


def _short(v: float, lang: str) -> str:
    """A parameter as written in the scenario: 25 not 25,00; 0,55 not 0,550 (at most 3 decimals)."""
    return num(v, lang, next((d for d in range(3) if abs(round(v, d) - v) < 1e-9), 3))


def _range(r: dict | None, lang: str, digits: int) -> str:
    return "—" if not r else " / ".join(num(r[k], lang, digits) for k in ("min", "median", "max"))


def _source(T: dict, src: dict) -> str:
    kind = src["kind"]
    if kind == "field":
        return T["suit_src_field"].format(field=field_label(src["field"], T))
    if kind == "current_use":
        return T["suit_src_current_use"]
    if kind == "raster":
        return T["suit_src_raster"].format(value=T[f"suit_value_{src['value']}"], file=Path(src["path"]).name,
                                           at=T[f"suit_at_{src['at']}"])
    kept = "".join(T["suit_where"].format(field=field_label(f, T), values=", ".join(v))
                   for f, v in (src.get("where") or {}).items())
    kept += "".join(T["suit_match"].format(feature=field_label(f, T), parcel=field_label(p, T))
                    for f, p in (src.get("match") or {}).items())
    file = Path(src["layer"]).name + (f" ({src['layer_name']})" if src.get("layer_name") else "")
    return T["suit_src_distance"].format(origin=T[f"suit_origin_{src['origin']}"], file=file, kept=kept,
                                         unit=src["unit"])


def _function(T: dict, c: dict, lang: str) -> str:
    if "normalise" not in c:  # a run written before the structured form: its formula as recorded
        return c.get("function", "—")
    kind, v = c["normalise"]["kind"], c["normalise"]["value"]
    if kind == "linear":
        return T["suit_fn_linear"].format(a=_short(v[0], lang), b=_short(v[1], lang))
    if kind == "classes":
        listed = [f"{k} {_short(x, lang)}" for k, x in c["classes"].items() if k != "*"]
        if "*" in c["classes"]:
            listed.append(T["suit_fn_others"].format(v=_short(c["classes"]["*"], lang)))
        return ", ".join(listed)
    return T[f"suit_fn_{kind}"].format(v=_short(v, lang))


def _formula(T: dict, use: dict, lang: str) -> str:
    terms = " + ".join(f"{_short(c['weight'], lang)}·{_name(T, c['name'])}" for c in use["criteria"])
    return " × ".join([_short(use["scale"], lang)] + [_name(T, c["name"]) for c in use["multipliers"]]
                      + ([f"({terms})"] if terms else []))


def suitability_section(data: RunData, lang: str, T: dict, lu: pd.DataFrame) -> Section | None:
    block = data.run.get("suitability") or {}
    if not block.get("uses"):
        return None
    s = Section("suitability", T["s_suitability"], [Para(T["suit_intro"])])
    terms = ((data.scenario.get("objective") or {}).get("terms") or {}).values()
    read = {f for t in terms if isinstance(t, dict) for f in [*(t.get("per_use") or {}).values(), t.get("column")]}
    for use in block["uses"]:
        rows = []
        for c in use["criteria"] + use["multipliers"]:
            weight = _short(c["weight"], lang) if "weight" in c else "×"
            rows.append([_name(T, c["name"]), _source(T, c["source"]), _function(T, c, lang), weight,
                         _range(c.get("raw"), lang, 2), _range(c["normalised"], lang, 3)])
        rows.append([T["suit_result"], _formula(T, use, lang), "", "", "", _range(use["result"], lang, 2)])
        caption = T["suit_caption"].format(code=use["use"], name=use_name(lu, use["use"], lang))
        notes = [] if use["field"] in read else [T["suit_unused"]]
        if use.get("pairwise"):
            p = use["pairwise"]
            notes.append(T["suit_pairwise"].format(lam=num(p["lambda_max"], lang, 3), cr=num(p["consistency_ratio"], lang, 3)))
        note = " ".join(notes) or None
        s.blocks.append(Table(f"suitability_{use['use']}", caption, list(T["suit_header"]), rows,
                              ["l", "l", "l", "r", "r", "r"], total_rows={len(rows) - 1}, note=note))
    return s
