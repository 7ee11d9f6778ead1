"""The run store: every run (solve, whatif, sweep members) with its provenance and its plan.

Two back-ends with the same table layout:

* **GeoPackage** (default ``~/.landalloc/runs.gpkg``, or ``$LANDALLOC_STORE``): an attribute table
  ``runs`` (registered in ``gpkg_contents``, so QGIS lists it) and one layer ``allocation_<id>`` per run
  with a plan. Writers take an exclusive ``flock`` on ``<store>.lock`` beside the file and readers a
  shared one, and every SQLite connection waits (busy timeout) rather than failing, so concurrent
  runs writing to one store serialize instead of corrupting it. (On systems without ``fcntl`` only the
  busy timeout protects the file.)
* **PostgreSQL/PostGIS** (``postgresql://user@host:port/db[?schema=NAME]``): tables ``runs`` and
  ``allocation_<id>`` (geometry with the plan's SRID, GiST index) in schema ``landalloc``; each
  record is one transaction. PostGIS 3.3 lacks EPSG:9205–9218 (VN-2000 TM-3): a missing SRID is
  inserted into ``spatial_ref_sys`` from pyproj (WKT and PROJ string), or the error says how.

A ``runs`` row holds: id, run_uid, kind (solve / whatif / sweep), created, recorded, scenario name,
path and sha256, status, termination, objective, bound, gap, solver and version, seed, threads,
time limit, parcels, changed parcels and area, total seconds, run directory, host, user, sweep
directory and index, the layer name, and as JSON: overrides, the merged scenario, inputs (paths with
sha256), solver settings, versions, timings and the whole run.json (without the scenario).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import getpass
import json
import os
import re
import socket
import sqlite3
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer.engine.errors import EXIT_BAD_INPUT, InputError, LandallocError
from optimizer.engine.rundir import dumps

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

ENV = "LANDALLOC_STORE"
DISABLED = ("none", "off")
BUSY_TIMEOUT_S = 120.0

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


def _decode(row: dict) -> dict:
    out = dict(row)
    for c in JSON_COLUMNS:
        v = out.get(c)
        if isinstance(v, str):
            out[c] = json.loads(v)
    for c in ("created", "recorded"):
        if isinstance(out.get(c), _dt.datetime):
            out[c] = out[c].astimezone(_dt.timezone.utc).isoformat(timespec="seconds")
    return out


def _run_id(run_id: Any, location: str) -> int:
    try:
        return int(run_id)
    except (TypeError, ValueError):
        raise InputError(location, None, f"{run_id!r} is not a run id", "give the number `landalloc runs list` shows") from None


class RunStore:
    """Common interface of the back-ends."""

    location: str

    def ensure(self) -> None:
        """Create the store (tables) if needed; raise when it cannot be written."""
        raise NotImplementedError

    def record(self, run: dict, allocation: gpd.GeoDataFrame | None, *, kind: str, run_dir: Path | None = None) -> int:
        raise NotImplementedError

    def list(self) -> list[dict]:
        raise NotImplementedError

    def get(self, run_id: int, allocation: bool = False) -> tuple[dict, gpd.GeoDataFrame | None]:
        raise NotImplementedError

    def delete(self, run_id: int) -> bool:
        raise NotImplementedError

    def _missing(self, run_id: int) -> InputError:
        return InputError(self.location, f"run {run_id}", "no such run in this store", "see `landalloc runs list`")


# --- GeoPackage / SQLite -----------------------------------------------------------------------------

def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
                        con.execute(f"ALTER TABLE runs ADD COLUMN {_quote(col)} {sqltype}")
                con.commit()
            finally:
                con.close()
            if not os.access(self.path, os.W_OK):
                raise PermissionError(f"{self.path} is not writable")

    def _bootstrap(self) -> None:
        """A new GeoPackage 1.2 whose first table is the empty ``runs`` attribute table (GDAL writes the
        GeoPackage metadata tables; ``fid`` is the run id)."""
        import pyogrio

        dtypes = {"TEXT": object, "REAL": "float64", "INTEGER": "int64"}
        empty = pd.DataFrame({c: pd.Series([], dtype=dtypes[t]) for c, (t, _) in COLUMNS.items()})
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.tmp.gpkg")
        try:
            pyogrio.write_dataframe(empty, tmp, layer="runs", driver="GPKG", dataset_options={"VERSION": "1.2"})
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)

    def record(self, run: dict, allocation: gpd.GeoDataFrame | None, *, kind: str, run_dir: Path | None = None) -> int:
        import pyogrio

        row = record_row(run, kind, run_dir)
        self.ensure()
        with self._lock(exclusive=True):
            con = self._connect()
            try:
                cols = list(row)
                cur = con.execute(f"INSERT INTO runs ({', '.join(map(_quote, cols))}) VALUES ({', '.join('?' * len(cols))})",
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

    def _rows(self, where: str = "", args: tuple = ()) -> list[dict]:
        if not self.path.exists():
            return []
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

    def list(self) -> list[dict]:
        return [{c: r.get(c) for c in LIST_COLUMNS} for r in self._rows()]

    def get(self, run_id: int, allocation: bool = False) -> tuple[dict, gpd.GeoDataFrame | None]:
        import pyogrio

        run_id = _run_id(run_id, self.location)
        rows = self._rows("WHERE fid = ?", (run_id,))
        if not rows:
            raise self._missing(run_id)
        rec = _decode(rows[0])
        plan = None
        if allocation and rec.get("layer"):
            with self._lock(exclusive=False):
                plan = pyogrio.read_dataframe(self.path, layer=rec["layer"])
        return rec, plan

    @staticmethod
    def _drop_layer(con: sqlite3.Connection, layer: str) -> None:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "gpkg_extensions" in tables:  # the R-tree spatial index: a virtual table rtree_<layer>_<column>
            for (column,) in con.execute("SELECT column_name FROM gpkg_extensions WHERE table_name = ? AND "
                                         "extension_name = 'gpkg_rtree_index'", (layer,)).fetchall():
                con.execute(f"DROP TABLE IF EXISTS {_quote(f'rtree_{layer}_{column}')}")
        con.execute(f"DROP TABLE IF EXISTS {_quote(layer)}")
        for meta in ("gpkg_geometry_columns", "gpkg_ogr_contents", "gpkg_extensions", "gpkg_contents"):
            if meta in tables:
                con.execute(f"DELETE FROM {meta} WHERE table_name = ?", (layer,))

    def delete(self, run_id: int) -> bool:
        run_id = _run_id(run_id, self.location)
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


# --- PostgreSQL / PostGIS ----------------------------------------------------------------------------

def spatial_ref_sys_row(epsg: int) -> tuple[int, str, int, str, str]:
    """(srid, auth_name, auth_srid, srtext, proj4text) for ``spatial_ref_sys``, from pyproj (no hand-written
    datum shift: PostGIS ≥ 3 with PROJ ≥ 6 builds the CRS from EPSG:code and PROJ picks the transformation)."""
    from pyproj import CRS
    from pyproj.enums import WktVersion

    crs = CRS.from_epsg(epsg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proj4 = crs.to_proj4()
    return epsg, "EPSG", epsg, crs.to_wkt(WktVersion.WKT1_GDAL), proj4


_PG_TYPES = {"b": "boolean", "i": "bigint", "u": "bigint", "f": "double precision"}


class PostgisStore(RunStore):
    def __init__(self, url: str):
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self.schema = query.pop("schema", "landalloc")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.schema):
            raise StoreError(f"--store: schema {self.schema!r} is not a plain SQL identifier")
        self.url = urlunsplit(parts._replace(query=urlencode(query)))
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0] + "@" if len(netloc) == 2 else ""
        self.location = urlunsplit(parts._replace(netloc=user + netloc[-1]))  # never the password

    def _connect(self):
        try:
            import psycopg
        except ImportError as e:  # pragma: no cover - a declared dependency
            raise StoreError(f"{self.location}: psycopg is not installed ({e})") from None
        try:
            return psycopg.connect(self.url, connect_timeout=10)
        except psycopg.Error as e:
            raise StoreError(f"{self.location}: cannot connect ({str(e).strip()})") from None

    def _t(self, name: str) -> str:
        return f"{_quote(self.schema)}.{_quote(name)}"

    def ensure(self) -> None:
        import psycopg

        with self._connect() as con:
            try:
                with con.cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(hashtext('landalloc run store'))")
                    cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
                    if cur.fetchone() is None:
                        cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(self.schema)}")
                    cols = ", ".join(f"{_quote(c)} {pg}" for c, (_, pg) in COLUMNS.items())
                    cur.execute(f"CREATE TABLE IF NOT EXISTS {self._t('runs')} (id bigserial PRIMARY KEY, {cols})")
                    for c, (_, pg) in COLUMNS.items():
                        cur.execute(f"ALTER TABLE {self._t('runs')} ADD COLUMN IF NOT EXISTS {_quote(c)} {pg}")
            except psycopg.Error as e:
                raise StoreError(f"{self.location}: cannot create the run store ({str(e).strip()}); "
                                 "the database needs the postgis extension and CREATE rights on the database") from None

    def _ensure_srid(self, cur, epsg: int) -> None:
        import psycopg

        cur.execute("SELECT 1 FROM spatial_ref_sys WHERE srid = %s", (epsg,))
        if cur.fetchone() is not None:
            return
        try:
            with cur.connection.transaction():
                cur.execute("INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text) "
                            "VALUES (%s, %s, %s, %s, %s)", spatial_ref_sys_row(epsg))
        except psycopg.Error as e:
            raise StoreError(f"{self.location}: EPSG:{epsg} is missing from spatial_ref_sys and could not be added "
                             f"({str(e).strip()}); ask the database owner to insert it (optimizer/store.py "
                             "spatial_ref_sys_row gives the row)") from None

    def record(self, run: dict, allocation: gpd.GeoDataFrame | None, *, kind: str, run_dir: Path | None = None) -> int:
        import psycopg
        import shapely

        row = record_row(run, kind, run_dir)
        self.ensure()
        try:
            with self._connect() as con, con.cursor() as cur:
                cols = list(row)
                values = [psycopg.types.json.Jsonb(json.loads(row[c])) if c in JSON_COLUMNS and row[c] is not None
                          else row[c] for c in cols]
                cur.execute(f"INSERT INTO {self._t('runs')} ({', '.join(map(_quote, cols))}) "
                            f"VALUES ({', '.join(['%s'] * len(cols))}) RETURNING id", values)
                run_id = int(cur.fetchone()[0])
                if allocation is not None:
                    layer = f"allocation_{run_id}"
                    epsg = allocation.crs.to_epsg() if allocation.crs is not None else None
                    srid = int(epsg) if epsg else 0
                    if srid:
                        self._ensure_srid(cur, srid)
                    attrs = [c for c in allocation.columns if c != allocation.geometry.name]
                    types = {c: _PG_TYPES.get(allocation[c].dtype.kind, "text") for c in attrs}
                    gtypes = set(allocation.geom_type.dropna())
                    gtype = gtypes.pop() if len(gtypes) == 1 else "Geometry"
                    ddl = ", ".join(f"{_quote(c)} {types[c]}" for c in attrs)
                    cur.execute(f"CREATE TABLE {self._t(layer)} (fid bigserial PRIMARY KEY, {ddl}, "
                                f"geom geometry({gtype}, {srid}))")
                    geoms = shapely.set_srid(allocation.geometry.values.to_numpy(), srid) if srid else \
                        allocation.geometry.values.to_numpy()
                    wkb = shapely.to_wkb(geoms, hex=True, include_srid=bool(srid))
                    columns = [allocation[c].astype(object).where(allocation[c].notna(), None).tolist() for c in attrs]
                    for c, kind_ in zip(range(len(attrs)), (allocation[a].dtype.kind for a in attrs)):
                        if kind_ not in _PG_TYPES:
                            columns[c] = [None if v is None else str(v) for v in columns[c]]
                    names = ", ".join(map(_quote, attrs + ["geom"]))
                    with cur.copy(f"COPY {self._t(layer)} ({names}) FROM STDIN") as copy:
                        for i in range(len(allocation)):
                            copy.write_row([col[i] for col in columns] + [wkb[i]])
                    cur.execute(f"CREATE INDEX ON {self._t(layer)} USING gist (geom)")
                    cur.execute(f"UPDATE {self._t('runs')} SET layer = %s WHERE id = %s", (layer, run_id))
                return run_id
        except psycopg.Error as e:
            raise StoreError(f"{self.location}: could not record the run ({str(e).strip()})") from None

    def _select(self, where: str = "", args: tuple = ()) -> list[dict]:
        import psycopg
        from psycopg.rows import dict_row

        with self._connect() as con, con.cursor(row_factory=dict_row) as cur:
            try:
                cur.execute(f"SELECT * FROM {self._t('runs')} {where} ORDER BY id", args)
            except psycopg.errors.UndefinedTable:
                return []
            return [dict(r) for r in cur.fetchall()]

    def list(self) -> list[dict]:
        out = []
        for r in self._select():
            r = _decode({c: r.get(c) for c in LIST_COLUMNS})
            out.append(r)
        return out

    def get(self, run_id: int, allocation: bool = False) -> tuple[dict, gpd.GeoDataFrame | None]:
        import shapely
        from psycopg.rows import dict_row

        run_id = _run_id(run_id, self.location)
        rows = self._select("WHERE id = %s", (run_id,))
        if not rows:
            raise self._missing(run_id)
        rec = _decode(rows[0])
        plan = None
        if allocation and rec.get("layer"):
            with self._connect() as con, con.cursor(row_factory=dict_row) as cur:
                cur.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND "
                            "table_name = %s AND column_name NOT IN ('fid', 'geom') ORDER BY ordinal_position",
                            (self.schema, rec["layer"]))
                attrs = [r["column_name"] for r in cur.fetchall()]
                cur.execute(f"SELECT ST_SRID(geom) AS srid FROM {self._t(rec['layer'])} LIMIT 1")
                one = cur.fetchone()
                srid = one["srid"] if one else 0
                cols = ", ".join(map(_quote, attrs))
                cur.execute(f"SELECT {cols}, ST_AsBinary(geom) AS __wkb FROM {self._t(rec['layer'])} ORDER BY fid")
                rows = cur.fetchall()
            df = pd.DataFrame(rows, columns=attrs + ["__wkb"])
            geom = shapely.from_wkb([bytes(b) if b is not None else None for b in df.pop("__wkb")])
            plan = gpd.GeoDataFrame(df, geometry=geom, crs=f"EPSG:{srid}" if srid else None)
        return rec, plan

    def delete(self, run_id: int) -> bool:
        run_id = _run_id(run_id, self.location)
        import psycopg

        with self._connect() as con, con.cursor() as cur:
            try:
                cur.execute(f"SELECT layer FROM {self._t('runs')} WHERE id = %s FOR UPDATE", (run_id,))
            except psycopg.errors.UndefinedTable:
                return False
            row = cur.fetchone()
            if row is None:
                return False
            if row[0]:
                cur.execute(f"DROP TABLE IF EXISTS {self._t(row[0])}")
            cur.execute(f"DELETE FROM {self._t('runs')} WHERE id = %s", (run_id,))
        return True


# --- opening a store ---------------------------------------------------------------------------------

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
