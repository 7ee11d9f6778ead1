"""A scenario examined before any solver runs: how much land each quota could reach against what it
asks, and which (parcel, use) pairs screening excluded, and why.

This is what ``landalloc explain`` shows and emits as JSON; it lives in the core so that any front
end can ask it, and so that the CLI only prints.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.engine.compile import compile_model
from optimizer.engine.instance import load_instance
from optimizer.engine.reachability import reachability
from optimizer.engine.scenario import LoadedScenario


def exclusions(ineligible: pd.DataFrame, area_ha: np.ndarray) -> list[dict]:
    """Excluded pairs grouped by (family, reason, use): how many parcels and how many hectares."""
    if not len(ineligible):
        return []
    area = area_ha[ineligible["parcel"].to_numpy()]
    grouped = (ineligible.assign(area_ha=area).groupby(["family", "reason", "use"], sort=True)
               .agg(parcels=("parcel", "size"), area_ha=("area_ha", "sum")).reset_index())
    return grouped.to_dict("records")


def preflight(loaded: LoadedScenario) -> dict:
    """The scenario's size, each quota's reachable area against its band (``reachability``), and the
    exclusions; a quota with ``reachable: false`` cannot be met whatever the solver does."""
    instance = load_instance(loaded)
    compiled = compile_model(instance, loaded)
    return {"scenario": loaded.scenario.name, "parcels": instance.n, "total_area_ha": float(instance.area_ha.sum()),
            "reachability": reachability(compiled, instance),
            "exclusions": exclusions(compiled.model.ineligible, instance.area_ha)}


def unreachable(report: dict) -> list[dict]:
    """The quotas of a preflight report that no plan can meet."""
    return [r for r in report["reachability"] if not r["reachable"]]
