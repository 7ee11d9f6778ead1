"""Pre-solve reachability: can each quota be met at all, given what screening left eligible?

Checked before any solver runs, so a quota asking for more land than exists is named with both
numbers (asked, achievable) instead of a bare "infeasible".
"""

from __future__ import annotations

import numpy as np

from optimizer.engine.compile import Compiled
from optimizer.engine.instance import Instance


def reachability(compiled: Compiled, instance: Instance) -> list[dict]:
    """For every quota row: the largest and smallest area its use can reach, and any shortfall."""
    model = compiled.model
    rows = model.rows
    A = model.A.tocsr()
    cols = model.columns.iloc[: compiled.n_assign]
    parcel = cols["parcel"].to_numpy()
    # parcels with a single column are forced to it
    n_cols_per_parcel = np.bincount(parcel, minlength=instance.n)
    forced_col = np.zeros(compiled.n_assign, dtype=bool)
    forced_col[n_cols_per_parcel[parcel] == 1] = True
    out = []
    for i in np.nonzero((rows["family"] == "quota_area").to_numpy())[0]:
        s, e = A.indptr[i], A.indptr[i + 1]
        idx, coef = A.indices[s:e], A.data[s:e]
        idx_assign = idx < compiled.n_assign
        max_area = float(coef[idx_assign].sum())
        min_area = float(coef[idx_assign][forced_col[idx[idx_assign]]].sum())
        lo, hi = rows["lo"].iat[i], rows["hi"].iat[i]
        item = {"family": "quota_area", "key": rows["key"].iat[i], "lo": None if not np.isfinite(lo) else float(lo),
                "hi": None if not np.isfinite(hi) else float(hi), "max_achievable": max_area, "min_forced": min_area,
                "reachable": True, "shortfall": 0.0}
        if np.isfinite(lo) and max_area < lo - 1e-9:
            item.update(reachable=False, required=float(lo), achievable=max_area, shortfall=float(lo - max_area))
        elif np.isfinite(hi) and min_area > hi + 1e-9:
            item.update(reachable=False, required=float(hi), achievable=min_area, shortfall=float(min_area - hi))
        out.append(item)
    return out
