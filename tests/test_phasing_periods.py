"""The periods of a phased model by themselves: the myopic steps' own bounds (run.json ``warm_start``)
and the decomposition bound of ``benchmarks/joint.py`` (each period alone, no link row), which is a
bound of the joint model, checked against the optimum enumerated on the tiny instance."""

from __future__ import annotations

import pytest

from benchmarks.joint import decomposition_bound
from optimizer.engine.phasing import solve_myopic
from optimizer.engine.solvers import get_adapter

from .test_phasing import nested, plans, value
from .test_phasing_aggregate import _phased

# 2050 with exactly 4 ha of SKK and 1 ha of TMD: its best plan keeps only one of 2030's two TMD parcels
CONFLICT_2050 = {"SKK": (4, 4), "TMD": (1, 1)}
WEIGHTS = {"2030": 1.0, "2050": 0.5}


def test_the_first_myopic_step_reports_a_bound_of_its_period(tmp_path):
    """2030 alone (SKK exactly 3 ha, TMD 1–2 ha) is worth 29 at best: SKK on p1 and p5 (5 + 12, 1 + 2 ha),
    TMD on p4 and p6 (6 + 6). At gap 0 the step's bound is that optimum; each step records its time."""
    phased, settings = _phased(tmp_path, {"2030": {"weight": 1.0}, "2050": {"weight": 0.5}})
    periods, _ = solve_myopic(phased, settings.model_copy(update={"gap": 0.0}))
    assert max(value(a) for a in plans("2030")) == 29
    assert periods[0].objective == pytest.approx(29.0) and periods[0].bound == pytest.approx(29.0)
    assert all(p.time_s is not None and p.time_s >= 0 and p.bound >= p.objective - 1e-9 for p in periods)


def test_the_periods_alone_bound_the_joint_model(tmp_path):
    """By hand, 2050 at exactly 4 ha SKK and 1 ha TMD (weight 0.5): alone its best is SKK on p1, p4, p5
    (5 + 3 + 12 = 20, 1 + 1 + 2 ha) and TMD on p6 (6), 26. Jointly 2030's TMD must stay TMD in 2050's
    single hectare, so 2030 has one TMD parcel: at best 17 + 6 = 23 (SKK p1, p5, TMD p6), which that
    2050 plan contains: joint optimum 23 + 0.5 · 26 = 36. The periods alone give 29 + 0.5 · 26 = 42 —
    a bound, above the optimum because 2030 alone keeps both TMD parcels."""
    quotas = {use: {"lo": lo, "hi": hi} for use, (lo, hi) in CONFLICT_2050.items()}
    phased, settings = _phased(tmp_path, {"2030": {"weight": WEIGHTS["2030"]},
                                          "2050": {"weight": WEIGHTS["2050"], "overrides": {"quotas": quotas}}})
    bands = {"2050": CONFLICT_2050}
    enumerated = max(WEIGHTS["2030"] * value(a) + WEIGHTS["2050"] * value(b)
                     for a in plans("2030") for b in plans("2050", bands) if nested(a, b))
    assert enumerated == pytest.approx(36.0)
    assert max(value(b) for b in plans("2050", bands)) == 26
    exact = settings.model_copy(update={"gap": 0.0})
    adapter = get_adapter("highs")
    joint = adapter.solve(phased.model, exact)
    assert joint.termination == "optimal" and joint.objective == pytest.approx(36.0)
    bound, results = decomposition_bound(phased, adapter, exact)
    assert [r.objective for r in results] == pytest.approx([29.0, 13.0])
    assert bound == pytest.approx(42.0) and bound >= joint.objective
