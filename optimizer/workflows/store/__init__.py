"""The run store: every run (solve, whatif, sweep members) with its provenance and its plan.

Two back-ends with the same table layout (``base.COLUMNS``):

* **GeoPackage** (``gpkg.py``; default ``~/.landalloc/runs.gpkg``, or ``$LANDALLOC_STORE``): an
  attribute table ``runs`` and one layer ``allocation_<id>`` per run, concurrent writers serialized by
  a lock file beside the store;
* **PostgreSQL/PostGIS** (``postgis.py``; ``postgresql://user@host:port/db[?schema=NAME]``): tables
  ``runs`` and ``allocation_<id>`` in schema ``landalloc``, one transaction per record.

This module chooses the back-end from a ``--store`` value (:func:`open_store`) and holds the
:class:`Recorder` that solve, whatif and sweep record through.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np

from optimizer.workflows.store.base import RunStore, StoreError, record_row
from optimizer.workflows.store.gpkg import GpkgStore
from optimizer.workflows.store.postgis import PostgisStore, spatial_ref_sys_row

__all__ = ["ENV", "GpkgStore", "PostgisStore", "Recorder", "RunStore", "StoreError", "default_store_spec",
           "is_disabled", "jsonable", "open_store", "record_row", "spatial_ref_sys_row"]

ENV = "LANDALLOC_STORE"
DISABLED = ("none", "off")


def default_store_spec() -> str:
    """``$LANDALLOC_STORE`` if set, else ``~/.landalloc/runs.gpkg``."""
    return os.environ.get(ENV) or str(Path("~/.landalloc/runs.gpkg").expanduser())


def is_disabled(spec: str | None) -> bool:
    return spec is not None and spec.strip().lower() in DISABLED


def open_store(spec: str | None) -> RunStore:
    """A store from a --store value: ``postgresql://…`` (or ``postgres://``) → PostGIS, otherwise a
    GeoPackage path; None → the default (:func:`default_store_spec`). Nothing is created yet."""
    spec = spec if spec is not None else default_store_spec()
    if is_disabled(spec):
        raise StoreError("the run store is disabled (--store none / LANDALLOC_STORE=none); name a store to use")
    if spec.startswith(("postgresql://", "postgres://")):
        return PostgisStore(spec)
    if "://" in spec:
        raise StoreError(f"--store {spec}: unknown scheme; give a GeoPackage path or a postgresql:// URL")
    return GpkgStore(spec)


class Recorder:
    """Records runs for solve / whatif / sweep. The store is opened before solving, so a bad explicit
    ``--store`` fails fast (exit 2); the *default* store (``$LANDALLOC_STORE`` or ``~/.landalloc``) never
    makes a run fail: a problem with it is a warning on stderr and the run goes on unrecorded."""

    def __init__(self, spec: str | None, warn: Callable[[str], None]):
        self.explicit = spec is not None
        self.warn = warn
        self.store: RunStore | None = None
        spec = spec if self.explicit else default_store_spec()
        if is_disabled(spec):
            return
        try:
            store = open_store(spec)
            store.ensure()
            self.store = store
        except Exception as e:  # noqa: BLE001 - any failure of the default store is only a warning
            self._failed(spec, e)

    def _failed(self, where: str, e: Exception) -> None:
        msg = str(e) if isinstance(e, StoreError) else f"{where}: {type(e).__name__}: {e}"
        if self.explicit:
            raise e if isinstance(e, StoreError) else StoreError(f"run store {msg}") from None
        self.warn(f"warning: run store not usable, this run is not recorded ({msg}); "
                  f"set --store PATH or {ENV}, or {ENV}=none to silence this")
        self.store = None

    def record(self, run: dict, allocation: gpd.GeoDataFrame | None, *, kind: str, run_dir: Path | None) -> int | None:
        if self.store is None:
            return None
        try:
            return self.store.record(run, allocation, kind=kind, run_dir=run_dir)
        except Exception as e:  # noqa: BLE001
            self._failed(self.store.location, e)
            return None

    @property
    def location(self) -> str | None:
        return self.store.location if self.store is not None else None


def jsonable(rec: dict) -> dict:
    """A store record with numpy/NaN values made JSON-safe (for --json output)."""
    out = {}
    for k, v in rec.items():
        if isinstance(v, float) and not np.isfinite(v):
            v = None
        out[k] = v
    return out
