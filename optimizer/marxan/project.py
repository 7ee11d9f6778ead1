"""A Marxan project as a landalloc scenario directory, and Marxan plans evaluated against the optimum.

``landalloc import-marxan PROJECT --out DIR`` writes

    DIR/scenario.yaml     a valid landalloc scenario: zones as land uses (all in ``allocate``), sense
                          minimize, and ``metadata.marxan`` — the model's definition:
                          ``project`` (marxan/input.dat), ``targets`` (hard | soft), ``linearization``
    DIR/marxan/           the project rewritten canonically (every number round-trips, penalties fixed
                          in input/penalty.dat — Marxan's start-up estimate when the source had none)
    DIR/parcels.csv       one row per PU: lock, allowed zones, cost in every zone  (a view, generated)
    DIR/features.csv      one row per feature: targets, penalty, spf, total amount  (a view, generated)

Planning units have no geometry, so such a scenario (``metadata.marxan``) is solved and verified as
a ``MarxanProject`` problem (``problem.py``) by the same run spine as every other scenario. Edit the
files under ``marxan/`` (or ``metadata.marxan``) to change the model; the CSV views are regenerated
by the next import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from optimizer import __version__
from optimizer.engine.compile import compile_model
from optimizer.engine.decode import decode
from optimizer.engine.errors import InputError
from optimizer.engine.files import sha256_file, write_dir_atomically
from optimizer.engine.instance import load_instance
from optimizer.engine.scenario import LoadedScenario, load_scenario, parse_scenario
from optimizer.engine.verify import verify_allocation
from optimizer.marxan.model import LINEARIZATIONS, TARGETS
from optimizer.marxan.reader import MarxanProject, read_project, read_solution
from optimizer.marxan.score import Score, evaluate, missed_targets, plan_violations
from optimizer.marxan.writer import SIDECAR, _token, write_project_files

SCENARIO = "scenario.yaml"
PROJECT_DIR = "marxan"
PALETTE = ["#bdbdbd", "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1f78b4", "#fb9a99"]


def zone_codes(p: MarxanProject) -> list[str]:
    """Land-use codes for the zones: the zone names when they are distinct, else Z<id>."""
    names = [_token(n) for n in p.zone_names]
    return names if len(set(names)) == len(names) else [f"Z{int(z)}" for z in p.zone_ids]


def project_inputs(p: MarxanProject) -> list[dict]:
    items = [{"role": "input.dat", "path": str(p.input_dat), "sha256": sha256_file(p.input_dat)}]
    for key, path in sorted(p.files.items()):
        items.append({"role": key, "path": str(path), "sha256": sha256_file(path)})
    return items


def scenario_dict(p: MarxanProject, targets: str, linearization: str, source: Path) -> dict:
    codes = zone_codes(p)
    return {
        "name": _token(p.name),
        "title": f"Marxan with Zones project {p.name}",
        "description": ("Imported by `landalloc import-marxan`. The model is Marxan with Zones' score, solved exactly; "
                        "it is defined by metadata.marxan and the files under marxan/ (parcels.csv and features.csv are "
                        "generated views). Planning units have no geometry: `landalloc solve` routes this scenario to "
                        "optimizer/marxan."),
        "parcels": {"path": "parcels.csv", "fields": {"id": "puid"}},
        "land_uses": {c: {"name_vi": str(n), "name_en": str(n), "colour": PALETTE[k % len(PALETTE)], "group": "unused"}
                      for k, (c, n) in enumerate(zip(codes, p.zone_names))},
        "allocate": codes,
        "objective": {"sense": "minimize"},
        "solver": {"name": "highs", "time_limit": 300.0, "gap": 0.0, "threads": 1, "seed": 0},
        "metadata": {"marxan": {
            "project": f"{PROJECT_DIR}/input.dat",
            "targets": targets,
            "linearization": linearization,
            "zones": {c: int(z) for c, z in zip(codes, p.zone_ids)},
            "penalties": ("fixed by the source's PENALTYNAME file" if p.penalty_source == "file"
                          else "Marxan's start-up estimate, frozen in marxan/input/penalty.dat"),
            "imported_from": {"input_dat": str(source), "sha256": sha256_file(source)},
            "warnings": list(p.warnings),
        }},
    }


def parcels_view(p: MarxanProject) -> pd.DataFrame:
    codes = zone_codes(p)
    allowed = p.allowed
    zc = p.zone_costs
    data = {"puid": p.pu_ids,
            "locked_zone": [str(int(p.zone_ids[z])) if z >= 0 else "" for z in p.lock],
            "allowed_zones": [" ".join(str(int(z)) for z in p.zone_ids[row]) for row in allowed],
            "fixed_boundary": p.fixed}
    for k, c in enumerate(codes):
        data[f"cost_{c}"] = zc[:, k]
    return pd.DataFrame(data)


def features_view(p: MarxanProject) -> pd.DataFrame:
    data = {"feature": p.feature_ids, "name": p.feature_names, "target": p.target, "target_occ": p.target_occ,
            "spf": p.spf, "penalty": p.penalty, "total_amount": p.total_amount(), "occurrences": p.total_occurrences()}
    for k, c in enumerate(zone_codes(p)):
        data[f"zone_target_{c}"] = p.zone_target[:, k]
        data[f"zone_target_occ_{c}"] = p.zone_target_occ[:, k]
    return pd.DataFrame(data)


@dataclass
class Imported:
    project: MarxanProject
    scenario_path: Path
    loaded: LoadedScenario


def import_project(project: str | Path, out: Path, *, targets: str = "hard",
                   linearization: str = "aggregated") -> Imported:
    """Read a Marxan project and write it as a landalloc scenario directory ``out`` (replaced atomically)."""
    p = read_project(project)
    raw = scenario_dict(p, targets, linearization, p.input_dat)
    out = Path(out)
    parse_scenario(raw, str(out / SCENARIO), out)  # the scenario must validate before anything is written

    def fill(tmp: Path) -> None:
        write_project_files(p, tmp / PROJECT_DIR, comment=f"Imported from {p.input_dat}")
        parcels_view(p).to_csv(tmp / "parcels.csv", index=False)
        features_view(p).to_csv(tmp / "features.csv", index=False)
        header = (f"# Marxan with Zones project imported by landalloc {__version__} from {p.input_dat}\n"
                  "# The model is defined by metadata.marxan and the files under marxan/; edit those.\n"
                  "# metadata.marxan.targets: hard (every target is a constraint) or soft (Marxan's shortfall penalty).\n")
        (tmp / SCENARIO).write_text(header + yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")

    write_dir_atomically(out, fill, SCENARIO)
    return Imported(project=p, scenario_path=out / SCENARIO, loaded=load_scenario(out / SCENARIO))


def is_marxan(loaded: LoadedScenario) -> bool:
    return "marxan" in loaded.scenario.metadata


def marxan_settings(loaded: LoadedScenario) -> tuple[Path, str, str]:
    cfg = loaded.scenario.metadata.get("marxan")
    if not isinstance(cfg, dict) or "project" not in cfg:
        raise InputError(loaded.label, "metadata.marxan.project", "missing", "name the project's input.dat, e.g. marxan/input.dat")
    targets = cfg.get("targets", "hard")
    if targets not in TARGETS:
        raise InputError(loaded.label, "metadata.marxan.targets", f"{targets!r} is not one of {', '.join(TARGETS)}",
                         "hard: every target is a constraint; soft: Marxan's shortfall penalty")
    lin = cfg.get("linearization", "aggregated")
    if lin not in LINEARIZATIONS:
        raise InputError(loaded.label, "metadata.marxan.linearization", f"{lin!r} is not one of {', '.join(LINEARIZATIONS)}",
                         "use aggregated (default, compact) or marginal (tighter LP bound)")
    return loaded.resolve(str(cfg["project"]), "metadata.marxan.project"), targets, lin


# ------------------------------------------------------------------------------------------- evaluation

def evaluate_file(p: MarxanProject, best: Path, optimum: float | None = None) -> dict:
    """Score a Marxan ``_best`` / ``_r`` plan; locks/puzone and missed targets are reported separately."""
    zone = read_solution(p, best)
    s = evaluate(p, zone)
    out = {"file": str(best), **s.as_dict(), "violations": plan_violations(p, zone), "missed_targets": missed_targets(s),
           "zone_counts": {c: int(n) for c, n in zip(zone_codes(p), np.bincount(zone, minlength=p.n_zones))}}
    if optimum is not None:
        out["above_optimum"] = s.total - optimum
        out["above_optimum_rel"] = (s.total - optimum) / max(abs(optimum), 1e-9)
    sidecar = p.input_dat.parent / SIDECAR
    if sidecar.exists():
        out["landalloc"] = verify_against_scenario(p, zone, json.loads(sidecar.read_text(encoding="utf-8")), s)
    return out


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
    parcel_pos = {(k.item() if hasattr(k, "item") else k): n for n, k in enumerate(instance.ids)}
    pu_to_parcel = sidecar["pu_to_parcel"]
    zone_to_use = sidecar["zone_to_use"]
    col_of = {(int(a), str(u)): c for c, (a, u) in enumerate(zip(cols["parcel"], cols["use"]))}
    x = np.zeros(compiled.model.n_cols)
    problems = []
    for i, z in enumerate(zone):
        parcel = pu_to_parcel.get(str(int(p.pu_ids[i])))
        use = zone_to_use.get(str(int(p.zone_ids[z])))
        k = parcel_pos.get(parcel)
        c = col_of.get((k, use)) if k is not None else None
        if c is None:
            problems.append(f"PU {p.pu_ids[i]} → parcel {parcel}: use {use} is not eligible")
            continue
        x[c] = 1.0
    if problems:
        return {"ok": False, "message": "; ".join(problems[:10]), "notes": notes}
    plan = decode(compiled, instance, x)
    report = verify_allocation(loaded, instance, plan, compiled.families)
    expected = sidecar["cost_sign"] * s.cost + sidecar.get("objective_offset", 0.0)
    return {"ok": report.ok, "scenario": str(path), "violations": [v.as_dict() for v in report.violations],
            "landalloc_objective": report.objective, "from_marxan_cost": expected,
            "objective_matches": report.objective is not None and abs(report.objective - expected) <= 1e-6 * max(1.0, abs(expected)),
            "quotas": report.figures.get("quotas", []), "notes": notes}
