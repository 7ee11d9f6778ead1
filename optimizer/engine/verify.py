"""Verify a decoded plan independently of the matrix.

Everything here is recomputed from the output layer (geometry areas, spatial joins against the zone
layers) and the input attributes joined by parcel id, so a bug in compilation cannot certify itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from constraints import Family, active_families
from constraints._api import Violation, VerifyContext

from optimizer.engine.errors import InputError
from optimizer.engine.instance import Instance
from optimizer.engine.phasing import period_scenarios, verify_nesting
from optimizer.engine.scenario import LoadedScenario, parse_scenario


@dataclass
class VerifyReport:
    violations: list[Violation]
    figures: dict[str, list[dict]] = field(default_factory=dict)
    objective: float | None = None
    area_by_use: dict[str, float] = field(default_factory=dict)
    terms: list[dict] = field(default_factory=list)
    """what the objective is made of: {name, weight, quantity, unit, contribution[, period, period_weight]}"""

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict:
        return {"ok": self.ok, "violations": [v.as_dict() for v in self.violations],
                "recomputed_objective": self.objective}


def objective_terms(loaded: LoadedScenario, attrs: pd.DataFrame, area: np.ndarray) -> list[dict]:
    """The scenario's objective terms recomputed parcel by parcel from the plan joined with its input
    attributes, each as ``{name, weight, quantity, unit, contribution}``: quantity = Σ over parcels
    converted to one of the term's uses of value(parcel, new use) (· area when per ha), contribution =
    weight · quantity. Their sum (with the families' terms) is the plan's objective."""
    sc = loaded.scenario
    changed = attrs["changed"].to_numpy(dtype=bool)
    new_use = attrs["new_use"].to_numpy()
    out = []
    for name, term in sc.objective.terms.items():
        uses = term.uses or (list(term.per_use) if term.per_use else sc.allocate)
        quantity = 0.0
        for u in uses:
            sel = changed & (new_use == u)
            if term.per_use is not None:
                if u not in term.per_use:
                    continue
                value = pd.to_numeric(attrs[term.per_use[u]]).to_numpy(dtype=float)[sel]
            elif term.column is not None:
                value = pd.to_numeric(attrs[term.column]).to_numpy(dtype=float)[sel]
            else:
                value = np.ones(sel.sum())
            if term.per_ha:
                value = value * area[sel]
            quantity += float(value.sum())
        source = "value" if term.per_use is not None else term.column
        unit = ("ha" if source is None else f"ha × {source}") if term.per_ha else (source or "parcels")
        out.append({"name": name, "weight": term.weight, "quantity": quantity, "unit": unit,
                    "contribution": term.weight * quantity})
    return out


def _core_checks(loaded: LoadedScenario, instance: Instance, alloc: gpd.GeoDataFrame) -> list[Violation]:
    sc = loaded.scenario
    out = []
    ids = alloc["parcel_id"]
    if ids.duplicated().any():
        out.append(Violation("one_use", "parcel_id", "a parcel appears more than once",
                             tuple(ids[ids.duplicated()].tolist())))
    missing = set(instance.ids.tolist()) - set(ids.tolist())
    if missing:
        out.append(Violation("one_use", "parcel_id", f"{len(missing)} input parcel(s) missing from the plan",
                             tuple(sorted(missing))))
    extra = set(ids.tolist()) - set(instance.ids.tolist())
    if extra:
        out.append(Violation("one_use", "parcel_id", f"{len(extra)} parcel(s) not in the input", tuple(sorted(extra))))
    if alloc["new_use"].isna().any() or (alloc["new_use"] == "").any():
        out.append(Violation("one_use", "new_use", "parcel(s) without a use",
                             tuple(ids[alloc["new_use"].isna() | (alloc["new_use"] == "")].tolist())))
    current = pd.Series(instance.current_use, index=instance.ids).reindex(ids.to_numpy()).to_numpy()
    if (alloc["current_use"].to_numpy() != current).any():
        bad = ids[alloc["current_use"].to_numpy() != current]
        out.append(Violation("one_use", "current_use", "current use differs from the input layer", tuple(bad.tolist())))
    allowed = alloc["new_use"].isin(sc.allocate) | (alloc["new_use"].to_numpy() == current)
    if not allowed.all():
        out.append(Violation("one_use", "new_use", "converted to a use not in `allocate`", tuple(ids[~allowed].tolist())))
    changed = alloc["new_use"].to_numpy() != current
    if (alloc["changed"].to_numpy(dtype=bool) != changed).any():
        out.append(Violation("one_use", "changed", "`changed` disagrees with current_use/new_use",
                             tuple(ids[alloc["changed"].to_numpy(dtype=bool) != changed].tolist())))
    return out


def verify_allocation(loaded: LoadedScenario, instance: Instance, alloc: gpd.GeoDataFrame,
                      families: list[Family] | None = None) -> VerifyReport:
    sc = loaded.scenario
    violations = _core_checks(loaded, instance, alloc)
    if violations:
        return VerifyReport(violations)
    if alloc.crs is None:
        raise InputError("allocation", "crs", "the plan layer has no CRS", "re-run the solve")
    alloc = alloc.to_crs(instance.crs) if alloc.crs != instance.crs else alloc
    attrs = instance.attrs.set_index(sc.parcels.fields.id)
    joined = alloc.join(attrs.drop(columns=[c for c in attrs.columns if c in alloc.columns]), on="parcel_id")
    if sc.parcels.fields.area_ha:
        area = pd.to_numeric(joined[sc.parcels.fields.area_ha]).to_numpy(dtype=float)
    else:
        area = joined.geometry.area.to_numpy() / 1e4
    ctx = VerifyContext(loaded=loaded, allocation=joined, area_ha=area)
    figures: dict[str, list[dict]] = {}
    terms = objective_terms(loaded, joined, area)
    for fam in families if families is not None else _prepared(active_families(loaded), instance):
        own = fam.verify(ctx)
        violations.extend(own + exclusion_violations(fam, ctx, own))
        for k, v in fam.report(ctx).items():
            figures.setdefault(k, []).extend(v)
        terms += fam.objective_terms(ctx)
    by_use = pd.Series(area).groupby(joined["new_use"].to_numpy()).sum()
    return VerifyReport(violations, figures, float(sum(t["contribution"] for t in terms)),
                        {str(k): round(float(v), 6) for k, v in by_use.items()}, terms)


def _prepared(families: list[Family], instance: Instance) -> list[Family]:
    """Families built for a verify read their layers as the compile did, so each declares its exclusions."""
    for fam in families:
        fam.prepare(instance)
    return families


def exclusion_violations(fam: Family, ctx: VerifyContext, own: list[Violation]) -> list[Violation]:
    """The zones a family declared as exclusions when it read them (``Family.exclusions``), re-checked here
    by a spatial join of the output geometry, whatever the family's own screening and verify did: a
    converted parcel overlapping a zone by at least its ``min_overlap_m2`` must not take a use the zone's
    class forbids. Parcels the family's own violations already name are not repeated."""
    alloc = ctx.allocation
    named = {p for v in own for p in v.parcels}
    out = []
    for label, (zones, ex) in fam.exclusions.items():
        zones = zones.to_crs(alloc.crs) if zones.crs != alloc.crs else zones
        classes = zones[ex.class_field].astype(str).to_numpy()
        names = zones[ex.name_field].astype(str).to_numpy()
        changed = np.nonzero(alloc["changed"].to_numpy(dtype=bool))[0]
        parcels = alloc.geometry.to_numpy()[changed]
        zi, pi = shapely.STRtree(parcels).query(zones.geometry.to_numpy(), predicate="intersects")
        overlap = shapely.area(shapely.intersection(parcels[pi], zones.geometry.to_numpy()[zi]))
        keep = overlap >= max(ex.min_overlap_m2, 1e-9)
        zi, rows = zi[keep], changed[pi[keep]]
        new_use = alloc["new_use"].to_numpy()[rows]
        ids = alloc["parcel_id"].to_numpy()[rows]
        bad = np.array([u in ex.forbidden.get(c, ()) for u, c in zip(new_use, classes[zi])], dtype=bool)
        for (cls, name), grp in pd.DataFrame({"cls": classes[zi][bad], "name": names[zi][bad], "id": ids[bad],
                                              "use": new_use[bad]}).groupby(["cls", "name"], sort=True):
            fresh = [i for i in dict.fromkeys(grp["id"].tolist()) if i not in named]
            if fresh:
                out.append(Violation(fam.name, f"{cls}: {name}", f"{len(fresh)} parcel(s) converted to "
                                     f"{sorted(set(grp['use']))} inside {cls} zone {name} ({label}; re-checked "
                                     "against the zone geometry by verify)", tuple(fresh)))
    return out


def verify_plan(loaded: LoadedScenario, instance: Instance, plan: gpd.GeoDataFrame,
                families: dict[str | None, list[Family]] | None = None) -> VerifyReport:
    """Verify a plan of any scenario; a phased plan (one row per parcel and period) is verified period
    by period with that period's scenario, then for nesting (built stays built, sites expand)."""
    if not loaded.scenario.periods:
        return verify_allocation(loaded, instance, plan, (families or {}).get(None))
    total = VerifyReport([], {}, 0.0, {}, [])
    per_period = []
    for period, lt in period_scenarios(loaded):
        sub = plan[plan["period"] == period].drop(columns="period").reset_index(drop=True)
        rep = verify_allocation(lt, instance, sub, (families or {}).get(period))
        per_period.append((period, sub))
        total.violations += rep.violations
        for k, rows in rep.figures.items():
            total.figures.setdefault(k, []).extend({**r, "period": period} for r in rows)
        weight = loaded.scenario.periods[period].weight
        total.objective += weight * (rep.objective or 0.0)
        total.terms += [{**t, "period": period, "period_weight": weight, "contribution": weight * t["contribution"]}
                        for t in rep.terms]
        total.area_by_use.update({f"{period}:{u}": a for u, a in rep.area_by_use.items()})
    total.violations += verify_nesting(loaded, per_period)
    return total


def loaded_from_run(run: dict, run_dir: Path) -> LoadedScenario:
    raw = run.get("scenario")
    if not isinstance(raw, dict):
        raise InputError(str(run_dir / "run.json"), "scenario", "missing", "re-run the solve")
    base = Path(run.get("scenario_dir") or run_dir)
    return parse_scenario(raw, str(run_dir / "run.json") + ":scenario", base)
