"""Run directories, written atomically: a temp directory is filled, then renamed into place.

An existing run directory is replaced only after the new one is complete, so a killed process
leaves either the previous outputs or the new ones, never a mix — and a run without a plan (stopped
before its first plan, or infeasible) never replaces a run that has one: it goes beside it
(:func:`place_run`) unless the caller overwrites on purpose.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from optimizer.engine.errors import InputError
from optimizer.engine.files import atomic_write, sha256_file, write_dir_atomically
from optimizer.engine.instance import read_parcel_layer
from optimizer.engine.layers import read_cadastral
from optimizer.engine.qgis_style import STYLE_NAME, add_style
from optimizer.engine.text import nfc

RUN_JSON = "run.json"
ALLOCATION = "allocation.gpkg"
LAYER = "allocation"


def _json_default(o: Any):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=_json_default, allow_nan=False)


def write_layer(gdf: gpd.GeoDataFrame, path: Path, layer: str = LAYER) -> None:
    """A GeoPackage layer, checked once written: on a full disk GDAL can report success and leave a file
    without the GeoPackage tables, which only a later reader would find out."""
    pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG", dataset_options={"VERSION": "1.2"})
    con = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()
    missing = {"gpkg_contents", "gpkg_spatial_ref_sys", layer} - tables
    if missing:
        raise OSError(f"{path}: the GeoPackage was written incomplete (no {', '.join(sorted(missing))})")


def atomic_write_layer(gdf: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    """A single-layer GeoPackage written beside its target, then renamed over it."""
    atomic_write(path, lambda tmp: write_layer(gdf, tmp, layer=layer), suffix=".tmp.gpkg")


SOLUTION = "solution.npz"
"""the solver's plan as the model's column values, with the model's fingerprint: what pricing a run's
binding rows later (``landalloc explain RUN --marginals``) starts from without solving it again"""


def model_fingerprint(model) -> str:
    """The sha256 of a compiled model's matrix, bounds and objective: the same inputs compile to the same
    fingerprint, so a saved solution is only reused for the model it solves."""
    h = hashlib.sha256()
    for a in (model.A.indptr, model.A.indices, model.A.data, model.c, model.col_lo, model.col_hi,
              model.row_lo, model.row_hi, model.integer):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def write_solution(path: Path, model, x: np.ndarray) -> None:
    nz = np.nonzero(x)[0]
    np.savez_compressed(path, n=np.array(len(x)), index=nz, value=x[nz],
                        fingerprint=np.array(model_fingerprint(model)))


def read_solution(run_dir: Path, model) -> np.ndarray:
    """The saved column values of a run for ``model``; InputError when there are none or the model differs."""
    path = Path(run_dir) / SOLUTION
    if not path.is_file():
        raise InputError(str(run_dir), SOLUTION, "this run kept no solution (it has no plan, or an older landalloc "
                         "wrote it)", "solve the scenario again")
    with np.load(path) as z:
        if str(z["fingerprint"]) != model_fingerprint(model) or int(z["n"]) != model.n_cols:
            raise InputError(str(path), None, "the scenario or its inputs compile to another model than the run solved",
                             "solve the scenario again")
        x = np.zeros(int(z["n"]))
        x[z["index"]] = z["value"]
    return x


def write_run_dir(out: Path, run: dict, allocation: gpd.GeoDataFrame | None,
                  extra_layers: dict[str, gpd.GeoDataFrame] | None = None, style: dict | None = None,
                  solution: tuple | None = None) -> Path:
    """Write run.json, allocation.gpkg and any extra layers (relative path → layer ``allocation``:
    alternatives, the diagnosis plan); with ``style`` (code → land use) every plan layer carries a QGIS
    style coloured like the reports — the one place that writes it; ``solution`` (model, x): the column
    values, as :data:`SOLUTION`."""

    def fill(tmp: Path) -> None:
        if solution is not None:
            write_solution(tmp / SOLUTION, *solution)
        layers = {ALLOCATION: allocation} if allocation is not None else {}
        for rel, gdf in {**layers, **(extra_layers or {})}.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            write_layer(gdf, tmp / rel)
            if style:
                add_style(tmp / rel, style)
        with open(tmp / RUN_JSON, "w", encoding="utf-8") as f:
            f.write(dumps(run))
            f.flush()
            os.fsync(f.fileno())

    return write_dir_atomically(out, fill, RUN_JSON)


def read_run(run_dir: Path) -> tuple[dict, gpd.GeoDataFrame | None]:
    run_dir = Path(run_dir)
    path = run_dir / RUN_JSON
    if not path.is_file():
        raise InputError(str(run_dir), None, f"no {RUN_JSON} here: not a landalloc run directory",
                         "give the directory written by `landalloc solve --out`")
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(str(path), f"line {e.lineno}", f"not valid JSON: {e.msg}", "re-run the solve") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise InputError(str(path), None, f"not readable as JSON text: {e}", "re-run the solve") from None
    if not isinstance(run, dict):
        raise InputError(str(path), None, f"holds a JSON {type(run).__name__}, not the object a run.json is",
                         "re-run the solve")
    gpkg = run_dir / ALLOCATION
    allocation = None
    if gpkg.exists():
        try:
            allocation = pyogrio.read_dataframe(gpkg, layer=LAYER)
        except Exception as e:  # noqa: BLE001 - GDAL's errors for a damaged or truncated file
            raise InputError(str(gpkg), f"layer {LAYER}", f"cannot be read ({str(e).strip()[:200]}): the file is "
                             "damaged or incomplete", "re-run the solve into this directory") from None
    return run, allocation


def holds_plan(run_dir: Path) -> bool:
    """Whether a run directory holds a run with a plan: its run.json says optimal or feasible, or it has
    an allocation layer (a run.json that cannot be read does not make a plan beside it worthless)."""
    run_dir = Path(run_dir)
    try:
        status = json.loads((run_dir / RUN_JSON).read_text(encoding="utf-8")).get("status")
    except (OSError, ValueError, AttributeError):
        status = None
    return status in ("optimal", "feasible") or (run_dir / ALLOCATION).is_file()


def place_run(target: Path, status: str, has_plan: bool, overwrite: bool) -> Path:
    """Where a run is written: ``target``, unless the run has no plan, ``target`` holds one and the
    caller did not ask to ``overwrite`` — then beside it, ``TARGET.incomplete-YYYYMMDDTHHMMSSZ`` (no plan
    within the limits) or ``TARGET.infeasible-…``, so the earlier plan stays where readers expect it."""
    target = Path(target)
    if has_plan or overwrite or not holds_plan(target):
        return target
    kind = "infeasible" if status == "infeasible" else "incomplete"
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    beside = target.with_name(f"{target.name}.{kind}-{stamp}")
    n = 1
    while beside.exists():
        n += 1
        beside = target.with_name(f"{target.name}.{kind}-{stamp}-{n}")
    return beside


def room_needed(parcel_path: Path, plans: int) -> int:
    """Bytes a run directory may take, for the pre-flight check: each plan layer about twice the parcel
    input (geometry plus the plan's columns and a spatial index), plus a megabyte for run.json."""
    try:
        size = os.stat(parcel_path).st_size
    except OSError:
        size = 0
    return 2 * size * max(plans, 1) + 1_000_000


# --- a run read back with its inputs (reports, compare, sweep) --------------------------------------

def plan_with_inputs(run: dict, allocation: gpd.GeoDataFrame | None, *, final_period: bool = False,
                     label: str = RUN_JSON) -> tuple[gpd.GeoDataFrame | None, list[str]]:
    """(the plan joined by parcel id with the other attributes of the run's parcel input, notes).

    Figures such as converted rice land, displaced households or per-commune tables need attributes
    that run.json does not copy, so they are read back from the input it names (role ``parcels``),
    text in NFC. Anything unreadable is said in the notes and the plan comes back without it, so a
    report or a comparison still shows what it can. ``final_period``: a phased plan (one row per
    parcel and period) is cut to its last period, the final state that comparisons look at.
    ``label`` names the run in read errors."""
    notes: list[str] = []
    if allocation is None:
        return None, notes
    if final_period and "period" in allocation.columns and allocation["period"].nunique() > 1:
        last = allocation["period"].iloc[-1]  # phased plans list periods in order
        notes.append(f"phased plan: figures are those of its last period ({last})")
        allocation = allocation[allocation["period"] == last]
    plan = allocation.sort_values("parcel_id", kind="stable").reset_index(drop=True)
    item = next((i for i in run.get("inputs") or [] if i.get("role") == "parcels"), None)
    if item is None:
        notes.append("run.json names no parcel input; input attributes are not joined")
        return plan, notes
    path = Path(item["path"])
    if not path.exists():
        notes.append(f"{path}: parcel input not found; input attributes are not joined")
        return plan, notes
    if item.get("sha256") and sha256_file(path) != item["sha256"]:
        notes.append(f"{path}: changed since the run (sha256 differs); attributes joined from the current file")
    source = (run.get("scenario") or {}).get("parcels") or {}
    try:
        gdf = read_parcel_layer(path, source.get("layer"), source.get("encoding"), label)
        gdf = read_cadastral(gdf, source, (run.get("scenario") or {}).get("land_uses") or {}, label)
    except InputError as e:
        notes.append(f"input attributes not read: {e}")
        return plan, notes
    id_field = (source.get("fields") or {}).get("id", "parcel_id")
    if id_field not in gdf.columns:
        notes.append(f"{path}: no id field {id_field!r}; input attributes are not joined")
        return plan, notes
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    attrs = attrs.drop(columns=[c for c in attrs.columns if c in plan.columns and c != id_field])
    attrs = attrs.rename(columns={id_field: "parcel_id"})
    if attrs["parcel_id"].duplicated().any():
        notes.append(f"{path}: duplicate parcel ids now; input attributes are not joined")
        return plan, notes
    for column in attrs.columns.drop("parcel_id"):  # ids stay as the plan holds them, so they still match
        if attrs[column].dtype == object:
            attrs[column] = attrs[column].map(nfc)
    return plan.merge(attrs, on="parcel_id", how="left"), notes


def read_run_with_inputs(run_dir: Path, *, final_period: bool = False) -> tuple[dict, gpd.GeoDataFrame | None, list[str]]:
    """(run.json, the plan joined with its input attributes, notes): :func:`read_run` then :func:`plan_with_inputs`."""
    run, allocation = read_run(run_dir)
    plan, notes = plan_with_inputs(run, allocation, final_period=final_period, label=str(Path(run_dir) / RUN_JSON))
    return run, plan, notes


def styled_plans(run_dir: Path, run: dict) -> list[Path]:
    """The run's plan GeoPackages (allocation and alternatives) that carry landalloc's QGIS style, which
    :func:`write_run_dir` stores; a report names them rather than writing the style a second time."""
    found = []
    for rel in [ALLOCATION] + [a["layer"] for a in run.get("alternatives") or [] if a.get("layer")]:
        path = Path(run_dir) / rel
        if path.is_file() and _has_style(path):
            found.append(path)
    return found


def _has_style(gpkg: Path) -> bool:
    con = sqlite3.connect(f"{gpkg.absolute().as_uri()}?mode=ro", uri=True)  # reading never touches the file
    try:
        row = con.execute("SELECT 1 FROM layer_styles WHERE f_table_name = ? AND styleName = ? AND useAsDefault = 1",
                          (LAYER, STYLE_NAME)).fetchone()
    except sqlite3.DatabaseError:  # no layer_styles table: written before solves stored the style
        return False
    finally:
        con.close()
    return row is not None
