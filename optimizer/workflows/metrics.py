"""Plan metrics: pure functions from a run (run.json + its plan layer) to pandas tables.

Shared by the council report (``reports/``), ``landalloc compare`` and ``landalloc sweep``, so every
figure has one definition whichever of them shows it; hence it lives with the workflows, below reports.

One definition per metric. Figures that run.json already holds (quota ``achieved``, the certificate,
``changed_area_ha``, ``area_by_use``, binding rows and marginal values, the diagnosis, sites) are read
from it, never recomputed another way. Figures run.json lacks are defined here and only here:

* the current area inside a quota (``quota_current_areas``) — the quota family's own ``achieved``
  applied to the current-use map, so "current" and "planned" are the same sum over the same parcels;
* the conversion matrix (``conversion_matrix``), the per-region table (``by_region``) and the
  comparison of two plans (``compare_kpis``, ``plan_difference``, ``difference_matrix``).

The council dossier's further figures (the land-use table by code, each plan-level limit checked,
resettlement and sites by commune) are in ``optimizer/workflows/plan_figures.py``, built on these.

Areas are the plan layer's ``area_ha`` (the instance's areas, measured in the scenario's projected
CRS or read from the mapped area field) — the same areas verify sums for run.json.
Every table that has totals carries them as a row/column labelled :data:`TOTAL`, so no renderer adds
numbers of its own.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np
import pandas as pd

from constraints._api import VerifyContext
from constraints.quota_area import QuotaArea

TOTAL = "__total__"
"""Label of total rows and columns."""
DIFFERENCE_KINDS = ("only_a", "only_b", "other_use", "same_conversion", "same")
"""How a parcel differs between two plans (:func:`plan_difference`), in the order tables and legends list them."""


def land_use_table(run: dict) -> pd.DataFrame:
    """code → name_vi, name_en, colour, group, in the scenario's order (the only source of names and colours)."""
    lu = (run.get("scenario") or {}).get("land_uses") or {}
    rows = [{"code": code, "name_vi": v.get("name_vi", code), "name_en": v.get("name_en", code),
             "colour": v.get("colour", "#999999"), "group": v.get("group", "")} for code, v in lu.items()]
    return pd.DataFrame(rows, columns=["code", "name_vi", "name_en", "colour", "group"]).set_index("code", drop=False)


_VI_LETTERS = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_LETTER_MARKS = {"\u0306": "ă", "\u0302": "â", "\u031b": "ơ"}  # breve, circumflex, horn (with the base below)
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}  # huyền, hỏi, ngã, sắc, nặng


def vi_sort_key(text: str) -> tuple:
    """Vietnamese alphabetical order: letters a ă â b c d đ e ê … (primary), then tones
    (none, huyền, hỏi, ngã, sắc, nặng), so 'Bảo Lạc' < 'Bảo Lâm' and 'Hà Quảng' < 'Hoà An'.
    Decomposes (NFD) rather than normalising (NFC): the base letter and its marks are sorted apart."""
    primary, tones = [], []
    for ch in unicodedata.normalize("NFD", str(text).lower()):
        if ch in _TONES:
            tones.append(_TONES[ch])
        elif ch in _LETTER_MARKS and primary:
            base = primary.pop()
            letter = {("a", "\u0306"): "ă", ("a", "\u0302"): "â", ("e", "\u0302"): "ê", ("o", "\u0302"): "ô",
                      ("o", "\u031b"): "ơ", ("u", "\u031b"): "ư"}.get((base[1], ch), base[1])
            primary.append((_VI_LETTERS.find(letter) if letter in _VI_LETTERS else 100, letter))
        elif unicodedata.combining(ch):
            continue
        else:
            primary.append((_VI_LETTERS.find(ch) if ch in _VI_LETTERS else (-1 if ch == " " else 100 + ord(ch)), ch))
            tones.append(0)
    return tuple(r for r, _ in primary), tuple(tones), str(text)


def ordered_codes(codes, order: list[str]) -> list[str]:
    """Codes in scenario order, unknown codes last (sorted)."""
    codes = set(codes)
    return [c for c in order if c in codes] + sorted(codes - set(order))


# --- quotas ------------------------------------------------------------------------------------------

def quota_current_areas(loaded, plan: pd.DataFrame) -> dict[str, float | None]:
    """Area each quota counts in the *current* land use: the quota family's ``achieved`` evaluated on the
    plan with ``new_use`` replaced by ``current_use``. ``plan`` is the plan layer joined with the input
    attributes (region fields). A quota whose region field is missing gives None."""
    family = QuotaArea.from_scenario(loaded)
    if family is None:
        return {}
    quotas = family.config.quotas
    known = {k: q for k, q in quotas.items() if q.region is None or q.region.field in plan.columns}
    ctx = VerifyContext(loaded=loaded, allocation=plan.assign(new_use=plan["current_use"]),
                        area_ha=plan["area_ha"].to_numpy(dtype=float))
    got = QuotaArea(type(family.config)(quotas=known), loaded).achieved(ctx)
    return {k: got.get(k) for k in quotas}


def quota_status(run: dict) -> dict[str, str]:
    """key → 'met' / 'not_met' from run.json's verify (the quota family's own tolerance), '' if unknown."""
    verify = run.get("verify")
    if not verify:
        return {}
    bad = {v["key"] for v in verify.get("violations", []) if v.get("family") == "quota_area"}
    return {q["key"]: ("not_met" if q["key"] in bad else "met") for q in run.get("quotas", [])}


def indicator_table(run: dict, current: dict[str, float | None]) -> pd.DataFrame:
    """The council's indicator table, one row per run.json quota, in run.json order.

    Columns: no, key, use, region (dict or None), current_ha, planned_ha (run.json ``achieved``),
    change_ha, lo, hi, status ('met'/'not_met'/''), binding ('lo'/'hi'/'both'/''), source.
    """
    status = quota_status(run)
    rows = []
    for i, q in enumerate(run.get("quotas", []), start=1):
        cur = current.get(q["key"])
        planned = q.get("achieved")
        binding = q.get("binding")  # from explain.binding_rows; runs written before it: exactly at a bound
        if binding is None:
            binding = "both" if q.get("at_lo") and q.get("at_hi") else "lo" if q.get("at_lo") else "hi" if q.get("at_hi") else ""
        rows.append({"no": i, "key": q["key"], "use": q.get("use") or q["key"], "region": q.get("region"),
                     "current_ha": cur, "planned_ha": planned,
                     "change_ha": None if cur is None or planned is None else planned - cur,
                     "lo": q.get("lo"), "hi": q.get("hi"), "status": status.get(q["key"], ""),
                     "binding": binding, "source": q.get("source")})
    return pd.DataFrame(rows, columns=["no", "key", "use", "region", "current_ha", "planned_ha", "change_ha",
                                       "lo", "hi", "status", "binding", "source"])


# --- the plan's conversions ---------------------------------------------------------------------------

def conversion_matrix(plan: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """ha converted from each current use (rows) to each new use (columns), converted parcels only,
    with a :data:`TOTAL` row and column. Empty (only totals) when nothing converts."""
    changed = plan[plan["changed"].astype(bool)]
    m = changed.pivot_table(index="current_use", columns="new_use", values="area_ha", aggfunc="sum", fill_value=0.0)
    m = m.reindex(index=ordered_codes(m.index, order), columns=ordered_codes(m.columns, order), fill_value=0.0).astype(float)
    m[TOTAL] = m.sum(axis=1)
    m.loc[TOTAL] = m.sum(axis=0)
    m.index.name, m.columns.name = "current_use", "new_use"
    return m


def by_region(plan: pd.DataFrame, field: str, uses: list[str]) -> pd.DataFrame:
    """Per value of ``field`` (district, commune_2025, …): parcels, area_ha, changed_parcels, changed_ha,
    and ha converted to each of ``uses``; a :data:`TOTAL` row last. Regions in Vietnamese alphabetical order."""
    key = plan[field].astype(object).where(plan[field].notna(), "").astype(str)
    changed = plan["changed"].astype(bool).to_numpy()
    area = plan["area_ha"].to_numpy(dtype=float)
    df = pd.DataFrame({"region": key.to_numpy(), "area": area, "changed": changed, "new_use": plan["new_use"].to_numpy()})
    g = df.groupby("region", sort=True)
    out = pd.DataFrame({"parcels": g.size(), "area_ha": g["area"].sum()})
    conv = df[df["changed"]]
    out["changed_parcels"] = conv.groupby("region").size().reindex(out.index, fill_value=0)
    out["changed_ha"] = conv.groupby("region")["area"].sum().reindex(out.index, fill_value=0.0)
    for u in uses:
        out[u] = conv[conv["new_use"] == u].groupby("region")["area"].sum().reindex(out.index, fill_value=0.0)
    out = out.loc[sorted(out.index, key=vi_sort_key)]
    out.loc[TOTAL] = out.sum(axis=0)
    out["parcels"] = out["parcels"].astype(int)
    out["changed_parcels"] = out["changed_parcels"].astype(int)
    out.index.name = field
    return out


def converted_uses(run: dict, plan: pd.DataFrame | None) -> list[str]:
    """The uses parcels may be converted to (scenario ``allocate``), plus any other new use the plan shows."""
    allocate = list((run.get("scenario") or {}).get("allocate") or [])
    if plan is None:
        return allocate
    extra = set(plan.loc[plan["changed"].astype(bool), "new_use"]) - set(allocate)
    return allocate + sorted(extra)


# --- tables read from run.json ------------------------------------------------------------------------

def sites_table(run: dict) -> pd.DataFrame:
    cols = ["name", "use", "area_ha", "parcels", "anchor_distance_km", "connected", "min_ha", "max_ha", "anchor_max_km"]
    return pd.DataFrame([{c: s.get(c) for c in cols} for s in run.get("sites") or []], columns=cols)


def binding_table(run: dict) -> pd.DataFrame:
    """run.json ``binding`` rows with their ``marginal_values`` (joined on family, key, side) when present."""
    mv = {(m["family"], m["key"], m.get("period")): m for m in run.get("marginal_values") or []}
    rows = []
    for b in run.get("binding") or []:
        m = mv.get((b["family"], b["key"], b.get("period")), {})
        rows.append({"family": b["family"], "key": b["key"], "side": b["side"], "unit": b.get("unit", ""),
                     "activity": b.get("activity"), "bound": m.get("bound"), "moved_to": m.get("moved_to"),
                     "marginal_value": m.get("marginal_value"), "conclusive": m.get("conclusive"),
                     "skipped": m.get("skipped"), "termination": m.get("termination")})
    return pd.DataFrame(rows, columns=["family", "key", "side", "unit", "activity", "bound", "moved_to",
                                       "marginal_value", "conclusive", "skipped", "termination"])


def diagnosis_table(run: dict) -> pd.DataFrame:
    cols = ["family", "key", "side", "unit", "required", "achievable", "shortfall"]
    return pd.DataFrame([{c: d.get(c) for c in cols} for d in run.get("diagnosis") or []], columns=cols)


def unreachable_table(run: dict) -> pd.DataFrame:
    """Pre-solve reachability rows that no plan can meet (quota asks more than is eligible)."""
    cols = ["family", "key", "lo", "hi", "max_achievable", "min_forced", "shortfall"]
    return pd.DataFrame([{c: r.get(c) for c in cols} for r in run.get("reachability") or [] if not r.get("reachable", True)],
                        columns=cols)


def alternatives_table(run: dict) -> pd.DataFrame:
    cols = ["index", "status", "objective", "gap_to_best", "changed_area_ha"]
    return pd.DataFrame([{c: a.get(c) for c in cols} for a in run.get("alternatives") or []], columns=cols)


# --- comparing two runs -------------------------------------------------------------------------------

KPI_COLUMNS = ["kind", "key", "a", "b", "diff"]


def _kpi_row(kind: str, key: str, a, b) -> dict[str, Any]:
    """One row of a side-by-side table; ``diff`` (b − a) only when both are numbers."""
    diff = b - a if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
    return {"kind": kind, "key": key, "a": a, "b": b, "diff": diff}


def compare_kpis(run_a: dict, run_b: dict) -> pd.DataFrame:
    """KPIs of two runs side by side, all read from their run.json: kpi, kind, key, a, b, diff (b − a).

    kind: 'objective', 'objective_term' (key = term, ``period: term`` when phased; value = its
    contribution), 'bound', 'gap', 'changed_area_ha', 'changed_parcels', 'area_by_use' (key = code),
    'quota' (key = quota key, value = achieved ha)."""
    rows: list[dict[str, Any]] = []

    def add(kind, key, a, b):
        rows.append(_kpi_row(kind, key, a, b))

    def terms(run: dict) -> dict[str, float]:
        return {(f"{t['period']}: " if "period" in t else "") + t["name"]: t["contribution"]
                for t in run.get("objective_terms") or []}

    add("objective", "", run_a.get("objective"), run_b.get("objective"))
    ta, tb = terms(run_a), terms(run_b)
    for key in list(ta) + [k for k in tb if k not in ta]:
        add("objective_term", key, ta.get(key), tb.get(key))
    for k in ("bound", "gap", "changed_area_ha", "changed_parcels"):
        add(k, "", run_a.get(k), run_b.get(k))
    qa = {q["key"]: q.get("achieved") for q in run_a.get("quotas") or []}
    qb = {q["key"]: q.get("achieved") for q in run_b.get("quotas") or []}
    for key in list(qa) + [k for k in qb if k not in qa]:
        add("quota", key, qa.get(key), qb.get(key))
    ua, ub = run_a.get("area_by_use") or {}, run_b.get("area_by_use") or {}
    order = list(((run_a.get("scenario") or {}).get("land_uses") or {}))
    for code in ordered_codes(set(ua) | set(ub), order):
        add("area_by_use", code, ua.get(code, 0.0), ub.get(code, 0.0))
    return pd.DataFrame(rows, columns=KPI_COLUMNS)


def plan_difference(plan_a: pd.DataFrame, plan_b: pd.DataFrame) -> pd.DataFrame:
    """Per parcel present in both plans: parcel_id, use_a, use_b, area_ha, kind —
    'same', 'only_a' (converted in A only), 'only_b', 'other_use' (both converted, to different uses),
    'same_conversion'. Parcels missing from one plan are dropped (the caller reports how many)."""
    a = plan_a[["parcel_id", "current_use", "new_use", "changed", "area_ha"]]
    b = plan_b[["parcel_id", "new_use", "changed"]]
    j = a.merge(b, on="parcel_id", suffixes=("_a", "_b"), how="inner")
    ca, cb = j["changed_a"].astype(bool).to_numpy(), j["changed_b"].astype(bool).to_numpy()
    same_use = (j["new_use_a"] == j["new_use_b"]).to_numpy()
    kind = np.select([~ca & ~cb, ca & ~cb, ~ca & cb, ca & cb & ~same_use], ["same", "only_a", "only_b", "other_use"],
                     default="same_conversion")
    return pd.DataFrame({"parcel_id": j["parcel_id"].to_numpy(), "current_use": j["current_use"].to_numpy(),
                         "use_a": j["new_use_a"].to_numpy(), "use_b": j["new_use_b"].to_numpy(),
                         "area_ha": j["area_ha"].to_numpy(dtype=float), "kind": kind})


def difference_matrix(diff: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """ha of parcels whose use differs between plans: use in A (rows) → use in B (columns), with totals."""
    d = diff[diff["use_a"] != diff["use_b"]]
    m = d.pivot_table(index="use_a", columns="use_b", values="area_ha", aggfunc="sum", fill_value=0.0)
    m = m.reindex(index=ordered_codes(m.index, order), columns=ordered_codes(m.columns, order), fill_value=0.0).astype(float)
    m[TOTAL] = m.sum(axis=1)
    m.loc[TOTAL] = m.sum(axis=0)
    return m


def difference_summary(diff: pd.DataFrame) -> pd.DataFrame:
    """parcels and ha per difference kind (see :func:`plan_difference`), in a fixed order."""
    g = diff.groupby("kind")["area_ha"].agg(["size", "sum"]).reindex(list(DIFFERENCE_KINDS), fill_value=0)
    return g.rename(columns={"size": "parcels", "sum": "area_ha"})


# --- one plan's KPIs, and two plans side by side (landalloc compare, landalloc sweep) -----------------
# Used by optimizer/workflows/compare.py and sweep.py; they build on compare_kpis / plan_difference
# above rather than redefining them.

RICE_CODES = ("LUA", "LUC", "LUK")
"""Rice-land codes of the Vietnamese land classification (đất trồng lúa, chuyên trồng lúa nước, lúa nước
còn lại); used only when the parcel layer has no ``is_rice`` field."""


def _flag_field(plan: pd.DataFrame, field: str) -> np.ndarray | None:
    if field not in plan.columns:
        return None
    return pd.to_numeric(plan[field], errors="coerce").fillna(0).to_numpy(dtype=float) > 0


def land_flags(plan: pd.DataFrame, land_uses: dict) -> dict[str, tuple[np.ndarray, str]]:
    """Which parcels are rice and forest land today, and where each flag comes from:
    rice — the layer's ``is_rice`` field, else a current use in :data:`RICE_CODES`;
    forest — the layer's ``is_forest`` field, else a current use marked ``forest: true`` in ``land_uses``."""
    cur = plan["current_use"].astype(str)
    rice, rice_src = _flag_field(plan, "is_rice"), "field is_rice"
    if rice is None:
        rice, rice_src = cur.isin(RICE_CODES).to_numpy(), f"current_use in {', '.join(RICE_CODES)}"
    forest, forest_src = _flag_field(plan, "is_forest"), "field is_forest"
    if forest is None:
        codes = [c for c, v in (land_uses or {}).items() if (v or {}).get("forest")]
        forest, forest_src = cur.isin(codes).to_numpy(), f"land_uses forest: true ({', '.join(codes) or 'none'})"
    return {"rice": (rice, rice_src), "forest": (forest, forest_src)}


def households_field(run: dict) -> str:
    """The households field: the resettlement family's ``households_field`` when configured, else ``households``."""
    cfg = ((run.get("scenario") or {}).get("constraints") or {}).get("resettlement") or {}
    return cfg.get("households_field") or "households"


def plan_kpis(run: dict, plan: pd.DataFrame | None) -> dict[str, Any]:
    """One run's KPIs as a flat-ish dict: objective, status, changed parcels and ha, converted rice and
    forest land (ha), displaced households (households on converted parcels; None without the field),
    sites (count and ha, from run.json), ``converted_by_use`` (ha per new use, converted parcels only),
    ``area_by_use`` (ha per new use, all parcels), ``converted_by_district`` ({district: {use: ha}}) and
    ``sources`` (where the rice/forest/households figures come from). ``plan`` is the plan layer joined
    with the input attributes; None (no plan) leaves the plan figures None."""
    sites = run.get("sites") or []
    out: dict[str, Any] = {
        "objective": run.get("objective"), "status": run.get("status"), "termination": run.get("termination"),
        "gap": run.get("gap"), "changed_parcels": run.get("changed_parcels"), "changed_area_ha": run.get("changed_area_ha"),
        "converted_rice_ha": None, "converted_forest_ha": None, "displaced_households": None,
        "sites": len(sites), "sites_area_ha": float(sum(s.get("area_ha") or 0.0 for s in sites)),
        "converted_by_use": {}, "area_by_use": {}, "converted_by_district": {}, "sources": {},
    }
    if plan is None:
        return out
    land_uses = (run.get("scenario") or {}).get("land_uses") or {}
    order = list(land_uses)
    changed = plan["changed"].astype(bool).to_numpy()
    area = plan["area_ha"].to_numpy(dtype=float)
    flags = land_flags(plan, land_uses)
    for name, (flag, src) in flags.items():
        out[f"converted_{name}_ha"] = float(area[changed & flag].sum())
        out["sources"][f"converted_{name}_ha"] = src
    hh_field = households_field(run)
    if hh_field in plan.columns:
        hh = pd.to_numeric(plan[hh_field], errors="coerce").fillna(0).to_numpy(dtype=float)
        out["displaced_households"] = float(hh[changed].sum())
        out["sources"]["displaced_households"] = f"field {hh_field} on converted parcels"
    else:
        out["sources"]["displaced_households"] = f"no field {hh_field} in the parcel layer"
    new_use = plan["new_use"].astype(str)
    by_use = pd.Series(area, index=new_use.to_numpy()).groupby(level=0).sum()
    out["area_by_use"] = {c: float(by_use[c]) for c in ordered_codes(by_use.index, order)}
    conv = pd.DataFrame({"district": plan["district"].astype(str).to_numpy(), "use": new_use.to_numpy(),
                         "area": area})[changed]
    cu = conv.groupby("use")["area"].sum()
    out["converted_by_use"] = {c: float(cu[c]) for c in ordered_codes(cu.index, order)}
    by_d = conv.groupby(["district", "use"])["area"].sum()
    for d in sorted(set(conv["district"]), key=vi_sort_key):
        uses = by_d.loc[d]
        out["converted_by_district"][d] = {u: float(uses[u]) for u in ordered_codes(uses.index, order)}
    return out


def compare_plan_kpis(run_a: dict, plan_a: pd.DataFrame | None, run_b: dict, plan_b: pd.DataFrame | None) -> pd.DataFrame:
    """The comparison table of two runs: :func:`compare_kpis` (objective, bound, gap, changed area and
    parcels, quotas, area by use — from run.json) followed by the plan KPIs of :func:`plan_kpis`:
    converted rice and forest land, displaced households, sites, converted ha per use, and converted ha
    per district and use (key ``district / use``). Columns kind, key, a, b, diff (b − a)."""
    base = compare_kpis(run_a, run_b)
    ka, kb = plan_kpis(run_a, plan_a), plan_kpis(run_b, plan_b)
    rows: list[dict[str, Any]] = []

    def add(kind, key, a, b):
        rows.append(_kpi_row(kind, key, a, b))

    for k in ("converted_rice_ha", "converted_forest_ha", "displaced_households", "sites", "sites_area_ha"):
        add(k, "", ka[k], kb[k])
    order = list(((run_a.get("scenario") or {}).get("land_uses") or {}))
    for code in ordered_codes(set(ka["converted_by_use"]) | set(kb["converted_by_use"]), order):
        add("converted_by_use", code, ka["converted_by_use"].get(code, 0.0), kb["converted_by_use"].get(code, 0.0))
    da, db = ka["converted_by_district"], kb["converted_by_district"]
    for d in sorted(set(da) | set(db), key=vi_sort_key):
        ua, ub = da.get(d, {}), db.get(d, {})
        for code in ordered_codes(set(ua) | set(ub), order):
            add("converted_by_district", f"{d} / {code}", ua.get(code, 0.0), ub.get(code, 0.0))
    return pd.concat([base, pd.DataFrame(rows, columns=base.columns)], ignore_index=True)
