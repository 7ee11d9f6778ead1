"""One run, end to end, for every kind of scenario: open → solve → decode → verify → explain → write.

``solve_scenario`` is the only place that turns a scenario into a run directory and ``verify_run``
the only place that re-checks one; the CLI, the workflows and the tests call them. What differs
between a single-period, a phased and a Marxan scenario lives behind the ``Problem`` protocol
(``problem.py``), chosen by :func:`problem_class`.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constraints._api import Violation
from optimizer import __version__
from optimizer.engine.errors import EXIT_INFEASIBLE, EXIT_NO_SOLUTION, EXIT_OK
from optimizer.engine.problem import ExplainOptions, Phased, Problem, SinglePeriod, changed_inputs, check_plan
from optimizer.engine.rundir import read_run
from optimizer.engine.scenario import LoadedScenario, SolverSettings
from optimizer.engine.solvers import get_adapter
from optimizer.engine.solvers.base import INFEASIBLE, INTERRUPTED, OPTIMAL, SolveResult
from optimizer.engine.verify import VerifyReport
from optimizer.marxan.problem import MarxanProject

_PACKAGES = ("numpy", "scipy", "pandas", "geopandas", "shapely", "pyproj", "pyogrio", "pydantic",
             "highspy", "PuLP", "ortools")


@dataclass
class RunOutcome:
    run: dict
    allocation: Any
    """the decoded plan (a GeoDataFrame for parcel scenarios), None without a plan"""
    exit_code: int
    out: Path | None


def problem_class(scenario_or_run: dict) -> type:
    """The one place that says which kind of problem a scenario (or a run.json) is."""
    if "marxan" in (scenario_or_run.get("metadata") or {}) or "marxan" in scenario_or_run:
        return MarxanProject
    return Phased if scenario_or_run.get("periods") else SinglePeriod


def solve_scenario(loaded: LoadedScenario, out: Path | None, *, alternatives: int = 0,
                   min_difference: float = 10.0, marginals: bool | None = None,
                   log: Callable[[str], None] | None = None,
                   on_progress: Callable[[dict], None] | None = None, extra: dict | None = None,
                   solver: SolverSettings | None = None) -> RunOutcome:
    """``log`` receives one-line progress messages (the CLI prints them on stderr); ``on_progress`` the
    solver's progress points live (adapters with the ``progress`` feature); ``extra`` adds keys to run.json
    (what-if ``overrides``, a sweep point's ``sweep``), never replacing the run's own; ``solver`` replaces
    the scenario's solver settings."""
    log = log or (lambda _: None)
    settings = solver or loaded.scenario.solver
    problem: Problem = problem_class(loaded.raw)(loaded, settings)
    run = {**run_identity(loaded, settings), **problem.describe(), "versions": versions()}
    timings = problem.timings

    result, warm = _solve(problem, settings, log, on_progress)
    if warm is not None:
        run["warm_start"] = warm
    timings["solve_s"] = result.time_s

    plan, outputs = None, {}
    if result.has_solution:
        check_plan(problem.model, result)
        t = time.perf_counter()
        plan = problem.decode(result.x)
        timings["decode_s"] = time.perf_counter() - t
    cert = result.certificate(problem.rescore(plan) if plan is not None else None)
    run.update(result_block(result, cert))

    if plan is not None:
        t = time.perf_counter()
        report = problem.verify(plan)
        timings["verify_s"] = time.perf_counter() - t
        run["verify"] = report.as_dict()
        run.update(problem.summarize(plan, report))
        add_figures(run, report.figures)
        t = time.perf_counter()
        options = ExplainOptions(marginals=loaded.scenario.explain.marginal_values if marginals is None else marginals,
                                 alternatives=alternatives, min_difference=min_difference)
        found = problem.explain(result, options, log)
        mark_binding_quotas(run, found.run.get("binding", []))
        run.update(found.run)
        outputs.update(found.outputs)
        timings["explain_s"] = time.perf_counter() - t
        # a plan stopped by a limit or Ctrl-C is saved, but the exit code says it is not proven
        exit_code = EXIT_OK if result.termination == OPTIMAL else EXIT_NO_SOLUTION
    elif result.termination == INFEASIBLE:
        t = time.perf_counter()
        found = problem.diagnose(result, log)
        timings["diagnosis_s"] = time.perf_counter() - t
        run.update(found.run)
        outputs.update(found.outputs)
        exit_code = EXIT_INFEASIBLE
    else:
        exit_code = EXIT_NO_SOLUTION

    run["timings"] = {k: round(v, 4) for k, v in timings.items()}
    add_extra(run, extra or {})
    run["scenario"] = loaded.raw  # last, so a reader sees the results first
    target = out or (loaded.resolve(loaded.scenario.output.dir, "output.dir") if loaded.scenario.output.dir else None)
    if target is not None:
        problem.write(target, run, plan, outputs)
    return RunOutcome(run=run, allocation=plan, exit_code=exit_code, out=target)


def _solve(problem: Problem, settings: SolverSettings, log: Callable[[str], None],
           on_progress: Callable[[dict], None] | None) -> tuple[SolveResult, dict | None]:
    """The solver's result, and run.json's ``warm_start`` when a first plan was solved for it. A quota no
    plan can reach skips the solver: the diagnosis names it."""
    adapter = get_adapter(settings.name)

    def no_plan(termination: str, detail: str) -> SolveResult:
        return SolveResult(termination=termination, has_solution=False, x=None, objective=None, bound=None,
                           solver=adapter.name, solver_version=adapter.version(), time_s=0.0,
                           seed=settings.seed, threads=settings.threads, detail=detail)

    if any(not r["reachable"] for r in problem.reachability()):
        return no_plan(INFEASIBLE, "pre-solve reachability"), None
    start = warm = None
    if adapter.features.warm_start and settings.warm_start:
        start, warm = problem.initial_plan(log)
    model = problem.model
    log(f"solving {model.n_cols:,} columns × {model.n_rows:,} rows with {adapter.name} "
        f"(time limit {settings.time_limit:g} s, gap {settings.gap:g}; Ctrl-C keeps the best plan so far)")
    try:
        return adapter.solve(model, settings, on_progress=on_progress, start=start), warm
    except KeyboardInterrupt:
        # adapters with the ``interrupt`` feature return their incumbent themselves; this is the rest
        return no_plan(INTERRUPTED, "interrupted (Ctrl-C)"), warm


# -- run.json's blocks, each written in one place ---------------------------------------------------

def versions() -> dict[str, str]:
    out = {"landalloc": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for pkg in _PACKAGES:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def run_identity(loaded: LoadedScenario, settings: SolverSettings) -> dict:
    """The head of every run.json: which landalloc, when, which scenario, which solver settings and seed."""
    return {"landalloc_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "scenario_name": loaded.scenario.name,
            "scenario_path": str(loaded.path) if loaded.path else None,
            "scenario_dir": str(loaded.base_dir),
            "seed": settings.seed,
            "solver_settings": settings.model_dump()}


def result_block(result: SolveResult, cert: dict) -> dict:
    """How the solve ended: the status and the certificate's figures at the top level, for readers and reports."""
    return {"status": result.status, "termination": result.termination, "objective": cert["objective"],
            "bound": cert["bound"], "gap": cert["gap"], "solver": result.solver,
            "solver_version": result.solver_version, "solver_detail": result.detail, "solver_extra": result.extra,
            "certificate": cert, "progress": result.progress, "quotas": [], "sites": []}


class RunKeyConflict(RuntimeError):
    """A family figure or caller metadata would replace one of the run's own keys (a programming error)."""


def add_figures(run: dict, figures: dict[str, list[dict]]) -> None:
    """Family figures (``quotas``, ``sites``, ``land_balance``, …) as top-level lists of run.json. The result
    block reserves ``quotas`` and ``sites``; any other key the run already holds (status, objective, …)
    is refused, so a family can never overwrite what the run says about itself."""
    for key, rows in figures.items():
        if key in run and run[key] != []:
            raise RunKeyConflict(f"a family's figure {key!r} would overwrite run.json's own {key!r}")
        run[key] = rows


def add_extra(run: dict, extra: dict) -> None:
    """Caller metadata (what-if ``overrides``, a sweep point's ``sweep``); never one of the run's keys."""
    for key in extra:
        if key in run or key == "scenario":
            raise RunKeyConflict(f"extra run.json key {key!r} would overwrite the run's own")
    run.update(extra)


def mark_binding_quotas(run: dict, binding: list[dict]) -> None:
    """Each quota says which side binds (``lo``/``hi``/``both``, '' when none), from the binding rows."""
    side = {(b["family"], b["key"], b.get("period")): b["side"] for b in binding}
    for q in run.get("quotas", []):
        q["binding"] = side.get((q["family"], q["key"], q.get("period")), "")


# -- verify a run directory -------------------------------------------------------------------------

def verify_run(run_dir: Path) -> tuple[dict, VerifyReport]:
    """Re-check a run directory: inputs unchanged, the plan against its problem's checks, the objective."""
    run_dir = Path(run_dir)
    run, plan = read_run(run_dir)
    report = problem_class(run.get("scenario") or run).reverify(run_dir, run, plan)
    report.violations = [Violation("inputs", item["path"], "input file changed or missing since the run")
                         for item in changed_inputs(run)] + report.violations
    obj = run.get("objective")
    if obj is not None and report.objective is not None and abs(obj - report.objective) > 1e-6 * max(1.0, abs(obj)):
        report.violations.append(Violation("objective", "objective",
                                           f"run.json says {obj}, recomputed from the plan {report.objective}"))
    return run, report
