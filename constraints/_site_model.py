"""The sites family's model: one flow-contiguity block per site, the rows tying the sites to the
assignment columns, and the symmetry rows between interchangeable sites — the formulation stated in
``constraints/sites.py``. Each y[p, s] column carries its site's name in the columns table's ``site``
field, so the plan and the links between periods are read from data, not from column keys.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.engine.model import ModelBuilder

from constraints._api import CompileContext, tolerance
from constraints._site_config import SitesConfig
from constraints._site_neighbourhoods import Neighbourhood, interchangeable


def max_parcels(area: np.ndarray, max_ha: float | None) -> int:
    """Most of these parcels whose total area fits within max_ha (all of them without max_ha)."""
    if max_ha is None:
        return len(area)
    return int(max(1, np.searchsorted(np.cumsum(np.sort(area)), max_ha + tolerance(max_ha), side="right")))


def add_sites(ctx: CompileContext, m: ModelBuilder, family: str, config: SitesConfig,
              hoods: dict[int, Neighbourhood], cores: dict[int, np.ndarray]) -> np.ndarray:
    """Append every site's block; returns the columns of the start plan (each site's greedy core:
    its parcels, its root and their conversion columns, all at 1)."""
    inst = ctx.instance
    ids = pd.Series(inst.ids.astype(str), dtype=object)
    adj = inst.adjacency()
    by_use: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    zcols: dict[int, np.ndarray] = {}
    start_cols = []
    for i, s in enumerate(config.sites):
        C, ranked = hoods[i].parcels, hoods[i].ranked
        k = len(C)
        local = np.searchsorted(C, ranked)            # local index of the t-th ranked candidate
        area = inst.area_ha[C]
        M = float(min(k, max_parcels(area, s.max_ha)) - 1)
        pid = ids.iloc[C].reset_index(drop=True)
        sub = adj[C][:, C].tocoo()
        core = cores[i]
        tail, head = sub.row.astype(np.int64), sub.col.astype(np.int64)
        E = len(tail)
        tail_id, head_id = pid.iloc[tail].reset_index(drop=True), pid.iloc[head].reset_index(drop=True)
        pos = pd.Series(np.arange(k).astype(str), dtype=object)

        Y = m.add_columns(family, (s.name + ": " + pid).to_numpy(), parcel=C, use=s.use, integer=True, site=s.name)
        R = m.add_columns(family, (s.name + ": root " + pid).to_numpy(), parcel=C, use="", integer=True)
        Z = m.add_columns(family, (s.name + ": root within rank " + pos).to_numpy(), use="", integer=False)
        F = m.add_columns(family, (s.name + ": flow " + tail_id + "→" + head_id).to_numpy(), use="",
                          hi=M, integer=False, count=E)
        by_use.setdefault(s.use, []).append((Y, C))
        zcols[i] = Z
        if len(core):
            start_cols.append(np.concatenate([Y[core], R[core[:1]], ctx.x_index(s.use)[C[core]]]))

        t, ar, ae = np.arange(k), np.arange(k), np.arange(E)
        m.add_rows(family, [s.name], s.min_ha if s.min_ha > 0 else np.nan,
                   np.nan if s.max_ha is None else s.max_ha,
                   row=np.zeros(k), col=Y, coef=area, soft=True, unit="ha")
        m.add_rows(family, (s.name + ": roots counted to rank " + pos).to_numpy(), 0.0, 0.0,
                   row=np.concatenate([t, t[1:], t]), col=np.concatenate([Z, Z[:-1], R[local]]),
                   coef=np.concatenate([np.ones(k), -np.ones(k - 1), -np.ones(k)]), unit="parcel")
        m.add_rows(family, (s.name + ": root ranks first " + pid.iloc[local].reset_index(drop=True)).to_numpy(),
                   np.nan, 0.0, row=np.concatenate([t, t]), col=np.concatenate([Y[local], Z]),
                   coef=np.concatenate([np.ones(k), -np.ones(k)]), unit="parcel")
        m.add_rows(family, (s.name + ": root in site " + pid).to_numpy(), np.nan, 0.0,
                   row=np.concatenate([ar, ar]), col=np.concatenate([R, Y]),
                   coef=np.concatenate([np.ones(k), -np.ones(k)]), unit="parcel")
        m.add_rows(family, (s.name + ": flow balance " + pid).to_numpy(), 0.0, np.nan,
                   row=np.concatenate([head, tail, ar, ar]), col=np.concatenate([F, F, Y, R]),
                   coef=np.concatenate([np.ones(E), -np.ones(E), -np.ones(k), np.full(k, M + 1.0)]), unit="parcel")
        m.add_rows(family, (s.name + ": has a neighbour in the site " + pid).to_numpy(), np.nan, 0.0,
                   row=np.concatenate([ar, ar, head]), col=np.concatenate([Y, R, Y[tail]]),
                   coef=np.concatenate([np.ones(k), -np.ones(k), -np.ones(E)]), unit="parcel")
        m.add_rows(family, (s.name + ": flow into " + head_id + " from " + tail_id).to_numpy(), np.nan, 0.0,
                   row=np.concatenate([ae, ae]), col=np.concatenate([F, Y[head]]),
                   coef=np.concatenate([np.ones(E), np.full(E, -M)]), unit="parcel")

    start = np.concatenate(start_cols) if start_cols else np.zeros(0, dtype=np.int64)

    for u, blocks in by_use.items():
        x_idx = ctx.x_index(u)
        ycols = np.concatenate([b[0] for b in blocks])
        yparc = np.concatenate([b[1] for b in blocks])
        P = np.unique(yparc)
        row_of = np.full(inst.n, -1, dtype=np.int64)
        row_of[P] = np.arange(len(P))
        lo = np.where(inst.current_use[P] == u, np.nan, 0.0)   # existing land of u (may_join): ≤ its keep column
        m.add_rows(family, (u + ": in one site " + ids.iloc[P]).to_numpy(), lo, 0.0,
                   row=np.concatenate([row_of[yparc], np.arange(len(P))]),
                   col=np.concatenate([ycols, x_idx[P]]),
                   coef=np.concatenate([np.ones(len(ycols)), -np.ones(len(P))]), unit="parcel")

    for a, b in interchangeable(config, hoods):
        k = len(zcols[a])
        t = np.arange(k)
        keys = (f"{config.sites[a].name}: root ranks before {config.sites[b].name}'s, to rank "
                + pd.Series(t.astype(str), dtype=object)).to_numpy()
        m.add_rows(family, keys, 0.0, np.nan, row=np.concatenate([t, t]), col=np.concatenate([zcols[a], zcols[b]]),
                   coef=np.concatenate([np.ones(k), -np.ones(k)]), unit="parcel")
    return start
