"""The council dossier's figures beyond ``metrics.py``: the land-use table by code in the official
form's groups, every plan-level limit checked, resettlement and sites by commune, per period.

A council checks a plan against the plan's own figures: quotas, the land balance by group, forest
cover, resettlement, each named site's window and its distance to its anchor, and the zones where
development is excluded. :func:`compliance_table` lists each of them from run.json (the figures the
families computed from the output geometry, never recomputed another way) with the limit, the plan's
value, whether it is met and the margin; :func:`exclusion_table` adds what run.json holds no figure
for — how much converted land lies in an excluded zone and how close converted land comes to it —
measured on the plan's geometry against the zone layers.

A phased plan holds one row per parcel and period; :func:`plan_periods` cuts it into its periods
and every table here is made per period (run.json rows carry their ``period``).
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from constraints._api import VerifyContext, tolerance
from constraints.adjacency_conflict import ConflictRule
from constraints.land_balance import GROUPS
from constraints.resettlement import Resettlement
from optimizer.engine.geometry import nearest_distance
from optimizer.workflows.metrics import TOTAL, ordered_codes, vi_sort_key

COMPLIANCE_COLUMNS = ["section", "key", "period", "unit", "lo", "hi", "value", "met", "margin", "source", "detail"]
"""``section``: quota, land_group, land_reference, land_total, cap, forest_cover, forest_loss, resettlement,
site_area (a site's size window, and one piece), site_anchor, exclusion, buffer; ``met`` True / False /
None (a reference figure, not a limit); ``margin`` how far the value is inside its limit (negative: outside)."""


def plan_periods(plan: pd.DataFrame) -> list[tuple[str | None, pd.DataFrame]]:
    """[(None, plan)] for a single-period plan; [(period, its rows), …] in the plan's order for a phased one."""
    if "period" not in plan.columns:
        return [(None, plan)]
    return [(str(p), plan[plan["period"] == p]) for p in dict.fromkeys(plan["period"].tolist())]


def of_period(rows: list[dict] | None, period: str | None) -> list[dict]:
    """run.json rows (quotas, sites, …) of one period; all of them when the run is not phased."""
    return [r for r in rows or [] if period is None or r.get("period") is None or str(r.get("period")) == period]


# --- the land-use table by code ----------------------------------------------------------------------

def land_use_balance(run: dict, plan: pd.DataFrame, period: str | None = None) -> pd.DataFrame:
    """The indicator table by land-use code in the layout of the official planning forms: for each
    land-use group (``land_uses[code].group``, in ``constraints.land_balance.GROUPS`` order) a subtotal
    row, then every code of the group in scenario order (codes without a group last), then a
    :data:`TOTAL` row. Columns: level ('group' / 'code' / 'total'), group, code, current_ha, planned_ha,
    change_ha, current_pct, planned_pct (share of the total), quota_lo, quota_hi (the province-wide
    quota of that use in run.json, when there is one)."""
    land_uses = (run.get("scenario") or {}).get("land_uses") or {}
    area = plan["area_ha"].to_numpy(dtype=float)
    current = pd.Series(area, index=plan["current_use"].astype(str).to_numpy()).groupby(level=0).sum()
    planned = pd.Series(area, index=plan["new_use"].astype(str).to_numpy()).groupby(level=0).sum()
    codes = ordered_codes(set(land_uses) | set(current.index) | set(planned.index), list(land_uses))
    quotas = {q.get("use") or q["key"]: q for q in of_period(run.get("quotas"), period) if not q.get("region")}
    total = float(area.sum())
    rows = []

    def add(level, group, code, cur, new):
        q = quotas.get(code) if level == "code" else None
        rows.append({"level": level, "group": group, "code": code, "current_ha": cur, "planned_ha": new,
                     "change_ha": new - cur, "current_pct": 100 * cur / total if total else None,
                     "planned_pct": 100 * new / total if total else None,
                     "quota_lo": q.get("lo") if q else None, "quota_hi": q.get("hi") if q else None})

    group_of = {c: (land_uses.get(c) or {}).get("group") or "" for c in codes}
    for g in [*GROUPS, ""]:
        members = [c for c in codes if (group_of[c] == g if g else group_of[c] not in GROUPS)]
        if not members:
            continue
        if g:
            add("group", g, g, float(current.reindex(members).fillna(0).sum()),
                float(planned.reindex(members).fillna(0).sum()))
        for c in members:
            add("code", g, c, float(current.get(c, 0.0)), float(planned.get(c, 0.0)))
    add("total", "", TOTAL, total, total)
    return pd.DataFrame(rows)


# --- by commune ----------------------------------------------------------------------------------------

def resettlement_by_region(loaded, plan: gpd.GeoDataFrame, field: str) -> pd.DataFrame | None:
    """The resettlement family's own figures — displaced households (on parcels converted to a
    displacing use) and the capacity of new resettlement land (ha × households per ha) — per value of
    ``field`` (e.g. the 2025 commune) instead of the family's configured region, with a :data:`TOTAL`
    row; only regions with either. None without the family, the field or the households."""
    family = Resettlement.from_scenario(loaded) if loaded is not None else None
    if family is None or field not in plan.columns or family.config.households_field not in plan.columns:
        return None
    regrouped = Resettlement(family.config.model_copy(update={"region_field": field, "max_km": None}), loaded)
    ctx = VerifyContext(loaded=loaded, allocation=plan, area_ha=plan["area_ha"].to_numpy(dtype=float))
    rows = regrouped.report(ctx)["resettlement"]
    df = pd.DataFrame({"displaced_households": [r["displaced_households"] for r in rows],
                       "capacity_households": [r["capacity_households"] for r in rows]},
                      index=[r["key"].removeprefix(f"{field}: ") for r in rows])
    df["resettlement_ha"] = df["capacity_households"] / family.config.households_per_ha
    df = df.loc[sorted(df.index, key=vi_sort_key)]
    df.loc[TOTAL] = df.sum(axis=0)
    df.index.name = field
    return df


def site_regions(plan: pd.DataFrame, field: str) -> dict[str, list[str]]:
    """site name → the values of ``field`` (e.g. communes) its parcels lie in, largest share first."""
    if "site" not in plan.columns or field not in plan.columns:
        return {}
    named = plan[plan["site"].fillna("").astype(str) != ""]
    area = named.groupby(["site", field])["area_ha"].sum().reset_index()
    return {str(site): g.sort_values(["area_ha", field], ascending=[False, True])[field].astype(str).tolist()
            for site, g in area.groupby("site", sort=True)}


# --- every plan-level limit, checked -------------------------------------------------------------------

def _margin(value, lo, hi) -> float | None:
    """How far ``value`` is inside [lo, hi]: the distance to the nearer bound (negative outside)."""
    if value is None:
        return None
    gaps = ([value - lo] if lo is not None else []) + ([hi - value] if hi is not None else [])
    return min(gaps) if gaps else None


def _within(value, lo, hi) -> bool | None:
    """The families' own test (``constraints._api.tolerance``); None when there is no limit."""
    if value is None or (lo is None and hi is None):
        return None
    return (lo is None or value >= lo - tolerance(lo)) and (hi is None or value <= hi + tolerance(hi))


def _row(section, key, period, unit, lo, hi, value, met=None, source=None, **detail) -> dict:
    met = _within(value, lo, hi) if met is None else bool(met)
    return {"section": section, "key": key, "period": period, "unit": unit, "lo": lo, "hi": hi, "value": value,
            "met": met, "margin": _margin(value, lo, hi), "source": source, "detail": detail}


def compliance_table(run: dict, period: str | None = None, current: dict | None = None) -> pd.DataFrame:
    """Every plan-level figure a family checks, from run.json: quotas (with ``current``, the quota's
    area in today's land use, when given), the land balance by group and its caps, forest cover,
    resettlement per region, and each named site's size window (met only in one piece) and anchor distance."""
    rows = []
    for q in of_period(run.get("quotas"), period):
        rows.append(_row("quota", q["key"], period, "ha", q.get("lo"), q.get("hi"), q.get("achieved"),
                         source=q.get("source"), use=q.get("use") or q["key"], region=q.get("region"),
                         current=(current or {}).get(q["key"]), binding=q.get("binding")))
    for g in of_period(run.get("land_balance"), period):
        if g["group"] == "total":
            rows.append(_row("land_total", "total", period, "ha", None, None, g.get("achieved"),
                             natural_area=g.get("natural_area_ha"), reference_total=g.get("reference_total"),
                             difference=g.get("difference_ha"), parcel_difference=g.get("parcel_area_difference_ha"),
                             groups=g.get("reference_groups") or []))
        elif g.get("lo") is None and g.get("hi") is None:
            rows.append(_row("land_reference", g["group"], period, "ha", None, None, g.get("achieved"),
                             source=g.get("source"), reference=g.get("reference"), before=g.get("before")))
        else:
            rows.append(_row("land_group", g["group"], period, "ha", g.get("lo"), g.get("hi"), g.get("achieved"),
                             source=g.get("source"), before=g.get("before"), reference=g.get("reference")))
    for c in of_period(run.get("land_balance_caps"), period):
        rows.append(_row("cap", c["key"], period, "ha", None, c.get("max_converted_ha"), c.get("converted_ha"),
                         met=c.get("ok"), source=c.get("source"), codes=c.get("codes") or []))
    for f in of_period(run.get("forest_cover"), period):
        rows.append(_row("forest_cover", "forest_cover", period, "%", 100 * f["min_share"], None, 100 * f["share_after"],
                         met=f.get("ok"), source=f.get("source"), before=100 * f["share_before"], after_ha=f["after_ha"],
                         required_ha=f["required_ha"], natural_area=f["natural_area_ha"]))
        if f.get("max_loss_ha") is not None:
            rows.append(_row("forest_loss", "forest_loss", period, "ha", None, f["max_loss_ha"], f["loss_ha"],
                             source=f.get("source")))
    for r in of_period(run.get("resettlement"), period):
        rows.append(_row("resettlement", r["key"], period, "households", None, r.get("capacity_households"),
                         r.get("displaced_households"), met=r.get("ok"), mode=r.get("mode"),
                         unplaced=r.get("unplaced_households")))
    for s in of_period(run.get("sites"), period):
        within = _within(s.get("area_ha"), s.get("min_ha"), s.get("max_ha"))
        rows.append(_row("site_area", s["name"], period, "ha", s.get("min_ha"), s.get("max_ha"), s.get("area_ha"),
                         met=within is not False and s.get("connected") is not False, use=s.get("use"),
                         parcels=s.get("parcels"), connected=s.get("connected")))
        if s.get("anchor_max_km") is not None:
            rows.append(_row("site_anchor", s["name"], period, "km", None, s["anchor_max_km"], s.get("anchor_distance_km"),
                             use=s.get("use")))
    return pd.DataFrame(rows, columns=COMPLIANCE_COLUMNS)


ZoneReader = Callable[[str, str | None], gpd.GeoDataFrame | None]
"""(path relative to the scenario, layer name) → the zone layer in the plan's CRS, or None if unreadable."""


def _forbidden_uses(rule: dict, allocate: list[str]) -> list[str]:
    if rule.get("forbidden") is not None:
        return [u for u in allocate if u in rule["forbidden"]]
    return [u for u in allocate if u not in (rule.get("allowed") or [])]


def _nearest_km(parcels: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> float | None:
    """The smallest distance (km) between any of ``parcels`` and any zone; None without parcels or zones."""
    if not len(parcels) or not len(zones):
        return None
    return float(nearest_distance(parcels.geometry.to_numpy(), zones.geometry.to_numpy(), missing=np.inf).min()) / 1000.0


def exclusion_table(scenario: dict, plan: gpd.GeoDataFrame, read_zones: ZoneReader, period: str | None = None) -> pd.DataFrame:
    """The zones where development is excluded, measured on the plan's geometry: per ``allowed_uses``
    class, the converted area in a zone of that class taking a use the class forbids (limit 0 ha; the
    overlap rule of the family, ``min_overlap_m2``) and how close such conversions come to those zones;
    per ``adjacency_conflict`` rule in ``forbid`` mode against a zone layer, the smallest distance from
    land converted to its uses to those zones (limit: at least ``buffer_m``)."""
    cons = scenario.get("constraints") or {}
    allocate = list(scenario.get("allocate") or [])
    changed = plan[plan["changed"].astype(bool)]
    rows = []
    au = cons.get("allowed_uses")
    zones = read_zones(au["layer"], au.get("layer_name")) if au and au.get("layer") else None
    if zones is not None:
        cls_field, min_overlap = au.get("class_field", "zone_class"), max(float(au.get("min_overlap_m2", 1.0)), 1e-9)
        for cls, rule in (au.get("rules") or {}).items():
            uses = _forbidden_uses(rule, allocate)
            z = zones[zones[cls_field].astype(str) == str(cls)]
            conv = changed[changed["new_use"].isin(uses)]
            zi, pi = conv.sindex.query(z.geometry.to_numpy(), predicate="intersects") if len(conv) and len(z) else ([], [])
            overlap = shapely.area(shapely.intersection(conv.geometry.to_numpy()[pi], z.geometry.to_numpy()[zi])) if len(pi) else []
            inside = np.unique(np.asarray(pi)[np.asarray(overlap) >= min_overlap]) if len(pi) else np.zeros(0, int)
            area = float(conv["area_ha"].to_numpy(dtype=float)[inside].sum())
            rows.append(_row("exclusion", str(cls), period, "ha", None, 0.0, area, uses=uses, zones=len(z),
                             nearest_km=_nearest_km(conv, z), rule="allowed" if rule.get("allowed") is not None else "forbidden"))
    ac = cons.get("adjacency_conflict") or {}
    for k, r in enumerate(ac.get("rules") or []):
        near = r.get("near") or {}
        if r.get("mode", "forbid") != "forbid" or not near.get("zone_layer"):
            continue
        z = read_zones(near["zone_layer"], near.get("layer_name"))
        if z is None:
            continue
        classes = near.get("zone_class")
        if classes:
            classes = [classes] if isinstance(classes, str) else classes
            z = z[z[near.get("class_field", "zone_class")].astype(str).isin([str(c) for c in classes])]
        conv = changed[changed["new_use"].isin(r.get("uses") or [])]
        rows.append(_row("buffer", ConflictRule.model_validate(r).key(k), period, "km", r["buffer_m"] / 1000.0, None,
                         _nearest_km(conv, z), met=True if not len(conv) else None, uses=list(r.get("uses") or []),
                         classes=list(classes or []), zones=len(z)))
    return pd.DataFrame(rows, columns=COMPLIANCE_COLUMNS)
