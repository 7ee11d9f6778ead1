"""The part of the run store both back-ends share: the ``runs`` row of a run, the store interface,
and the error a named store that cannot be used raises.

A ``runs`` row holds: id, run_uid, kind (solve / whatif / sweep), created, recorded, scenario name,
path and sha256, status, termination, objective, bound, gap, solver and version, seed, threads,
time limit, parcels, changed parcels and area, total seconds, run directory, host, user, sweep
directory and index, the layer name, and as JSON: overrides, the merged scenario, inputs (paths with
sha256), solver settings, versions, timings and the whole run.json (without the scenario).
"""

from __future__ import annotations

import datetime as _dt
import getpass
import json
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import geopandas as gpd

from optimizer.engine.errors import EXIT_BAD_INPUT, InputError, LandallocError
from optimizer.engine.rundir import dumps

# column → (SQLite/GeoPackage type, PostgreSQL type); JSON columns hold text in SQLite, jsonb in PostgreSQL
COLUMNS: dict[str, tuple[str, str]] = {
    "run_uid": ("TEXT", "text"),
    "kind": ("TEXT", "text"),
    "created": ("TEXT", "timestamptz"),
    "recorded": ("TEXT", "timestamptz"),
    "scenario_name": ("TEXT", "text"),
    "scenario_path": ("TEXT", "text"),
    "scenario_sha256": ("TEXT", "text"),
    "status": ("TEXT", "text"),
    "termination": ("TEXT", "text"),
    "objective": ("REAL", "double precision"),
    "bound": ("REAL", "double precision"),
    "gap": ("REAL", "double precision"),
    "solver": ("TEXT", "text"),
    "solver_version": ("TEXT", "text"),
    "seed": ("INTEGER", "bigint"),
    "threads": ("INTEGER", "bigint"),
    "time_limit": ("REAL", "double precision"),
    "parcels": ("INTEGER", "bigint"),
    "changed_parcels": ("INTEGER", "bigint"),
    "changed_area_ha": ("REAL", "double precision"),
    "total_s": ("REAL", "double precision"),
    "run_dir": ("TEXT", "text"),
    "layer": ("TEXT", "text"),
    "host": ("TEXT", "text"),
    "user_name": ("TEXT", "text"),
    "sweep_dir": ("TEXT", "text"),
    "sweep_index": ("INTEGER", "bigint"),
    "overrides": ("TEXT", "jsonb"),
    "scenario": ("TEXT", "jsonb"),
    "inputs": ("TEXT", "jsonb"),
    "solver_settings": ("TEXT", "jsonb"),
    "versions": ("TEXT", "jsonb"),
    "timings": ("TEXT", "jsonb"),
    "run": ("TEXT", "jsonb"),
}
JSON_COLUMNS = ("overrides", "scenario", "inputs", "solver_settings", "versions", "timings", "run")
LIST_COLUMNS = ("id", "kind", "created", "scenario_name", "status", "termination", "objective", "gap", "solver",
                "seed", "threads", "parcels", "changed_area_ha", "total_s", "run_dir", "layer", "sweep_dir",
                "sweep_index")


class StoreError(LandallocError):
    """The run store named with --store cannot be opened or written."""

    exit_code = EXIT_BAD_INPUT


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _json(obj: Any) -> str | None:
    if obj is None:
        return None
    return json.dumps(json.loads(dumps(obj)), ensure_ascii=False, separators=(",", ":"))


def record_row(run: dict, kind: str, run_dir: Path | None) -> dict[str, Any]:
    """The ``runs`` row of one run (everything but ``id`` and ``layer``)."""
    settings = run.get("solver_settings") or {}
    scen_sha = next((i.get("sha256") for i in run.get("inputs") or [] if i.get("role") == "scenario"), None)
    sweep = run.get("sweep") or {}
    timings = run.get("timings") or {}
    try:
        user = getpass.getuser()
    except Exception:  # no login name (containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else None
    return {
        "run_uid": uuid.uuid4().hex,
        "kind": kind,
        "created": run.get("created") or _now(),
        "recorded": _now(),
        "scenario_name": run.get("scenario_name"),
        "scenario_path": run.get("scenario_path"),
        "scenario_sha256": scen_sha,
        "status": run.get("status"),
        "termination": run.get("termination"),
        "objective": run.get("objective"),
        "bound": run.get("bound"),
        "gap": run.get("gap"),
        "solver": run.get("solver"),
        "solver_version": run.get("solver_version"),
        "seed": settings.get("seed", run.get("seed")),
        "threads": settings.get("threads"),
        "time_limit": settings.get("time_limit"),
        "parcels": (run.get("model") or {}).get("parcels"),
        "changed_parcels": run.get("changed_parcels"),
        "changed_area_ha": run.get("changed_area_ha"),
        "total_s": round(float(sum(v for v in timings.values() if isinstance(v, (int, float)))), 4),
        "run_dir": str(Path(run_dir).absolute()) if run_dir else None,
        "host": socket.gethostname(),
        "user_name": user,
        "sweep_dir": sweep.get("dir"),
        "sweep_index": sweep.get("index"),
        "overrides": _json(run.get("overrides")),
        "scenario": _json(run.get("scenario")),
        "inputs": _json(run.get("inputs")),
        "solver_settings": _json(settings),
        "versions": _json(run.get("versions")),
        "timings": _json(timings),
        "run": _json({k: v for k, v in run.items() if k != "scenario"}),
    }


def decode_row(row: dict) -> dict:
    """A stored row as a record: JSON columns parsed, timestamps as ISO text (PostgreSQL returns datetimes)."""
    out = dict(row)
    for c in JSON_COLUMNS:
        v = out.get(c)
        if isinstance(v, str):
            out[c] = json.loads(v)
    for c in ("created", "recorded"):
        if isinstance(out.get(c), _dt.datetime):
            out[c] = out[c].astimezone(_dt.timezone.utc).isoformat(timespec="seconds")
    return out


def run_id_of(run_id: Any, location: str) -> int:
    try:
        return int(run_id)
    except (TypeError, ValueError):
        raise InputError(location, None, f"{run_id!r} is not a run id", "give the number `landalloc runs list` shows") from None


def quote(name: str) -> str:
    """An SQL identifier, quoted (SQLite and PostgreSQL alike)."""
    return '"' + name.replace('"', '""') + '"'


class RunStore:
    """What every back-end offers. ``list`` and ``get`` are written once here on top of two reads a
    back-end provides: its rows (:meth:`_rows`, all or one id) and a plan layer (:meth:`_read_layer`)."""

    location: str

    def ensure(self) -> None:
        """Create the store (tables) if needed; raise when it cannot be written."""
        raise NotImplementedError

    def record(self, run: dict, allocation: gpd.GeoDataFrame | None, *, kind: str, run_dir: Path | None = None) -> int:
        raise NotImplementedError

    def delete(self, run_id: int) -> bool:
        raise NotImplementedError

    def _rows(self, run_id: int | None = None) -> list[dict]:
        """The ``runs`` rows in id order (only ``run_id``'s when given), each with its ``id``; [] when the
        store has no table yet."""
        raise NotImplementedError

    def _read_layer(self, layer: str) -> gpd.GeoDataFrame:
        raise NotImplementedError

    def _no_such_run(self, run_id) -> InputError:
        return InputError(self.location, f"run {run_id}", "no such run in this store", "see `landalloc runs list`")

    def remove(self, run_id: int) -> None:
        """``delete``, with the planner's error when the store has no such run."""
        if not self.delete(run_id):
            raise self._no_such_run(run_id)

    def list(self) -> list[dict]:
        return [decode_row({c: r.get(c) for c in LIST_COLUMNS}) for r in self._rows()]

    def get(self, run_id: int, allocation: bool = False) -> tuple[dict, gpd.GeoDataFrame | None]:
        """The record of ``run_id`` and, with ``allocation``, its plan layer (None when it has no plan)."""
        run_id = run_id_of(run_id, self.location)
        rows = self._rows(run_id)
        if not rows:
            raise self._no_such_run(run_id)
        rec = decode_row(rows[0])
        plan = self._read_layer(rec["layer"]) if allocation and rec.get("layer") else None
        return rec, plan
