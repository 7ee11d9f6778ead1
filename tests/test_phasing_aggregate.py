"""The "built stays built" links in their other exact form (benchmarks/phasing_links.py: increment
columns instead of link rows), which the benchmark compares with the compiled rows: the two must have
the same optimum, or the benchmark would be timing a different problem. On the tiny phased case the
optimum is also the brute-force one of tests/test_phasing.py; a three-period variant exercises chains
(x[2050] = x[2030] + d[2040] + d[2050])."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks.phasing_links import cumulative
from optimizer.engine.instance import load_instance
from optimizer.engine.phasing import compile_phased
from optimizer.engine.scenario import load_scenario
from optimizer.engine.solvers import get_adapter

from .helpers import tiny_raw, write_scenario
from .test_phasing import WEIGHT, brute_force

BANDS_2050 = {"SKK": {"lo": 4, "hi": 5}, "TMD": {"lo": 1, "hi": 3}}


def _phased(tmp_path, periods: dict):
    raw = tiny_raw()
    raw["periods"] = periods
    loaded = load_scenario(write_scenario(tmp_path / "phased.yaml", raw))
    return compile_phased(load_instance(loaded), loaded), loaded.scenario.solver


def _optimum(model, settings):
    res = get_adapter("highs").solve(model, settings)
    assert res.termination == "optimal"
    return res


def _meets_rows(model, x) -> bool:
    ax = model.A @ x
    return bool(np.all(ax >= model.row_lo - 1e-6) and np.all(ax <= model.row_hi + 1e-6)
                and np.all(x >= model.col_lo - 1e-9) and np.all(x <= model.col_hi + 1e-9))


@pytest.mark.parametrize("periods, expected", [
    ({"2030": {"weight": WEIGHT["2030"]}, "2050": {"weight": WEIGHT["2050"], "overrides": {"quotas": BANDS_2050}}},
     brute_force()),
    ({"2030": {"weight": 1.0}, "2040": {"weight": 0.75, "overrides": {"quotas": {"SKK": {"lo": 3, "hi": 4}}}},
      "2050": {"weight": 0.5, "overrides": {"quotas": BANDS_2050}}}, None),
])
def test_increment_columns_give_the_link_rows_optimum(tmp_path, periods, expected):
    phased, settings = _phased(tmp_path, periods)
    rows = _optimum(phased.model, settings)
    cum = cumulative(phased.model)
    assert (cum.model.rows["family"] == "phasing").sum() == 0          # every tiny link is one-use bounded
    assert cum.model.n_rows < phased.model.n_rows
    inc = _optimum(cum.model, settings)
    assert inc.objective == pytest.approx(rows.objective, abs=1e-6)
    if expected is not None:
        assert rows.objective == pytest.approx(expected, abs=1e-6)
    x = cum.to_original(inc.x)                                        # the increment plan, in plain columns
    assert _meets_rows(phased.model, x)                               # built stays built, read off the rows
    assert float(phased.model.c @ x + phased.model.offset) == pytest.approx(rows.objective, abs=1e-6)
    assert np.allclose(cum.from_original(x), inc.x)
    # and the rows' plan, mapped forward, is a plan of the increment model with the same objective
    z = cum.from_original(np.round(rows.x))
    assert _meets_rows(cum.model, z)
    assert float(cum.model.c @ z + cum.model.offset) == pytest.approx(rows.objective, abs=1e-6)


def test_the_lp_relaxations_are_the_same(tmp_path):
    """A change of variables: the LP bound cannot move (what the benchmark's LP column shows)."""
    phased, settings = _phased(tmp_path, {"2030": {"weight": 1.0},
                                          "2050": {"weight": 0.5, "overrides": {"quotas": BANDS_2050}}})
    lp = lambda m: _optimum(dataclasses.replace(m, integer=np.zeros(m.n_cols, bool)), settings).objective  # noqa: E731
    assert lp(cumulative(phased.model).model) == pytest.approx(lp(phased.model), abs=1e-6)
