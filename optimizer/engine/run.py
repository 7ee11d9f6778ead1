"""One solve, end to end: load → compile → reachability → solve → decode → verify → write.

This is the single place that turns a scenario into a run directory; the CLI and the tests call it.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer import __version__
from optimizer.engine.compile import compile_model
from optimizer.engine.decode import decode
from optimizer.engine.reachability import reachability
from optimizer.engine.explain import alternatives as _alternatives
from optimizer.engine.explain import binding_rows, diagnose, marginal_values
from optimizer.engine.errors import EXIT_INFEASIBLE, EXIT_NO_SOLUTION, EXIT_OK, InputError, SolverFailure
from optimizer.engine.files import sha256_file
from optimizer.engine.instance import Instance, load_instance
from optimizer.engine.phasing import compile_phased, solve_myopic
from optimizer.engine.rundir import write_run_dir
from optimizer.engine.scenario import LoadedScenario
from optimizer.engine.solvers import get_adapter
from optimizer.engine.solvers.base import INFEASIBLE, INTERRUPTED, OPTIMAL, SolveResult
from optimizer.engine.verify import VerifyReport, verify_plan

_PACKAGES = ("numpy", "scipy", "pandas", "geopandas", "shapely", "pyproj", "pyogrio", "pydantic",
             "highspy", "PuLP", "ortools")


def versions() -> dict[str, str]:
    out = {"landalloc": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for pkg in _PACKAGES:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


@dataclass
class RunOutcome:
    run: dict
    allocation: gpd.GeoDataFrame | None
    exit_code: int
    out: Path | None


def status_of(result: SolveResult) -> str:
    if result.has_solution:
        return "optimal" if result.termination == OPTIMAL else "feasible"
    return "infeasible" if result.termination == INFEASIBLE else "no_solution"


class Problem:
    """A compiled scenario as the run sees it: the model, and how to decode and verify its plans.
    Single-period and phased scenarios differ only here."""

    def __init__(self, loaded: LoadedScenario, instance: Instance):
        self.loaded, self.instance = loaded, instance
        self.phased = None
        if loaded.scenario.periods:
            self.phased = compile_phased(instance, loaded)
            self.model = self.phased.model
            self.parts = [(b.name, b.loaded, b.compiled) for b in self.phased.blocks]
        else:
            self.compiled = compile_model(instance, loaded)
            self.model = self.compiled.model
            self.parts = [(None, loaded, self.compiled)]

    def initial_plan(self, log: Callable[[str], None] = lambda _: None) -> tuple[np.ndarray | None, dict | None]:
        """What HiGHS starts from (other solvers ignore it), and run.json's ``warm_start`` if one was solved:
        a phased scenario starts from its myopic plan (each period solved in turn, earlier ones fixed),
        so the joint plan is never worse than it; a single period from the families' partial plans (the
        sites' greedy cores, NaN elsewhere), which HiGHS completes."""
        settings = self.loaded.scenario.solver
        if settings.name != "highs" or not settings.warm_start:
            return None, None
        if self.phased is not None:
            log("warm start: solving the periods one after another (myopic plan)")
            periods, start = solve_myopic(self.phased, settings)
            return start, {"method": "myopic: each period solved in turn with the earlier ones fixed",
                           "objective": None if start is None else self.model.objective_value(start),
                           "periods": [p.__dict__ for p in periods]}
        start = np.full(self.model.n_cols, np.nan)
        for fam in self.compiled.families:
            cols, values = fam.start()
            start[cols] = values
        return (None if np.isnan(start).all() else start), None

    @property
    def families(self) -> list:
        return [f for _, _, c in self.parts for f in c.families]

    def reachability(self) -> list[dict]:
        out = []
        for period, _, comp in self.parts:
            out += [{**r, **({"period": period} if period else {})} for r in reachability(comp, self.instance)]
        return out

    def _slices(self, x):
        if self.phased is None:
            return [(None, self.loaded, self.compiled, x)]
        return [(b.name, b.loaded, b.compiled, self.phased.x_of(b, x)) for b in self.phased.blocks]

    def decode(self, x) -> gpd.GeoDataFrame:
        plans = []
        for period, _, comp, xs in self._slices(x):
            plan = decode(comp, self.instance, xs)
            if period is not None:
                plan.insert(plan.columns.get_loc("site") + 1, "period", period)
            plans.append(plan)
        return plans[0] if len(plans) == 1 else gpd.GeoDataFrame(pd.concat(plans, ignore_index=True), crs=plans[0].crs)

    def verify(self, plan: gpd.GeoDataFrame) -> VerifyReport:
        return verify_plan(self.loaded, self.instance, plan, {period: comp.families for period, _, comp in self.parts})


def _inputs(loaded: LoadedScenario, instance: Instance, families: list) -> list[dict]:
    items = []
    if loaded.path is not None:
        items.append({"role": "scenario", "path": str(loaded.path), "sha256": loaded.sha256})
    items.append({"role": "parcels", "path": str(instance.path.resolve()), "sha256": instance.sha256})
    seen = set()
    for fam in families:
        for p in fam.input_paths():
            p = Path(p).resolve()
            if (fam.name, p) not in seen:
                seen.add((fam.name, p))
                items.append({"role": fam.name, "path": str(p), "sha256": sha256_file(p)})
    return items


def run_identity(loaded: LoadedScenario, settings) -> dict:
    """The head of every run.json: which landalloc, when, which scenario, which solver settings and seed."""
    return {"landalloc_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "scenario_name": loaded.scenario.name,
            "scenario_path": str(loaded.path) if loaded.path else None,
            "scenario_dir": str(loaded.base_dir),
            "seed": settings.seed,
            "solver_settings": settings.model_dump()}


def certificate(result: SolveResult) -> dict:
    """Everything needed to say how good a plan is, in one place for run.json, the CLI and reports."""
    return {"objective": result.objective, "bound": result.bound, "gap": result.gap, "termination": result.termination,
            "solver": result.solver, "solver_version": result.solver_version, "time_s": round(result.time_s, 4),
            "seed": result.seed, "threads": result.threads}


def solve_scenario(loaded: LoadedScenario, out: Path | None, *, alternatives: int = 0,
                   min_difference: float = 10.0, marginals: bool | None = None,
                   log: Callable[[str], None] | None = None,
                   on_progress: Callable[[dict], None] | None = None, extra: dict | None = None) -> RunOutcome:
    """``log`` receives one-line progress messages (the CLI prints them on stderr); ``on_progress`` receives the
    solver's progress points live (solvers.base.progress_point; HiGHS only); ``extra`` adds keys to run.json
    (what-if ``overrides``, a sweep point's ``sweep``), never replacing the run's own."""
    if "marxan" in loaded.scenario.metadata:  # hook: Marxan-imported scenarios have no geometry (optimizer/marxan)
        from optimizer.marxan.scenario import solve_marxan_scenario
        return solve_marxan_scenario(loaded, out)
    sc = loaded.scenario
    log = log or (lambda msg: None)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    instance = load_instance(loaded)
    timings["load_s"] = time.perf_counter() - t

    t = time.perf_counter()
    problem = Problem(loaded, instance)
    timings["compile_s"] = time.perf_counter() - t
    model = problem.model
    reach = problem.reachability()

    run: dict = {
        **run_identity(loaded, sc.solver),
        "periods": list(sc.periods) if sc.periods else None,
        "model": {"columns": model.n_cols, "rows": model.n_rows, "nonzeros": int(model.A.nnz),
                  "parcels": instance.n, "ineligible_pairs": len(model.ineligible), "sense": model.sense},
        "area_source": instance.area_source,
        "notes": list(instance.notes),
        "reachability": reach,
        "inputs": _inputs(loaded, instance, problem.families),
        "versions": versions(),
    }
    unreachable = [r for r in reach if not r["reachable"]]
    adapter = get_adapter(sc.solver.name)
    if unreachable:
        # no solver can succeed; skip straight to the diagnosis
        result = SolveResult(termination=INFEASIBLE, has_solution=False, x=None, objective=None, bound=None,
                             solver=adapter.name, solver_version=adapter.version(), time_s=0.0,
                             seed=sc.solver.seed, threads=sc.solver.threads, detail="pre-solve reachability")
    else:
        t = time.perf_counter()
        start, warm = problem.initial_plan(log)
        if warm is not None:
            timings["warm_start_s"] = time.perf_counter() - t
            run["warm_start"] = warm
        log(f"solving {model.n_cols:,} columns × {model.n_rows:,} rows with {adapter.name} "
            f"(time limit {sc.solver.time_limit:g} s, gap {sc.solver.gap:g}; Ctrl-C keeps the best plan so far)")
        try:
            result = adapter.solve(model, sc.solver, on_progress=on_progress, start=start)
        except KeyboardInterrupt:
            # adapters that can stop gracefully (HiGHS) return their incumbent themselves; this is the rest
            result = SolveResult(termination=INTERRUPTED, has_solution=False, x=None, objective=None, bound=None,
                                 solver=adapter.name, solver_version=adapter.version(), time_s=0.0,
                                 seed=sc.solver.seed, threads=sc.solver.threads, detail="interrupted (Ctrl-C)")
    timings["solve_s"] = result.time_s
    run.update({
        "status": status_of(result),
        "termination": result.termination,
        "objective": result.objective,
        "bound": result.bound,
        "gap": result.gap,
        "solver": result.solver,
        "solver_version": result.solver_version,
        "solver_detail": result.detail,
        "solver_extra": result.extra,
        "certificate": certificate(result),
        "progress": result.progress,
        "quotas": [],
        "sites": [],
    })
    allocation = None
    extra_layers: dict[str, gpd.GeoDataFrame] = {}
    if result.has_solution:
        check_plan(model, result)
        t = time.perf_counter()
        allocation = problem.decode(result.x)
        timings["decode_s"] = time.perf_counter() - t
        t = time.perf_counter()
        report: VerifyReport = problem.verify(allocation)
        timings["verify_s"] = time.perf_counter() - t
        run["verify"] = report.as_dict()
        run["area_by_use"] = report.area_by_use
        changed = allocation["changed"].to_numpy(dtype=bool)
        run["changed_area_ha"] = float(allocation.loc[changed, "area_ha"].sum())
        run["changed_parcels"] = int(changed.sum())
        for k, v in report.figures.items():
            run[k] = v
        do_marginals = sc.explain.marginal_values if marginals is None else marginals
        t = time.perf_counter()
        binding = binding_rows(model, result.x)
        run["binding"] = [{"family": r.family, "key": r.key, "side": r.side, "unit": r.unit,
                           "activity": float(r.activity), "slack": float(r.slack),
                           **({"period": r.period} if "period" in binding else {})}
                          for r in binding.itertuples()]
        side = {(b["family"], b["key"], b.get("period")): b["side"] for b in run["binding"]}
        for q in run.get("quotas", []):
            q["binding"] = side.get((q["family"], q["key"], q.get("period")), "")
        if do_marginals and len(binding):
            log(f"marginal values: re-solving {min(len(binding), sc.explain.max_marginal_rows)} binding row(s)")
            run["marginal_values"] = marginal_values(problem, sc.solver, result, sc.explain.marginal_step,
                                                     sc.explain.max_marginal_rows, sc.explain.marginal_time_limit)
            run["marginal_values_method"] = ("re-solve with the binding bound moved by "
                                             f"{sc.explain.marginal_step} unit(s); see optimizer/explain.py")
        timings["explain_s"] = time.perf_counter() - t
        if alternatives > 0:
            if problem.phased is not None:
                raise InputError(loaded.label, "periods", "--alternatives is not available for phased scenarios yet",
                                 "run the alternatives on one period's scenario")
            t = time.perf_counter()
            run["alternatives"] = []
            compiled = problem.compiled
            cols = model.columns.iloc[: compiled.n_assign]
            area = instance.area_ha[cols["parcel"].to_numpy()]
            converted = (result.x[: compiled.n_assign] > 0.5) & ~cols["keep"].to_numpy()
            for i, (res, alt_model) in enumerate(_alternatives(compiled, sc.solver, result, area, converted,
                                                               alternatives, min_difference), start=1):
                item = {"index": i, **certificate(res), "status": status_of(res)}
                if res.has_solution:
                    check_plan(alt_model, res)
                    plan = problem.decode(res.x)
                    rep = problem.verify(plan)
                    item.update(gap_to_best=abs(res.objective - result.objective) / max(abs(result.objective), 1e-9),
                                verify=rep.as_dict(), layer=f"alternatives/alternative_{i}.gpkg",
                                changed_area_ha=float(plan.loc[plan["changed"], "area_ha"].sum()))
                    extra_layers[item["layer"]] = plan
                run["alternatives"].append(item)
            run["alternatives_min_difference_pct"] = min_difference
            timings["alternatives_s"] = time.perf_counter() - t
        # a plan stopped by a limit or Ctrl-C is saved, but the exit code says it is not proven
        exit_code = EXIT_OK if result.termination == OPTIMAL else EXIT_NO_SOLUTION
    elif result.termination == INFEASIBLE:
        t = time.perf_counter()
        log("infeasible: re-solving with soft rows relaxed to find the conflicting requirements")
        diag_result, diagnosis, elastic = diagnose(problem, sc.solver, sc.diagnosis)
        timings["diagnosis_s"] = time.perf_counter() - t
        run["diagnosis"] = diagnosis
        run["diagnosis_certificate"] = certificate(diag_result)
        run["diagnosis_total_shortfall"] = float(sum(d["shortfall"] for d in diagnosis))
        if diag_result.has_solution:
            run["diagnosis_weighted_relaxation"] = diag_result.objective
            extra_layers["diagnosis_plan.gpkg"] = problem.decode(diag_result.x[: model.n_cols])
        exit_code = EXIT_INFEASIBLE
    else:
        exit_code = EXIT_NO_SOLUTION
    run["timings"] = {k: round(v, 4) for k, v in timings.items()}
    run.update(extra or {})
    run["scenario"] = loaded.raw
    target = out or (loaded.resolve(sc.output.dir, "output.dir") if sc.output.dir else None)
    if target is not None:
        write_run_dir(target, run, allocation, extra_layers, style=sc.land_uses)
    return RunOutcome(run=run, allocation=allocation, exit_code=exit_code, out=target)


def check_plan(model, result: SolveResult) -> None:
    """A plan that breaks the model's own rows is solver garbage: refuse it rather than report it."""
    violations = model.violations(result.x)
    if len(violations):
        raise SolverFailure(f"{result.solver} returned a plan that breaks {len(violations)} model row(s), e.g. "
                            f"{violations.iloc[0].to_dict()}; not trusting it")
