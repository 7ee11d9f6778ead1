"""Every adapter against published optima (OR-Library generalized assignment, ../shared/cases).

GAP is the core of land-use allocation: each parcel takes exactly one use, each use has a capacity.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.model import ModelBuilder
from optimizer.engine.scenario import SolverSettings
from optimizer.engine.solvers import get_adapter, solver_names

from .conftest import SHARED

CASES = SHARED / "cases" / "orlib_gap"


def test_ci_has_the_default_solvers():
    """HiGHS and CBC must be present so the conformance tests below can never skip silently."""
    for name in ("highs", "cbc"):
        ok, why = get_adapter(name).available()
        assert ok, f"{name} unavailable: {why}"


def load_gap(name: str):
    t = np.array((CASES / "instances" / name).read_text().split(), dtype=float)
    m, n = int(t[0]), int(t[1])
    t = t[2:]
    return t[: m * n].reshape(m, n), t[m * n: 2 * m * n].reshape(m, n), t[2 * m * n: 2 * m * n + m]


def gap_model(name: str, sense: str):
    c, w, b = load_gap(name)
    m, n = c.shape
    i, j = (a.ravel() for a in np.meshgrid(np.arange(m), np.arange(n), indexing="ij"))
    mb = ModelBuilder(sense)
    cols = mb.add_columns("x", [f"{a},{b_}" for a, b_ in zip(i, j)], cost=c.ravel())
    mb.add_rows("one", [str(k) for k in range(n)], 1, 1, row=j, col=cols, coef=1)
    mb.add_rows("cap", [str(k) for k in range(m)], np.nan, b, row=i, col=cols, coef=w.ravel())
    return mb.build(pd.DataFrame())


PUBLISHED = json.loads((CASES / "expected.json").read_text())["published_optima"]


@pytest.mark.parametrize("solver", solver_names())
@pytest.mark.parametrize("case,sense", [("c0515_1", "min"), ("c0515_1", "max"), ("c1060_1", "min"), ("c1060_1", "max")])
def test_gap_small_every_solver(solver, case, sense):
    model = gap_model(case, sense)
    r = get_adapter(solver).solve(model, SolverSettings(time_limit=60, gap=0))
    assert r.termination == "optimal"
    assert r.objective == pytest.approx(PUBLISHED[case][sense], abs=1e-6)
    assert len(model.violations(r.x)) == 0


@pytest.mark.parametrize("case", ["a05100", "b05100", "c05100"])
def test_gap_medium_highs(case):
    model = gap_model(case, "min")
    r = get_adapter("highs").solve(model, SolverSettings(time_limit=120, gap=0))
    assert r.termination == "optimal"
    assert r.objective == pytest.approx(PUBLISHED[case]["min"], abs=1e-6)


def test_time_limited_cbc_reports_honest_bound():
    """d05100 (published 6353) stopped after 2 s: CBC must not call it optimal, and the published
    optimum must lie inside the reported [bound, incumbent] bracket."""
    model = gap_model("d05100", "min")
    r = get_adapter("cbc").solve(model, SolverSettings(time_limit=2, gap=0))
    assert r.has_solution
    assert r.termination == "time_limit"
    assert r.bound is not None and r.bound <= 6353 + 1e-6 <= r.objective + 1e-6
    assert r.gap > 0


def test_unknown_solver_is_a_clear_error():
    from optimizer.engine.errors import SolverUnavailable

    with pytest.raises(SolverUnavailable, match="unknown solver 'gurobi'"):
        get_adapter("gurobi")
