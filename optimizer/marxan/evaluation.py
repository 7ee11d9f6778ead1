"""Marxan's own results judged against the exact optimum: a plan (``_best`` / ``_rNNNNN``) scored with
the same objective, selection frequencies (``_ssoln``) compared with the optimal plan, and — for a
project exported from a landalloc scenario — the plan verified by landalloc against that scenario.

The score says nothing about locks (Marxan's solvers never break them), so breaches are reported
on their own: a plan or a frequency that breaks one means the file does not belong to this project,
or the project changed since Marxan ran.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from constraints._api import tolerance
from optimizer.engine.compile import compile_model
from optimizer.engine.decode import decode
from optimizer.engine.instance import load_instance
from optimizer.engine.scenario import load_scenario
from optimizer.engine.verify import verify_allocation
from optimizer.marxan.arrays import RESERVED, MarxanProject
from optimizer.marxan.score import Score, evaluate, missed_targets, plan_violations
from optimizer.marxan.solutions import read_frequencies, read_plan
from optimizer.marxan.writer import SIDECAR


def evaluate_file(p: MarxanProject, best: Path, optimum: float | None = None) -> dict:
    """Score a Marxan ``_best`` / ``_r`` plan; locks/puzone and missed targets are reported separately."""
    zone = read_plan(p, best)
    s = evaluate(p, zone)
    out = {"file": str(best), **s.as_dict(), "violations": plan_violations(p, zone), "missed_targets": missed_targets(s),
           "zone_counts": {c: int(n) for c, n in zip(p.zone_codes(), np.bincount(zone, minlength=p.n_zones))}}
    if optimum is not None:
        out["above_optimum"] = s.total - optimum
        out["above_optimum_rel"] = (s.total - optimum) / max(abs(optimum), 1e-9)
    sidecar = p.input_dat.parent / SIDECAR
    if sidecar.exists():
        out["landalloc"] = verify_against_scenario(p, zone, json.loads(sidecar.read_text(encoding="utf-8")), s)
    return out


def evaluate_frequencies(p: MarxanProject, path: Path, optimum_zone: np.ndarray | None = None) -> dict:
    """A classic ``_ssoln`` file: how often Marxan's NUMREPS runs reserved each unit, lock breaches (a locked-in
    unit not reserved in every run, a locked-out unit ever reserved), and — beside the optimal plan — how
    often Marxan reserved the units the optimum reserves and those it leaves out."""
    count = read_frequencies(p, path)
    runs = int(p.options.get("NUMREPS", 0) or 0)
    out: dict = {"file": str(path), "runs": runs, "units": p.n_pu,
                 "never_reserved": int((count == 0).sum()), "violations": []}
    if runs <= 0 or count.max() > runs:
        runs = int(count.max())
        out["note"] = f"counts exceed NUMREPS {p.options.get('NUMREPS')}: frequencies taken against {runs} runs"
        out["runs"] = runs
    out["always_reserved"] = int((count == runs).sum()) if runs else 0
    for st, bad, what in ((2, count < runs, "locked in (status 2) but not reserved in every run"),
                          (3, count > 0, "locked out (status 3) but reserved in some run")):
        units = np.nonzero((p.status == st) & bad)[0]
        if len(units):
            out["violations"].append({"kind": "status", "message": f"{len(units)} PU(s) {what}",
                                      "planning_units": p.pu_ids[units].tolist()[:20]})
    if optimum_zone is not None and runs:
        freq = count / runs
        inside = optimum_zone == RESERVED
        out["optimum"] = {
            "reserved": int(inside.sum()),
            "mean_frequency_reserved": float(freq[inside].mean()) if inside.any() else None,
            "mean_frequency_not_reserved": float(freq[~inside].mean()) if (~inside).any() else None,
            "reserved_never_selected": p.pu_ids[inside & (count == 0)].tolist()[:20],
            "not_reserved_always_selected": p.pu_ids[~inside & (count == runs)].tolist()[:20]}
    return out


def _plan_columns(p: MarxanProject, zone: np.ndarray, sidecar: dict, instance) -> tuple[list[tuple[int, str]], list[str]]:
    """(parcel index, use) per PU: the zone's use, or — classic — the reserve use or the parcel's current use."""
    parcel_pos = {(k.item() if hasattr(k, "item") else k): n for n, k in enumerate(instance.ids)}
    chosen, problems = [], []
    for i, z in enumerate(zone):
        parcel = sidecar["pu_to_parcel"].get(str(int(p.pu_ids[i])))
        k = parcel_pos.get(parcel)
        if k is None:
            problems.append(f"PU {p.pu_ids[i]} → parcel {parcel}: not in the scenario's parcels")
            continue
        if sidecar.get("flavour") == "classic":
            use = sidecar["reserve_use"] if z == RESERVED else str(instance.current_use[k])
        else:
            use = sidecar["zone_to_use"].get(str(int(p.zone_ids[z])))
        chosen.append((k, use))
    return chosen, problems


def verify_against_scenario(p: MarxanProject, zone: np.ndarray, sidecar: dict, s: Score) -> dict:
    """A plan of a project exported from a landalloc scenario, verified by landalloc against that scenario."""
    path = sidecar.get("scenario")
    if not path or not Path(path).exists():
        return {"ok": None, "message": f"source scenario {path!r} not found; cannot verify with landalloc"}
    loaded = load_scenario(path)
    notes = []
    if sidecar.get("scenario_sha256") and loaded.sha256 != sidecar["scenario_sha256"]:
        notes.append("the scenario changed since the export")
    instance = load_instance(loaded)
    compiled = compile_model(instance, loaded)
    cols = compiled.model.columns.iloc[: compiled.n_assign]
    col_of = {(int(a), str(u)): c for c, (a, u) in enumerate(zip(cols["parcel"], cols["use"]))}
    chosen, problems = _plan_columns(p, zone, sidecar, instance)
    x = np.zeros(compiled.model.n_cols)
    for k, use in chosen:
        c = col_of.get((k, use))
        if c is None:
            problems.append(f"parcel {instance.ids[k]}: use {use} is not eligible")
            continue
        x[c] = 1.0
    if problems:
        return {"ok": False, "message": "; ".join(problems[:10]), "notes": notes}
    plan = decode(compiled, instance, x)
    report = verify_allocation(loaded, instance, plan, compiled.families)
    expected = sidecar["cost_sign"] * s.cost + sidecar.get("objective_offset", 0.0)
    return {"ok": report.ok, "scenario": str(path), "violations": [v.as_dict() for v in report.violations],
            "landalloc_objective": report.objective, "from_marxan_cost": expected,
            "objective_matches": report.objective is not None and abs(report.objective - expected) <= tolerance(expected),
            "quotas": report.figures.get("quotas", []), "notes": notes}
