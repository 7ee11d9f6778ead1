"""Why a model is infeasible, in the planner's terms: an elastic re-solve.

Every soft row (quotas, site windows, land balance, forest cover, resettlement) gets penalized
slacks, weighted by the scenario's priorities (``diagnosis.weights``); the rows whose slack is
positive are the conflicting requirements, each with its shortfall in the row's unit (ha,
households), and the elastic plan itself is written out. Pre-solve reachability (``reachability.py``)
catches the plainly impossible quotas before any solver runs; this finds the conflicts between rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from constraints._api import tolerance
from optimizer.engine.model import CompiledModel, extend
from optimizer.engine.scenario import DiagnosisSettings, SolverSettings
from optimizer.engine.solvers import get_adapter
from optimizer.engine.solvers.base import SolveResult


def _weight(settings: DiagnosisSettings, family: str, key: str) -> float:
    return settings.weights.get(f"{family}:{key}", settings.weights.get(family, settings.default_weight))


def elastic_model(model: CompiledModel, settings: DiagnosisSettings) -> tuple[CompiledModel, pd.DataFrame]:
    """The model with a slack on each relaxable side of each soft row; minimizes weighted slack."""
    rows = model.rows
    relax = rows["soft"].to_numpy(dtype=bool) & ~rows["family"].isin(settings.never_relax).to_numpy()
    idx_lo = np.nonzero(relax & np.isfinite(model.row_lo))[0]
    idx_hi = np.nonzero(relax & np.isfinite(model.row_hi))[0]
    r = np.concatenate([idx_lo, idx_hi])
    sign = np.concatenate([np.ones(len(idx_lo)), -np.ones(len(idx_hi))])
    k = len(r)
    slack = pd.DataFrame({"family": "diagnosis", "key": rows["key"].to_numpy()[r], "parcel": -1,
                          "use": np.where(sign > 0, "below_lo", "above_hi"), "keep": False})
    weights = np.array([_weight(settings, f, key) for f, key in zip(rows["family"].to_numpy()[r], rows["key"].to_numpy()[r])])
    A_cols = sp.csr_matrix((sign, (r, np.arange(k))), shape=(model.n_rows, k))
    c = np.zeros(model.n_cols)
    elastic = extend(model, cols=slack, A_cols=A_cols, c_cols=weights, col_lo=np.zeros(k), col_hi=np.full(k, np.inf),
                     integer=np.zeros(k, dtype=bool), c=c, sense="min")
    info = pd.DataFrame({"row": r, "side": np.where(sign > 0, "lo", "hi"), "weight": weights,
                         "column": model.n_cols + np.arange(k)})
    return elastic, info


def diagnose(model: CompiledModel, solver: SolverSettings, settings: DiagnosisSettings) -> tuple[SolveResult, list[dict], CompiledModel]:
    """The elastic plan, the violated rows (family, key, side, unit, required, achievable, shortfall), and
    the elastic model."""
    elastic, info = elastic_model(model, settings)
    result = get_adapter(solver.name).solve(elastic, solver)
    out = []
    if result.has_solution:
        act = model.row_activity(result.x[: model.n_cols])
        for r, side, col, w in info[["row", "side", "column", "weight"]].itertuples(index=False):
            s = float(result.x[col])
            required = float(model.row_lo[r] if side == "lo" else model.row_hi[r])
            if s <= tolerance(required):  # a slack of rounding noise relaxes nothing
                continue
            out.append({"family": model.rows["family"].iat[r], "key": model.rows["key"].iat[r], "side": side,
                        "unit": model.rows["unit"].iat[r], "required": required, "achievable": float(act[r]),
                        "shortfall": s, "weight": float(w), **model.row_period(r)})
    return result, out, elastic
