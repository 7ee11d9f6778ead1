"""The one place a plan from any solve becomes a plan the run may use: completed, rescored, checked.

A solver's plan (the main solve, a heuristic's sub-MIP, a marginal-value or alternative re-solve,
the myopic start) may leave auxiliary columns short of the value its integer columns imply
(compactness's z = y_i·y_j), which understates its objective; :func:`completed` sets them
(``Problem.complete``) and recomputes the objective, and :func:`offer` additionally rounds a
heuristic's plan and refuses it unless it meets every row of the model, so nothing unchecked ever
becomes an incumbent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from optimizer.engine.model import CompiledModel
from optimizer.engine.solvers.base import SolveResult, progress_point, relative_gap

Complete = Callable[[np.ndarray], np.ndarray]

START, MIP = "start", "mip"
"""who found a plan: the problem's first plan, the MIP solver; heuristics are ``heuristic:<name>``"""


def heuristic(name: str) -> str:
    return f"heuristic:{name}"


POLISHED = heuristic("polish")


class Polish(Protocol):
    """A problem's own local search (a Marxan project's annealing on its score): a plan in, a plan out
    (None when it found nothing); every plan still goes through :func:`offer`. ``seconds`` is its
    expected time, which the MIP leaves free to polish its own plan. Deterministic: a number of moves."""
    seconds: float

    def __call__(self, x: np.ndarray) -> np.ndarray | None: ...


@dataclass(frozen=True)
class Incumbent:
    x: np.ndarray
    objective: float
    found_by: str


def same_value(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def improves(model: CompiledModel, value: float, than: float | None) -> bool:
    """``value`` is a strictly better objective than ``than`` (None: nothing yet) in the model's sense."""
    if than is None:
        return True
    if same_value(value, than):
        return False
    return value > than if model.sense == "max" else value < than


def completed(model: CompiledModel, result: SolveResult, complete: Complete) -> SolveResult:
    """``result`` with its plan completed and, where that changed the plan, the objective recomputed
    from the completed plan (the solver's own kept in ``extra`` as ``solver_objective``) and the
    progress trace closed at the true objective; the bound stays the solver's."""
    if not result.has_solution or result.x is None:
        return result
    x = complete(result.x)
    if np.array_equal(x, result.x):
        return result
    objective = model.objective_value(x)
    extra = dict(result.extra)
    if result.objective is None or not same_value(objective, result.objective):
        extra["solver_objective"] = result.objective
    progress = list(result.progress)
    if progress and not same_value(progress[-1]["incumbent"], objective):
        last = progress[-1]
        closing = {**progress_point(last["t"], objective, result.bound), "found_by": last.get("found_by")}
        progress[-1 if same_value(last["incumbent"], result.objective) else len(progress):] = [closing]
    return replace(result, x=x, objective=objective, gap=relative_gap(objective, result.bound), extra=extra,
                   progress=progress)


def offer(model: CompiledModel, complete: Complete, x: np.ndarray | None, found_by: str,
          rounded: bool = True) -> Incumbent | None:
    """A plan as an incumbent: (``rounded``: integer columns rounded, bounds clipped,) completed, and
    kept only if it then meets every row and bound of ``model`` (None otherwise)."""
    if x is None:
        return None
    x = np.asarray(x, dtype=float)
    if rounded:
        x = np.clip(x, model.col_lo, model.col_hi)
        x[model.integer] = np.round(x[model.integer])
    x = complete(x)
    if len(model.violations(x)):
        return None
    return Incumbent(x=x, objective=model.objective_value(x), found_by=found_by)
