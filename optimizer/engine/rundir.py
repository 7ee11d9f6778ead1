"""Run directories, written atomically: a temp directory is filled, then renamed into place.

An existing run directory is replaced only after the new one is complete, so a killed process
leaves either the previous outputs or the new ones, never a mix.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio

from optimizer.engine.errors import InputError
from optimizer.engine.files import atomic_write, sha256_file, write_dir_atomically
from optimizer.engine.instance import read_layer
from optimizer.engine.qgis_style import STYLE_NAME, add_style
from optimizer.engine.text import nfc

RUN_JSON = "run.json"
ALLOCATION = "allocation.gpkg"
LAYER = "allocation"


def _json_default(o: Any):
    import numpy as np

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
    pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG", dataset_options={"VERSION": "1.2"})


def atomic_write_layer(gdf: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    """A single-layer GeoPackage written beside its target, then renamed over it."""
    atomic_write(path, lambda tmp: write_layer(gdf, tmp, layer=layer), suffix=".tmp.gpkg")


def write_run_dir(out: Path, run: dict, allocation: gpd.GeoDataFrame | None,
                  extra_layers: dict[str, gpd.GeoDataFrame] | None = None, style: dict | None = None) -> Path:
    """Write run.json, allocation.gpkg and any extra layers (relative path → layer ``allocation``:
    alternatives, the diagnosis plan); with ``style`` (code → land use) every plan layer carries a QGIS
    style coloured like the reports — the one place that writes it."""

    def fill(tmp: Path) -> None:
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
    gpkg = run_dir / ALLOCATION
    allocation = pyogrio.read_dataframe(gpkg, layer=LAYER) if gpkg.exists() else None
    return run, allocation


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
        gdf = read_layer(path, source.get("layer"), source.get("encoding"), label)
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
