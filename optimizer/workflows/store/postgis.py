"""The PostgreSQL/PostGIS run store (``postgresql://user@host:port/db[?schema=NAME]``).

Tables ``runs`` and ``allocation_<id>`` (geometry with the plan's SRID, GiST index) in schema
``landalloc``; each record is one transaction. PostGIS 3.3 lacks EPSG:9205–9218 (VN-2000 TM-3): a
missing SRID is inserted into ``spatial_ref_sys`` from pyproj (WKT and PROJ string), or the error says
how. psycopg is imported only when a PostGIS store is used.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import geopandas as gpd
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.enums import WktVersion

from optimizer.workflows.store.base import COLUMNS, JSON_COLUMNS, RunStore, StoreError, quote, record_row, run_id_of

_PG_TYPES = {"b": "boolean", "i": "bigint", "u": "bigint", "f": "double precision"}


def spatial_ref_sys_row(epsg: int) -> tuple[int, str, int, str, str]:
    """(srid, auth_name, auth_srid, srtext, proj4text) for ``spatial_ref_sys``, from pyproj (no hand-written
    datum shift: PostGIS ≥ 3 with PROJ ≥ 6 builds the CRS from EPSG:code and PROJ picks the transformation)."""
    crs = CRS.from_epsg(epsg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proj4 = crs.to_proj4()
    return epsg, "EPSG", epsg, crs.to_wkt(WktVersion.WKT1_GDAL), proj4


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
        return f"{quote(self.schema)}.{quote(name)}"

    def ensure(self) -> None:
        import psycopg

        with self._connect() as con:
            try:
                with con.cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(hashtext('landalloc run store'))")
                    cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
                    if cur.fetchone() is None:
                        cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(self.schema)}")
                    cols = ", ".join(f"{quote(c)} {pg}" for c, (_, pg) in COLUMNS.items())
                    cur.execute(f"CREATE TABLE IF NOT EXISTS {self._t('runs')} (id bigserial PRIMARY KEY, {cols})")
                    for c, (_, pg) in COLUMNS.items():
                        cur.execute(f"ALTER TABLE {self._t('runs')} ADD COLUMN IF NOT EXISTS {quote(c)} {pg}")
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
                             f"({str(e).strip()}); ask the database owner to insert it "
                             "(optimizer/workflows/store/postgis.py spatial_ref_sys_row gives the row)") from None

    def record(self, run: dict, allocation: gpd.GeoDataFrame | None, *, kind: str, run_dir: Path | None = None) -> int:
        import psycopg

        row = record_row(run, kind, run_dir)
        self.ensure()
        try:
            with self._connect() as con, con.cursor() as cur:
                cols = list(row)
                values = [psycopg.types.json.Jsonb(json.loads(row[c])) if c in JSON_COLUMNS and row[c] is not None
                          else row[c] for c in cols]
                cur.execute(f"INSERT INTO {self._t('runs')} ({', '.join(map(quote, cols))}) "
                            f"VALUES ({', '.join(['%s'] * len(cols))}) RETURNING id", values)
                run_id = int(cur.fetchone()[0])
                if allocation is not None:
                    layer = f"allocation_{run_id}"
                    self._write_layer(cur, layer, allocation)
                    cur.execute(f"UPDATE {self._t('runs')} SET layer = %s WHERE id = %s", (layer, run_id))
                return run_id
        except psycopg.Error as e:
            raise StoreError(f"{self.location}: could not record the run ({str(e).strip()})") from None

    def _write_layer(self, cur, layer: str, allocation: gpd.GeoDataFrame) -> None:
        """The plan as a table with typed columns and a geometry column in the plan's SRID, GiST-indexed."""
        epsg = allocation.crs.to_epsg() if allocation.crs is not None else None
        srid = int(epsg) if epsg else 0
        if srid:
            self._ensure_srid(cur, srid)
        attrs = [c for c in allocation.columns if c != allocation.geometry.name]
        types = {c: _PG_TYPES.get(allocation[c].dtype.kind, "text") for c in attrs}
        gtypes = set(allocation.geom_type.dropna())
        gtype = gtypes.pop() if len(gtypes) == 1 else "Geometry"
        ddl = ", ".join(f"{quote(c)} {types[c]}" for c in attrs)
        cur.execute(f"CREATE TABLE {self._t(layer)} (fid bigserial PRIMARY KEY, {ddl}, geom geometry({gtype}, {srid}))")
        geoms = shapely.set_srid(allocation.geometry.values.to_numpy(), srid) if srid else \
            allocation.geometry.values.to_numpy()
        wkb = shapely.to_wkb(geoms, hex=True, include_srid=bool(srid))
        columns = [allocation[c].astype(object).where(allocation[c].notna(), None).tolist() for c in attrs]
        for c, kind_ in zip(range(len(attrs)), (allocation[a].dtype.kind for a in attrs)):
            if kind_ not in _PG_TYPES:
                columns[c] = [None if v is None else str(v) for v in columns[c]]
        names = ", ".join(map(quote, attrs + ["geom"]))
        with cur.copy(f"COPY {self._t(layer)} ({names}) FROM STDIN") as copy:
            for i in range(len(allocation)):
                copy.write_row([col[i] for col in columns] + [wkb[i]])
        cur.execute(f"CREATE INDEX ON {self._t(layer)} USING gist (geom)")

    def _rows(self, run_id: int | None = None) -> list[dict]:
        import psycopg
        from psycopg.rows import dict_row

        where, args = ("WHERE id = %s", (run_id,)) if run_id is not None else ("", ())
        with self._connect() as con, con.cursor(row_factory=dict_row) as cur:
            try:
                cur.execute(f"SELECT * FROM {self._t('runs')} {where} ORDER BY id", args)
            except psycopg.errors.UndefinedTable:
                return []
            return [dict(r) for r in cur.fetchall()]

    def _read_layer(self, layer: str) -> gpd.GeoDataFrame:
        from psycopg.rows import dict_row

        with self._connect() as con, con.cursor(row_factory=dict_row) as cur:
            cur.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND "
                        "table_name = %s AND column_name NOT IN ('fid', 'geom') ORDER BY ordinal_position",
                        (self.schema, layer))
            attrs = [r["column_name"] for r in cur.fetchall()]
            cur.execute(f"SELECT ST_SRID(geom) AS srid FROM {self._t(layer)} LIMIT 1")
            one = cur.fetchone()
            srid = one["srid"] if one else 0
            cols = ", ".join(map(quote, attrs))
            cur.execute(f"SELECT {cols}, ST_AsBinary(geom) AS __wkb FROM {self._t(layer)} ORDER BY fid")
            rows = cur.fetchall()
        df = pd.DataFrame(rows, columns=attrs + ["__wkb"])
        geom = shapely.from_wkb([bytes(b) if b is not None else None for b in df.pop("__wkb")])
        return gpd.GeoDataFrame(df, geometry=geom, crs=f"EPSG:{srid}" if srid else None)

    def delete(self, run_id: int) -> bool:
        import psycopg

        run_id = run_id_of(run_id, self.location)
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
