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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from constraints._api import Violation, tolerance
from optimizer import __version__
from optimizer.engine import interrupts
from optimizer.engine.errors import EXIT_INFEASIBLE, EXIT_NO_SOLUTION, EXIT_OK, InputError
from optimizer.engine.files import atomic_write_text, check_replaceable, check_writable
from optimizer.engine.model import ModelBuilder
from optimizer.engine.primal import engine as primal
from optimizer.engine.primal.plans import completed
from optimizer.engine.problem import ExplainOptions, Phased, Problem, SinglePeriod, changed_inputs, check_plan
from optimizer.engine.rundir import RUN_JSON, dumps, place_run, read_run, read_solution, room_needed
from optimizer.engine.scenario import LoadedScenario, SolverSettings
from optimizer.engine.solvers import get_adapter
from optimizer.engine.solvers.base import INFEASIBLE, INTERRUPTED, OPTIMAL, SolveResult
from optimizer.engine.verify import VerifyReport, loaded_from_run
from optimizer.marxan.problem import MarxanProject

_PACKAGES = ("numpy", "scipy", "pandas", "geopandas", "shapely", "pyproj", "pyogrio", "pydantic",
             "highspy", "PuLP", "ortools")


@dataclass
class RunOutcome:
    run: dict
    allocation: gpd.GeoDataFrame | None
    """the plan as a GIS layer (parcel scenarios), None without a plan or without geometry"""
    exit_code: int
    out: Path | None


def problem_class(scenario_or_run: dict) -> type:
    """The one place that says which kind of problem a scenario (or a run.json) is."""
    if "marxan" in (scenario_or_run.get("metadata") or {}) or "marxan" in scenario_or_run:
        return MarxanProject
    return Phased if scenario_or_run.get("periods") else SinglePeriod


@interrupts.guarded
def solve_scenario(loaded: LoadedScenario, out: Path | None, *, alternatives: int = 0,
                   min_difference: float = 10.0, marginals: bool | None = None,
                   log: Callable[[str], None] | None = None,
                   on_progress: Callable[[dict], None] | None = None, extra: dict | None = None,
                   solver: SolverSettings | None = None, overwrite: bool = False) -> RunOutcome:
    """``log`` receives one-line progress messages (the CLI prints them on stderr); ``on_progress`` the
    solver's progress points live (adapters with the ``progress`` feature); ``extra`` adds keys to run.json
    (what-if ``overrides``, a sweep point's ``sweep``), never replacing the run's own; ``solver`` replaces
    the scenario's solver settings; ``overwrite`` lets a run without a plan replace one that has a plan
    (otherwise it is written beside it). Ctrl-C: see ``interrupts``."""
    log = log or (lambda _: None)
    settings = solver or loaded.scenario.solver
    target = out or (loaded.resolve(loaded.scenario.output.dir, "output.dir") if loaded.scenario.output.dir else None)
    check_before_solving(loaded, settings, target, plans=(1 + alternatives) * len(loaded.scenario.periods or [None]))
    log(f"loading and compiling {loaded.label}")
    problem: Problem = problem_class(loaded.raw)(loaded, settings)
    run = {**run_identity(loaded, settings), **problem.describe(), "versions": versions()}
    suitability = getattr(getattr(problem, "instance", None), "suitability", None)
    if suitability:  # scores built from criteria (instance.py); the layers they read are inputs, as the parcels
        run["suitability"] = suitability
        run["inputs"] += suitability["inputs"]
    timings = problem.timings

    result, warm = _solve(problem, settings, log, on_progress)
    if warm is not None:
        run["warm_start"] = warm
    timings["solve_s"] = result.time_s

    plan, outputs = None, {}
    if result.has_solution:
        result = completed(problem.model, result, problem.complete)
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
    if target is not None:
        target = _write(problem, target, run, plan, outputs, result.x if plan is not None else None, overwrite, log)
    return RunOutcome(run=run, allocation=problem.layer(plan), exit_code=exit_code, out=target)


def _write(problem: Problem, target: Path, run: dict, plan: Any, outputs: dict, x: np.ndarray | None, overwrite: bool,
           log: Callable[[str], None]) -> Path:
    """The run directory, where :func:`rundir.place_run` puts it: a run without a plan goes beside a
    directory that holds one, and says so in run.json (``kept_beside``) and on stderr. Ctrl-C presses
    after the solve (kept off, so the plan is written) are recorded as ``interruptions``."""
    placed = place_run(target, run["status"], plan is not None, overwrite)
    notes: dict[str, Any] = {}
    if placed != Path(target):
        notes["kept_beside"] = {"kept": str(Path(target).absolute()), "reason": f"this run has no plan ({run['status']}) "
                                "and the directory holds a run with one; --overwrite replaces it"}
        log(f"no plan in this run ({run['status']}): written to {placed}, beside {target}, which keeps its plan "
            "(--overwrite replaces it)")
    if interrupts.presses_after_solve():
        notes["interruptions"] = {"after_solve": interrupts.presses_after_solve(),
                                  "note": "Ctrl-C after the solver returned: the plan found was checked and written"}
    if notes:  # before the scenario, which stays last
        scenario = run.pop("scenario")
        run.update(notes, scenario=scenario)
    problem.write(placed, run, plan, outputs, x)
    if notes.get("interruptions"):
        log(f"interrupted: the plan found was written to {placed}")
    return placed


def check_before_solving(loaded: LoadedScenario, settings: SolverSettings, target: Path | None, plans: int) -> None:
    """Before anything is loaded or solved, what would otherwise fail only after the solve: the solver
    takes the settings (its own option names and ranges, tried on a one-column model), and the run
    directory can be written — not someone else's directory, a writable place, room for ``plans`` plan
    layers. Each failure is an InputError (exit 2) naming the field or the path."""
    if settings.options:
        builder = ModelBuilder("max")
        builder.add_columns("preflight", ["x"])
        builder.add_rows("preflight", ["x ≤ 1"], 0.0, 1.0, row=[0], col=[0], coef=[1.0])
        trial = builder.build(pd.DataFrame(columns=["parcel", "use", "reason", "family"]))
        try:
            get_adapter(settings.name).solve(trial, settings.model_copy(update={"time_limit": 10.0}))
        except Exception as e:  # noqa: BLE001 - whatever the solver says about its options, said with the field
            raise InputError(loaded.label, "solver.options", f"{settings.name} does not take these settings: {e}",
                             f"check the option names and values in {settings.name}'s documentation") from None
    if target is not None:
        check_replaceable(target, RUN_JSON)
        parcels = loaded.resolve(loaded.scenario.parcels.path, "parcels.path")
        check_writable(target, room_needed(parcels, plans))


@interrupts.solving
def _solve(problem: Problem, settings: SolverSettings, log: Callable[[str], None],
           on_progress: Callable[[dict], None] | None) -> tuple[SolveResult, dict | None]:
    """The solver's result, and run.json's ``warm_start`` when a first plan was solved for it. A quota no
    plan can reach skips the solver: the diagnosis names it. Adapters with the ``warm_start`` feature
    solve through the primal engine (``optimizer/engine/primal``: the LP, heuristic plans, then the MIP
    from the best of them) unless ``solver.warm_start`` is off, which runs the solver alone."""
    adapter = get_adapter(settings.name)

    def no_plan(termination: str, detail: str) -> SolveResult:
        return SolveResult(termination=termination, has_solution=False, x=None, objective=None, bound=None,
                           solver=adapter.name, solver_version=adapter.version(), time_s=0.0,
                           seed=settings.seed, threads=settings.threads, detail=detail)

    if any(not r["reachable"] for r in problem.reachability()):
        return no_plan(INFEASIBLE, "pre-solve reachability"), None
    engine = adapter.features.warm_start and settings.warm_start
    beside = engine and settings.threads >= 2 and problem.start_beside_lp
    found: dict = {}
    if beside:  # both cores: the problem's heuristic start runs in a second thread while the LP solves

        def plan_beside() -> np.ndarray | None:
            plan, found["warm"] = problem.initial_plan(log)
            return plan

        pool = ThreadPoolExecutor(max_workers=1)
        start, warm = pool.submit(plan_beside), None
        pool.shutdown(wait=False)
    else:
        start, warm = problem.initial_plan(log) if engine else (None, None)
    if warm and warm.get("within_time_limit"):  # a heuristic start is part of the solve, not time on top of it
        settings = settings.model_copy(update={"time_limit": max(settings.time_limit - warm["time_s"], 0.5)})
    model = problem.model
    log(f"solving {model.n_cols:,} columns × {model.n_rows:,} rows with {adapter.name} "
        f"(time limit {settings.time_limit:g} s, gap {settings.gap:g}; Ctrl-C keeps the best plan so far)")
    try:
        if engine:
            result = primal.solve(adapter, model, settings, problem.complete, start=start, on_progress=on_progress,
                                  log=log, polish=problem.polish)
            if beside:
                start.result()  # taken by the engine after its LP; waited for here on every path
                warm = {**found["warm"], "beside_lp": True}
            return result, warm
        return adapter.solve(model, settings, on_progress=on_progress), warm
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
    if obj is not None and report.objective is not None and abs(obj - report.objective) > tolerance(obj):
        report.violations.append(Violation("objective", "objective",
                                           f"run.json says {obj}, recomputed from the plan {report.objective}"))
    return run, report


def price_run(run_dir: Path, budget_s: float | None = None, log: Callable[[str], None] | None = None) -> dict:
    """``landalloc explain RUN --marginals``: a solved run's binding rows priced by the next parcel from its
    saved solution (no new solve of the plan), with the time a council's figures deserve — ``budget_s``,
    default twice the plan's solve time and at least 30 s — and run.json rewritten atomically with them."""
    run_dir = Path(run_dir)
    run, _ = read_run(run_dir)
    cls = problem_class(run.get("scenario") or run)
    if cls is MarxanProject:
        raise InputError(str(run_dir), "marginal values", "a Marxan run has no quotas to price",
                         "price a landalloc scenario's run")
    loaded = loaded_from_run(run, run_dir)
    settings = SolverSettings(**run["solver_settings"])
    problem = cls(loaded, settings)
    x = read_solution(run_dir, problem.model)
    base = SolveResult(termination=run["termination"], has_solution=True, x=x, objective=run["objective"],
                       bound=run["bound"], solver=run["solver"], solver_version=run["solver_version"],
                       time_s=float(run["timings"]["solve_s"]), seed=settings.seed, threads=settings.threads)
    t = time.perf_counter()
    found = problem.price(base, log or (lambda _: None), budget_s=budget_s or max(2.0 * base.time_s, 30.0))
    for key in ("marginal_values", "marginal_values_method", "marginal_values_skipped"):
        run.pop(key, None)
    mark_binding_quotas(run, found["binding"])
    scenario = run.pop("scenario")
    run.update(found, scenario=scenario)
    run["timings"]["marginal_values_s"] = round(time.perf_counter() - t, 4)
    atomic_write_text(run_dir / RUN_JSON, dumps(run))
    return run
