"""Explanations a planner can defend: which quotas bind and at what price, and near-optimal
alternatives (why a model is infeasible: ``diagnosis.py``).

- **Marginal values** — by re-solving with the binding bound relaxed by the next parcel (a plan of
  whole parcels moves in parcel-sized steps, never by one hectare), warm-started from the plan, not
  by LP duals: in a MIP the dual of a quota at the fixed integer solution describes a continuous
  relaxation that cannot move, and is often zero or misleading, while the re-solve answers the
  council's actual question. Each re-solve is reported with its own gap, within a time budget.
- **Alternatives** — K further plans, each differing from every earlier plan by at least P % of the
  optimal plan's converted area (Hamming-distance cuts weighted by area), with objective and gap
  to the best.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from optimizer.engine import interrupts
from optimizer.engine.compile import ASSIGN, CompiledScenario
from optimizer.engine.model import CompiledModel, extend, with_columns_held, with_row_bounds
from optimizer.engine.primal.plans import Complete, completed
from optimizer.engine.scenario import SolverSettings
from optimizer.engine.solvers import get_adapter
from optimizer.engine.solvers.base import INTERRUPTED, OPTIMAL, SolveResult


def _movable(model: CompiledModel, x: np.ndarray, cols: np.ndarray, coef: np.ndarray, up: bool) -> np.ndarray:
    """Which of the matrix entries (column, coefficient) of a row can move its activity ``up`` (or down):
    the column can still rise where the coefficient is positive, or fall where it is negative."""
    xj = x[cols]
    rise, fall = xj < model.col_hi[cols] - 0.5, xj > model.col_lo[cols] + 0.5
    return ((coef > 0) & rise) | ((coef < 0) & fall) if up else ((coef > 0) & fall) | ((coef < 0) & rise)


def _room(model: CompiledModel, x: np.ndarray, up: bool) -> np.ndarray:
    """Per row, the smallest change of its activity one integer column can make in that direction
    (0 where a continuous column can move it by any amount, inf where nothing can)."""
    A = model.A.tocoo()
    movable = _movable(model, x, A.col, A.data, up)
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


def _largest_step(model: CompiledModel, x: np.ndarray, r: int, up: bool) -> float:
    """The largest change of row r's activity one integer column can make in that direction: relaxing
    the bound by this much lets any single parcel in (or out), so the re-solve reaches the next
    achievable value whichever parcel that is."""
    row = model.A.getrow(r)
    movable = _movable(model, x, row.indices, row.data, up) & model.integer[row.indices]
    return float(np.abs(row.data[movable]).max(initial=0.0))


def _relaxed(model: CompiledModel, r: int, side: str, x: np.ndarray, min_step: float) -> tuple[float, float] | None:
    """Row r's bounds with side ``side`` relaxed by one parcel (at least ``min_step``); None when no parcel
    can move the row that way."""
    lo, hi = model.row_lo[r], model.row_hi[r]
    room = _largest_step(model, x, r, up=side == "hi")
    if room <= 0:
        return None
    step = max(room, min_step)
    return (lo, hi + step) if side == "hi" else (lo - step, hi)


def _sides(model: CompiledModel, x: np.ndarray, r: int, side: str) -> list[str]:
    """The sides of row r to price, most promising first. A band narrower than one parcel (``both``)
    binds on the side the objective pushes against: up when some parcel that could enter the row would
    improve the objective by itself, else down."""
    if side != "both":
        return [side]
    row = model.A.getrow(r)
    cols = row.indices[(row.data > 0) & (x[row.indices] < 0.5) & model.integer[row.indices]]
    gain = model.c[cols] * (1 if model.sense == "max" else -1)
    return ["hi", "lo"] if len(gain) and gain.max() > 0 else ["lo", "hi"]


def _restricted(model: CompiledModel, x: np.ndarray, r: int) -> CompiledModel:
    """The model with every parcel outside row r's support held at its planned use: a small model that
    finds the next parcel fast (its plans are feasible in the full model, its optimum a lower bound)."""
    cols = model.columns
    parcel = cols["parcel"].to_numpy()
    support = np.unique(parcel[model.A.getrow(r).indices])
    hold = (cols["family"] == ASSIGN).to_numpy() & ~np.isin(parcel, support[support >= 0])
    return with_columns_held(model, hold, x)


def _resolve(adapter, model: CompiledModel, r: int, bounds: tuple[float, float], base: SolveResult,
             solver: SolverSettings, seconds: float) -> SolveResult:
    """Row r relaxed to ``bounds``: first over the parcels the row can move (fast, finds the next parcel),
    then the full model warm-started from that plan for the rest of the time, so the reported bound holds."""
    relaxed = with_row_bounds(model, r, *bounds)
    quick = adapter.solve(_restricted(relaxed, base.x, r), solver.model_copy(update={"time_limit": max(seconds / 3, 0.05)}),
                          start=base.x)
    if quick.termination == INTERRUPTED:
        return quick
    start = quick.x if quick.has_solution else base.x
    return adapter.solve(relaxed, solver.model_copy(update={"time_limit": max(seconds - quick.time_s, 0.05)}),
                         start=start)


def marginal_values(model: CompiledModel, solver: SolverSettings, base: SolveResult, binding: pd.DataFrame, *,
                    budget_s: float, min_step: float = 0.0, max_rows: int = 20,
                    time_limit: float | None = None,
                    log: Callable[[str], None] = lambda _: None,
                    complete: Complete = lambda x: x) -> tuple[list[dict], str | None]:
    """What one more unit of each binding row's quantity is worth, priced by the next parcel.

    A plan of whole parcels meets a bound in steps: a 200.94 ha cap held at 199.20 ha cannot take one
    more hectare, only one more parcel. So the binding side is relaxed by the largest single parcel
    that could cross it and the model re-solved from the plan (which stays feasible, so the re-solve
    can only improve on it): first over the parcels the row can move, then in full. The value is the
    objective change over the activity change it bought, ``delta_objective`` / ``step`` (in the row's
    unit: ha, households), i.e. per one more unit — positive where a cap holds back a plan that wants
    more, negative where a floor forces more than the plan would take. A band narrower than one parcel
    (``both``) is priced on the side the objective pushes against, and on the other only if that pays
    nothing; the side reported is the one that binds.

    Both solves stop at a gap, so the change of the optimum is known only within ``marginal_range``
    (each optimum lies between its incumbent and its bound); a range wider than the value it brackets
    is ``conclusive: false``, not a figure to quote. All re-solves share ``budget_s`` seconds; rows the
    budget or Ctrl-C leaves out are listed as skipped, never dropped. ``complete`` (``Problem.complete``)
    gives each re-solve's plan its true objective through ``primal.plans.completed``, as the run does
    for the plan itself. Returns the items and, when some were skipped, why."""
    adapter = get_adapter(solver.name)
    maximize = model.sense == "max"
    rows = binding.head(max_rows)
    out: list[dict] = []
    deadline = time.perf_counter() + budget_s
    interrupted = False
    for n, (r, row) in enumerate(rows.iterrows()):
        left = deadline - time.perf_counter()
        interrupted = interrupted or interrupts.requested()  # Ctrl-C between solver calls is counted, not raised
        if interrupted or left <= 0.05:
            why = "interrupted (Ctrl-C)" if interrupted else (
                f"time budget used up ({budget_s:.1f} s, explain.marginal_budget of the solve time)")
            out += [_skipped(model, rr, rw, why) for rr, rw in rows.iloc[n:].iterrows()]
            return out, why
        seconds = min(left / (len(rows) - n), time_limit or np.inf)
        log(f"marginal values {n + 1}/{len(rows)}: {row['family']} {row['key']} ({seconds:.1f} s at most)")
        priced = []
        for side in _sides(model, base.x, r, row["side"]):
            bounds = _relaxed(model, r, side, base.x, min_step)
            if bounds is None:
                continue
            start = time.perf_counter()
            try:
                res = completed(model, _resolve(adapter, model, r, bounds, base, solver, seconds), complete)
            except KeyboardInterrupt:  # between solver calls; inside one, HiGHS returns "interrupted" itself
                interrupted = True
                break
            seconds = max(seconds - (time.perf_counter() - start), 0.05)
            interrupted = res.termination == INTERRUPTED
            priced.append(_priced(model, r, row, side, bounds, base, res, maximize))
            if interrupted or (priced[-1]["delta_objective"] or 0.0) * (1 if maximize else -1) > 1e-9:
                break
        if not priced:
            out.append(_skipped(model, r, row, "interrupted (Ctrl-C)" if interrupted else "no single parcel can move this row"))
            continue
        best = max(priced, key=lambda it: (it["delta_objective"] or 0.0) * (1 if maximize else -1))
        best["band_narrower_than_a_parcel"] = row["side"] == "both"
        out.append(best)
    skipped = len(binding) - len(rows)
    return out, (f"{skipped} binding row(s) past explain.max_marginal_rows" if skipped else None)


def _skipped(model: CompiledModel, r: int, row, why: str) -> dict:
    return {"family": row["family"], "key": row["key"], "side": row["side"], "unit": row["unit"],
            **model.row_period(r), "skipped": why}


def _priced(model: CompiledModel, r: int, row, side: str, bounds: tuple[float, float], base: SolveResult,
            res: SolveResult, maximize: bool) -> dict:
    """One relaxed re-solve as a marginal value: what the next parcel bought, at what objective change."""
    lo, hi = model.row_lo[r], model.row_hi[r]
    activity = float(row["activity"])
    item = {"family": row["family"], "key": row["key"], "side": side, "unit": row["unit"], **model.row_period(r),
            "bound": float(lo if side == "lo" else hi), "moved_to": float(bounds[0] if side == "lo" else bounds[1]),
            "activity": activity, "termination": res.termination, "gap": res.gap, "objective": res.objective,
            "time_s": round(res.time_s, 3), "achieved": None, "step": None, "delta_objective": None,
            "marginal_value": None, "marginal_range": None, "conclusive": False, "columns_in": [], "columns_out": []}
    if not res.has_solution or res.objective is None or base.objective is None:
        return item
    achieved = float(model.row_activity(res.x)[r])
    moved = np.intersect1d(np.nonzero(np.abs(res.x - base.x) > 0.5)[0], model.A.getrow(r).indices)
    item.update(achieved=achieved, step=achieved - activity, delta_objective=float(res.objective - base.objective),
                columns_in=moved[res.x[moved] > 0.5].tolist(), columns_out=moved[res.x[moved] < 0.5].tolist())
    if abs(item["step"]) < 1e-9:
        # no plan found that uses the room: the bound holds nothing back if the re-solve proved it
        proven = res.termination == OPTIMAL
        item.update(marginal_value=0.0 if proven else None, conclusive=proven, marginal_range=None,
                    delta_objective_range=_change_range(base, res, maximize))
        return item
    value, rng = _difference(base, res, item["step"], maximize=maximize)
    item.update(marginal_value=value, marginal_range=rng,
                conclusive=bool(rng is not None and None not in rng and rng[1] - rng[0] <= abs(value) + 1e-9))
    return item


def _difference(base: SolveResult, res: SolveResult, step: float,
                maximize: bool) -> tuple[float, list[float | None]]:
    """(value, [low, high]) of (optimum after a relaxation − optimum before) / step, each optimum lying
    between its incumbent and its bound; a relaxation cannot worsen the optimum, which cuts the change
    at 0 before it is divided by the (signed) step."""

    low, high = _change_range(base, res, maximize, finite=False)
    delta = float(np.clip(res.objective - base.objective, low, high))
    per = sorted((low / step, high / step))
    return delta / step, [float(v) if np.isfinite(v) else None for v in per]


def _change_range(base: SolveResult, res: SolveResult, maximize: bool, finite: bool = True) -> list:
    """[low, high] of the optimum's change from ``base`` to ``res`` (a relaxation: never a worsening),
    each optimum lying between its incumbent and its bound; None for an unknown end when ``finite``."""

    def interval(r: SolveResult) -> tuple[float, float]:
        b = r.bound if r.bound is not None else (np.inf if maximize else -np.inf)
        return min(r.objective, b), max(r.objective, b)

    (n_lo, n_hi), (b_lo, b_hi) = interval(res), interval(base)
    low, high = n_lo - b_hi, n_hi - b_lo
    low, high = (max(low, 0.0), high) if maximize else (low, min(high, 0.0))
    return [float(v) if np.isfinite(v) else None for v in (low, high)] if finite else [low, high]


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
