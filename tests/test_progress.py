"""Solver progress: HiGHS's time-to-gap trace in SolveResult and run.json, and the live report on stderr."""

from __future__ import annotations

import itertools
import json

import pytest

from optimizer.engine.compile import compile_model
from optimizer.engine.instance import load_instance
from optimizer.engine.scenario import load_scenario
from optimizer.engine.solvers.base import relative_gap
from optimizer.engine.solvers.highs import HighsAdapter


def test_highs_trace_is_ordered_consistent_and_ends_at_the_result(synthetic_small):
    """300 synthetic parcels solved to optimality: the trace is in time order, each gap is the gap of its own
    incumbent and bound, the bound never lies below the incumbent (maximization), every point but the closing
    one was reported live, and the trace ends at the result's objective and bound."""
    loaded = load_scenario(synthetic_small)
    model = compile_model(load_instance(loaded), loaded).model
    live: list[dict] = []
    res = HighsAdapter().solve(model, loaded.scenario.solver, on_progress=live.append)
    trace = res.progress
    assert res.has_solution and len(trace) >= 2
    times = [p["t"] for p in trace]
    assert times == sorted(times)
    for p in trace:
        assert p["gap"] == relative_gap(p["incumbent"], p["bound"])
        if p["incumbent"] is not None and p["bound"] is not None:
            assert p["incumbent"] <= p["bound"] + 1e-6 * abs(p["bound"])
    assert trace[-1]["incumbent"] == pytest.approx(res.objective, rel=1e-9)
    assert trace[-1]["bound"] == pytest.approx(res.bound, rel=1e-9)
    assert live == trace[: len(live)] and len(live) >= len(trace) - 1
    incumbents = [p["incumbent"] for p in trace if p["incumbent"] is not None]
    assert all(b >= a - 1e-9 * abs(a) for a, b in itertools.pairwise(incumbents))  # improving solutions only improve


def test_cli_reports_progress_on_stderr_and_keeps_stdout_json(cli, tmp_path, synthetic_small):
    """`solve --json`: a line per new plan on stderr (not a terminal here) naming its phase, no gap above
    100 % shown as a percentage, a final line with the summary's objective, bound and gap; only JSON on
    stdout, and the same trace in run.json."""
    import re

    from optimizer.cli.terminal import fmt, fmt_gap

    out = tmp_path / "run"
    res = cli("solve", synthetic_small, "--out", out, "--json")
    assert res.exit_code == 0, res.stderr
    run = json.loads(res.stdout)
    progress_lines = [ln for ln in res.stderr.splitlines() if re.match(r"^\s*\d+\.\d s  ", ln)]
    assert len(progress_lines) >= 2 and "first plan found" in progress_lines[0]
    assert all(float(g) <= 100 for ln in progress_lines for g in re.findall(r"gap (\d+(?:\.\d+)?)%", ln))
    final = progress_lines[-1]
    assert f"objective {fmt(run['objective'])}" in final and f"bound {fmt(run['bound'])}" in final
    assert f"gap {fmt_gap(run['gap'])}" in final and final.split("s  ", 1)[1].startswith(run["status"])
    assert run["progress"] and run["progress"][-1]["incumbent"] == pytest.approx(run["objective"], rel=1e-9)
    assert json.loads((out / "run.json").read_text())["progress"] == run["progress"]


def test_trace_drops_the_start_completion_sub_mip():
    """With a partial start HiGHS first completes it by a sub-MIP whose bound (here 100, proved for the
    restricted model) is tighter than the main search's (120): the points before the bound jumps back up
    are the sub-MIP's, and a gap of 0 % there must not count as time to gap."""
    from optimizer.engine.solvers.base import progress_point
    from optimizer.engine.solvers.highs import _ProgressTrace

    trace = _ProgressTrace.__new__(_ProgressTrace)
    trace.points = [progress_point(0.5, 90.0, 100.0), progress_point(0.9, 100.0, 100.0),
                    progress_point(1.2, 100.0, None), progress_point(2.0, 100.0, 120.0),
                    progress_point(3.0, 110.0, 115.0)]
    out = trace.finish(4.0, 112.0, 112.5, maximize=True)
    assert [p["t"] for p in out] == [2.0, 3.0, 4.0]
    assert out[-1]["incumbent"] == 112.0 and out[-1]["bound"] == 112.5
    # minimization: the mirror image
    trace.points = [progress_point(0.5, 110.0, 100.0), progress_point(1.0, 100.0, 100.0),
                    progress_point(2.0, 100.0, 80.0)]
    assert [p["t"] for p in trace.finish(3.0, 95.0, 85.0, maximize=False)] == [2.0, 3.0]
    # the time limit ends the search before the main search reported a point: only the final bound (130,
    # weaker than the sub-MIP's 100) shows the earlier points were the sub-MIP's; none may claim a gap
    trace.points = [progress_point(0.5, 90.0, 100.0), progress_point(0.9, 99.5, 100.0)]
    out = trace.finish(5.0, 99.5, 130.0, maximize=True)
    assert [(p["t"], p["bound"]) for p in out] == [(5.0, 130.0)]
