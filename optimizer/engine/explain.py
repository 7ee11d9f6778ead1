"""Explanations a planner can defend: which quotas bind and at what price, and near-optimal
alternatives (why a model is infeasible: ``diagnosis.py``).

- **Marginal values** — by re-solving with the binding bound moved by one unit ("one more hectare"),
  not by LP duals: in a MIP the dual of a quota at the fixed integer solution describes a
  continuous relaxation that cannot move, and is often zero or misleading, while the re-solve
  answers the council's actual question. Each re-solve is reported with its own gap.
- **Alternatives** — K further plans, each differing from every earlier plan by at least P % of the
  optimal plan's converted area (Hamming-distance cuts weighted by area), with objective and gap
  to the best.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from optimizer.engine.compile import CompiledScenario
from optimizer.engine.model import CompiledModel, extend, with_row_bounds
from optimizer.engine.scenario import SolverSettings
from optimizer.engine.solvers import get_adapter
from optimizer.engine.solvers.base import SolveResult


def _room(model: CompiledModel, x: np.ndarray, up: bool) -> np.ndarray:
    """Per row, the smallest change of its activity one integer column can make in that direction
    (0 where a continuous column can move it by any amount, inf where nothing can)."""
    A = model.A.tocoo()
    xj = x[A.col]
    if up:
        movable = ((A.data > 0) & (xj < model.col_hi[A.col] - 0.5)) | ((A.data < 0) & (xj > model.col_lo[A.col] + 0.5))
    else:
        movable = ((A.data > 0) & (xj > model.col_lo[A.col] + 0.5)) | ((A.data < 0) & (xj < model.col_hi[A.col] - 0.5))
    step = np.where(model.integer[A.col], np.abs(A.data), 0.0)
    room = np.full(model.n_rows, np.inf)
    np.minimum.at(room, A.row[movable], step[movable])
    return room


def binding_rows(model: CompiledModel, x: np.ndarray, tol: float = 1e-6) -> pd.DataFrame:
    """Soft rows that bind: at a bound, or closer to it than any single parcel can move them. A plan
    made of whole parcels rarely meets 120 ha exactly; with 119.997 ha of a 120 ha cap and no parcel
    smaller than 0.5 ha, nothing more fits, so the cap binds (``slack`` says by how much it is
    short). Rows with nothing active (e.g. 0 ≤ 0 in a district where no household is displaced) are
    at their bound only trivially and left out."""
    act = model.row_activity(x)
    rows = model.rows
    engaged = (abs(model.A) @ np.abs(x)) > 1e-9
    soft = rows["soft"].to_numpy(dtype=bool) & engaged
    eps = tol * np.maximum(1, np.abs(np.nan_to_num(model.row_hi, posinf=0, neginf=0)))
    slack_hi = np.where(np.isfinite(model.row_hi), model.row_hi - act, np.inf)
    eps_lo = tol * np.maximum(1, np.abs(np.nan_to_num(model.row_lo, posinf=0, neginf=0)))
    slack_lo = np.where(np.isfinite(model.row_lo), act - model.row_lo, np.inf)
    at_hi = soft & np.isfinite(slack_hi) & ((slack_hi <= eps) | (slack_hi < _room(model, x, up=True) - eps))
    at_lo = soft & np.isfinite(slack_lo) & ((slack_lo <= eps_lo) | (slack_lo < _room(model, x, up=False) - eps_lo))
    sel = at_lo | at_hi
    out = rows.loc[sel, [c for c in ("family", "key", "lo", "hi", "unit", "period") if c in rows]].copy()
    out["activity"] = act[sel]
    out["side"] = np.where(at_lo[sel] & at_hi[sel], "both", np.where(at_lo[sel], "lo", "hi"))
    out["slack"] = np.where(at_lo[sel] & ~at_hi[sel], slack_lo[sel], np.where(at_hi[sel], slack_hi[sel], 0.0))
    out["slack"] = np.maximum(out["slack"].to_numpy(), 0.0)
    return out


def marginal_values(model: CompiledModel, solver: SolverSettings, base: SolveResult, step: float = 1.0,
                    max_rows: int = 20, time_limit: float | None = None) -> list[dict]:
    """Objective change when each binding soft row must hold `step` more units (one more hectare).

    Each re-solve gets ``time_limit`` seconds (default: twice the plan's own solve time, within
    [10 s, solver.time_limit]): a moved quota can be much harder to prove than the plan itself, and
    an explanation must not take hours.

    Both plans are solved to a gap, so their difference is known only within a range:
    ``marginal_range`` = [new optimum's lowest − base optimum's highest, new's highest − base's lowest]
    per unit, each optimum lying between its incumbent and its bound. A relaxed bound (hi moved up)
    cannot worsen the optimum and a tightened one (lo moved up) cannot improve it, which cuts the
    range at 0. ``marginal_value`` is the difference of the two incumbents, clipped to that range."""
    adapter = get_adapter(solver.name)
    if time_limit is None:
        time_limit = min(solver.time_limit, max(10.0, 2.0 * base.time_s))
    solver = solver.model_copy(update={"time_limit": float(time_limit)})
    out = []
    for r, row in binding_rows(model, base.x).head(max_rows).iterrows():
        lo, hi = model.row_lo[r], model.row_hi[r]
        if row["side"] == "both":          # a band narrower than a parcel (or lo = hi): shift it up
            new_lo, new_hi = lo + step, hi + step
        elif row["side"] == "lo":
            new_lo, new_hi = lo + step, max(hi, lo + step)
        else:
            new_lo, new_hi = lo, hi + step
        res = adapter.solve(with_row_bounds(model, r, new_lo, new_hi), solver)
        item = {"family": row["family"], "key": row["key"], "side": row["side"], "unit": row["unit"], **model.row_period(r),
                "bound": float(lo if row["side"] in ("lo", "both") else hi), "moved_to": float(new_lo if row["side"] in ("lo", "both") else new_hi),
                "termination": res.termination, "gap": res.gap, "objective": res.objective}
        item["marginal_value"], item["marginal_range"] = _difference(base, res, step, relaxed=row["side"] == "hi",
                                                                     maximize=model.sense == "max")
        out.append(item)
    return out


def _difference(base: SolveResult, res: SolveResult, step: float, relaxed: bool,
                maximize: bool) -> tuple[float | None, list[float] | None]:
    """(value, [low, high]) of (optimum after the move − optimum before) / step; see marginal_values."""
    if res.objective is None or base.objective is None:
        return None, None

    def interval(r: SolveResult) -> tuple[float, float]:
        b = r.bound if r.bound is not None else (np.inf if maximize else -np.inf)
        return min(r.objective, b), max(r.objective, b)

    (n_lo, n_hi), (b_lo, b_hi) = interval(res), interval(base)
    low, high = (n_lo - b_hi) / step, (n_hi - b_lo) / step
    better_or_equal = relaxed == maximize          # the move can only raise the optimum
    low, high = (max(low, 0.0), high) if better_or_equal else (low, min(high, 0.0))
    value = float(np.clip((res.objective - base.objective) / step, low, high))
    return value, [float(v) if np.isfinite(v) else None for v in (low, high)]


def difference_cut(model: CompiledModel, n_assign: int, x_ref: np.ndarray, area: np.ndarray, min_area: float,
                   key: str) -> tuple[pd.DataFrame, sp.csr_matrix]:
    """Σ_j area_j·|x_j − x_ref_j| over assignment columns ≥ 2·min_area, linear because x_ref is fixed
    (each parcel whose use changes flips two columns, hence the factor 2)."""
    on = x_ref[:n_assign] > 0.5
    coef = np.where(on, -area, area)
    rhs = 2 * min_area - area[on].sum()
    A = sp.csr_matrix((coef, (np.zeros(n_assign, dtype=np.int64), np.arange(n_assign))), shape=(1, model.n_cols))
    rows = pd.DataFrame({"family": ["alternative"], "key": [key], "lo": [rhs], "hi": [np.inf], "soft": [False], "unit": ["ha"]})
    return rows, A


def alternatives(compiled: CompiledScenario, solver: SolverSettings, best: SolveResult, area_per_column: np.ndarray,
                 converted: np.ndarray, k: int, min_difference_pct: float) -> list[tuple[SolveResult, CompiledModel]]:
    """Up to k plans, each at least min_difference_pct % of the best plan's converted area away from every earlier plan."""
    adapter = get_adapter(solver.name)
    current = compiled.model
    min_area = min_difference_pct / 100.0 * float(area_per_column[converted].sum())
    plans = [best.x]
    out = []
    for i in range(k):
        rows, A = difference_cut(current, compiled.n_assign, plans[-1], area_per_column, min_area, f"differs from plan {i}")
        current = extend(current, rows=rows, A_rows=A)
        res = adapter.solve(current, solver)
        if not res.has_solution:
            out.append((res, current))
            break
        plans.append(res.x)
        out.append((res, current))
    return out


__all__ = ["marginal_values", "alternatives", "binding_rows"]
