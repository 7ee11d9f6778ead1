"""Run directories, written atomically: a temp directory is filled, then renamed into place.

An existing run directory is replaced only after the new one is complete, so a killed process
leaves either the previous outputs or the new ones, never a mix.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio

from optimizer.engine.errors import InputError
from optimizer.engine.files import atomic_write, write_dir_atomically
from optimizer.engine.qgis_style import add_style

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
    """Write run.json, allocation.gpkg and any extra layers (relative path → layer ``allocation``);
    with ``style`` (code → land use), the plan layer carries a QGIS style coloured like the reports."""

    def fill(tmp: Path) -> None:
        if allocation is not None:
            write_layer(allocation, tmp / ALLOCATION)
            if style:
                add_style(tmp / ALLOCATION, style)
        for rel, gdf in (extra_layers or {}).items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            write_layer(gdf, tmp / rel)
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
