"""The report as a format-neutral document: a run's sections filled with the blocks of
``reports/blocks.py`` (paragraphs, tables of formatted strings, figures). HTML/PDF
(``reports/html.py``) and DOCX (``reports/docx_writer.py``) render this one document, so the three
formats always show the same numbers.

Numbers come from ``optimizer/workflows/metrics.py`` (or run.json through it) and are only
*formatted* here.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pandas as pd

from optimizer.workflows import metrics
from reports import maps
from reports.blocks import (Bullets, Document, Figure, Interactive, KeyValues, Para, Section, Table, date_text,
                            integer, num, percent, signed, strings)
from reports.data import COMMUNE_FIELD, DISTRICT_FIELD, RunData, crs_label, districts_layer, places_layer, zones_layer

ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV"]


# --- helpers -------------------------------------------------------------------------------------------

def _records(df: pd.DataFrame) -> list[dict]:
    """Rows as dicts with missing values as None (pandas turns None into NaN in numeric columns)."""
    return df.astype(object).where(df.notna(), None).to_dict("records")


def _t(T: dict, key: str, default: str | None = None) -> str:
    return T.get(key, default if default is not None else key)


def _use_name(lu: pd.DataFrame, code: str, lang: str) -> str:
    col = "name_vi" if lang == "vi" else "name_en"
    return str(lu[col].get(code, code)) if code in lu.index else code


def _status_text(T: dict, status: str | None) -> str:
    return _t(T, f"status_{status}", status or "—")


def _term_text(T: dict, term: str | None) -> str:
    return _t(T, f"term_{term}", term or "—")


def _family_text(T: dict, family: str) -> str:
    return _t(T, f"family_{family}", family)


def _side_text(T: dict, side: str | None) -> str:
    return _t(T, f"side_{side}", side or "—")


def _province(meta: dict, lang: str) -> str | None:
    p = meta.get("province")
    if isinstance(p, str):
        return p
    if isinstance(p, dict):
        return p.get(f"name_{lang}") or p.get("name_vi") or p.get("name")
    return None


def _sources(meta: dict) -> list[str]:
    src = meta.get("sources")
    out = []
    if isinstance(src, dict):
        out = [f"{k} — {v}" for k, v in src.items()]
    elif isinstance(src, list):
        for s in src:
            if isinstance(s, dict):
                name = s.get("name") or s.get("file") or s.get("title") or "?"
                extra = " — ".join(str(s[k]) for k in ("licence", "license", "note") if s.get(k))
                out.append(f"{name} — {extra}" if extra else str(name))
            else:
                out.append(str(s))
    elif isinstance(src, str):
        out = [src]
    return out


def _numbered(sections: list[Section]) -> None:
    t = f = 0
    for s in sections:
        for b in s.blocks:
            if isinstance(b, Table):
                t += 1
                b.number = t
            elif isinstance(b, Figure):
                f += 1
                b.number = f


# --- sections --------------------------------------------------------------------------------------------

def _general(data: RunData, lang: str, T: dict, crs_text: str) -> tuple[list[tuple[str, str]], list[str]]:
    meta, sc = data.metadata, data.scenario
    scen = sc.get("title") or sc.get("name") or data.run.get("scenario_name") or "—"
    if sc.get("title") and sc.get("name"):
        scen = f"{sc['title']} ({sc['name']})"
    rows = [
        (T["province"], _province(meta, lang) or T["not_given"]),
        (T["scenario"], scen),
        (T["run_date"], date_text(data.run.get("created"), lang)),
        (T["report_date"], date_text(_dt.date.today().isoformat(), lang)),
        (T["crs"], crs_text),
        (T["sources"], "\n".join(_sources(meta)) or T["not_given"]),
    ]
    synthetic = meta.get("synthetic_fields")
    rows.append((T["synthetic_fields"], ", ".join(map(str, synthetic)) if synthetic else T["not_given"]))
    if meta.get("real_fields"):
        rows.append((T["real_fields"], ", ".join(map(str, meta["real_fields"]))))
    if meta.get("attribution"):
        rows.append((T["attribution"], str(meta["attribution"])))
    warnings = [T["synthetic_warning"].format(fields=", ".join(map(str, synthetic)))] if synthetic else [T["synthetic_unknown"]]
    return rows, warnings


def _summary(data: RunData, lang: str, T: dict, lu: pd.DataFrame, ind: pd.DataFrame) -> Section:
    run = data.run
    s = Section("summary", T["s_summary"])
    if data.plan is None:
        s.blocks.append(Para(T["summary_no_plan"].format(status=_status_text(T, run.get("status")))))
        return s
    s.blocks.append(Para(T["summary_plan"].format(parcels=integer(run.get("changed_parcels"), lang),
                                                  area=num(run.get("changed_area_ha"), lang))))
    conv = metrics.conversion_matrix(data.plan, list(lu.index))
    if metrics.TOTAL in conv.index and len(conv.columns) > 1:
        items = [f"{c} – {_use_name(lu, c, lang)} {num(conv.loc[metrics.TOTAL, c], lang)} ha"
                 for c in conv.columns if c != metrics.TOTAL]
        if items:
            s.blocks.append(Para(T["summary_by_use"].format(items="; ".join(items))))
    if len(ind):
        met = int((ind["status"] == "met").sum())
        s.blocks.append(Para(T["summary_quotas"].format(met=met, total=len(ind))))
    cert = run.get("certificate") or {}
    s.blocks.append(Para(T["summary_solution"].format(status=_status_text(T, run.get("status")),
                                                      objective=num(cert.get("objective"), lang, 4),
                                                      gap=percent(cert.get("gap"), lang))))
    v = run.get("verify")
    if v is not None:
        if v.get("ok"):
            s.blocks.append(Para(T["summary_verify_ok"]))
        else:
            items = "; ".join(f"{x['family']} {x['key']}: {x['message']}" for x in v.get("violations", [])[:5])
            s.blocks.append(Para(T["summary_verify_bad"].format(n=len(v.get("violations", [])), items=items), "warn"))
    alt = metrics.alternatives_table(run)
    if len(alt):
        s.blocks.append(Para(T["summary_alternatives"].format(pct=num(run.get("alternatives_min_difference_pct"), lang, 0))))
        rows = [[str(r["index"]), _status_text(T, r["status"]), num(r["objective"], lang, 4), percent(r["gap_to_best"], lang, 2),
                 num(r["changed_area_ha"], lang)] for r in _records(alt)]
        caption = T["summary_alternatives"].format(pct=num(run.get("alternatives_min_difference_pct"), lang, 0)).rstrip(":")
        s.blocks.append(Table("alternatives", caption, list(T["alt_header"]), rows,
                              ["c", "l", "r", "r", "r"]))
    return s


def _quota_text(lo, hi, lang: str) -> str:
    if lo is not None and hi is not None:
        return num(lo, lang) if abs(lo - hi) <= 1e-9 else f"{num(lo, lang)} – {num(hi, lang)}"
    if lo is not None:
        return f"≥ {num(lo, lang)}"
    return f"≤ {num(hi, lang)}" if hi is not None else "—"


def _indicators(data: RunData, lang: str, T: dict, lu: pd.DataFrame, ind: pd.DataFrame) -> Section:
    s = Section("indicators", T["s_indicators"])
    if not len(ind):
        s.blocks.append(Para(T["ind_no_plan"] if data.plan is None and data.scenario.get("quotas") else T["ind_none"]))
        return s
    rows = []
    for r in _records(ind):
        name = _use_name(lu, r["use"], lang)
        if r["region"]:
            name += " (" + T["region_in"].format(field=r["region"]["field"], values=", ".join(r["region"]["values"])) + ")"
        status = _t(T, f"status_{r['status']}", "—") if r["status"] else "—"
        if r["binding"]:
            status += f" ({T['binding_' + r['binding']]})"
        rows.append([str(r["no"]), name, r["use"], num(r["current_ha"], lang), num(r["planned_ha"], lang),
                     signed(r["change_ha"], lang), _quota_text(r["lo"], r["hi"], lang), status])
    s.blocks.append(Table("indicators", T["ind_caption"], list(T["ind_header"]), rows,
                          ["c", "l", "c", "r", "r", "r", "r", "l"], note=T["ind_note"]))
    sources = [f"{r['key']}: {r['source']}" for r in _records(ind) if isinstance(r.get("source"), str) and r["source"]]
    if sources:
        s.blocks.append(Para(T["ind_sources"] + ":", "small"))
        s.blocks.append(Bullets(sources))
    return s


def _matrix_table(key: str, caption: str, corner: str, m: pd.DataFrame, lang: str, T: dict, lu: pd.DataFrame) -> Table:
    cols = [c for c in m.columns]
    header = [corner] + [T["total"] if c == metrics.TOTAL else str(c) for c in cols]
    rows, totals = [], set()
    for i, (code, r) in enumerate(m.iterrows()):
        label = T["total"] if code == metrics.TOTAL else f"{_use_name(lu, code, lang)} ({code})"
        if code == metrics.TOTAL:
            totals.add(i)
        rows.append([label] + [num(r[c], lang) for c in cols])
    return Table(key, caption, header, rows, ["l"] + ["r"] * len(cols), totals)


def _conversion(data: RunData, lang: str, T: dict, lu: pd.DataFrame) -> Section:
    s = Section("conversion", T["s_conversion"])
    m = metrics.conversion_matrix(data.plan, list(lu.index))
    if len(m.columns) <= 1:
        s.blocks.append(Para(T["conv_none"]))
        return s
    s.blocks.append(_matrix_table("conversion", T["conv_caption"], T["conv_corner"], m, lang, T, lu))
    return s


def _region_table(key: str, caption: str, first: str, tab: pd.DataFrame, lang: str, T: dict,
                  only_changed: bool = False) -> tuple[Table, int]:
    uses = [c for c in tab.columns if c not in ("parcels", "area_ha", "changed_parcels", "changed_ha")]
    uses = [u for u in uses if tab.loc[metrics.TOTAL, u] > 0]  # a use nobody converts to is not a column
    header = [first] + list(T["reg_header"]) + [T["reg_to_use"].format(code=u) for u in uses]
    rows, totals, hidden = [], set(), 0
    for name, r in tab.iterrows():
        if only_changed and name != metrics.TOTAL and r["changed_ha"] <= 0:
            hidden += 1
            continue
        if name == metrics.TOTAL:
            totals.add(len(rows))
        rows.append([T["total"] if name == metrics.TOTAL else (name or "—"), integer(r["parcels"], lang),
                     num(r["area_ha"], lang), integer(r["changed_parcels"], lang), num(r["changed_ha"], lang)]
                    + [num(r[u], lang) for u in uses])
    return Table(key, caption, header, rows, ["l"] + ["r"] * (len(header) - 1), totals), hidden


def _regions(data: RunData, lang: str, T: dict) -> Section:
    s = Section("regions", T["s_regions"])
    uses = metrics.converted_uses(data.run, data.plan)
    tab = metrics.by_region(data.plan, DISTRICT_FIELD, uses)
    s.blocks.append(_region_table("districts", T["reg_caption_district"], T["reg_district"], tab, lang, T)[0])
    if COMMUNE_FIELD in data.plan.columns:
        ctab = metrics.by_region(data.plan, COMMUNE_FIELD, uses)
        table, hidden = _region_table("communes", T["reg_caption_commune"], T["reg_commune"], ctab, lang, T, only_changed=True)
        if hidden:
            table.note = T["reg_commune_rest"].format(n=hidden)
        s.blocks.append(table)
    return s


def _sites(data: RunData, lang: str, T: dict, lu: pd.DataFrame) -> Section | None:
    tab = metrics.sites_table(data.run)
    if not len(tab):
        return None
    rows = [[str(r["name"]), f"{r['use']} – {_use_name(lu, r['use'], lang)}", num(r["area_ha"], lang),
             integer(r["parcels"], lang), num(r["anchor_distance_km"], lang)] for r in _records(tab)]
    return Section("sites", T["s_sites"], [Table("sites", T["sites_caption"], list(T["sites_header"]), rows,
                                                 ["l", "l", "r", "r", "r"])])


def _binding(data: RunData, lang: str, T: dict) -> Section | None:
    if data.plan is None:
        return None
    s = Section("binding", T["s_binding"])
    tab = metrics.binding_table(data.run)
    if not len(tab):
        s.blocks.append(Para(T["bind_none"]))
        return s
    rows = []
    for r in _records(tab):
        unit = f" {r['unit']}" if r["unit"] else ""
        moved = "—" if r["bound"] is None else f"{num(r['bound'], lang)} → {num(r['moved_to'], lang)}{unit}"
        rows.append([_family_text(T, r["family"]), str(r["key"]), _side_text(T, r["side"]),
                     num(r["activity"], lang) + unit, moved, num(r["marginal_value"], lang, 4),
                     _term_text(T, r["termination"]) if r["termination"] else "—"])
    s.blocks.append(Table("binding", T["bind_caption"], list(T["bind_header"]), rows, ["l", "l", "l", "r", "r", "r", "l"]))
    if data.run.get("marginal_values_method"):
        step = ((data.scenario.get("explain") or {}).get("marginal_step", 1.0))
        s.blocks.append(Para(T["bind_method"].format(step=num(step, lang, 2)), "small"))
    return s


def _diagnosis(data: RunData, lang: str, T: dict) -> Section | None:
    diag, unreach = metrics.diagnosis_table(data.run), metrics.unreachable_table(data.run)
    if not len(diag) and not len(unreach):
        return None
    s = Section("diagnosis", T["s_diagnosis"])
    if len(diag):
        s.blocks.append(Para(T["diag_intro"]))
        rows = [[_family_text(T, r["family"]), str(r["key"]), _side_text(T, r["side"]), num(r["required"], lang),
                 num(r["achievable"], lang), num(r["shortfall"], lang), r["unit"] or ""] for r in _records(diag)]
        s.blocks.append(Table("diagnosis", T["s_diagnosis"], list(T["diag_header"]), rows, ["l", "l", "l", "r", "r", "r", "l"]))
    if len(unreach):
        rows = [[_family_text(T, r["family"]), str(r["key"]), num(r["lo"], lang), num(r["max_achievable"], lang),
                 num(r["shortfall"], lang)] for r in _records(unreach)]
        s.blocks.append(Table("unreachable", T["unreach_intro"], list(T["unreach_header"]), rows, ["l", "l", "r", "r", "r"]))
    return s


def _certificate(data: RunData, lang: str, T: dict) -> Section:
    run = data.run
    c = run.get("certificate") or {}
    v = run.get("verify")
    sense = (run.get("model") or {}).get("sense")
    rows = [
        (T["cert_status"], _status_text(T, run.get("status"))),
        (T["cert_termination"], f"{_term_text(T, c.get('termination'))} ({c.get('termination', '—')})"),
        (T["cert_sense"], T["sense_max"] if sense == "max" else T["sense_min"] if sense == "min" else "—"),
        (T["cert_objective"], num(c.get("objective"), lang, 4)),
        (T["cert_bound"], num(c.get("bound"), lang, 4)),
        (T["cert_gap"], percent(c.get("gap"), lang)),
        (T["cert_solver"], f"{c.get('solver', '—')} {c.get('solver_version', '')}".strip()),
        (T["cert_time"], num(c.get("time_s"), lang, 2)),
        (T["cert_seed"], f"{c.get('seed', '—')} / {c.get('threads', '—')}"),
    ]
    model = run.get("model")
    if model:
        rows.append((T["cert_model"], T["cert_model_text"].format(columns=integer(model.get("columns"), lang),
                                                                  rows=integer(model.get("rows"), lang),
                                                                  parcels=integer(model.get("parcels"), lang))))
    if v is not None:
        rows.append((T["cert_verify"], T["verify_ok"] if v.get("ok") else T["verify_bad"].format(n=len(v.get("violations", [])))))
        rows.append((T["cert_recomputed"], num(v.get("recomputed_objective"), lang, 4)))
    inputs = [f"{i.get('role')}: {Path(i.get('path', '')).name} — {str(i.get('sha256') or '')[:16]}…"
              for i in run.get("inputs", [])]
    if inputs:
        rows.append((T["cert_inputs"], "\n".join(inputs)))
    return Section("certificate", T["s_certificate"], [KeyValues(rows)])


def _compare(data: RunData, other: RunData, lang: str, T: dict, lu: pd.DataFrame, crs_text: str, districts) -> Section:
    a_name = data.run.get("scenario_name") or data.run_dir.name
    b_name = other.run.get("scenario_name") or other.run_dir.name
    s = Section("compare", T["s_compare"])
    s.blocks.append(Para(T["cmp_intro"].format(a=f"{a_name} ({data.run_dir.name})", b=f"{b_name} ({other.run_dir.name})")))
    # the same table `landalloc compare` writes to kpis.csv
    kpi = metrics.compare_plan_kpis(data.run, data.plan, other.run, other.plan)
    rows = []
    for r in _records(kpi):
        kind = r["kind"]
        if kind == "quota":
            label = T["kpi_quota"].format(key=r["key"])
        elif kind in ("area_by_use", "converted_by_use"):
            label = T[f"kpi_{kind}"].format(code=r["key"], name=_use_name(lu, r["key"], lang))
        elif kind == "converted_by_district":
            district, _, code = str(r["key"]).rpartition(" / ")
            label = T["kpi_converted_by_district"].format(district=district, code=code)
        else:
            label = _t(T, f"kpi_{kind}", kind)
        if kind == "gap":
            vals = [percent(r["a"], lang), percent(r["b"], lang), "—" if r["diff"] is None else percent(r["diff"], lang)]
        elif kind in ("changed_parcels", "displaced_households", "sites"):
            vals = [integer(r["a"], lang), integer(r["b"], lang), "—" if r["diff"] is None else signed(r["diff"], lang, 0)]
        else:
            d = 4 if kind in ("objective", "bound") else 2
            vals = [num(r["a"], lang, d), num(r["b"], lang, d), "—" if r["diff"] is None else signed(r["diff"], lang, d)]
        rows.append([label] + vals)
    s.blocks.append(Table("compare_kpis", T["cmp_caption"], list(T["cmp_header"]), rows, ["l", "r", "r", "r"]))
    if data.plan is None or other.plan is None:
        return s
    diff = metrics.plan_difference(data.plan, other.plan)
    missing = len(set(data.plan["parcel_id"]) ^ set(other.plan["parcel_id"]))
    summ = metrics.difference_summary(diff)
    rows = [[T[f"diff_{k}"], integer(r["parcels"], lang), num(r["area_ha"], lang)] for k, r in summ.iterrows()]
    s.blocks.append(Table("compare_diff", T["diff_caption"], list(T["diff_header"]), rows, ["l", "r", "r"],
                          note=T["diff_missing"].format(n=missing) if missing else None))
    dm = metrics.difference_matrix(diff, list(lu.index))
    if len(dm.columns) > 1:
        s.blocks.append(_matrix_table("compare_matrix", T["diff_matrix_caption"], T["diff_corner"], dm, lang, T, lu))
    geo = data.plan[["parcel_id", "geometry"]].merge(diff[["parcel_id", "kind"]], on="parcel_id", how="inner")
    png = maps.difference_map(geo, geo["kind"].tolist(), summ["parcels"].astype(int).to_dict(), lang, T, crs_text, districts)
    s.blocks.append(Figure("difference_map", T["diff_map_caption"], png))
    return s


def build_document(data: RunData, lang: str = "vi", compare: RunData | None = None) -> Document:
    """The whole report for one run (and optionally a second run to compare with). The Interactive
    block is rendered by the HTML only; PDF and DOCX skip it."""
    T = strings(lang)
    lu = metrics.land_use_table(data.run)
    crs_text = crs_label(data.crs)
    meta, warnings = _general(data, lang, T, crs_text)
    current = {}
    if data.plan is not None and data.loaded is not None:
        current = metrics.quota_current_areas(data.loaded, data.plan)
    ind = metrics.indicator_table(data.run, current)

    sections = [_summary(data, lang, T, lu, ind), _indicators(data, lang, T, lu, ind)]
    districts = zones = places = None
    if data.plan is not None:
        districts, zones, places = districts_layer(data), zones_layer(data), places_layer(data)
        mapsec = Section("map", T["s_map"])
        mapsec.blocks.append(Interactive(T["map_interactive"], data, districts, zones, places))
        mapsec.blocks.append(Figure("plan_map", T["map_caption"],
                                    maps.plan_map(data.plan, lu, lang, T, crs_text, districts, zones, places)))
        sections += [mapsec, _conversion(data, lang, T, lu), _regions(data, lang, T)]
    for extra in (_sites(data, lang, T, lu), _binding(data, lang, T), _diagnosis(data, lang, T)):
        if extra is not None:
            sections.append(extra)
    sections.append(_certificate(data, lang, T))
    notes = list(data.notes)
    if compare is not None:
        sections.append(_compare(data, compare, lang, T, lu, crs_text, districts))
        notes += [f"B: {n}" for n in compare.notes]
    if notes:
        sections.append(Section("notes", T["s_notes"], [Para(T["notes_intro"]), Bullets(notes)]))
    for i, s in enumerate(sections):
        s.heading = f"{ROMAN[i + 1] if i + 1 < len(ROMAN) else i + 1}. {s.heading}"
    sections.insert(0, Section("general", f"{ROMAN[0]}. {T['s_general']}", [KeyValues(meta)]
                               + [Para(w, "warn") for w in warnings]))
    _numbered(sections)
    sc = data.scenario
    return Document(lang=lang, T=T, title=T["title"], subtitle=T["subtitle"], meta=meta, warnings=warnings,
                    generated_note=T["generated_note"].format(version=data.run.get("landalloc_version", "?"),
                                                              run_dir=str(data.run_dir)),
                    sections=sections, land_uses=lu, scenario_label=sc.get("title") or sc.get("name") or "")
