"""The dossier as a format-neutral document: a run's sections filled with the blocks of
``reports/blocks.py`` (paragraphs, tables, figures). HTML/PDF (``reports/html.py``), DOCX
(``reports/docx_writer.py``) and the Excel workbook (``reports/xlsx_writer.py``) render this one
document, so every format shows the same numbers.

In order: general information, summary, every figure of the plan checked, the land-use table by
code, maps (overview, interactive, a detail map per site, rice and forest land), conversions,
conversions by 2025 commune, works and projects, resettlement, binding rows, diagnosis, certificate,
and the comparison with a second run. The tables of figures are built in ``reports/sections.py``;
numbers come from ``optimizer/workflows/metrics.py`` and ``plan_figures.py`` (or run.json through
them) and are only *formatted* here.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pandas as pd

from optimizer.workflows import metrics, plan_figures
from reports import maps, sections, site_maps
from reports.blocks import (Bullets, Document, Figure, Interactive, KeyValues, Para, Section, Table, date_text,
                            integer, num, percent, records, signed, strings, use_name)
from reports.context import MapContext
from reports.data import COMMUNE_FIELD, DISTRICT_FIELD, RunData, crs_label, parcels_once
from reports.labels import field_label, fields_text, former_district, source_text
from reports.sections import matrix_table, region_words
from reports.suitability_section import suitability_section

ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV"]


# --- helpers -------------------------------------------------------------------------------------------

def _t(T: dict, key: str, default: str | None = None) -> str:
    return T.get(key, default if default is not None else key)


def _status_text(T: dict, status: str | None) -> str:
    return _t(T, f"status_{status}", status or "—")


def _term_text(T: dict, term: str | None) -> str:
    return _t(T, f"term_{term}", term or "—")


def _role_text(T: dict, role: str | None) -> str:
    """An input's role in words: 'parcels' → 'lớp thửa đất'; a family's layer by the family's name."""
    return _t(T, f"role_{role}", _family_text(T, role or "—"))


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
        (T["sources"], "\n".join(source_text(x, lang, T) for x in _sources(meta)) or T["not_given"]),
        (T["admin_units"], T["admin_units_text"]),
    ]
    synthetic = meta.get("synthetic_fields")
    rows.append((T["synthetic_fields"], fields_text(synthetic, T) if synthetic else T["not_given"]))
    if meta.get("real_fields"):
        rows.append((T["real_fields"], fields_text(meta["real_fields"], T)))
    if meta.get("attribution"):
        rows.append((T["attribution"], source_text(str(meta["attribution"]), lang, T)))
    warnings = [T["synthetic_warning"].format(fields=fields_text(synthetic, T))] if synthetic else [T["synthetic_unknown"]]
    return rows, warnings


def _summary(data: RunData, lang: str, T: dict, lu: pd.DataFrame, checks: list[pd.DataFrame]) -> Section:
    run = data.run
    s = Section("summary", T["s_summary"])
    if data.plan is None:
        s.blocks.append(Para(T["summary_no_plan"].format(status=_status_text(T, run.get("status")))))
        return s
    s.blocks.append(Para(T["summary_plan"].format(parcels=integer(run.get("changed_parcels"), lang),
                                                  area=num(run.get("changed_area_ha"), lang))))
    final = plan_figures.plan_periods(data.plan)[-1][1]  # a phased plan's final state
    conv = metrics.conversion_matrix(final, list(lu.index))
    if metrics.TOTAL in conv.index and len(conv.columns) > 1:
        items = [f"{c} – {use_name(lu, c, lang)} {num(conv.loc[metrics.TOTAL, c], lang)} ha"
                 for c in conv.columns if c != metrics.TOTAL]
        if items:
            s.blocks.append(Para(T["summary_by_use"].format(items="; ".join(items))))
    rows = pd.concat(checks, ignore_index=True) if checks else pd.DataFrame(columns=plan_figures.COMPLIANCE_COLUMNS)
    limits = rows[rows["met"].notna()]
    if len(limits):
        s.blocks.append(Para(T["summary_checks"].format(met=int((limits["met"] == True).sum()),  # noqa: E712
                                                        total=len(limits)),
                             "p" if (limits["met"] == True).all() else "warn"))  # noqa: E712
    last = checks[-1] if checks else rows
    for f in records(last[last["section"] == "forest_cover"]):
        s.blocks.append(Para(T["summary_forest"].format(share=f"{num(f['value'], lang)}%", lo=f"{num(f['lo'], lang)}%")))
    res = last[(last["section"] == "resettlement") & last["detail"].map(lambda d: d.get("mode") == "region")]
    if len(res):
        by_district = res["key"].str.startswith(f"{DISTRICT_FIELD}: ").all()
        s.blocks.append(Para(T["summary_households"].format(n=integer(res["value"].sum(), lang), cap=num(res["hi"].sum(), lang),
                                                            k=len(res), units=T["units_district" if by_district else "units_other"])))
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
                 num(r["changed_area_ha"], lang)] for r in records(alt)]
        caption = T["summary_alternatives"].format(pct=num(run.get("alternatives_min_difference_pct"), lang, 0)).rstrip(":")
        s.blocks.append(Table("alternatives", caption, list(T["alt_header"]), rows,
                              ["c", "l", "r", "r", "r"]))
    return s


def _binding(data: RunData, lang: str, T: dict) -> Section | None:
    if data.plan is None:
        return None
    s = Section("binding", T["s_binding"])
    tab = metrics.binding_table(data.run)
    if not len(tab):
        s.blocks.append(Para(T["bind_none"]))
        return s
    rows = []
    for r in records(tab):
        unit = {"households": f" {T['households_unit']}", "": ""}.get(r["unit"] or "", f" {r['unit']}")
        moved = "—" if r["bound"] is None else f"{num(r['bound'], lang)} → {num(r['moved_to'], lang)}{unit}"
        value = (T["bind_skipped"].format(why=r["skipped"]) if r["skipped"] else "—" if r["termination"] is None
                 else num(r["marginal_value"], lang, 4) if r["conclusive"] else T["bind_inconclusive"])
        rows.append([_family_text(T, r["family"]), region_words(str(r["key"]), T), _side_text(T, r["side"]),
                     num(r["activity"], lang) + unit, moved, value,
                     _term_text(T, r["termination"]) if r["termination"] else "—"])
    s.blocks.append(Table("binding", T["bind_caption"], list(T["bind_header"]), rows, ["l", "l", "l", "r", "r", "r", "l"]))
    if data.run.get("marginal_values_method"):
        s.blocks.append(Para(T["bind_method"], "small"))
    words = [_family_text(T, m["family"]) + m[f"explanation_{lang}"][len(m["family"]):]
             for m in data.run.get("marginal_values") or [] if m.get(f"explanation_{lang}")]
    if words:
        s.blocks += [Para(T["bind_words"]), Bullets(words)]
    return s


def _objective(data: RunData, lang: str, T: dict) -> Section | None:
    """Each term of the objective with its weight, quantity and contribution; the total is the objective."""
    terms = data.run.get("objective_terms") or []
    if not terms:
        return None
    phased = any("period" in t for t in terms)
    names = T.get("objective_term_names") or {}

    def unit(text: str) -> str:  # "ha × suit_industry" → "ha × mức độ thích hợp cho khu công nghiệp"
        return " × ".join(field_label(part, T) for part in str(text).split(" × "))

    rows = [[(f"{t['period']}: " if phased else "") + names.get(t["name"], _family_text(T, t["name"].split(" ")[0])
                                                               + t["name"][len(t["name"].split(" ")[0]):]),
             num(t["weight"], lang, 4), num(t["quantity"], lang), unit(t["unit"]), num(t["contribution"], lang)]
            for t in terms]
    rows.append([T["obj_total"], "", "", "", num(data.run.get("objective"), lang)])
    return Section("objective", T["s_objective"], [Table("objective", T["obj_caption"], list(T["obj_header"]), rows,
                                                         ["l", "r", "r", "l", "r"])])


def _diagnosis(data: RunData, lang: str, T: dict) -> Section | None:
    diag, unreach = metrics.diagnosis_table(data.run), metrics.unreachable_table(data.run)
    if not len(diag) and not len(unreach):
        return None
    s = Section("diagnosis", T["s_diagnosis"])
    if len(diag):
        s.blocks.append(Para(T["diag_intro"]))
        rows = [[_family_text(T, r["family"]), str(r["key"]), _side_text(T, r["side"]), num(r["required"], lang),
                 num(r["achievable"], lang), num(r["shortfall"], lang), r["unit"] or ""] for r in records(diag)]
        s.blocks.append(Table("diagnosis", T["s_diagnosis"], list(T["diag_header"]), rows, ["l", "l", "l", "r", "r", "r", "l"]))
    if len(unreach):
        rows = [[_family_text(T, r["family"]), str(r["key"]), num(r["lo"], lang), num(r["max_achievable"], lang),
                 num(r["shortfall"], lang)] for r in records(unreach)]
        s.blocks.append(Table("unreachable", T["unreach_intro"], list(T["unreach_header"]), rows, ["l", "l", "r", "r", "r"]))
    return s


def _certificate(data: RunData, lang: str, T: dict) -> Section:
    run = data.run
    c = run.get("certificate") or {}
    v = run.get("verify")
    sense = (run.get("model") or {}).get("sense")
    rows = [
        (T["cert_status"], _status_text(T, run.get("status"))),
        (T["cert_termination"], _term_text(T, c.get("termination"))),
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
    inputs = [f"{_role_text(T, i.get('role'))}: {Path(i.get('path', '')).name} — {str(i.get('sha256') or '')[:16]}…"
              for i in run.get("inputs", [])]
    if inputs:
        rows.append((T["cert_inputs"], "\n".join(inputs)))
    return Section("certificate", T["s_certificate"], [KeyValues(rows)])


def _certificate_values(run: dict, T: dict) -> list[tuple[str, object]]:
    """The certificate's figures as values (the workbook's certificate sheet)."""
    c, v = run.get("certificate") or {}, run.get("verify") or {}
    return [(T["cert_status"], _status_text(T, run.get("status"))), (T["cert_termination"], _term_text(T, c.get("termination"))),
            (T["cert_objective"], c.get("objective")), (T["cert_bound"], c.get("bound")), (T["cert_gap"], c.get("gap")),
            (T["cert_solver"], f"{c.get('solver', '—')} {c.get('solver_version', '')}".strip()),
            (T["cert_time"], c.get("time_s")), (T["cert_seed"], f"{c.get('seed', '—')} / {c.get('threads', '—')}"),
            (T["cert_verify"], T["verify_ok"] if v.get("ok") else T["verify_bad"].format(n=len(v.get("violations", [])))),
            (T["cert_recomputed"], v.get("recomputed_objective"))]


def _compare(data: RunData, other: RunData, lang: str, T: dict, lu: pd.DataFrame, crs_text: str, ctx: MapContext) -> Section:
    a_name = data.run.get("scenario_name") or data.run_dir.name
    b_name = other.run.get("scenario_name") or other.run_dir.name
    s = Section("compare", T["s_compare"])
    s.blocks.append(Para(T["cmp_intro"].format(a=f"{a_name} ({data.run_dir.name})", b=f"{b_name} ({other.run_dir.name})")))
    # the same table `landalloc compare` writes to kpis.csv
    kpi = metrics.compare_plan_kpis(data.run, data.plan, other.run, other.plan)
    rows = []
    for r in records(kpi):
        kind = r["kind"]
        if kind == "quota":
            label = T["kpi_quota"].format(key=r["key"])
        elif kind in ("area_by_use", "converted_by_use"):
            label = T[f"kpi_{kind}"].format(code=r["key"], name=use_name(lu, r["key"], lang))
        elif kind == "converted_by_district":
            district, _, code = str(r["key"]).rpartition(" / ")
            label = T["kpi_converted_by_district"].format(district=former_district(district, T), code=code)
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
        s.blocks.append(matrix_table("compare_matrix", T["diff_matrix_caption"], T["diff_corner"], dm, lang, T, lu))
    geo = data.plan[["parcel_id", "area_ha", "geometry"]].merge(diff[["parcel_id", "kind"]], on="parcel_id", how="inner")
    img = maps.difference_map(geo, geo["kind"].tolist(), summ["parcels"].astype(int).to_dict(), lang, T, crs_text,
                              ctx.units, ctx.province, ctx.places, dpi=ctx.dpi)
    s.blocks.append(Figure.of_map("difference_map", T["diff_map_caption"], img))
    return s


def _maps(data: RunData, lang: str, T: dict, lu: pd.DataFrame, crs_text: str, ctx: MapContext) -> Section:
    """The overview (developed land standing out, sites labelled), the interactive map (HTML), a detail
    map per site or cluster of sites, and the thematic maps (rice land, forest land) with the plan's
    changes; for a phased plan, the final period."""
    s = Section("map", T["s_map"])
    plan = plan_figures.plan_periods(data.plan)[-1][1]
    s.blocks.append(Interactive(T["map_interactive"], data, ctx.units, ctx.zones, ctx.places))
    overview = maps.plan_map(plan, lu, lang, T, crs_text, ctx.units, ctx.province, ctx.zones, ctx.places, dpi=ctx.dpi)
    s.blocks.append(Figure.of_map("plan_map", T["map_caption"], overview))
    area = {r["name"]: r.get("area_ha") for r in plan_figures.of_period(data.run.get("sites"),
                                                                       plan["period"].iloc[0] if "period" in plan.columns else None)}
    for i, cluster in enumerate(site_maps.site_clusters(plan), start=1):
        img = site_maps.detail_map(plan, cluster, lu, lang, T, crs_text, ctx.units, ctx.zones, ctx.places,
                                   ctx.anchors, area, dpi=ctx.dpi)
        where = ", ".join(dict.fromkeys(c for site in cluster.sites for c in
                                        plan_figures.site_regions(plan, COMMUNE_FIELD).get(site, [])))
        caption = T["map_detail_caption"].format(sites=", ".join(cluster.sites), where=where or "—")
        s.blocks.append(Figure.of_map(f"site_map_{i}", caption, img, cluster.sites))
    for key, draw in (("rice_map", site_maps.rice_map), ("forest_map", site_maps.forest_map)):
        got = draw(plan, data.run, lu, lang, T, crs_text, ctx.units, ctx.province, ctx.places, dpi=ctx.dpi)
        if got is not None:
            img, converted = got
            s.blocks.append(Figure.of_map(key, T[f"{key}_caption"].format(ha=num(converted, lang)), img))
    return s


def build_document(data: RunData, lang: str = "vi", compare: RunData | None = None, dpi: int = maps.DPI) -> Document:
    """The whole report for one run (and optionally a second run to compare with). The Interactive
    block is rendered by the HTML only; PDF and DOCX skip it. ``dpi``: of the static maps."""
    T = strings(lang, data.admin_level)
    lu = metrics.land_use_table(data.run)
    crs_text = crs_label(data.crs)
    meta, warnings = _general(data, lang, T, crs_text)
    current = {}
    if data.plan is not None and data.loaded is not None:
        current = metrics.quota_current_areas(data.loaded, parcels_once(data.plan))
    ctx = MapContext.of(data, lang, T, dpi)
    compliance, checks = sections.compliance_section(data, lang, T, lu, ctx.anchors, current)
    body = [compliance, sections.indicators_section(data, lang, T, lu)]
    if data.plan is not None:
        body += [_maps(data, lang, T, lu, crs_text, ctx), sections.conversion_section(data, lang, T, lu),
                 sections.regions_section(data, lang, T)]
    body += [sections.sites_section(data, lang, T, lu, ctx.anchors), sections.resettlement_section(data, lang, T),
             suitability_section(data, lang, T, lu), _objective(data, lang, T), _binding(data, lang, T),
             _diagnosis(data, lang, T)]
    body = [_summary(data, lang, T, lu, checks)] + [b for b in body if b is not None] + [_certificate(data, lang, T)]
    notes = list(data.notes)
    if compare is not None:
        body.append(_compare(data, compare, lang, T, lu, crs_text, ctx))
        notes += [f"B: {n}" for n in compare.notes]
    if notes:
        body.append(Section("notes", T["s_notes"], [Para(T["notes_intro"]), Bullets(notes)]))
    for i, s in enumerate(body):
        s.heading = f"{ROMAN[i + 1] if i + 1 < len(ROMAN) else i + 1}. {s.heading}"
    body.insert(0, Section("general", f"{ROMAN[0]}. {T['s_general']}", [KeyValues(meta)]
                           + [Para(w, "warn") for w in warnings]))
    _numbered(body)
    sc = data.scenario
    inputs = [(_role_text(T, i.get("role")), str(i.get("path", "")), str(i.get("sha256") or ""))
              for i in data.run.get("inputs", [])]
    return Document(lang=lang, T=T, title=T["title"], subtitle=T["subtitle"], meta=meta, warnings=warnings,
                    generated_note=T["generated_note"].format(version=data.run.get("landalloc_version", "?"),
                                                              run_dir=str(data.run_dir)),
                    sections=body, land_uses=lu, scenario_label=sc.get("title") or sc.get("name") or "",
                    inputs=inputs, certificate=_certificate_values(data.run, T))
