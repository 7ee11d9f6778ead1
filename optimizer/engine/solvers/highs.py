"""HiGHS through highspy, fed straight from the CSR arrays (the default solver)."""

from __future__ import annotations

import contextlib
import sys
import threading
import time

import numpy as np

from optimizer.engine.errors import SolverUnavailable
from optimizer.engine.model import CompiledModel
from optimizer.engine.scenario import SolverSettings
from optimizer.engine.solvers import base
from optimizer.engine.solvers._highs_options import chosen_options


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


class _ProgressTrace:
    """The time-to-gap trace of one solve, from HiGHS's MIP callbacks: a point at every improving solution, and
    otherwise (the interrupt callback fires many times a second) only when the bound or incumbent moved, and
    either at least ``every`` seconds after the previous point or with the gap down by a fifth, so a long run's
    trace stays small while the time a gap is reached stays sharp. The MIP logging callback is not used:
    HiGHS only fires it when its own log output is on."""

    def __init__(self, h, t0: float, on_progress: base.ProgressFn | None, every: float = 0.5):
        self.t0, self.on_progress, self.every = t0, on_progress, every
        self.points: list[dict] = []
        h.cbMipImprovingSolution += lambda e: self._record(e.data_out, improving=True)
        h.cbMipInterrupt += lambda e: self._record(e.data_out, improving=False)

    def _record(self, d, improving: bool) -> None:
        t = time.perf_counter() - self.t0
        incumbent, bound = _finite(d.mip_primal_bound), _finite(d.mip_dual_bound)
        if incumbent is None and bound is None:
            return
        point = base.progress_point(t, incumbent, bound)
        if not improving and self.points:
            last = self.points[-1]
            if (last["incumbent"], last["bound"]) == (incumbent, bound):
                return
            sharper = point["gap"] is not None and (last["gap"] is None or point["gap"] < 0.8 * last["gap"])
            if t - last["t"] < self.every and not sharper:
                return
        self._add(point)

    def _add(self, point: dict) -> None:
        self.points.append(point)
        if self.on_progress is not None:
            self.on_progress(point)

    def finish(self, elapsed: float, objective: float | None, bound: float | None, maximize: bool) -> list[dict]:
        """The trace, closed by the result's own figures so that it ends where the certificate does. With a
        partial start, HiGHS first completes it by a sub-MIP whose callbacks report that sub-MIP's own bound;
        the main search's bound is weaker, so a bound that moves the wrong way marks where the main search
        began, and the points before it are dropped (they would claim gaps never proved for the model). The
        result's own bound counts too: when the time limit ends the search before the main search reported
        any point, the sub-MIP's points are all there is, and only the final bound shows they were its."""
        last = self.points[-1] if self.points else None
        if (objective is not None or bound is not None) and (last is None or (last["incumbent"], last["bound"]) != (objective, bound)):
            self.points.append(base.progress_point(max(elapsed, last["t"] if last else 0.0), objective, bound))
        prev, restart = None, 0
        for i, p in enumerate(self.points):
            b = p["bound"]
            if b is None:
                continue
            if prev is not None and ((b > prev + 1e-9 * max(1.0, abs(prev))) if maximize
                                     else (b < prev - 1e-9 * max(1.0, abs(prev)))):
                restart = i
            prev = b
        del self.points[:restart]
        return self.points


class HighsAdapter(base.Adapter):
    name = "highs"
    requires = "highspy"
    features = base.Features(warm_start=True, progress=True, interrupt=True)

    def version(self) -> str:
        hp = self.library()
        with base.quiet_stdout():
            h = hp.Highs()
        return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"

    def solve(self, model: CompiledModel, settings: SolverSettings,
              on_progress: base.ProgressFn | None = None, start: np.ndarray | None = None) -> base.SolveResult:
        """Also records the time-to-gap trace (SolveResult.progress) and reports it live to ``on_progress``;
        ``start`` is a plan HiGHS begins from, e.g. the myopic plan of a phased scenario; NaN entries
        make it partial (the sites' greedy cores), which HiGHS completes by a small MIP of its own."""
        hp = self.library()
        with base.quiet_stdout():
            h = hp.Highs()
        h.setOptionValue("output_flag", False)
        lp = hp.HighsLp()
        lp.num_col_, lp.num_row_ = model.n_cols, model.n_rows
        lp.col_cost_ = np.asarray(model.c, dtype=float)
        lp.col_lower_, lp.col_upper_ = np.asarray(model.col_lo), np.asarray(model.col_hi)
        lp.row_lower_, lp.row_upper_ = np.asarray(model.row_lo), np.asarray(model.row_hi)
        lp.offset_ = model.offset
        lp.sense_ = hp.ObjSense.kMaximize if model.sense == "max" else hp.ObjSense.kMinimize
        A = model.A
        lp.a_matrix_.format_ = hp.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = A.indptr.astype(np.int32)
        lp.a_matrix_.index_ = A.indices.astype(np.int32)
        lp.a_matrix_.value_ = A.data.astype(float)
        lp.integrality_ = [hp.HighsVarType.kInteger if b else hp.HighsVarType.kContinuous for b in model.integer]
        h.passModel(lp)
        chosen = chosen_options(model, settings)  # the run's settings, the model class's, then the scenario's
        opts = chosen["options"]
        for k, v in opts.items():
            status = h.setOptionValue(k, v)
            if status != hp.HighsStatus.kOk:
                raise SolverUnavailable(f"HiGHS rejected option {k}={v!r}")
        if start is not None:
            start = np.asarray(start, dtype=float)
            known = np.nonzero(~np.isnan(start))[0]
            if len(known) == len(start):
                sol = hp.HighsSolution()
                sol.col_value = start.tolist()
                sol.value_valid = True
                h.setSolution(sol)
            else:  # partial: HiGHS fixes these integers and solves for the rest to complete a first plan
                h.setSolution(len(known), known.astype(np.int32), start[known])
        # HiGHS can stall after presolve and ignore its own time limit (CONVENTIONS.md); a watchdog asks it to
        # stop through its interrupt callback a little after the limit, keeping any incumbent
        h.HandleUserInterrupt = True
        watchdog = threading.Timer(settings.time_limit * 1.1 + 5.0, h.cancelSolve)
        watchdog.daemon = True
        watchdog.start()
        t0 = time.perf_counter()
        trace = _ProgressTrace(h, t0, on_progress) if model.integer.any() else None
        if threading.current_thread() is threading.main_thread():
            # Ctrl-C stops the search gracefully and keeps the incumbent (termination "interrupted")
            h.HandleKeyboardInterrupt = True
            with contextlib.redirect_stdout(sys.stderr):  # highspy's "Ctrl-C pressed" notice; stdout may be JSON
                h.solve()
        else:
            h.solve()
        watchdog.cancel()
        elapsed = time.perf_counter() - t0
        ms = h.getModelStatus()
        info = h.getInfo()
        S = hp.HighsModelStatus
        termination = {
            S.kOptimal: base.OPTIMAL, S.kInfeasible: base.INFEASIBLE, S.kTimeLimit: base.TIME_LIMIT,
            S.kUnbounded: base.UNBOUNDED, S.kUnboundedOrInfeasible: base.INFEASIBLE,
            S.kInterrupt: base.INTERRUPTED, S.kIterationLimit: base.OTHER_LIMIT,
            S.kSolutionLimit: base.OTHER_LIMIT, S.kMemoryLimit: base.OTHER_LIMIT,
        }.get(ms, base.ERROR)
        detail = h.modelStatusToString(ms)
        if termination == base.INTERRUPTED and elapsed >= settings.time_limit:
            termination, detail = base.TIME_LIMIT, "time limit (HiGHS stopped by the watchdog after ignoring it)"
        has_solution = info.primal_solution_status == 2
        x = np.array(h.getSolution().col_value) if has_solution else None
        objective = float(info.objective_function_value) if has_solution else None
        lp = not model.integer.any()
        if not lp:
            bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else None
        elif termination == base.OPTIMAL:
            bound = objective
        elif info.dual_solution_status != 0:
            # an LP stopped early (its time limit): its last duals still prove a bound (CompiledModel.dual_bound);
            # HiGHS keeps them only without presolve, which the Marxan class's LP runs without (_highs_options.py).
            # A feasible point of an unfinished LP bounds nothing, so without duals there is no bound
            bound = model.dual_bound(np.array(h.getSolution().row_dual))
        else:
            bound = None
        reduced = np.array(h.getSolution().col_dual) if (termination == base.OPTIMAL and lp
                                                          and info.dual_solution_status == 2) else None
        return base.SolveResult(termination=termination, has_solution=has_solution, x=x, objective=objective,
                                bound=bound, solver=self.name, solver_version=self.version(), time_s=elapsed,
                                seed=settings.seed, threads=settings.threads, detail=detail,
                                extra={"highs_options": chosen},
                                progress=trace.finish(elapsed, objective, bound, model.sense == "max") if trace else [],
                                reduced_costs=reduced)
