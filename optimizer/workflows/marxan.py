"""Marxan projects in and out as one step each: import (and solve, and evaluate Marxan's results), export.

The pieces are in ``optimizer/marxan/`` (reading, writing, scoring) and the run spine; this module
puts them in the order ``landalloc import-marxan`` promises — import first, then solve, then score
Marxan's plan and selection frequencies against the optimum — and returns what the CLI prints or
emits as JSON.
"""

from __future__ import annotations

from pathlib import Path

from optimizer.engine.errors import InputError
from optimizer.engine.run import solve_scenario
from optimizer.engine.scenario import LoadedScenario, SolverSettings
from optimizer.marxan.classic import status_counts
from optimizer.marxan.evaluation import evaluate_file, evaluate_frequencies
from optimizer.marxan.export import export_classic, export_scenario
from optimizer.marxan.project import Imported, import_project, is_marxan, marxan_settings
from optimizer.marxan.reader import read_project
from optimizer.marxan.solutions import is_frequency_file, read_plan
from optimizer.marxan.writer import write_project

EXPORT_FLAVOURS = ("auto", "classic", "zones")


def import_summary(imported: Imported, targets: str) -> dict:
    p = imported.project
    out = {"scenario": str(imported.scenario_path), "project": str(p.input_dat), "flavour": p.flavour,
           "planning_units": p.n_pu, "zones": dict(zip(p.zone_names, p.zone_ids.tolist())), "features": p.n_features,
           "boundary_pairs": int(len(p.bound_i)), "blm": p.blm, "targets": targets, "penalties": p.penalty_source,
           "approximations": list(p.approximations), "warnings": list(p.warnings)}
    if p.classic:
        out["status"] = status_counts(p.status)
    return out


def solve_summary(run: dict, run_dir: Path) -> dict:
    """What an exact solve shows: the certificate, the model, Marxan's score, the diagnosis."""
    data = {k: run.get(k) for k in ("status", "termination", "objective", "bound", "gap", "solver",
                                    "solver_version", "timings", "model", "reachability")}
    data["run_dir"] = str(run_dir)
    mx = run.get("marxan", {})
    if "score" in mx:
        data["score"] = {k: v for k, v in mx["score"].items() if k != "features"}
    if "cost_threshold" in mx:
        data["cost_threshold"] = mx["cost_threshold"]
    if "diagnosis" in run:
        data["diagnosis"] = run["diagnosis"]
    return data


def _split(files: list[Path]) -> tuple[Path | None, Path | None]:
    """At most one plan and one selection-frequency file."""
    plans = [f for f in files if not is_frequency_file(f)]
    freqs = [f for f in files if f not in plans]
    for kind, found in (("plan (_best / _r)", plans), ("selection-frequency (_ssoln)", freqs)):
        if len(found) > 1:
            raise InputError("command line", "--evaluate", f"{len(found)} {kind} files: {', '.join(map(str, found))}",
                             "give at most one plan and one _ssoln file")
    return (plans[0] if plans else None), (freqs[0] if freqs else None)


def import_and_solve(project: Path, out: Path, *, targets: str | None, linearization: str, flavour: str = "auto",
                     settings: SolverSettings | None = None,
                     evaluate: list[Path] | tuple[Path, ...] = ()) -> tuple[dict, int, Imported]:
    """Import ``project`` into the scenario directory ``out``; with ``settings``, solve it into ``out/run``;
    score Marxan's plan (``_best`` / ``_r``) and selection frequencies (``_ssoln``) in ``evaluate`` next to
    the optimum. Returns (summary, exit code, the import): the exit code is the solve's, or 1 when
    Marxan's plan or frequencies break a lock (or puzone)."""
    imported = import_project(project, out, targets=targets, linearization=linearization, flavour=flavour)
    p = imported.project
    targets = imported.loaded.scenario.metadata["marxan"]["targets"]
    best, freq = _split(list(evaluate))
    data = import_summary(imported, targets)
    exit_code, optimum, optimum_zone = 0, None, None
    if settings is not None:
        outcome = solve_scenario(imported.loaded, Path(out) / "run", solver=settings)
        data["solve"] = solve_summary(outcome.run, outcome.out)
        optimum = outcome.run.get("objective")
        exit_code = outcome.exit_code
        plan_file = Path(outcome.out) / "best.csv"
        if plan_file.exists():
            optimum_zone = read_plan(p, plan_file)
    for key, result in (("evaluate", best and evaluate_file(p, best, optimum)),
                        ("selection_frequency", freq and evaluate_frequencies(p, freq, optimum_zone))):
        if result:
            data[key] = result
            if result["violations"] and exit_code == 0:
                exit_code = 1
    return data, exit_code, imported


def export_project(loaded: LoadedScenario, out: Path, flavour: str = "auto") -> dict:
    """A scenario as a Marxan project: classic Marxan when it allocates one use (``auto``) or on request,
    else Marxan with Zones; a Marxan-imported scenario is written back as its project."""
    if flavour not in EXPORT_FLAVOURS:
        raise ValueError(f"flavour must be one of {EXPORT_FLAVOURS}")
    if not is_marxan(loaded):
        classic = flavour == "classic" or (flavour == "auto" and len(loaded.scenario.allocate) == 1)
        report = export_classic(loaded, out) if classic else export_scenario(loaded, out)
        return {"flavour": "classic" if classic else "zones", **report.as_dict()}
    cfg = marxan_settings(loaded)
    p = read_project(cfg.project, cfg.flavour)
    if flavour not in ("auto", p.flavour):
        raise InputError(loaded.label, "metadata.marxan.flavour", f"the scenario is an imported {p.flavour} project",
                         f"export it as {p.flavour} (or --flavour auto)")
    files = write_project(p, out)
    return {"flavour": p.flavour, "project": str(out), "files": files, "planning_units": p.n_pu,
            "zones": list(p.zone_names), "features": list(p.feature_names), "boundary_pairs": int(len(p.bound_i)),
            "not_exported": []}
