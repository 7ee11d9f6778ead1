"""The dossier's sections of figures: every plan-level limit checked, the land-use table by code in
the official form's layout, the conversion matrix, conversions by 2025 commune (by former district
only where the plan's own figures are by district), the list of named sites, and displaced
households with their resettlement by commune — each per period for a phased plan.

Figures come from ``optimizer/workflows/metrics.py`` and ``plan_figures.py``; here they are only
labelled and formatted (``reports.blocks.data_table`` keeps the values for the workbook).
"""

from __future__ import annotations

import pandas as pd

from optimizer.workflows import metrics, plan_figures
from reports.blocks import Para, Section, Table, data_table, integer, num, records, use_name
from reports.data import COMMUNE_FIELD, DISTRICT_FIELD, RunData, zone_reader
from reports.labels import former_district, source_text, zone_class_text


def _in_period(caption: str, period: str | None, T: dict) -> str:
    return caption if period is None else f"{caption} ({T['period_of'].format(period=period)})"


def _sheet(name: str, period: str | None) -> str:
    return name if period is None else f"{name} {period}"


# --- every figure of the plan, checked -------------------------------------------------------------------

GROUP_OF = {"quota": "quotas", "land_group": "land", "land_reference": "land", "land_total": "land", "cap": "land",
            "forest_cover": "forest", "forest_loss": "forest", "resettlement": "resettlement", "site_area": "sites",
            "site_anchor": "sites", "exclusion": "zones", "buffer": "zones"}
"""The kinds of figure the compliance table is grouped by (``chk_group_<kind>`` headings)."""

def _lower(text: str, lang: str) -> str:
    """A name inside a Vietnamese sentence: 'Huyện Quảng Hòa' → 'huyện Quảng Hòa' (proper names keep theirs)."""
    return text[:1].lower() + text[1:] if lang == "vi" and text else text


def region_words(key: str, T: dict) -> str:
    """A resettlement key ('district: Huyện Quảng Hòa', 'province', 'site:123', 'within 5 km') in words."""
    field, sep, value = key.partition(": ")
    if sep and field == DISTRICT_FIELD:
        return _lower(former_district(value, T), T["lang"])
    if sep:
        return value
    if key == "province":
        return T["whole_province"]
    return key


def _limit_text(r: dict, lang: str, digits: int = 2) -> str:
    lo, hi, unit = r["lo"], r["hi"], r["unit"]
    u = "%" if unit == "%" else f" {unit}" if unit else ""
    if lo is not None and hi is not None:
        return f"{num(lo, lang, digits)} – {num(hi, lang, digits)}{u}"
    if lo is not None:
        return f"≥ {num(lo, lang, digits)}{u}"
    return f"≤ {num(hi, lang, digits)}{u}" if hi is not None else "—"


def compliance_rows(r: dict, lu: pd.DataFrame, lang: str, T: dict, anchors: dict) -> tuple[str, str, str, str]:
    """(what is checked, the limit, the plan's value, the margin) of one compliance row, in words."""
    sec, d, unit = r["section"], r["detail"], r["unit"]
    units = {"ha": "ha", "%": "%", "km": "km", "households": T["households_unit"], "": ""}
    u = units.get(unit, unit)
    value = "—" if r["value"] is None else (f"{num(r['value'], lang)}%" if unit == "%" else f"{num(r['value'], lang)} {u}")
    margin = "—" if r["margin"] is None else (T["margin_points"].format(v=num(r["margin"], lang)) if unit == "%"
                                              else f"{num(r['margin'], lang)} {u}")
    limit = _limit_text({**r, "unit": u if unit != "%" else "%"}, lang)
    if sec == "quota":
        what = T["chk_quota"].format(name=_lower(use_name(lu, d["use"], lang), lang), code=d["use"])
        if d.get("region"):
            what += " " + T["chk_in_region"].format(values=", ".join(map(str, d["region"]["values"])))
        if d.get("current") is not None:
            value += "\n" + T["chk_current"].format(v=num(d["current"], lang))
    elif sec in ("land_group", "land_reference"):
        what = T["chk_land_group"].format(group=_lower(T[f"group_{r['key']}"], lang))
        if d.get("before") is not None:
            value += "\n" + T["chk_current"].format(v=num(d["before"], lang))
        if sec == "land_reference":
            limit = T["chk_reference"].format(v=num(d.get("reference"), lang))
            margin = T["chk_difference"].format(v=num((r["value"] or 0) - (d.get("reference") or 0), lang))
    elif sec == "land_total":
        what = T["chk_land_total"]
        limit = T["chk_natural_area"].format(v=num(d.get("natural_area"), lang), total=num(d.get("reference_total"), lang),
                                             diff=num(d.get("difference"), lang))
        value = T["chk_parcel_area"].format(v=num(r["value"], lang), diff=num(d.get("parcel_difference"), lang))
    elif sec == "cap":
        what = T["chk_cap"].format(codes=", ".join(d.get("codes") or []))
    elif sec == "forest_cover":
        what = T["chk_forest_cover"]
        value += "\n" + T["chk_forest_detail"].format(ha=num(d["after_ha"], lang), before=num(d["before"], lang))
        margin += "\n" + T["chk_forest_margin"].format(ha=num(d["after_ha"] - d["required_ha"], lang))
    elif sec == "forest_loss":
        what = T["chk_forest_loss"]
    elif sec == "resettlement":
        what = T["chk_resettlement"].format(region=region_words(r["key"], T))
        limit = T["chk_resettlement_limit"].format(v=num(r["hi"], lang))
        value = T["chk_displaced"].format(v=integer(r["value"], lang) if float(r["value"]).is_integer()
                                          else num(r["value"], lang))
    elif sec == "site_area":
        what = T["chk_site_area"].format(site=r["key"], code=d.get("use"))
        limit += "\n" + T["chk_connected"]
        value += "\n" + T["chk_parcels"].format(n=integer(d.get("parcels"), lang)) + "; " + \
            (T["chk_connected"] if d.get("connected") else T["chk_not_connected"])
    elif sec == "site_anchor":
        a = anchors.get(r["key"])
        what = T["chk_site_anchor"].format(site=r["key"], anchor=a.label if a else "—")
    elif sec == "exclusion":
        zone = _lower(zone_class_text(r["key"], lang), lang)
        what = (T["chk_exclusion_all"].format(zone=zone, n=d["zones"]) if d.get("rule") == "allowed"
                else T["chk_exclusion"].format(zone=zone, n=d["zones"], uses=", ".join(d["uses"])))
        limit = f"{num(0, lang)} ha"
        if d.get("nearest_km") is not None:
            value += "\n" + T["chk_nearest"].format(km=num(d["nearest_km"], lang))
        margin = "—"
    elif sec == "buffer":
        zones = ", ".join(_lower(zone_class_text(c, lang), lang) for c in d.get("classes") or []) or T["chk_any_zone"]
        what = T["chk_buffer"].format(uses=", ".join(d["uses"]), zones=zones)
        if r["value"] is None:
            value = T["chk_no_such_land"]
    else:
        what = f"{r['section']}: {r['key']}"
    return what, limit, value, margin


def compliance_section(data: RunData, lang: str, T: dict, lu: pd.DataFrame, anchors: dict,
                       current: dict) -> tuple[Section, list[pd.DataFrame]]:
    """One table per period: each plan-level limit, its source quote, the limit, the plan's value,
    met or not, and the margin. Returns the section and the tables of rows (for the summary)."""
    s = Section("compliance", T["s_compliance"])
    s.blocks.append(Para(T["chk_intro"]))
    tables = []
    periods = plan_figures.plan_periods(data.plan) if data.plan is not None else [(None, None)]
    for period, plan in periods:
        rows = plan_figures.compliance_table(data.run, period, current)  # today's areas: the same in every period
        if plan is not None:
            rows = pd.concat([rows, plan_figures.exclusion_table(data.scenario, plan, zone_reader(data), period)],
                             ignore_index=True)
        tables.append(rows)
        printed, raw, heads, group, i = [], [], set(), None, 0
        for r in records(rows):
            if GROUP_OF[r["section"]] != group:  # a heading row per kind of figure, lettered as in official tables
                group = GROUP_OF[r["section"]]
                heads.add(len(printed))
                letter = chr(ord("A") + len(heads) - 1)
                printed.append([letter, T[f"chk_group_{group}"], "", "", "", ""])
                raw.append([letter, T[f"chk_group_{group}"], None, None, None, None, None, None, None])
            i += 1
            what, limit, value, margin = compliance_rows(r, lu, lang, T, anchors)
            source = source_text(r["source"], lang, T)
            verdict = T["met"] if r["met"] is True else T["not_met"] if r["met"] is False else T["reference"]
            printed.append([str(i), what + (f"\n{T['chk_source']}: {source}" if source else ""), limit, value, verdict, margin])
            raw.append([i, what, source, r["lo"], r["hi"], r["value"], r["unit"], verdict, r["margin"]])
        s.blocks.append(Table("compliance" if period is None else f"compliance_{period}",
                              _in_period(T["chk_caption"], period, T), list(T["chk_header"]), printed,
                              ["c", "l", "r", "r", "c", "r"], heading_rows=heads, sheet=_sheet(T["sheet_compliance"], period),
                              raw=raw, formats=["int", "text", "text", "num", "num", "num", "text", "text", "num"],
                              raw_header=list(T["chk_raw_header"])))
    return s, tables


# --- the land-use table by code ---------------------------------------------------------------------------

def indicators_section(data: RunData, lang: str, T: dict, lu: pd.DataFrame) -> Section:
    """Biểu chỉ tiêu sử dụng đất: groups with subtotals, every code, current / planned / change and shares."""
    s = Section("indicators", T["s_indicators"])
    if data.plan is None:
        s.blocks.append(Para(T["ind_no_plan"]))
        return s
    for period, plan in plan_figures.plan_periods(data.plan):
        tab = plan_figures.land_use_balance(data.run, plan, period)
        total = tab[tab["level"] == "total"].iloc[0]
        raw, bold, g_no, c_no = [], set(), 0, 0
        raw.append(["", T["ind_total"], "", total["current_ha"], 100.0, total["planned_ha"], 100.0, 0.0, None])
        bold.add(0)
        for r in records(tab[tab["level"] != "total"]):
            if r["level"] == "group":
                g_no, c_no = g_no + 1, 0
                bold.add(len(raw))
                raw.append([str(g_no), T[f"group_{r['group']}"], T.get(f"group_code_{r['group']}", ""), r["current_ha"],
                            r["current_pct"], r["planned_ha"], r["planned_pct"], r["change_ha"], None])
                continue
            c_no += 1
            quota = _quota_text_raw(r["quota_lo"], r["quota_hi"], lang)
            stt = f"{g_no}.{c_no}" if r["group"] else str(c_no)
            raw.append([stt, use_name(lu, r["code"], lang), r["code"], r["current_ha"], r["current_pct"], r["planned_ha"],
                        r["planned_pct"], r["change_ha"], quota])
        table = data_table("indicators" if period is None else f"indicators_{period}",
                           _in_period(T["ind_caption"], period, T), list(T["ind_header"]), raw,
                           ["stt", "text", "code", "ha", "pct", "ha", "pct", "signed", "text"], lang,
                           align=["c", "l", "c", "r", "r", "r", "r", "r", "r"],
                           total_rows=bold, note=T["ind_note"], header_top=[tuple(h) for h in T["ind_header_top"]],
                           sheet=_sheet(T["sheet_indicators"], period))
        s.blocks.append(table)
    return s


def _quota_text_raw(lo, hi, lang: str) -> str | None:
    if lo is None and hi is None:
        return None
    if lo is not None and hi is not None:
        return num(lo, lang) if abs(lo - hi) <= 1e-9 else f"{num(lo, lang)} – {num(hi, lang)}"
    return f"≥ {num(lo, lang)}" if lo is not None else f"≤ {num(hi, lang)}"


# --- conversions -------------------------------------------------------------------------------------------

def matrix_table(key: str, caption: str, corner: str, m: pd.DataFrame, lang: str, T: dict, lu: pd.DataFrame,
                 sheet: str | None = None) -> Table:
    cols = list(m.columns)
    header = [corner] + [T["total"] if c == metrics.TOTAL else str(c) for c in cols]
    raw, totals = [], set()
    for code, r in m.iterrows():
        if code == metrics.TOTAL:
            totals.add(len(raw))
        raw.append([T["total"] if code == metrics.TOTAL else f"{use_name(lu, code, lang)} ({code})"]
                   + [float(r[c]) for c in cols])
    return data_table(key, caption, header, raw, ["text"] + ["ha"] * len(cols), lang, total_rows=totals, sheet=sheet)


def conversion_section(data: RunData, lang: str, T: dict, lu: pd.DataFrame) -> Section:
    s = Section("conversion", T["s_conversion"])
    for period, plan in plan_figures.plan_periods(data.plan):
        m = metrics.conversion_matrix(plan, list(lu.index))
        if len(m.columns) <= 1:
            s.blocks.append(Para(_in_period(T["conv_none"], period, T)))
            continue
        s.blocks.append(matrix_table("conversion" if period is None else f"conversion_{period}",
                                     _in_period(T["conv_caption"], period, T), T["conv_corner"], m, lang, T, lu,
                                     sheet=_sheet(T["sheet_conversion"], period)))
    return s


def _region_table(key: str, caption: str, first: str, tab: pd.DataFrame, lang: str, T: dict, sheet: str,
                  only_changed: bool, label=lambda n: n) -> tuple[Table, int]:
    uses = [c for c in tab.columns if c not in ("parcels", "area_ha", "changed_parcels", "changed_ha")]
    uses = [u for u in uses if tab.loc[metrics.TOTAL, u] > 0]  # a use nobody converts to is not a column
    header = [first] + list(T["reg_header"]) + [T["reg_to_use"].format(code=u) for u in uses]
    raw, totals, hidden = [], set(), 0
    for name, r in tab.iterrows():
        if only_changed and name != metrics.TOTAL and r["changed_ha"] <= 0:
            hidden += 1
            continue
        if name == metrics.TOTAL:
            totals.add(len(raw))
        raw.append([T["total"] if name == metrics.TOTAL else (label(name) if name else "—"), int(r["parcels"]),
                    float(r["area_ha"]), int(r["changed_parcels"]), float(r["changed_ha"])] + [float(r[u]) for u in uses])
    table = data_table(key, caption, header, raw, ["text", "int", "ha", "int", "ha"] + ["ha"] * len(uses), lang,
                       total_rows=totals, sheet=sheet)
    return table, hidden


def _by_district_figures(scenario: dict) -> bool:
    """Whether the plan's own figures are by district: a quota over a district region."""
    return any((q or {}).get("region", {}) and (q["region"].get("field") == DISTRICT_FIELD)
               for q in (scenario.get("quotas") or {}).values() if isinstance(q, dict))


def regions_section(data: RunData, lang: str, T: dict) -> Section:
    """Conversions by 2025 commune (the default unit); by former district where the plan's own
    figures are by district, or when the parcels carry no commune."""
    s = Section("regions", T["s_regions"])
    uses = metrics.converted_uses(data.run, data.plan)
    has_commune = COMMUNE_FIELD in data.plan.columns
    for period, plan in plan_figures.plan_periods(data.plan):
        if has_commune:
            table, hidden = _region_table("communes" if period is None else f"communes_{period}",
                                          _in_period(T["reg_caption_commune"], period, T), T["reg_commune"],
                                          metrics.by_region(plan, COMMUNE_FIELD, uses), lang, T,
                                          _sheet(T["sheet_communes"], period), only_changed=True)
            if hidden:
                table.note = T["reg_commune_rest"].format(n=hidden)
            s.blocks.append(table)
        if not has_commune or _by_district_figures(data.scenario):
            caption = T["reg_caption_district" if not has_commune else "reg_caption_former_district"]
            s.blocks.append(_region_table("districts" if period is None else f"districts_{period}",
                                          _in_period(caption, period, T), T["reg_district"],
                                          metrics.by_region(plan, DISTRICT_FIELD, uses), lang, T,
                                          _sheet(T["sheet_districts"], period), only_changed=False)[0])
    return s


# --- named sites and resettlement ---------------------------------------------------------------------------

def sites_section(data: RunData, lang: str, T: dict, lu: pd.DataFrame, anchors: dict) -> Section | None:
    """Danh mục công trình, dự án: name, land-use code, commune, area, its window, period, anchor and distance."""
    if not data.run.get("sites"):
        return None
    s = Section("sites", T["s_sites"])
    phased = data.plan is not None and "period" in data.plan.columns
    head = list(T["sites_header"])
    header = head[:7] + ([T["sites_period"]] if phased else []) + head[7:]
    top = [(h, 1) for h in head[:5]] + [(T["sites_window"], 2)] + ([(T["sites_period"], 1)] if phased else []) \
        + [(T["sites_anchor"], 3)]
    for period, plan in (plan_figures.plan_periods(data.plan) if data.plan is not None else [(None, None)]):
        field = COMMUNE_FIELD if plan is not None and COMMUNE_FIELD in plan.columns else DISTRICT_FIELD
        where = plan_figures.site_regions(plan, field) if plan is not None else {}
        raw = []
        for i, r in enumerate(plan_figures.of_period(data.run.get("sites"), period), start=1):
            a = anchors.get(r["name"])
            raw.append([i, r["name"], r["use"], ", ".join(where.get(r["name"], [])) or "—", r.get("area_ha"),
                        r.get("min_ha"), r.get("max_ha")] + ([period] if phased else [])
                       + [a.label if a else "—", r.get("anchor_distance_km"), r.get("anchor_max_km")])
        formats = ["stt", "text", "code", "text", "ha", "ha", "ha"] + (["text"] if phased else []) + ["text", "km", "km"]
        s.blocks.append(data_table("sites" if period is None else f"sites_{period}", _in_period(T["sites_caption"], period, T),
                                   header, raw, formats, lang, header_top=top, sheet=_sheet(T["sheet_sites"], period)))
    return s


def resettlement_section(data: RunData, lang: str, T: dict) -> Section | None:
    """Displaced households and resettlement land by 2025 commune (the family's figures regrouped)."""
    if data.plan is None or data.loaded is None or COMMUNE_FIELD not in data.plan.columns:
        return None
    cfg = ((data.scenario.get("constraints") or {}).get("resettlement")) or {}
    s = Section("resettlement", T["s_resettlement"])
    for period, plan in plan_figures.plan_periods(data.plan):
        tab = plan_figures.resettlement_by_region(data.loaded, plan, COMMUNE_FIELD)
        if tab is None:
            return None
        raw, totals = [], set()
        for name, r in tab.iterrows():
            if name == metrics.TOTAL:
                totals.add(len(raw))
            raw.append([T["total"] if name == metrics.TOTAL else name, r["displaced_households"], r["resettlement_ha"],
                        r["capacity_households"]])
        note = T["res_note"].format(uses=", ".join(cfg.get("displacing_uses") or []), use=cfg.get("resettlement_use", ""),
                                    k=num(cfg.get("households_per_ha"), lang, 0),
                                    region=T["res_region_" + ("district" if cfg.get("region_field") == DISTRICT_FIELD
                                                              else "other")])
        s.blocks.append(data_table("resettlement" if period is None else f"resettlement_{period}",
                                   _in_period(T["res_caption"], period, T), list(T["res_header"]), raw,
                                   ["text", "int", "ha", "num"], lang, total_rows=totals, note=note,
                                   sheet=_sheet(T["sheet_resettlement"], period)))
    return s

