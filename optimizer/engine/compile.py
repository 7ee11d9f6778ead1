"""Compile an instance and a scenario into one CompiledModel, vectorized end to end.

Order: families prepare (read their layers) → screen ineligible (parcel, use) pairs with reasons →
columns for eligible pairs only (one "keep current use" column per parcel plus one per admitted
conversion) → objective → assignment rows (exactly one use per parcel) → each family's rows (and
the extra fields families label their columns with, e.g. ``site``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from constraints import Family, active_families
from constraints._api import CompileContext

from optimizer.engine.instance import Instance
from optimizer.engine.model import CompiledModel, ModelBuilder
from optimizer.engine.objective import objective_coefficients
from optimizer.engine.scenario import LoadedScenario

ASSIGN = "assign"


@dataclass(frozen=True)
class CompiledScenario:
    """A scenario compiled for one period: the solver's matrix (``CompiledModel``) with the families that
    built it, which decode, verify and explain its plans."""
    model: CompiledModel
    families: list[Family]
    n_assign: int
    """the first n_assign columns are the x[parcel, use] assignment columns"""


def screen(instance: Instance, loaded: LoadedScenario, families: list[Family]) -> tuple[np.ndarray, pd.DataFrame]:
    """Eligibility matrix E[p, k] for the k-th allocate use, and the reasons for every False."""
    allocate = loaded.scenario.allocate
    use_index = {u: k for k, u in enumerate(allocate)}
    eligible = np.ones((instance.n, len(allocate)), dtype=bool)
    parts = []

    def apply(fam: Family, screens: list) -> None:
        for s in screens:
            eligible[s.parcels, use_index[s.use]] = False
            reason = np.broadcast_to(np.asarray(s.reason, dtype=object), s.parcels.shape)
            parts.append(pd.DataFrame({"parcel": s.parcels, "use": s.use, "family": fam.name, "reason": reason}))

    for fam in families:
        apply(fam, fam.screen(instance))
    for fam in families:
        has_column = {u: eligible[:, k] | (instance.current_use == u) for u, k in use_index.items()}
        apply(fam, fam.narrow(instance, has_column))
    table = (pd.concat(parts, ignore_index=True) if parts
             else pd.DataFrame({"parcel": np.zeros(0, np.int64), "use": [], "family": [], "reason": []}))
    return eligible, table.sort_values(["parcel", "use", "family"], kind="stable").reset_index(drop=True)


def compile_model(instance: Instance, loaded: LoadedScenario) -> CompiledScenario:
    sc = loaded.scenario
    families = active_families(loaded)
    for fam in families:
        fam.prepare(instance)
    eligible, ineligible = screen(instance, loaded, families)

    allocate = np.array(sc.allocate, dtype=object)
    conv = eligible & (instance.current_use[:, None] != allocate[None, :])
    cp, ck = np.nonzero(conv)
    parcel = np.concatenate([np.arange(instance.n), cp])
    use = np.concatenate([instance.current_use, allocate[ck]])
    keep = np.concatenate([np.ones(instance.n, bool), np.zeros(len(cp), bool)])
    # order: by parcel, keep column first, then allocate order — deterministic and easy to read
    rank = np.concatenate([np.full(instance.n, -1), ck])
    order = np.lexsort((rank, parcel))
    parcel, use, keep = parcel[order], use[order], keep[order]

    m = ModelBuilder("max" if sc.objective.sense == "maximize" else "min")
    cost = objective_coefficients(instance, loaded, parcel, use, keep)
    key = (pd.Series(instance.ids.astype(str)[parcel]) + ":" + pd.Series(use, dtype=object)).to_numpy(dtype=object)
    cols = m.add_columns(ASSIGN, key, parcel=parcel, use=use, keep=keep, cost=cost, lo=0.0, hi=1.0, integer=True)
    m.add_rows("one_use", instance.ids.astype(str), 1.0, 1.0, row=parcel, col=cols, coef=1.0, unit="parcel")

    columns = pd.DataFrame({"parcel": parcel, "use": use, "keep": keep})
    ctx = CompileContext(loaded=loaded, instance=instance, columns=columns)
    for fam in families:
        fam.build(ctx, m)
    return CompiledScenario(model=m.build(ineligible), families=families, n_assign=len(cols))
