"""Reduced-cost fixing in the primal engine on any model (optimizer/engine/primal/fixing.py), not only on
phased ones: before the MIP, the columns the LP's reduced costs and the best plan prove no better plan
moves are held, and the MIP on the held model still finds the hand-solved optimum with a true bound;
on a large model the MIP's presolve is limited by work."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.engine.primal import engine

from .test_primal import HIGHS, SETTINGS, _model, _same


def test_the_mip_runs_on_the_held_model_and_finds_the_optimum():
    """max 8a + 5b + 5c + e  s.t.  4a + 3b + 3c + 6e ≤ 6, binary (a knapsack of 6).

    By hand: the LP takes a = 1 and b = 2/3 (11.333); b is basic, so the row's dual is 5/3 and the
    reduced costs are a 8 − 20/3 = 4/3, b 0, c 0, e 1 − 10 = −9. Relaxation-guided fixing holds a = 1,
    c = 0, e = 0 and frees b, which no longer fits: the plan a (8). RINS frees b and, one hop through
    the row, the rest: b + c (10), the optimum. Before the MIP, from that plan at gap 0, a better plan
    may lose at most 11.333 − 10 = 4/3 to reduced costs: e (9) is held at 0, a (exactly 4/3) is not.
    The MIP on the held model proves 10, and its bound taken with the fixing's floor (10) is the whole
    model's: optimal, bound 10. Before this, only phased models were fixed: no such step."""
    model = _model(4, [8, 5, 5, 1], [([4, 3, 3, 6], -np.inf, 6)])
    res = engine.solve(HIGHS, model, SETTINGS, _same)
    steps = res.extra["primal"]["steps"]
    assert [s["step"] for s in steps] == ["lp", "lp-fixing", "rins", "reduced-cost fixing", "mip"]
    fixing = steps[3]
    assert fixing["held_columns"] == 1 and fixing["floor"] == pytest.approx(10.0)
    assert [s["objective"] for s in steps[1:3]] == pytest.approx([8.0, 10.0])
    assert res.termination == "optimal" and res.extra["primal"]["found_by"] == "heuristic:rins"
    assert res.objective == pytest.approx(10.0) and res.x.tolist() == [0, 1, 1, 0]
    assert res.bound == pytest.approx(10.0)


@pytest.mark.parametrize("large_rows, limited", [(0, True), (1, False)])
def test_the_mip_of_a_large_model_gets_a_presolve_work_limit(large_rows, limited):
    """HiGHS does not stop inside presolve, so on a model with more rows than ``Budget.large_rows`` the
    MIP's presolve is limited by work (``presolve_reduction_limit``); the knapsack above has one row.
    The limit changes only how the MIP presolves: the same optimum either way."""
    model = _model(4, [8, 5, 5, 1], [([4, 3, 3, 6], -np.inf, 6)])
    budget = engine.Budget(large_rows=large_rows, mip_presolve_reductions=7)
    res = engine.solve(HIGHS, model, SETTINGS, _same, budget=budget)
    options = res.extra["highs_options"]["options"]
    assert options.get("presolve_reduction_limit") == (7 if limited else None)
    assert res.objective == pytest.approx(10.0) and res.termination == "optimal"
