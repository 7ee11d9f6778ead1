"""Reduced-cost fixing of the joint model (optimizer/engine/primal/fixing.py, ``fix_by_reduced_costs``): the
columns it holds are the ones a hand calculation holds, and the held model keeps the optimum — exactly
at gap 0, within the gap otherwise, with ``bound_with`` a true bound of the whole model — on the tiny
phased case, whose optimum is enumerated here as in tests/test_phasing.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from benchmarks.joint import lp_with_reduced_costs
from optimizer.engine.model import CompiledModel
from optimizer.engine.primal.fixing import bound_with, fix_by_reduced_costs
from optimizer.engine.solvers import get_adapter

from .test_phasing import nested, plans, value
from .test_phasing_aggregate import _phased


def _choose_one(sense: str) -> CompiledModel:
    """max 10a + 6b + c  s.t.  2a + 2b + 2c ≤ 3, binary (``min`` with the costs negated): one of three.

    By hand: the LP takes a = 1 and b = 1/2, value 13; b is basic, so the row's dual is 6/2 = 3 and
    the reduced costs are a 10 − 6 = 4 (at its upper bound), b 0, c 1 − 6 = −5. From the plan a = 1
    (value 10) at gap 0 a plan better than 10 may lose at most 13 − 10 = 3 to reduced costs: a is held
    at 1 (4 > 3) and c at 0 (5 > 3); b, fractional in the LP, is free. At gap 0.2 the floor is
    10 + 0.2 · 10 = 12 and only 1 may be lost: the same two. At gap 0.5 the floor, 15, is above the LP
    bound: the plan is already proven within the gap and nothing is held."""
    sign = 1.0 if sense == "max" else -1.0
    return CompiledModel(A=sp.csr_matrix(2 * np.ones((1, 3))), row_lo=np.array([-np.inf]), row_hi=np.array([3.0]),
                         c=sign * np.array([10.0, 6.0, 1.0]), col_lo=np.zeros(3), col_hi=np.ones(3),
                         integer=np.ones(3, bool), sense=sense,
                         columns=pd.DataFrame({"family": "assign", "key": ["a", "b", "c"]}),
                         rows=pd.DataFrame({"family": "one_use", "key": ["1"], "lo": [-np.inf], "hi": [3.0]}),
                         ineligible=pd.DataFrame())


@pytest.mark.parametrize("sense", ["max", "min"])
@pytest.mark.parametrize("gap, floor, held", [(0.0, 10.0, [0, 1]), (0.2, 12.0, [0, 1]), (0.5, 15.0, [])])
def test_holds_the_columns_a_hand_calculation_holds(sense, gap, floor, held):
    model = _choose_one(sense)
    x_lp, rc, lp_bound, _ = lp_with_reduced_costs(model)
    sign = 1.0 if sense == "max" else -1.0
    assert x_lp == pytest.approx([1, 0.5, 0]) and lp_bound == pytest.approx(13 * sign)
    assert rc == pytest.approx(sign * np.array([4.0, 0.0, -5.0]))
    fixing = fix_by_reduced_costs(model, x_lp, rc, lp_bound, np.array([1.0, 0.0, 0.0]), gap)
    assert fixing.floor == pytest.approx(sign * floor)
    assert fixing.fixed.tolist() == [[0, 2][i] for i in held]
    assert fixing.col_lo.tolist() == ([1, 0, 0] if held else [0, 0, 0])
    assert fixing.col_hi.tolist() == ([1, 1, 0] if held else [1, 1, 1])
    if held:  # a fixed model's bound below the floor is not a bound of the whole model: the floor is
        assert bound_with(model, fixing, sign * 10.0) == pytest.approx(sign * floor)


def test_a_plan_that_disagrees_with_the_lp_keeps_its_columns_free():
    """From the plan b = 1 (value 6) only 13 − 6 = 7 may be lost: no reduced cost is that large, and
    the plan's own columns would not be held anyway, so the plan stays a plan of the held model."""
    model = _choose_one("max")
    x_lp, rc, lp_bound, _ = lp_with_reduced_costs(model)
    fixing = fix_by_reduced_costs(model, x_lp, rc, lp_bound, np.array([0.0, 1.0, 0.0]))
    assert fixing.fixed.tolist() == [] and fixing.floor == pytest.approx(6.0)


# the tiny phased case with 2050 weighted 2 and 2050 bands that let a plan made for 2050 alone differ from the joint one
WEIGHTS = {"2030": 1.0, "2050": 2.0}
BANDS_2050 = {"SKK": (3, 4), "TMD": (2, 3)}


def _enumerated_optimum() -> float:
    """The joint optimum by enumeration over the tiny instance (tests/test_phasing.py's plans and values)."""
    return max(WEIGHTS["2030"] * value(a) + WEIGHTS["2050"] * value(b)
               for a in plans("2030") for b in plans("2050", {"2050": BANDS_2050}) if nested(a, b))


@pytest.mark.parametrize("gap", [0.0, 0.02])
def test_tiny_phased_model_keeps_its_optimum(tmp_path, gap):
    """From a plan made for 2050 alone (81, below the joint optimum 87; the LP bound is 91), the held
    joint model's optimum is the enumerated joint optimum (gap 0) or within the gap of it, the start
    stays a plan of the held model, and the bound taken with the floor is never below the optimum."""
    quotas = {use: {"lo": lo, "hi": hi} for use, (lo, hi) in BANDS_2050.items()}
    phased, settings = _phased(tmp_path, {"2030": {"weight": WEIGHTS["2030"]},
                                          "2050": {"weight": WEIGHTS["2050"], "overrides": {"quotas": quotas}}})
    model, best, adapter = phased.model, _enumerated_optimum(), get_adapter("highs")
    exact = settings.model_copy(update={"gap": 0.0})
    later_only = model.c.copy()
    later_only[: phased.blocks[1].col_offset] = 0.0
    start = adapter.solve(dataclasses.replace(model, c=later_only), exact).x
    assert model.objective_value(start) == pytest.approx(81.0) and best == pytest.approx(87.0)
    x_lp, rc, lp_bound, _ = lp_with_reduced_costs(model)
    assert lp_bound == pytest.approx(91.0)
    fixing = fix_by_reduced_costs(model, x_lp, rc, lp_bound, start, gap)
    assert len(fixing.fixed) > 0                                      # the case exercises the holding
    held = fixing.held(model)
    assert not len(held.violations(start))
    res = adapter.solve(held, exact, start=start)
    assert res.termination == "optimal" and not len(model.violations(res.x))
    if gap == 0.0:
        assert res.objective == pytest.approx(best, abs=1e-6)
    else:
        assert best - res.objective <= gap * abs(res.objective) + 1e-6
    assert bound_with(model, fixing, res.bound) >= best - 1e-6
