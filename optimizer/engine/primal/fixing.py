"""Reduced-cost fixing: the integer columns the LP relaxation and a plan in hand prove that no plan
worth finding moves, held for the sub-MIPs and the MIP that follow.

Not about any structure of the model: wherever the LP bound and the incumbent are close compared with
the columns' reduced costs, the MIP runs on a smaller model (HiGHS's presolve removes the held
columns), and its bound taken with the fixing's floor (``bound_with``) is still a bound of the whole
model. Measured (benchmarks/README.md, "Primal engine", "Round three (session 8)"): on the joint
2030–2050 model 110,285 of 275,309 columns held, its MIP to 0.5 % 17–20 s instead of 48–61 s; on
``bez_2030`` 30,000 of 65,000 integer columns held before the MIP.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from optimizer.engine.model import CompiledModel


@dataclass(frozen=True)
class Fixing:
    """Integer columns held at their LP bound because no plan good enough to matter can move them."""
    col_lo: np.ndarray
    col_hi: np.ndarray
    fixed: np.ndarray
    """the columns held (indices into the model)"""
    floor: float
    """no plan that moves a held column is better than this: the fixed model's bound, taken with this
    (``bound_with``), is a bound of the whole model"""

    def held(self, model: CompiledModel) -> CompiledModel:
        """``model`` with the held columns at their bounds: what the sub-MIPs and the MIP then solve."""
        return replace(model, col_lo=self.col_lo, col_hi=self.col_hi)


def fix_by_reduced_costs(model: CompiledModel, x_lp: np.ndarray, reduced_costs: np.ndarray, lp_bound: float,
                         plan: np.ndarray, gap: float = 0.0) -> Fixing:
    """Reduced-cost fixing before the MIP, from the LP relaxation and a plan already in hand.

    Moving a column j off the bound where the LP left it costs at least |reduced cost j|, so every plan
    that moves it is worth at most lp_bound − |d_j|; when that is below ``floor`` = the incumbent
    improved by ``gap`` (relative, as the solver's stop), j is held. Exact for the requested gap: a
    plan better than the floor keeps every held column, and a plan that does not is within the gap
    of the incumbent ``plan``, which stays a plan of the fixed model (a column is held only at the
    plan's own value). Why the joint model needs it: its link rows x[p, u, 2030] ≤ x[p, u, 2050] make
    every resettlement column unlike its neighbours, so HiGHS's presolve keeps ~42,000 cost-carrying
    binaries where the periods alone keep ~4,700, and its objective clique partition, quadratic in
    them, took 26 of a 59 s MIP (benchmarks/README.md, "The joint 2030–2050 model (session 7)")."""
    maximize = model.sense == "max"
    incumbent = model.objective_value(plan)
    # the floor a final plan's gap is measured from: only where |objective| cannot shrink below the incumbent's
    # does the gap widen it (a maximum above a non-negative incumbent, a minimum below a non-positive one)
    widen = gap if (incumbent >= 0) == maximize else 0.0
    floor = incumbent + (1 if maximize else -1) * widen * abs(incumbent)
    slack = abs(lp_bound - floor) + 1e-7 * max(1.0, abs(lp_bound))  # |d_j| above this: moving j falls short
    d = reduced_costs if maximize else -reduced_costs               # as for a maximum: ≤ 0 at lower, ≥ 0 at upper
    lo, hi = model.col_lo, model.col_hi
    tol = 1e-9
    movable = model.integer & (hi > lo)
    at_lo = movable & (np.abs(x_lp - lo) <= tol) & (np.abs(plan - lo) <= tol) & (-d > slack)
    at_hi = movable & (np.abs(x_lp - hi) <= tol) & (np.abs(plan - hi) <= tol) & (d > slack) & ~at_lo
    if (maximize and lp_bound < floor) or (not maximize and lp_bound > floor):
        at_lo[:] = at_hi[:] = False                                    # the incumbent already meets the gap
    col_lo, col_hi = lo.copy(), hi.copy()
    col_hi[at_lo] = lo[at_lo]
    col_lo[at_hi] = hi[at_hi]
    return Fixing(col_lo=col_lo, col_hi=col_hi, fixed=np.nonzero(at_lo | at_hi)[0], floor=float(floor))


def bound_with(model: CompiledModel, fixing: Fixing, bound: float | None) -> float | None:
    """The whole model's bound from the fixed model's: the weaker of it and the fixing's floor."""
    if bound is None or not len(fixing.fixed):
        return bound
    return max(bound, fixing.floor) if model.sense == "max" else min(bound, fixing.floor)
