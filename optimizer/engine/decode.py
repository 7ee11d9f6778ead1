"""Decode a solver's x into the planner's layer: one row per parcel with its new use and why."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer.engine.compile import CompiledScenario
from optimizer.engine.errors import SolverFailure
from optimizer.engine.instance import Instance
from optimizer.engine.reasons import reasons_vi

OUTPUT_COLUMNS = ["parcel_id", "district", "current_use", "new_use", "changed", "reason", "reason_vi", "site", "area_ha"]
"""``reason_vi``: ``reason`` in Vietnamese (optimizer/engine/reasons.py), for Vietnamese readers of the layer."""


def chosen_uses(compiled: CompiledScenario, instance: Instance, x: np.ndarray) -> np.ndarray:
    """The use each parcel takes; a plan without exactly one use per parcel is solver garbage."""
    cols = compiled.model.columns.iloc[: compiled.n_assign]
    xa = np.asarray(x[: compiled.n_assign])
    on = xa > 0.5
    parcel = cols["parcel"].to_numpy()[on]
    counts = np.bincount(parcel, minlength=instance.n)
    if (counts != 1).any():
        bad = instance.ids[counts != 1][:5]
        raise SolverFailure(f"the solver returned a plan that does not give exactly one use to parcels {list(bad)}")
    new_use = np.empty(instance.n, dtype=object)
    new_use[parcel] = cols["use"].to_numpy()[on]
    return new_use


def reasons_by_parcel(ineligible: pd.DataFrame, n: int) -> np.ndarray:
    """'reason (USE, USE); reason (USE)' for every parcel that had pairs screened out."""
    out = np.full(n, "", dtype=object)
    if ineligible.empty:
        return out
    per_reason = (ineligible.groupby(["parcel", "reason"], sort=True)["use"]
                  .agg(lambda u: ", ".join(sorted(set(u)))).reset_index())
    per_reason["text"] = per_reason["reason"] + " (" + per_reason["use"] + ")"
    per_parcel = per_reason.groupby("parcel", sort=True)["text"].agg("; ".join)
    out[per_parcel.index.to_numpy()] = per_parcel.to_numpy()
    return out


def decode(compiled: CompiledScenario, instance: Instance, x: np.ndarray) -> gpd.GeoDataFrame:
    new_use = chosen_uses(compiled, instance, x)
    changed = new_use != instance.current_use
    reason = reasons_by_parcel(compiled.model.ineligible, instance.n)
    data = {
        "parcel_id": instance.ids,
        "district": instance.district,
        "current_use": instance.current_use,
        "new_use": new_use,
        "changed": changed,
        "reason": reason,
        "reason_vi": reasons_vi(reason),
        "site": np.full(instance.n, "", dtype=object),
        "area_ha": instance.area_ha,
    }
    plan = gpd.GeoDataFrame(data, geometry=instance.geometry.values, crs=instance.crs)
    for fam in compiled.families:
        fam.annotate(compiled.model.columns, x, plan)
    return plan
