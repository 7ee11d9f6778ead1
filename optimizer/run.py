"""One solve, end to end: load → compile → reachability → solve → decode → verify → write.

This is the single place that turns a scenario into a run directory; the CLI and the tests call it.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd

from . import __version__
from .compile import Compiled, compile_model
from .decode import decode
from .diagnose import reachability
from .errors import EXIT_INFEASIBLE, EXIT_NO_SOLUTION, EXIT_OK, SolverFailure
from .instance import Instance, load_instance, sha256_file
from .runio import write_run_dir
from .scenario import LoadedScenario, parse_scenario
from .solvers import get_adapter
from .solvers.base import INFEASIBLE, OPTIMAL, SolveResult
from .verify import VerifyReport, verify_allocation

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


def with_solver_overrides(loaded: LoadedScenario, **overrides) -> LoadedScenario:
    """The scenario with CLI solver settings applied (None = keep), re-validated as a whole."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if not overrides:
        return loaded
    raw = dict(loaded.raw)
    raw["solver"] = {**raw.get("solver", {}), **overrides}
    return parse_scenario(raw, loaded.label, loaded.base_dir, loaded.path, loaded.sha256)


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


def _inputs(loaded: LoadedScenario, instance: Instance, compiled: Compiled) -> list[dict]:
    items = []
    if loaded.path is not None:
        items.append({"role": "scenario", "path": str(loaded.path), "sha256": loaded.sha256})
    items.append({"role": "parcels", "path": str(instance.path.resolve()), "sha256": instance.sha256})
    for fam in compiled.families:
        for p in fam.input_paths():
            items.append({"role": fam.name, "path": str(Path(p).resolve()), "sha256": sha256_file(Path(p))})
    return items


def solve_scenario(loaded: LoadedScenario, out: Path | None) -> RunOutcome:
    sc = loaded.scenario
    timings: dict[str, float] = {}
    t = time.perf_counter()
    instance = load_instance(loaded)
    timings["load_s"] = time.perf_counter() - t

    t = time.perf_counter()
    compiled = compile_model(instance, loaded)
    timings["compile_s"] = time.perf_counter() - t
    model = compiled.model
    reach = reachability(compiled, instance)

    run: dict = {
        "landalloc_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "scenario_name": sc.name,
        "scenario_path": str(loaded.path) if loaded.path else None,
        "scenario_dir": str(loaded.base_dir),
        "seed": sc.solver.seed,
        "solver_settings": sc.solver.model_dump(),
        "model": {"columns": model.n_cols, "rows": model.n_rows, "nonzeros": int(model.A.nnz),
                  "parcels": instance.n, "ineligible_pairs": len(model.ineligible), "sense": model.sense},
        "area_source": instance.area_source,
        "reachability": reach,
        "inputs": _inputs(loaded, instance, compiled),
        "versions": versions(),
    }
    unreachable = [r for r in reach if not r["reachable"]]
    adapter = get_adapter(sc.solver.name)
    if unreachable:
        # no solver can succeed; say which quota and by how much before spending solver time
        result = SolveResult(termination=INFEASIBLE, has_solution=False, x=None, objective=None, bound=None,
                             solver=adapter.name, solver_version=adapter.version(), time_s=0.0,
                             seed=sc.solver.seed, threads=sc.solver.threads, detail="pre-solve reachability")
    else:
        result = adapter.solve(model, sc.solver)
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
        "quotas": [],
        "sites": [],
    })
    allocation = None
    if result.has_solution:
        violations = model.violations(result.x)
        if len(violations):
            raise SolverFailure(f"{result.solver} returned a plan that breaks {len(violations)} model row(s), e.g. "
                                f"{violations.iloc[0].to_dict()}; not trusting it")
        t = time.perf_counter()
        allocation = decode(compiled, instance, result.x)
        timings["decode_s"] = time.perf_counter() - t
        t = time.perf_counter()
        report: VerifyReport = verify_allocation(loaded, instance, allocation, compiled.families)
        timings["verify_s"] = time.perf_counter() - t
        run["verify"] = report.as_dict()
        run["area_by_use"] = report.area_by_use
        run["changed_area_ha"] = float(allocation.loc[allocation["changed"], "area_ha"].sum())
        run["changed_parcels"] = int(allocation["changed"].sum())
        for k, v in report.figures.items():
            run[k] = v
        exit_code = EXIT_OK
    else:
        run["diagnosis"] = [{"family": r["family"], "key": r["key"], "required": r["required"],
                             "achievable": r["achievable"], "shortfall": r["shortfall"]} for r in unreachable]
        exit_code = EXIT_INFEASIBLE if result.termination == INFEASIBLE else EXIT_NO_SOLUTION
    run["timings"] = {k: round(v, 4) for k, v in timings.items()}
    run["scenario"] = loaded.raw
    target = out or (loaded.resolve(sc.output.dir, "output.dir") if sc.output.dir else None)
    if target is not None:
        write_run_dir(target, run, allocation)
    return RunOutcome(run=run, allocation=allocation, exit_code=exit_code, out=target)
