"""CP-SAT through OR-Tools, built from the CSR arrays.

CP-SAT needs integer coefficients. Each row is scaled by the smallest power of ten (up to 10^6)
that makes its coefficients integral; bounds are rounded inward, so the scaled model never admits a
plan the exact model forbids. The objective is scaled the same way and re-evaluated exactly on the
returned plan; the scales are reported in ``extra``. A gap-limited CP-SAT run still reports OPTIMAL,
so the gap is recomputed from objective and bound like for every other solver.
"""

from __future__ import annotations

import math
import time

import numpy as np

from optimizer.engine.errors import SolverUnavailable
from optimizer.engine.model import CompiledModel
from optimizer.engine.scenario import SolverSettings
from optimizer.engine.solvers import base

MAX_DIGITS = 6


def _digits_needed(values: np.ndarray) -> int:
    for d in range(MAX_DIGITS + 1):
        scaled = values * 10**d
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-7 * np.maximum(1.0, np.abs(scaled))):
            return d
    return MAX_DIGITS


class CpSatAdapter(base.Adapter):
    name = "cpsat"
    requires = "ortools"
    features = base.Features(continuous=False)

    def version(self) -> str:
        import ortools
        return f"cp-sat (ortools {ortools.__version__})"

    def solve(self, model: CompiledModel, settings: SolverSettings,
              on_progress: base.ProgressFn | None = None, start: np.ndarray | None = None) -> base.SolveResult:
        cp_model = self.library("ortools.sat.python.cp_model")
        if not model.integer.all():
            raise SolverUnavailable("solver 'cpsat' handles pure integer models only; this model has continuous "
                                    "columns — use highs, cbc or scip")
        cm = cp_model.CpModel()
        xs = [cm.new_int_var(int(math.ceil(lo - 1e-9)), int(math.floor(hi + 1e-9)), f"x{j}")
              for j, (lo, hi) in enumerate(zip(model.col_lo, model.col_hi))]
        A = model.A
        row_scale = np.ones(model.n_rows)
        for i in range(model.n_rows):
            s, e = A.indptr[i], A.indptr[i + 1]
            vals = A.data[s:e]
            d = _digits_needed(vals)
            scale = 10**d
            row_scale[i] = scale
            coefs = np.round(vals * scale).astype(np.int64)
            lo, hi = model.row_lo[i], model.row_hi[i]
            lo_i = int(math.ceil(lo * scale - 1e-6)) if np.isfinite(lo) else -(2**62)
            hi_i = int(math.floor(hi * scale + 1e-6)) if np.isfinite(hi) else 2**62
            expr = cp_model.LinearExpr.weighted_sum([xs[j] for j in A.indices[s:e]], coefs.tolist())
            cm.add_linear_constraint(expr, lo_i, hi_i)
        c, sign = base.to_minimization(model)
        nz = np.nonzero(c)[0]
        obj_digits = _digits_needed(c[nz]) if len(nz) else 0
        obj_scale = 10**obj_digits
        cm.minimize(cp_model.LinearExpr.weighted_sum([xs[j] for j in nz], np.round(c[nz] * obj_scale).astype(np.int64).tolist()))
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = float(settings.time_limit)
        solver.parameters.relative_gap_limit = float(settings.gap)
        solver.parameters.random_seed = int(settings.seed)
        solver.parameters.num_workers = int(settings.threads)
        for k, v in settings.options.items():
            setattr(solver.parameters, k, v)
        t0 = time.perf_counter()
        status = solver.solve(cm)
        elapsed = time.perf_counter() - t0
        has_solution = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        x = objective = bound = None
        if has_solution:
            x = np.array([solver.value(v) for v in xs], dtype=float)
            objective = model.objective_value(x)
            bound = sign * solver.best_objective_bound / obj_scale + model.offset
        termination = base.termination_of(status, {cp_model.OPTIMAL: base.OPTIMAL, cp_model.INFEASIBLE: base.INFEASIBLE},
                                          (cp_model.FEASIBLE, cp_model.UNKNOWN), elapsed, settings.time_limit)
        return base.SolveResult(termination=termination, has_solution=has_solution, x=x, objective=objective,
                                bound=bound, solver=self.name, solver_version=self.version(), time_s=elapsed,
                                seed=settings.seed, threads=settings.threads, detail=solver.status_name(status),
                                extra={"objective_scale": obj_scale, "max_row_scale": float(row_scale.max(initial=1))})
