"""The GeoPackage run store (default ``~/.landalloc/runs.gpkg``, or ``$LANDALLOC_STORE``).

An attribute table ``runs`` (registered in ``gpkg_contents``, so QGIS lists it) and one layer
``allocation_<id>`` per run with a plan. Writers take an exclusive ``flock`` on ``<store>.lock`` beside
the file and readers a shared one, and every SQLite connection waits (busy timeout) rather than
failing, so concurrent runs writing to one store serialize instead of corrupting it. (On systems
without ``fcntl`` only the busy timeout protects the file.) The lock file exists only beside a store:
when the store cannot be created (a full disk, no rights), the lock file made for it is removed.

A run's row and its plan layer commit in one SQLite transaction, so no reader ever sees a run that
claims a plan the store does not hold, whatever stops the process: GDAL writes the plan into a
staging GeoPackage beside the store (it encodes the geometries), and the store copies the table and
its GeoPackage metadata from there, with the row, between one BEGIN and one COMMIT. The copied layer
has no spatial index (a plan is always read whole).
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import uuid
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
        try:
            self._ensure_locked()
        except BaseException:
            if not (self.path.is_file() and self.path.stat().st_size > 0):
                self.lock_path.unlink(missing_ok=True)  # no store was made: leave no lock file for it
            raise

    def _ensure_locked(self) -> None:
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
        staged = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.staged.gpkg")
        with self._lock(exclusive=True):
            for stale in self.path.parent.glob(f".{self.path.name}.*.staged.gpkg"):  # left by a killed writer
                stale.unlink(missing_ok=True)
            try:
                if allocation is not None:
                    pyogrio.write_dataframe(allocation, staged, layer=_STAGED, driver="GPKG",
                                            layer_options={"SPATIAL_INDEX": "NO"})
                return self._commit(row, staged if allocation is not None else None)
            finally:
                staged.unlink(missing_ok=True)

    def _commit(self, row: dict, staged: Path | None) -> int:
        """The ``runs`` row and (from ``staged``) its plan layer, in one transaction."""
        con = self._connect()
        con.isolation_level = None  # BEGIN and COMMIT are ours: DDL and DML in one transaction
        try:
            if staged is not None:
                con.execute("ATTACH DATABASE ? AS staged", (str(staged),))
            con.execute("BEGIN IMMEDIATE")
            try:
                cols = list(row)
                cur = con.execute(f"INSERT INTO runs ({', '.join(map(quote, cols))}) VALUES ({', '.join('?' * len(cols))})",
                                  [row[c] for c in cols])
                run_id = int(cur.lastrowid)
                if staged is not None:
                    layer = f"allocation_{run_id}"
                    _copy_staged_layer(con, layer)
                    con.execute("UPDATE runs SET layer = ? WHERE fid = ?", (layer, run_id))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return run_id
        finally:
            con.close()

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


_STAGED = "plan"


def _gpkg_blob_srs(blob: bytes | None, srs_id: int) -> bytes | None:
    """A GeoPackage geometry blob with another srs_id in its header (bytes 4–7, byte order from flags bit 0)."""
    if blob is None:
        return None
    order = "little" if blob[3] & 1 else "big"
    return bytes(blob[:4]) + int(srs_id).to_bytes(4, order, signed=True) + bytes(blob[8:])


def _copy_staged_layer(con: sqlite3.Connection, layer: str) -> None:
    """Copy the staged plan table into ``main`` as ``layer``, with its gpkg_contents, gpkg_geometry_columns,
    gpkg_ogr_contents and spatial reference rows; inside the caller's transaction. A CRS the store already
    holds under the same srs_id with another definition (two custom CRSs both numbered 100000) gets a free
    srs_id, written into every geometry's header."""
    def sql_of(schema: str, name: str) -> str | None:
        r = con.execute(f"SELECT sql FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
        return r[0] if r else None

    for meta in ("gpkg_geometry_columns", "gpkg_ogr_contents"):
        if sql_of("main", meta) is None and sql_of("staged", meta) is not None:
            con.execute(sql_of("staged", meta))
    create = re.sub(rf'^CREATE TABLE\s+"?{_STAGED}"?', f"CREATE TABLE {quote(layer)}", sql_of("staged", _STAGED))
    con.execute(create)
    con.execute(f"INSERT INTO main.{quote(layer)} SELECT * FROM staged.{quote(_STAGED)}")
    geom_col, srs_id = con.execute("SELECT column_name, srs_id FROM staged.gpkg_geometry_columns WHERE table_name = ?",
                                   (_STAGED,)).fetchone()
    srs = con.execute("SELECT * FROM staged.gpkg_spatial_ref_sys WHERE srs_id = ?", (srs_id,)).fetchone()
    have = con.execute("SELECT * FROM main.gpkg_spatial_ref_sys WHERE srs_id = ?", (srs_id,)).fetchone()
    key = ("organization", "organization_coordsys_id", "definition")
    if have is not None and [have[k] for k in key] != [srs[k] for k in key]:
        same = con.execute("SELECT srs_id FROM main.gpkg_spatial_ref_sys WHERE organization = ? AND "
                           "organization_coordsys_id = ? AND definition = ?", (srs["organization"],
                           srs["organization_coordsys_id"], srs["definition"])).fetchone()
        new_id = same[0] if same else max(100000, con.execute("SELECT MAX(srs_id) FROM main.gpkg_spatial_ref_sys").fetchone()[0] + 1)
        con.create_function("landalloc_blob_srs", 2, _gpkg_blob_srs, deterministic=True)
        con.execute(f"UPDATE main.{quote(layer)} SET {quote(geom_col)} = landalloc_blob_srs({quote(geom_col)}, ?)", (new_id,))
        srs_id, have = new_id, same
    if have is None:
        main_cols = {r[1] for r in con.execute("PRAGMA main.table_info(gpkg_spatial_ref_sys)")}
        cols = [c for c in srs.keys() if c in main_cols]
        con.execute(f"INSERT INTO main.gpkg_spatial_ref_sys ({', '.join(map(quote, cols))}) VALUES "
                    f"({', '.join('?' * len(cols))})", [srs_id if c == "srs_id" else srs[c] for c in cols])
    con.execute("INSERT INTO main.gpkg_contents (table_name, data_type, identifier, description, last_change, min_x, "
                "min_y, max_x, max_y, srs_id) SELECT ?, data_type, ?, description, last_change, min_x, min_y, max_x, "
                "max_y, ? FROM staged.gpkg_contents WHERE table_name = ?", (layer, layer, srs_id, _STAGED))
    con.execute("INSERT INTO main.gpkg_geometry_columns (table_name, column_name, geometry_type_name, srs_id, z, m) "
                "SELECT ?, column_name, geometry_type_name, ?, z, m FROM staged.gpkg_geometry_columns WHERE table_name = ?",
                (layer, srs_id, _STAGED))
    if sql_of("main", "gpkg_ogr_contents") is not None:
        con.execute("INSERT INTO main.gpkg_ogr_contents (table_name, feature_count) "
                    f"SELECT ?, COUNT(*) FROM main.{quote(layer)}", (layer,))
