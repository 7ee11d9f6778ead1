"""Comparing two runs, the data side: both plans with their inputs, a KPI table side by side, the
parcels whose use differs.

The KPI definitions live in ``optimizer/workflows/metrics.py`` (``compare_plan_kpis``, ``plan_kpis``,
``plan_difference``) so the council report and ``landalloc compare`` / ``landalloc sweep`` share one
definition of every figure. The files ``landalloc compare`` writes (kpis.csv, changed.gpkg, the
difference map, compare.json) are drawn and written by ``reports/comparison.py``, with the other maps.

A run is a run directory, or a run id of the run store (``landalloc runs list``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer.engine.errors import InputError
from optimizer.engine.rundir import plan_with_inputs, read_run
from optimizer.workflows.metrics import compare_plan_kpis, difference_summary, plan_difference
from optimizer.workflows.store import open_store


@dataclass
class LoadedRun:
    label: str
    run: dict
    plan: gpd.GeoDataFrame | None
    """allocation layer joined with the input attributes (when readable), sorted by parcel_id; a phased
    plan's last period"""
    notes: list[str] = field(default_factory=list)


def load_for_compare(ref: str | Path, store_spec: str | None = None) -> LoadedRun:
    """A run directory, or a run id in the store (``--store`` or the default store)."""
    ref_s = str(ref)
    p = Path(ref_s)
    notes: list[str] = []
    if p.is_dir():
        run, allocation = read_run(p)
        label = str(p)
    elif ref_s.isdigit():
        store = open_store(store_spec)
        rec, allocation = store.get(int(ref_s), allocation=True)
        run = dict(rec.get("run") or {})
        run["scenario"] = rec.get("scenario")
        label = f"{store.location}#{ref_s}"
    else:
        raise InputError(ref_s, None, "neither a run directory nor a run id of the store",
                         "give the --out directory of a solve, or an id from `landalloc runs list`")
    if allocation is None:
        notes.append(f"{label}: no plan (status {run.get('status')!r})")
    plan, input_notes = plan_with_inputs(run, allocation, final_period=True, label=label)
    return LoadedRun(label=label, run=run, plan=plan, notes=notes + input_notes)


def changed_layer(a: LoadedRun, b: LoadedRun) -> tuple[gpd.GeoDataFrame, pd.DataFrame, list[str]]:
    """(parcels whose use differs between the plans, the per-parcel difference of all common parcels, notes)."""
    notes: list[str] = []
    if a.plan is None or b.plan is None:
        raise InputError(a.label if a.plan is None else b.label, None, "has no plan to compare",
                         "compare runs that found a plan (status optimal or feasible)")
    sha = [next((i.get("sha256") for i in r.run.get("inputs") or [] if i.get("role") == "parcels"), None) for r in (a, b)]
    if sha[0] != sha[1]:
        notes.append("the runs read different parcel layers (sha256 differ); parcels are matched by parcel_id")
    diff = plan_difference(a.plan, b.plan)
    n_a, n_b, n = len(a.plan), len(b.plan), len(diff)
    if n < max(n_a, n_b):
        notes.append(f"{n_a - n} parcel(s) of A and {n_b - n} of B have no match in the other run; left out")
    geo = b.plan[["parcel_id", "district", "geometry"]]
    changed = diff[diff["use_a"] != diff["use_b"]].merge(geo, on="parcel_id", how="left")
    cols = ["parcel_id", "district", "current_use", "use_a", "use_b", "kind", "area_ha", "geometry"]
    layer = gpd.GeoDataFrame(changed[cols], geometry="geometry", crs=b.plan.crs)
    return layer, diff, notes


@dataclass
class Comparison:
    """Two runs compared: everything ``landalloc compare`` prints and writes, before any file."""

    a: LoadedRun
    b: LoadedRun
    kpis: pd.DataFrame
    """kind, key, a, b, diff (b − a): :func:`metrics.compare_plan_kpis`"""
    changed: gpd.GeoDataFrame
    """parcels whose use differs, with run B's geometry (:func:`changed_layer`)"""
    diff: pd.DataFrame
    """per-parcel difference of all parcels the runs share (:func:`metrics.plan_difference`)"""
    summary: pd.DataFrame
    """parcels and ha per difference kind"""
    notes: list[str]

    def as_dict(self) -> dict:
        """The result as a JSON-able dict (``kpis``: list of rows, ``differences``: parcels and ha per kind,
        ``changed_parcels``, ``notes``, ``files``: empty until written)."""
        a, b = self.a, self.b
        return {
            "a": a.label, "b": b.label,
            "scenario_a": a.run.get("scenario_name"), "scenario_b": b.run.get("scenario_name"),
            "overrides_a": a.run.get("overrides"), "overrides_b": b.run.get("overrides"),
            "kpis": self.kpis.replace({np.nan: None}).to_dict("records"),
            "differences": {k: {"parcels": int(r.parcels), "area_ha": float(r.area_ha)} for k, r in self.summary.iterrows()},
            "changed_parcels": int(len(self.changed)), "changed_area_ha": float(self.changed["area_ha"].sum()),
            "notes": list(self.notes), "files": {},
        }


def load_comparison(ref_a: str | Path, ref_b: str | Path, store_spec: str | None = None) -> Comparison:
    """Read two runs (directories or store ids) and compare them; nothing is written."""
    a, b = load_for_compare(ref_a, store_spec), load_for_compare(ref_b, store_spec)
    kpis = compare_plan_kpis(a.run, a.plan, b.run, b.plan)
    layer, diff, notes = changed_layer(a, b)
    return Comparison(a=a, b=b, kpis=kpis, changed=layer, diff=diff, summary=difference_summary(diff),
                      notes=a.notes + b.notes + notes)
