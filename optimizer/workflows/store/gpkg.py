"""The GeoPackage run store (default ``~/.landalloc/runs.gpkg``, or ``$LANDALLOC_STORE``).

An attribute table ``runs`` (registered in ``gpkg_contents``, so QGIS lists it) and one layer
``allocation_<id>`` per run with a plan. Writers take an exclusive ``flock`` on ``<store>.lock`` beside
the file and readers a shared one, and every SQLite connection waits (busy timeout) rather than
failing, so concurrent runs writing to one store serialize instead of corrupting it. (On systems
without ``fcntl`` only the busy timeout protects the file.)
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from optimizer.engine.rundir import atomic_write_layer
from optimizer.workflows.store.base import COLUMNS, RunStore, StoreError, quote, record_row, run_id_of

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

BUSY_TIMEOUT_S = 120.0


class GpkgStore(RunStore):
    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser().absolute()
        self.location = str(self.path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    @contextlib.contextmanager
    def _lock(self, exclusive: bool) -> Iterator[None]:
        if fcntl is None:
            yield
            return
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            if exclusive:
                raise
            yield  # read-only location: readers rely on SQLite's own locking
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        con.row_factory = sqlite3.Row
        con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        return con

    def _check_is_store(self) -> None:
        try:
            con = self._connect()
            try:
                tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            finally:
                con.close()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.location}: not a GeoPackage/SQLite file ({e}); choose another --store path") from None
        if "runs" not in tables:
            raise StoreError(f"{self.location}: a GeoPackage without a `runs` table, not a landalloc run store; "
                             "refusing to write into it (choose another --store path)")

    def ensure(self) -> None:
        if self.path.is_file() and self.path.stat().st_size > 0:
            self._check_is_store()  # before creating a lock file beside someone else's file
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock(exclusive=True):
            if not self.path.exists() or self.path.stat().st_size == 0:
                self._bootstrap()
            self._check_is_store()
            con = self._connect()
            try:
                have = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
                for col, (sqltype, _) in COLUMNS.items():
                    if col not in have:  # a store written by an older landalloc
                        con.execute(f"ALTER TABLE runs ADD COLUMN {quote(col)} {sqltype}")
                con.commit()
            finally:
                con.close()
            if not os.access(self.path, os.W_OK):
                raise PermissionError(f"{self.path} is not writable")

    def _bootstrap(self) -> None:
        """A new GeoPackage 1.2 whose first table is the empty ``runs`` attribute table (GDAL writes the
        GeoPackage metadata tables; ``fid`` is the run id)."""
        dtypes = {"TEXT": object, "REAL": "float64", "INTEGER": "int64"}
        empty = pd.DataFrame({c: pd.Series([], dtype=dtypes[t]) for c, (t, _) in COLUMNS.items()})
        atomic_write_layer(empty, self.path, layer="runs")

    def record(self, run: dict, allocation: gpd.GeoDataFrame | None, *, kind: str, run_dir: Path | None = None) -> int:
        row = record_row(run, kind, run_dir)
        self.ensure()
        with self._lock(exclusive=True):
            con = self._connect()
            try:
                cols = list(row)
                cur = con.execute(f"INSERT INTO runs ({', '.join(map(quote, cols))}) VALUES ({', '.join('?' * len(cols))})",
                                  [row[c] for c in cols])
                run_id = int(cur.lastrowid)
                con.commit()
            finally:
                con.close()
            if allocation is None:
                return run_id
            layer = f"allocation_{run_id}"
            try:
                pyogrio.write_dataframe(allocation, self.path, layer=layer, driver="GPKG")
                con = self._connect()
                try:
                    con.execute("UPDATE runs SET layer = ? WHERE fid = ?", (layer, run_id))
                    con.commit()
                finally:
                    con.close()
            except BaseException:
                con = self._connect()
                try:
                    self._drop_layer(con, layer)
                    con.execute("DELETE FROM runs WHERE fid = ?", (run_id,))
                    con.commit()
                finally:
                    con.close()
                raise
        return run_id

    def _rows(self, run_id: int | None = None) -> list[dict]:
        if not self.path.exists():
            return []
        where, args = ("WHERE fid = ?", (run_id,)) if run_id is not None else ("", ())
        with self._lock(exclusive=False):
            self._check_is_store()
            con = self._connect()
            try:
                rows = [dict(r) for r in con.execute(f"SELECT * FROM runs {where} ORDER BY fid", args)]
            finally:
                con.close()
        for r in rows:
            r["id"] = r.pop("fid")
        return rows

    def _read_layer(self, layer: str) -> gpd.GeoDataFrame:
        with self._lock(exclusive=False):
            return pyogrio.read_dataframe(self.path, layer=layer)

    @staticmethod
    def _drop_layer(con: sqlite3.Connection, layer: str) -> None:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "gpkg_extensions" in tables:  # the R-tree spatial index: a virtual table rtree_<layer>_<column>
            for (column,) in con.execute("SELECT column_name FROM gpkg_extensions WHERE table_name = ? AND "
                                         "extension_name = 'gpkg_rtree_index'", (layer,)).fetchall():
                con.execute(f"DROP TABLE IF EXISTS {quote(f'rtree_{layer}_{column}')}")
        con.execute(f"DROP TABLE IF EXISTS {quote(layer)}")
        for meta in ("gpkg_geometry_columns", "gpkg_ogr_contents", "gpkg_extensions", "gpkg_contents"):
            if meta in tables:
                con.execute(f"DELETE FROM {meta} WHERE table_name = ?", (layer,))

    def delete(self, run_id: int) -> bool:
        run_id = run_id_of(run_id, self.location)
        if not self.path.exists():
            return False
        with self._lock(exclusive=True):
            self._check_is_store()
            con = self._connect()
            try:
                row = con.execute("SELECT layer FROM runs WHERE fid = ?", (run_id,)).fetchone()
                if row is None:
                    return False
                if row["layer"]:
                    self._drop_layer(con, row["layer"])
                con.execute("DELETE FROM runs WHERE fid = ?", (run_id,))
                con.commit()
            finally:
                con.close()
        return True

    def integrity(self) -> str:
        with self._lock(exclusive=False):
            con = self._connect()
            try:
                return con.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                con.close()
