"""A Marxan project as a landalloc scenario directory.

``landalloc import-marxan PROJECT --out DIR`` writes

    DIR/scenario.yaml     a valid landalloc scenario: zones as land uses (all in ``allocate``; a classic
                          project's are ``available`` and ``reserved``), sense minimize, and
                          ``metadata.marxan`` — the model's definition: ``project`` (marxan/input.dat),
                          ``flavour`` (zones | classic), ``targets`` (hard | soft), ``linearization``,
                          and what the import could not honour exactly (``approximations``)
    DIR/marxan/           the project rewritten canonically (every number round-trips; Marxan with Zones'
                          penalties fixed in input/penalty.dat — its start-up estimate when the source had
                          none; a classic project keeps its RUNMODE, so its estimate is recomputed exactly)
    DIR/parcels.csv       one row per PU: status / lock, allowed zones, cost in every zone  (a view, generated)
    DIR/features.csv      one row per feature: targets, penalty, spf, total amount  (a view, generated)

Planning units have no geometry, so such a scenario (``metadata.marxan``) is solved and verified as
a ``MarxanProject`` problem (``problem.py``) by the same run spine as every other scenario. Edit the
files under ``marxan/`` (or ``metadata.marxan``) to change the model; the CSV views are regenerated
by the next import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from optimizer import __version__
from optimizer.engine.errors import InputError
from optimizer.engine.files import sha256_file, write_dir_atomically
from optimizer.engine.scenario import LoadedScenario, load_scenario, parse_scenario
from optimizer.marxan.arrays import FLAVOURS, MarxanProject
from optimizer.marxan.classic import STATUS, status_counts
from optimizer.marxan.model import LINEARIZATIONS, TARGETS
from optimizer.marxan.reader import read_project
from optimizer.marxan.tables import token
from optimizer.marxan.writer import write_project_files

SCENARIO = "scenario.yaml"
PROJECT_DIR = "marxan"
PALETTE = ["#bdbdbd", "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1f78b4", "#fb9a99"]


def _penalties_note(p: MarxanProject) -> str:
    if p.penalty_source == "file":
        return "fixed by the source's PENALTYNAME file"
    if p.classic:
        return f"classic Marxan's start-up estimate ({p.penalty_source}), recomputed from marxan/ exactly as Marxan does"
    return "Marxan's start-up estimate, frozen in marxan/input/penalty.dat"


def project_inputs(p: MarxanProject) -> list[dict]:
    items = [{"role": "input.dat", "path": str(p.input_dat), "sha256": sha256_file(p.input_dat)}]
    for key, path in sorted(p.files.items()):
        items.append({"role": key, "path": str(path), "sha256": sha256_file(path)})
    return items


def scenario_dict(p: MarxanProject, targets: str, linearization: str, source: Path) -> dict:
    codes = p.zone_codes()
    kind = "Marxan" if p.classic else "Marxan with Zones"
    marxan = {
        "project": f"{PROJECT_DIR}/input.dat",
        "flavour": p.flavour,
        "targets": targets,
        "linearization": linearization,
        "zones": {c: int(z) for c, z in zip(codes, p.zone_ids)},
        "penalties": _penalties_note(p),
        "imported_from": {"input_dat": str(source), "sha256": sha256_file(source)},
        "approximations": list(p.approximations),
        "warnings": list(p.warnings),
    }
    if p.classic:
        marxan["status"] = status_counts(p.status)
    return {
        "name": token(p.name),
        "title": f"{kind} project {p.name}",
        "description": (f"Imported by `landalloc import-marxan`. The model is {kind}'s score, solved exactly; "
                        "it is defined by metadata.marxan and the files under marxan/ (parcels.csv and features.csv are "
                        "generated views). Planning units have no geometry: `landalloc solve` routes this scenario to "
                        "optimizer/marxan."),
        "parcels": {"path": "parcels.csv", "fields": {"id": "puid"}},
        "land_uses": {c: {"name_vi": str(n), "name_en": str(n), "colour": PALETTE[k % len(PALETTE)], "group": "unused"}
                      for k, (c, n) in enumerate(zip(codes, p.zone_names))},
        "allocate": codes,
        "objective": {"sense": "minimize"},
        "solver": {"name": "highs", "time_limit": 300.0, "gap": 0.0, "threads": 1, "seed": 0},
        "metadata": {"marxan": marxan},
    }


def parcels_view(p: MarxanProject) -> pd.DataFrame:
    codes = p.zone_codes()
    allowed = p.allowed
    zc = p.zone_costs
    data = {"puid": p.pu_ids}
    if p.classic:
        data["status"] = p.status
        data["status_meaning"] = [STATUS[int(v)] for v in p.status]
    data.update({"locked_zone": [str(int(p.zone_ids[z])) if z >= 0 else "" for z in p.lock],
                 "allowed_zones": [" ".join(str(int(z)) for z in p.zone_ids[row]) for row in allowed],
                 "fixed_boundary": p.fixed})
    for k, c in enumerate(codes):
        data[f"cost_{c}"] = zc[:, k]
    return pd.DataFrame(data)


def features_view(p: MarxanProject) -> pd.DataFrame:
    data = {"feature": p.feature_ids, "name": p.feature_names, "target": p.target, "target_occ": p.target_occ,
            "spf": p.spf, "penalty": p.penalty, "total_amount": p.total_amount(), "occurrences": p.total_occurrences()}
    if p.classic:
        data["prop"] = p.prop
        return pd.DataFrame(data)
    for k, c in enumerate(p.zone_codes()):
        data[f"zone_target_{c}"] = p.zone_target[:, k]
        data[f"zone_target_occ_{c}"] = p.zone_target_occ[:, k]
    return pd.DataFrame(data)


@dataclass
class Imported:
    project: MarxanProject
    scenario_path: Path
    loaded: LoadedScenario


def import_project(project: str | Path, out: Path, *, targets: str | None = None,
                   linearization: str = "auto", flavour: str = "auto") -> Imported:
    """Read a Marxan project and write it as a landalloc scenario directory ``out`` (replaced atomically).
    ``targets`` None: soft, as Marxan scores a plan (a shortfall is penalized, not forbidden), so the
    optimum is the score Marxan users compare; hard on request."""
    p = read_project(project, flavour)
    targets = targets or "soft"
    raw = scenario_dict(p, targets, linearization, p.input_dat)
    out = Path(out)
    parse_scenario(raw, str(out / SCENARIO), out)  # the scenario must validate before anything is written

    def fill(tmp: Path) -> None:
        write_project_files(p, tmp / PROJECT_DIR, comment="Imported by landalloc import-marxan; the source is named in ../scenario.yaml")
        parcels_view(p).to_csv(tmp / "parcels.csv", index=False)
        features_view(p).to_csv(tmp / "features.csv", index=False)
        kind = "Marxan" if p.classic else "Marxan with Zones"
        header = (f"# {kind} project imported by landalloc {__version__} from {p.input_dat}\n"
                  "# The model is defined by metadata.marxan and the files under marxan/; edit those.\n"
                  "# metadata.marxan.targets: hard (every target is a constraint) or soft (Marxan's shortfall penalty).\n")
        (tmp / SCENARIO).write_text(header + yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")

    write_dir_atomically(out, fill, SCENARIO)
    return Imported(project=p, scenario_path=out / SCENARIO, loaded=load_scenario(out / SCENARIO))


def is_marxan(loaded: LoadedScenario) -> bool:
    return "marxan" in loaded.scenario.metadata


@dataclass(frozen=True)
class MarxanSettings:
    """metadata.marxan of an imported scenario: which project, read how, solved how."""
    project: Path
    flavour: str
    targets: str
    linearization: str


def marxan_settings(loaded: LoadedScenario) -> MarxanSettings:
    cfg = loaded.scenario.metadata.get("marxan")
    if not isinstance(cfg, dict) or "project" not in cfg:
        raise InputError(loaded.label, "metadata.marxan.project", "missing", "name the project's input.dat, e.g. marxan/input.dat")
    flavour = cfg.get("flavour", "auto")
    if flavour not in ("auto", *FLAVOURS):
        raise InputError(loaded.label, "metadata.marxan.flavour", f"{flavour!r} is not one of auto, {', '.join(FLAVOURS)}",
                         "classic: one reserve decision per unit; zones: Marxan with Zones")
    targets = cfg.get("targets", "soft" if flavour == "classic" else "hard")
    if targets not in TARGETS:
        raise InputError(loaded.label, "metadata.marxan.targets", f"{targets!r} is not one of {', '.join(TARGETS)}",
                         "hard: every target is a constraint; soft: Marxan's shortfall penalty")
    lin = cfg.get("linearization", "auto")
    if lin not in LINEARIZATIONS:
        raise InputError(loaded.label, "metadata.marxan.linearization", f"{lin!r} is not one of {', '.join(LINEARIZATIONS)}",
                         "use auto (default: chosen from the zone boundary costs), aggregated (compact) or marginal (tighter LP bound)")
    return MarxanSettings(loaded.resolve(str(cfg["project"]), "metadata.marxan.project"), flavour, targets, lin)
