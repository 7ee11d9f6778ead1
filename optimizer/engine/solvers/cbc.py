"""CBC through pulp (its bundled binary).

pulp's LpStatus says "Optimal" for a CBC run stopped by its time limit; termination and bound are
therefore read from CBC's own log ("Result - …", "Objective value", "Lower bound", "Gap").
"""

from __future__ import annotations

import re
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from optimizer.engine.errors import SolverFailure
from optimizer.engine.model import CompiledModel
from optimizer.engine.scenario import SolverSettings
from optimizer.engine.solvers import base


def build_pulp(model: CompiledModel, pulp):
    """The model as a pulp problem (always minimized), row by row from the CSR arrays.

    pulp's expression API is the slow path by design (this adapter exists for cross-checking);
    the default HiGHS adapter takes the arrays directly.
    """
    c, _ = base.to_minimization(model)
    prob = pulp.LpProblem("landalloc", pulp.LpMinimize)
    xs = []
    for j in range(model.n_cols):
        lo = None if not np.isfinite(model.col_lo[j]) else float(model.col_lo[j])
        hi = None if not np.isfinite(model.col_hi[j]) else float(model.col_hi[j])
        xs.append(pulp.LpVariable(f"C{j}", lo, hi, pulp.LpInteger if model.integer[j] else pulp.LpContinuous))
    nz = np.nonzero(c)[0]
    prob += pulp.LpAffineExpression([(xs[j], float(c[j])) for j in nz])
    A = model.A
    for i in range(model.n_rows):
        s, e = A.indptr[i], A.indptr[i + 1]
        expr = pulp.LpAffineExpression([(xs[j], float(v)) for j, v in zip(A.indices[s:e], A.data[s:e])])
        lo, hi = model.row_lo[i], model.row_hi[i]
        if lo == hi:
            prob += pulp.LpConstraint(expr, pulp.LpConstraintEQ, f"R{i}", float(lo))
            continue
        if np.isfinite(lo):
            prob += pulp.LpConstraint(expr, pulp.LpConstraintGE, f"R{i}_lo", float(lo))
        if np.isfinite(hi):
            prob += pulp.LpConstraint(expr, pulp.LpConstraintLE, f"R{i}_hi", float(hi))
    return prob, xs


class CbcAdapter(base.Adapter):
    name = "cbc"
    requires = "pulp"
    install = "'pulp<4'"
    features = base.Features()

    def usable(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ok = self.library().PULP_CBC_CMD(msg=False).available()
        return (True, "") if ok else (False, "pulp's CBC binary is not available on this machine")

    def version(self) -> str:
        return f"cbc (pulp {self.library().__version__})"

    def solve(self, model: CompiledModel, settings: SolverSettings,
              on_progress: base.ProgressFn | None = None, start: np.ndarray | None = None) -> base.SolveResult:
        self.ensure_available()
        pulp = self.library()
        _, sign = base.to_minimization(model)
        with tempfile.TemporaryDirectory(prefix="landalloc-cbc-") as tmp, warnings.catch_warnings():
            # pulp 3.3 announces its 4.0 API; we pin pulp<4 (pyproject) and use the 3.x API deliberately
            warnings.simplefilter("ignore", DeprecationWarning)
            log = Path(tmp) / "cbc.log"
            prob, variables = build_pulp(model, pulp)
            options = [f"randomSeed {settings.seed}", f"randomCbcSeed {max(settings.seed, 1)}"]
            options += [f"{k} {v}" for k, v in settings.options.items()]
            cmd = pulp.PULP_CBC_CMD(msg=False, timeLimit=settings.time_limit, gapRel=settings.gap,
                                    threads=settings.threads, options=options, logPath=str(log))
            t0 = time.perf_counter()
            try:
                prob.solve(cmd)
            except pulp.PulpSolverError as e:
                raise SolverFailure(f"CBC failed: {e}") from None
            elapsed = time.perf_counter() - t0
            text = log.read_text(errors="replace") if log.exists() else ""
        result = re.search(r"Result - (.+)", text)
        result_line = result.group(1).strip() if result else ""
        has_solution = prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
        if "Optimal" in result_line:
            termination = base.OPTIMAL
        elif "infeasible" in result_line.lower():
            termination = base.INFEASIBLE
        elif "time" in result_line.lower():
            termination = base.TIME_LIMIT
        elif "unbounded" in result_line.lower():
            termination = base.UNBOUNDED
        elif prob.status == pulp.LpStatusInfeasible:
            termination = base.INFEASIBLE
        elif not result_line:
            raise SolverFailure(f"CBC gave no result line; pulp status {pulp.LpStatus[prob.status]}")
        else:
            termination = base.OTHER_LIMIT
        x = objective = bound = None
        if has_solution:
            x = np.array([v.varValue or 0.0 for v in variables], dtype=float)
            objective = model.objective_value(x)
        # CBC prints "Lower bound:" (of the minimized model) whenever optimality is not proven exactly
        m_lb = re.search(r"Lower bound:\s+(\S+)", text)
        if m_lb:
            bound = sign * float(m_lb.group(1)) + model.offset
        elif termination == base.OPTIMAL:
            bound = objective
        return base.SolveResult(termination=termination, has_solution=has_solution, x=x, objective=objective,
                                bound=bound, solver=self.name, solver_version=self.version(), time_s=elapsed,
                                seed=settings.seed, threads=settings.threads, detail=result_line)
