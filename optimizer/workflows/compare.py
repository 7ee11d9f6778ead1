"""Comparing two runs: a KPI table side by side, the parcels whose use differs, a difference map.

The KPI definitions live in ``reports/metrics.py`` (``compare_plan_kpis``, ``plan_kpis``,
``plan_difference``) so the council report and ``landalloc compare`` / ``landalloc sweep`` share one
definition of every figure; this module reads the runs, joins the input attributes (``is_rice``,
``is_forest``, ``households``) and writes the files:

* ``kpis.csv`` — kind, key, a, b, diff (b − a);
* ``changed.gpkg``, layer ``changed`` — parcels whose use differs: parcel_id, district, current_use,
  use_a, use_b, kind (only_a / only_b / other_use), area_ha, geometry (run B's);
* ``difference.png`` and ``difference.svg`` — every parcel coloured by how the plans differ;
* ``compare.json`` — the table, counts per kind, and notes (e.g. the runs read different parcel layers).

A run is a run directory, or a run id of the run store (``landalloc runs list``).
"""

from __future__ import annotations

import math
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer.engine.errors import InputError
from optimizer.engine.files import atomic_write_text, sha256_file
from optimizer.engine.instance import read_layer
from optimizer.engine.rundir import atomic_write_layer, dumps, read_run

KIND_LABELS = {
    "only_a": "converted in A only",
    "only_b": "converted in B only",
    "other_use": "converted in both, to different uses",
    "same_conversion": "same conversion in both",
    "same": "unchanged in both",
}
KIND_COLOURS = {"only_a": "#d7301f", "only_b": "#2b8cbe", "other_use": "#8856a7", "same_conversion": "#a6a6a6",
                "same": "#eeeeee"}


@dataclass
class LoadedRun:
    label: str
    run: dict
    plan: gpd.GeoDataFrame | None
    """allocation layer joined with the input attributes (when readable), sorted by parcel_id"""
    notes: list[str] = field(default_factory=list)


def plan_with_inputs(run: dict, allocation: gpd.GeoDataFrame | None, notes: list[str]) -> gpd.GeoDataFrame | None:
    """The allocation joined (by parcel id) with the input parcel layer's other attributes, read from
    run.json ``inputs`` (role ``parcels``). What cannot be read is said in ``notes``."""
    if allocation is None:
        return None
    if "period" in allocation.columns and allocation["period"].nunique() > 1:
        last = allocation["period"].iloc[-1]  # phased plans list periods in order: compare the final state
        notes.append(f"phased plan: figures are those of its last period ({last})")
        allocation = allocation[allocation["period"] == last]
    plan = allocation.sort_values("parcel_id", kind="stable").reset_index(drop=True)
    item = next((i for i in run.get("inputs") or [] if i.get("role") == "parcels"), None)
    if item is None:
        notes.append("run.json names no parcel input; rice/forest/households from land_uses only")
        return plan
    path = Path(item["path"])
    if not path.exists():
        notes.append(f"{path}: parcel input not found; rice/forest/households figures from land_uses only")
        return plan
    if item.get("sha256") and sha256_file(path) != item["sha256"]:
        notes.append(f"{path}: changed since the run (sha256 differs); attributes joined from the current file")
    src = (run.get("scenario") or {}).get("parcels") or {}
    try:
        gdf = read_layer(path, src.get("layer"), src.get("encoding"), str(path))
    except InputError as e:
        notes.append(f"input attributes not read: {e}")
        return plan
    id_field = (src.get("fields") or {}).get("id", "parcel_id")
    if id_field not in gdf.columns:
        notes.append(f"{path}: no id field {id_field!r}; input attributes not joined")
        return plan
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    attrs = attrs.drop(columns=[c for c in attrs.columns if c in plan.columns and c != id_field])
    attrs = attrs.rename(columns={id_field: "parcel_id"})
    if attrs["parcel_id"].duplicated().any():
        notes.append(f"{path}: duplicate parcel ids now; input attributes not joined")
        return plan
    return plan.merge(attrs, on="parcel_id", how="left")


def load_for_compare(ref: str | Path, store_spec: str | None = None) -> LoadedRun:
    """A run directory, or a run id in the store (``--store`` or the default store)."""
    ref_s = str(ref)
    p = Path(ref_s)
    notes: list[str] = []
    if p.is_dir():
        run, allocation = read_run(p)
        label = str(p)
    elif ref_s.isdigit():
        from optimizer.workflows.store import open_store

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
    plan = plan_with_inputs(run, allocation, notes)
    return LoadedRun(label=label, run=run, plan=plan, notes=notes)


def changed_layer(a: LoadedRun, b: LoadedRun) -> tuple[gpd.GeoDataFrame, pd.DataFrame, list[str]]:
    """(parcels whose use differs between the plans, the per-parcel difference of all common parcels, notes)."""
    from optimizer.workflows.metrics import plan_difference

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


def difference_figure(plan: gpd.GeoDataFrame, kinds: np.ndarray, counts: dict[str, int], title: str, crs_text: str):
    """A matplotlib Figure (Agg, no pyplot state): parcels coloured by difference kind, legend with counts,
    a scale bar and the CRS."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    minx, miny, maxx, maxy = plan.total_bounds
    aspect = (maxy - miny) / max(maxx - minx, 1e-9)
    map_h, legend_h, title_h = min(max(6.6 * aspect, 3.0), 8.0), 0.75, 0.35
    total = map_h + legend_h + title_h
    fig = Figure(figsize=(7.0, total), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.03, legend_h / total, 0.94, map_h / total))
    edge = {"edgecolor": "white", "linewidth": 0.2} if len(plan) <= 3000 else {"linewidth": 0}
    plan.plot(ax=ax, color=[KIND_COLOURS[k] for k in kinds], **edge)
    changed = plan[np.isin(kinds, ["only_a", "only_b", "other_use"])]
    if len(changed) and len(changed) <= 3000:
        changed.plot(ax=ax, facecolor="none", edgecolor="black", linewidth=0.5)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    fig.text(0.5, 1 - 0.5 * title_h / total, title, ha="center", va="center", fontsize=9)
    # scale bar below the map's lower-left corner: a round length about a fifth of the width, in metres
    dx, dy = maxx - minx, maxy - miny
    span = dx / 5
    length = 10 ** math.floor(math.log10(max(span, 1e-9)))
    length *= 5 if span / length >= 5 else 2 if span / length >= 2 else 1
    pad = 0.04 * max(dx, dy)
    ax.set_xlim(minx - pad, maxx + pad)
    ax.set_ylim(miny - 2.2 * pad, maxy + pad)
    x0, y0 = minx, miny - 1.5 * pad
    ax.plot([x0, x0 + length], [y0, y0], color="black", linewidth=2, solid_capstyle="butt")
    ax.text(x0 + length + 0.01 * dx, y0, f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m",
            ha="left", va="center", fontsize=7)
    ax.text(maxx, y0, crs_text, ha="right", va="center", fontsize=6, color="#444444")
    handles = [Patch(facecolor=KIND_COLOURS[k], edgecolor="#666666", linewidth=0.5,
                     label=f"{KIND_LABELS[k]} ({counts.get(k, 0)})") for k in KIND_LABELS]
    fig.legend(handles=handles, loc="upper center", ncol=2, fontsize=7, frameon=False,
               bbox_to_anchor=(0.5, legend_h / total))
    return fig


def _atomic_figure(fig, path: Path, fmt: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fig.savefig(tmp, format=fmt, facecolor="white")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def compare_runs(ref_a: str | Path, ref_b: str | Path, out: Path | None, store_spec: str | None = None) -> dict:
    """Compare two runs; write the files into ``out`` when given. Returns the result as a JSON-able dict
    (``kpis``: list of rows, ``differences``: parcels and ha per kind, ``changed_parcels``, ``files``, ``notes``)."""
    from optimizer.workflows.metrics import compare_plan_kpis, difference_summary

    a, b = load_for_compare(ref_a, store_spec), load_for_compare(ref_b, store_spec)
    kpis = compare_plan_kpis(a.run, a.plan, b.run, b.plan)
    layer, diff, notes = changed_layer(a, b)
    notes = a.notes + b.notes + notes
    summary = difference_summary(diff)
    result = {
        "a": a.label, "b": b.label,
        "scenario_a": a.run.get("scenario_name"), "scenario_b": b.run.get("scenario_name"),
        "overrides_a": a.run.get("overrides"), "overrides_b": b.run.get("overrides"),
        "kpis": kpis.replace({np.nan: None}).to_dict("records"),
        "differences": {k: {"parcels": int(r.parcels), "area_ha": float(r.area_ha)} for k, r in summary.iterrows()},
        "changed_parcels": int(len(layer)), "changed_area_ha": float(layer["area_ha"].sum()),
        "notes": notes, "files": {},
    }
    if out is None:
        return result
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(str(out), None, "exists and is not a directory", "choose another --out directory")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "kpis.csv", kpis.to_csv(index=False))
    atomic_write_layer(layer, out / "changed.gpkg", layer="changed")
    from pyproj import CRS

    crs = CRS.from_user_input(b.plan.crs) if b.plan.crs is not None else None
    crs_text = f"EPSG:{crs.to_epsg()} ({crs.name})" if crs is not None and crs.to_epsg() else (crs.name if crs else "")
    plan = b.plan.merge(diff[["parcel_id", "kind"]], on="parcel_id", how="inner")
    counts = {k: int(v) for k, v in summary["parcels"].items()}
    title = f"A: {a.run.get('scenario_name')} ({Path(a.label).name})  vs  B: {b.run.get('scenario_name')} ({Path(b.label).name})"
    fig = difference_figure(plan, plan["kind"].to_numpy(), counts, title, crs_text)
    _atomic_figure(fig, out / "difference.png", "png")
    _atomic_figure(fig, out / "difference.svg", "svg")
    result["files"] = {k: str(out / f) for k, f in (("kpis", "kpis.csv"), ("changed", "changed.gpkg"),
                                                       ("map_png", "difference.png"), ("map_svg", "difference.svg"),
                                                       ("json", "compare.json"))}
    atomic_write_text(out / "compare.json", dumps(result))
    return result
