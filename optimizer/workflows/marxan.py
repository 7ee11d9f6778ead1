"""Marxan projects in and out as one step each: import (and solve, and evaluate a Marxan plan), export.

The pieces are in ``optimizer/marxan/`` (reading, writing, scoring) and the run spine; this module
puts them in the order ``landalloc import-marxan`` promises — import first, then solve, then score
the Marxan plan against the optimum — and returns what the CLI prints or emits as JSON.
"""

from __future__ import annotations

from pathlib import Path

from optimizer.engine.run import solve_scenario
from optimizer.engine.scenario import LoadedScenario, SolverSettings
from optimizer.marxan.project import Imported, evaluate_file, import_project, is_marxan, marxan_settings
from optimizer.marxan.reader import read_project
from optimizer.marxan.writer import export_scenario, write_project


def import_summary(imported: Imported, targets: str) -> dict:
    p = imported.project
    return {"scenario": str(imported.scenario_path), "project": str(p.input_dat), "planning_units": p.n_pu,
            "zones": dict(zip(p.zone_names, p.zone_ids.tolist())), "features": p.n_features,
            "boundary_pairs": int(len(p.bound_i)), "blm": p.blm, "targets": targets,
            "penalties": p.penalty_source, "warnings": list(p.warnings)}


def solve_summary(run: dict, run_dir: Path) -> dict:
    """What an exact solve shows: the certificate, the model, Marxan's score, the diagnosis."""
    data = {k: run.get(k) for k in ("status", "termination", "objective", "bound", "gap", "solver",
                                    "solver_version", "timings", "model", "reachability")}
    data["run_dir"] = str(run_dir)
    if "marxan" in run and "score" in run["marxan"]:
        data["score"] = {k: v for k, v in run["marxan"]["score"].items() if k != "features"}
    if "diagnosis" in run:
        data["diagnosis"] = run["diagnosis"]
    return data


def import_and_solve(project: Path, out: Path, *, targets: str, linearization: str,
                  settings: SolverSettings | None = None, best: Path | None = None) -> tuple[dict, int, Imported]:
    """Import ``project`` into the scenario directory ``out``; with ``settings``, solve it into ``out/run``;
    with ``best``, score that Marxan plan next to the optimum. Returns (summary, exit code, the import):
    the exit code is the solve's, or 1 when the evaluated plan breaks a lock or puzone."""
    imported = import_project(project, out, targets=targets, linearization=linearization)
    data = import_summary(imported, targets)
    exit_code, optimum = 0, None
    if settings is not None:
        outcome = solve_scenario(imported.loaded, Path(out) / "run", solver=settings)
        data["solve"] = solve_summary(outcome.run, outcome.out)
        optimum = outcome.run.get("objective")
        exit_code = outcome.exit_code
    if best is not None:
        data["evaluate"] = evaluate_file(imported.project, best, optimum)
        if data["evaluate"]["violations"] and exit_code == 0:
            exit_code = 1
    return data, exit_code, imported


def export_project(loaded: LoadedScenario, out: Path) -> dict:
    """A scenario as a Marxan with Zones project; a Marxan-imported scenario is written back as its project."""
    if not is_marxan(loaded):
        return export_scenario(loaded, out).as_dict()
    path, _, _ = marxan_settings(loaded)
    p = read_project(path)
    files = write_project(p, out)
    return {"project": str(out), "files": files, "planning_units": p.n_pu, "zones": list(p.zone_names),
            "features": list(p.feature_names), "boundary_pairs": int(len(p.bound_i)), "not_exported": []}
