"""SCIP through OR-Tools' model_builder, reading our MPS file."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from optimizer.engine.errors import SolverUnavailable
from optimizer.engine.model import CompiledModel
from optimizer.engine.scenario import SolverSettings
from optimizer.engine.solvers import base
from optimizer.engine.solvers.mps import write_mps


MODEL_BUILDER = "ortools.linear_solver.python.model_builder"


class ScipAdapter(base.Adapter):
    name = "scip"
    requires = "ortools"
    features = base.Features()

    def usable(self):
        ok = self.library(MODEL_BUILDER).Solver("scip").solver_is_supported()
        return (True, "") if ok else (False, "this OR-Tools build has no SCIP")

    def version(self) -> str:
        import ortools
        return f"scip (ortools {ortools.__version__})"

    def solve(self, model: CompiledModel, settings: SolverSettings,
              on_progress: base.ProgressFn | None = None, start: np.ndarray | None = None) -> base.SolveResult:
        self.ensure_available()
        mb = self.library(MODEL_BUILDER)
        _, sign = base.to_minimization(model)
        m = mb.Model()
        with tempfile.TemporaryDirectory(prefix="landalloc-scip-") as tmp:
            path = Path(tmp) / "model.mps"
            write_mps(model, path)
            m.import_from_mps_file(str(path))
        if m.num_variables != model.n_cols:
            raise SolverUnavailable(f"SCIP read {m.num_variables} variables, expected {model.n_cols}")
        solver = mb.Solver("scip")
        solver.set_time_limit_in_seconds(settings.time_limit)
        params = [f"limits/gap = {settings.gap}", f"randomization/randomseedshift = {settings.seed}",
                  "parallel/maxnthreads = %d" % settings.threads]
        params += [f"{k} = {v}" for k, v in settings.options.items()]
        solver.set_solver_specific_parameters("\n".join(params))
        t0 = time.perf_counter()
        status = solver.solve(m)
        elapsed = time.perf_counter() - t0
        S = mb.SolveStatus
        has_solution = status in (S.OPTIMAL, S.FEASIBLE)
        x = objective = bound = None
        if has_solution:
            x = np.asarray(solver.values([m.var_from_index(j) for j in range(model.n_cols)]), dtype=float)
            objective = model.objective_value(x)
            b = solver.best_objective_bound
            bound = sign * float(b) + model.offset if np.isfinite(b) else None
        termination = base.termination_of(
            status, {S.OPTIMAL: base.OPTIMAL, S.INFEASIBLE: base.INFEASIBLE, S.UNBOUNDED: base.UNBOUNDED},
            (S.FEASIBLE, S.NOT_SOLVED), elapsed, settings.time_limit)
        return base.SolveResult(termination=termination, has_solution=has_solution, x=x, objective=objective,
                                bound=bound, solver=self.name, solver_version=self.version(), time_s=elapsed,
                                seed=settings.seed, threads=settings.threads, detail=solver.status_string)
