"""The front door of every input layer: the parcels (``instance.py``) and each layer a constraint family
reads (``Family.read_config_layer``) pass the same checks before anything uses them.

A wrong layer must never quietly weaken the plan. A zone layer of points (centroids) overlaps no parcel
by any area, so strict protection would switch off while the solve exits 0; a layer whose CRS label is
wrong lands kilometres away and protects nothing either. So, for every layer:

- the file: a local, regular file (a FIFO would hang the read, a device never ends), readable by GDAL,
  with a geometry column; legacy Vietnamese encodings detected, CP1258 and TCVN3 decoded (CONVENTIONS.md;
  a .cpg saying CP1258 is honoured by our decoder, not GDAL's);
- the CRS: present, and plausible — the coordinates lie inside the CRS's area of use (a margin of
  :data:`AREA_OF_USE_MARGIN_DEG`), and the layer's extent meets the parcels' (zones) or lies within one
  parcel-extent of them (targets, anchors);
- the geometry: of the type the family needs (polygons for zones, points for anchors), none empty
  where a shape is needed, valid — or repaired with ``make_valid`` under ``--repair``, as for parcels;
- a zone layer that covers no parcel is a :class:`LayerWarning` naming the layer (readable, but
  surely not what the planner meant).
"""

from __future__ import annotations

import functools
import os
import stat
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer

from optimizer.engine.errors import InputError
from optimizer.engine.land_codes import resolve_codes
from optimizer.engine.text import nfc
from optimizer.engine.vn_encodings import canonical, decode_latin1, shapefile_declared

Geometry = Literal["polygon", "point", "any"]
_TYPES: dict[str, set[str] | None] = {"polygon": {"Polygon", "MultiPolygon"}, "point": {"Point", "MultiPoint"}, "any": None}
_NEEDS = {"polygon": "polygons (zones are areas)", "point": "points"}
AREA_OF_USE_MARGIN_DEG = 1.0
"""how far (degrees) a layer may reach beyond its CRS's published area of use before its label is doubted"""


class LayerWarning(UserWarning):
    """A layer that reads and validates but is almost surely not what the planner meant."""


# --- the file --------------------------------------------------------------------------------------

_VIETNAMESE_LEGACY_HINT = ("the text looks like a legacy Vietnamese encoding (TCVN3/ABC or VNI), which GDAL cannot "
                           "read; convert the layer to Unicode (e.g. with Unikey's converter) and save as GeoPackage")
_VIETNAMESE_LATIN1 = set("àáâãèéêìíòóôõùúýÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝ")


def is_text(col: pd.Series) -> bool:
    """A column of text (object or pandas string dtype)."""
    return pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)


def _decode_legacy(gdf: gpd.GeoDataFrame, encoding: str) -> gpd.GeoDataFrame:
    """GDAL reads CP1258 .dbf text with each value's last character cut off, and TCVN3 not at all; read it
    as latin-1 (byte-transparent) and decode here instead (``vn_encodings``), in NFC."""
    for col in gdf.columns:
        if col != gdf.geometry.name and is_text(gdf[col]):
            gdf[col] = [decode_latin1(v, encoding) for v in gdf[col]]
    return gdf


def _looks_legacy(values) -> bool:
    """TCVN3/VNI text read through a Latin code page shows Latin-1 symbols that Unicode Vietnamese
    never uses (Ö, ¸, », ä …); Unicode Vietnamese uses only a few Latin-1 letters and U+1Exx."""
    text = "".join(v for v in values if isinstance(v, str))
    if any("\u1ea0" <= ch <= "\u1ef9" or ch in "ăĂđĐĩĨũŨơƠưƯ" for ch in text):
        return False  # real Unicode Vietnamese present
    latin1 = [ch for ch in text if "\x80" <= ch <= "\xff"]
    odd = sum(ch not in _VIETNAMESE_LATIN1 for ch in latin1)
    return odd >= 3 and odd >= 0.3 * len(latin1)


def check_file(path: Path, what: str, fix: str) -> None:
    """A local file or folder that exists and is not a FIFO, device or socket (reading those hangs or never ends)."""
    if "://" in str(path):
        raise InputError(str(path), None, "is a URL; landalloc reads local files only", "download it and name the local path")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(str(path), None, f"{what} not found", fix) from None
    except OSError as e:
        raise InputError(str(path), None, f"{what} cannot be opened: {e.strerror}", fix) from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise InputError(str(path), None, "is not a regular file (device, pipe or socket)", "name a GIS file")


def open_layer(path: Path, layer: str | None, encoding: str | None, *, what: str, fix: str,
               layer_key: str = "parcels.layer") -> gpd.GeoDataFrame:
    """The layer read as a GeoDataFrame with text in Unicode; ``fix`` says where the path is set."""
    check_file(path, what, fix)
    encoding = canonical(encoding) or _legacy_declared(path)
    legacy = encoding in ("cp1258", "tcvn3")
    try:
        kwargs = {"layer": layer} if layer else {}
        if encoding:
            kwargs["encoding"] = "ISO-8859-1" if legacy else encoding
        gdf = pyogrio.read_dataframe(path, **kwargs)
    except Exception as e:  # pyogrio raises several DataSource/Field errors; all mean "cannot read"
        raise InputError(str(path), f"layer {layer}" if layer else None, f"cannot read as a GIS layer: {e}",
                         f"give a GeoPackage, Shapefile or GeoJSON (and `{layer_key}` for multi-layer files)") from None
    if not isinstance(gdf, gpd.GeoDataFrame):  # a table without geometry (e.g. a CSV) is not a layer
        raise InputError(str(path), None, "has no geometry", "give a GIS layer (GeoPackage, Shapefile or GeoJSON)")
    if legacy:
        gdf = _decode_legacy(gdf, encoding)
    for col in gdf.columns:
        if col != gdf.geometry.name and is_text(gdf[col]) and _looks_legacy(gdf[col].head(2000)):
            raise InputError(str(path), col, _VIETNAMESE_LEGACY_HINT,
                             "or set `parcels.encoding: tcvn3` (TCVN3/ABC) or `cp1258` (Windows-1258) in the scenario")
    return gdf


def _legacy_declared(path: Path) -> str | None:
    """CP1258 or TCVN3 when a Shapefile's .cpg says so: GDAL would honour the .cpg and cut each value short."""
    declared = shapefile_declared(Path(path))
    return declared if declared in ("cp1258", "tcvn3") else None


# --- cadastral layers ------------------------------------------------------------------------------

def read_cadastral(gdf: gpd.GeoDataFrame, src, land_uses, label: str) -> gpd.GeoDataFrame:
    """The parcel loader's hook for a land office's own layer (``parcels.cadastral``): the parcel id made
    from ``id_from`` (sheet and parcel number), and the current-use codes read by ``land_codes`` — the code
    read in ``fields.current_use``, the value as written in ``cadastral_code``, the rule that read it in
    ``code_mapping`` and a combined code's other codes in ``code_secondary``. Unmapped values stay as
    written, so the loader's unknown-code check still names them. ``src`` is the scenario's ``parcels``
    section, validated or as run.json records it (a mapping), so a run's readers see the same layer."""
    cad = _key(src, "cadastral")
    if cad is None:
        return gdf
    gdf = gdf.copy()
    fields = _key(src, "fields") or {}
    id_field, use_field = _key(fields, "id") or "parcel_id", _key(fields, "current_use") or "current_use"
    id_from = _key(cad, "id_from")
    if id_from:
        missing = [name for name in id_from if name not in gdf.columns]
        if missing:
            raise InputError(label, missing[0], "field missing (parcels.cadastral.id_from)",
                             f"name fields of the layer ({', '.join(map(str, gdf.columns[:12]))})")
        gdf[id_field] = composed_id(gdf, id_from)
    if use_field in gdf.columns:
        reading = resolve_codes(gdf[use_field], _key(cad, "map") or {}, land_uses)
        gdf["cadastral_code"] = gdf[use_field].astype(object)
        gdf[use_field] = reading.code
        gdf["code_mapping"] = reading.rule
        gdf["code_secondary"] = reading.secondary
    return gdf


def _key(section, name: str):
    return section.get(name) if isinstance(section, Mapping) else getattr(section, name, None)


def composed_id(gdf: gpd.GeoDataFrame, fields: list[str]) -> list:
    """One id from several fields. Whole numbers (sheet, parcel number) compose into a number whose last
    digits are the last field's, zero-padded: sheet 3, parcel 45 of at most 999 → 3045 (ids stay numbers,
    sorted by sheet then parcel); anything else is joined by '/' (``Hưng Đạo/3/45``)."""
    parts = [gdf[name].map(_id_part) for name in fields]
    if all(p.str.fullmatch(r"\d{1,9}").all() for p in parts) and sum(int(p.str.len().max()) for p in parts) <= 18:
        out = np.zeros(len(gdf), dtype=np.int64)
        for p in parts:
            digits = int(p.str.len().max())
            out = out * 10 ** digits + p.astype(np.int64).to_numpy()
        return out.tolist()
    return ["/".join(p) for p in zip(*parts)]


def _id_part(value) -> str:
    """One part of a composed id: 12.0 (a number field read as float) is written 12, an empty cell as ''."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return nfc(str(value)).strip()


# --- the CRS ---------------------------------------------------------------------------------------

_WRONG_LABEL_FIX = "set the layer's real CRS in QGIS (Layer Properties → Source → Assigned CRS) and save it again"


def _bounds(gdf: gpd.GeoDataFrame) -> np.ndarray | None:
    present = gdf.geometry.notna() & ~gdf.geometry.is_empty
    if not present.any():
        return None
    b = gdf.geometry[present].total_bounds
    return b if np.isfinite(b).all() else None


def _fmt(b) -> str:
    return f"x {b[0]:,.0f} … {b[2]:,.0f}, y {b[1]:,.0f} … {b[3]:,.0f}"


def check_crs(gdf: gpd.GeoDataFrame, label: str, what: str) -> None:
    """A CRS is present and the coordinates lie where that CRS is used: a UTM or VN-2000 layer labelled
    EPSG:4326 has "longitudes" in the hundreds of thousands, a layer labelled with the wrong national
    grid falls outside that grid's area of use."""
    if gdf.crs is None:
        raise InputError(label, None, f"the {what} has no CRS", "assign its CRS in QGIS (e.g. EPSG:9210) and save again")
    b = _bounds(gdf)
    aou = gdf.crs.area_of_use
    if b is None or aou is None:
        return
    name = gdf.crs.to_string()
    if gdf.crs.is_geographic and ((np.abs(b[[0, 2]]) > 180).any() or (np.abs(b[[1, 3]]) > 90).any()):
        raise InputError(label, "CRS", f"the coordinates ({_fmt(b)}) are not longitudes and latitudes, yet the layer "
                         f"says {name}: its CRS label is wrong", _WRONG_LABEL_FIX)
    try:
        lon0, lat0, lon1, lat1 = Transformer.from_crs(gdf.crs, 4326, always_xy=True).transform_bounds(*b)
    except Exception:  # noqa: BLE001 - PROJ cannot place the coordinates at all: as implausible as it gets
        lon0 = lat0 = lon1 = lat1 = np.inf
    m = AREA_OF_USE_MARGIN_DEG
    inside = (np.isfinite([lon0, lat0, lon1, lat1]).all() and lon0 >= aou.west - m and lon1 <= aou.east + m
              and lat0 >= aou.south - m and lat1 <= aou.north + m)
    if not inside:
        raise InputError(label, "CRS", f"the coordinates ({_fmt(b)}) lie outside the area where {name} is used "
                         f"({aou.west:g}°…{aou.east:g}°E, {aou.south:g}°…{aou.north:g}°N: {aou.name[:80]}): "
                         "its CRS label is probably wrong", _WRONG_LABEL_FIX)


@dataclass(frozen=True)
class ParcelExtent:
    """Where the parcels are, for checking the other layers against: every parcel's bounding box in the
    parcel layer's CRS (a spatial index over boxes, read without building geometries)."""

    crs: CRS
    bounds: np.ndarray
    """xmin, ymin, xmax, ymax of the whole layer"""
    boxes: shapely.STRtree


@functools.lru_cache(maxsize=8)
def _read_extent(path: str, layer: str | None, mtime_ns: int, size: int) -> ParcelExtent | None:
    info = pyogrio.read_info(path, layer=layer)
    if not info.get("crs"):
        return None
    _, b = pyogrio.read_bounds(path, layer=layer)
    keep = np.isfinite(b).all(axis=0)
    if not keep.any():
        return None
    b = b[:, keep]
    boxes = shapely.box(b[0], b[1], b[2], b[3])
    return ParcelExtent(CRS.from_user_input(info["crs"]), np.array([b[0].min(), b[1].min(), b[2].max(), b[3].max()]),
                        shapely.STRtree(boxes))


def parcel_extent(path: Path, layer: str | None) -> ParcelExtent | None:
    """The parcel layer's extent (cached while the file is unchanged); None when it cannot be read, in
    which case the parcel layer's own check reports why."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return None
        return _read_extent(str(path), layer, st.st_mtime_ns, st.st_size)
    except Exception:  # noqa: BLE001 - the parcels' own front door names the problem
        return None


def check_near_parcels(gdf: gpd.GeoDataFrame, label: str, what: str, parcels: ParcelExtent | None,
                       covers: bool) -> None:
    """The layer lies where the parcels are. ``covers``: it acts on the parcels it covers (zones), so its
    extent must meet theirs, and a layer covering no parcel's box is a warning; otherwise (targets,
    anchors) it may lie outside, but within one parcel-extent of them."""
    b = _bounds(gdf)
    if parcels is None or b is None:
        return
    layer = gdf.geometry[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if gdf.crs != parcels.crs:
        layer = layer.to_crs(parcels.crs)
        b = layer.total_bounds
    p = parcels.bounds
    margin = 0.0 if covers else float(np.hypot(p[2] - p[0], p[3] - p[1]))
    gap_x = max(p[0] - b[2], b[0] - p[2], 0.0)
    gap_y = max(p[1] - b[3], b[1] - p[3], 0.0)
    if not np.isfinite(b).all() or np.hypot(gap_x, gap_y) > margin:
        gap = float(np.hypot(gap_x, gap_y))
        where = "" if not np.isfinite(gap) else f", {gap / 1000:,.1f} km away" if gap >= 1000 else f", {gap:,.0f} m away"
        raise InputError(label, "CRS", f"the {what} does not {'overlap' if covers else 'lie near'} the parcels "
                         f"(in {parcels.crs.to_string()}: layer {_fmt(b)}, parcels {_fmt(p)}{where}); a layer of "
                         f"another place, or its CRS label ({gdf.crs.to_string()}) is wrong", _WRONG_LABEL_FIX)
    if covers and not len(parcels.boxes.query(layer.to_numpy(), predicate="intersects")[0]):
        warnings.warn(LayerWarning(f"warning: {label}: the {what} covers no parcel; it changes nothing in this plan "
                                   "(check that it is the intended layer)"), stacklevel=2)


# --- the geometry ----------------------------------------------------------------------------------

def _rows(gdf: gpd.GeoDataFrame, mask, id_field: str | None) -> list:
    """How a planner finds the features: by id for parcels, by 1-based row number otherwise."""
    return list(gdf.loc[mask, id_field][:5]) if id_field else [int(i) + 1 for i in np.nonzero(np.asarray(mask))[0][:5]]


def check_geometry(gdf: gpd.GeoDataFrame, label: str, what: str, geometry: Geometry, *, repair: bool,
                   notes: list[str] | None = None, id_field: str | None = None) -> gpd.GeoDataFrame:
    """Geometry of the kind needed (``polygon``, ``point`` or ``any``), present where a shape is needed,
    valid — or repaired under ``repair`` (the polygonal part of ``make_valid``), said in ``notes``."""
    which = "parcel ids" if id_field else "feature rows"
    geom = gdf.geometry
    empty = geom.isna() | geom.is_empty
    if geometry == "polygon" and empty.any():
        raise InputError(label, "geometry", f"{empty.sum()} empty geometries, {which} {_rows(gdf, empty, id_field)}",
                         "delete or redraw them")
    wanted = _TYPES[geometry]
    if wanted is not None:
        wrong = ~empty & ~geom.geom_type.isin(sorted(wanted))
        if wrong.any():
            raise InputError(label, "geometry", f"the {what} must hold {_NEEDS[geometry]}, but has "
                             f"{', '.join(sorted(set(geom.geom_type[wrong])))} geometries ({which} {_rows(gdf, wrong, id_field)})",
                             "give a layer of the right kind (QGIS: the layer's geometry type)")
    invalid = ~empty & ~geom.is_valid
    if invalid.any():
        rows = _rows(gdf, invalid, id_field)
        if not repair:
            raise InputError(label, "geometry", f"{invalid.sum()} invalid geometries, {which} {rows}",
                             "repair them (QGIS: Fix geometries) or run with --repair")
        fixed = shapely.make_valid(geom[invalid].to_numpy())
        if geometry == "polygon" or geom[invalid].geom_type.isin(["Polygon", "MultiPolygon"]).all():
            # make_valid may return collections with stray lines; keep the polygonal part
            fixed = [shapely.union_all([g for g in shapely.get_parts(f) if g.geom_type in ("Polygon", "MultiPolygon")])
                     for f in fixed]
        gdf = gdf.copy()
        gdf.loc[invalid, gdf.geometry.name] = gpd.GeoSeries(fixed, index=gdf.index[invalid], crs=gdf.crs)
        note = f"{label}: repaired {invalid.sum()} invalid geometries with make_valid ({which} {rows})"
        if notes is not None:
            notes.append(note)
        else:
            warnings.warn(LayerWarning(f"note: {note}"), stacklevel=2)
    return gdf


def read_scenario_layer(loaded, relative: str, where: str, layer_name: str | None, what: str,
                        fields: dict[str, str] | None = None, *, geometry: Geometry = "any",
                        covers: bool = False) -> gpd.GeoDataFrame:
    """A GIS layer a scenario key names (``where``: the key holding ``relative``; ``loaded``: the
    LoadedScenario), through every check of this front door: a regular local file GDAL reads, a
    plausible CRS, the ``geometry`` asked for, valid (or repaired with ``--repair``), where the parcels
    are — ``covers``: the layer acts on the parcels it covers, so its extent must meet theirs. A
    required field missing (``fields``: field name → the key that names it) is named with its key."""
    path = loaded.resolve(relative, where)
    label = str(path)
    gdf = open_layer(path, layer_name, None, what=what, fix=f"check {where} in {loaded.label}",
                     layer_key=f"{where.rpartition('.')[0]}.layer_name")
    for f, key in (fields or {}).items():
        if f not in gdf.columns:
            raise InputError(label, f, f"field missing (needed by {key})",
                             f"add it or set {key} to one of {', '.join(map(str, gdf.columns[:12]))}")
    check_crs(gdf, label, what)
    gdf = check_geometry(gdf, label, what, geometry, repair=loaded.scenario.parcels.repair)
    src = loaded.scenario.parcels
    check_near_parcels(gdf, label, what, parcel_extent(loaded.resolve(src.path, "parcels.path"), src.layer), covers)
    return gdf
