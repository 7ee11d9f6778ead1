"""Values per parcel from a raster (a DEM): elevation, or slope computed from it, as a mean over the parcel
or at its centroid. Read with rasterio (GDAL), only the window the parcels cover.

Slope is Horn's (1981) 3×3 estimate, as ``gdaldem slope`` computes it, on the raster's own grid; it needs
a raster in a projected CRS in metres (on a grid in degrees the cell size is not a length). At the edge of
the raster the surface is extended linearly (a plane keeps its slope up to the edge); nodata cells and
their neighbours have no slope.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from rasterio.errors import RasterioIOError
from rasterio.features import rasterize
from rasterio.windows import Window

from optimizer.engine.errors import InputError
from optimizer.engine.layers import check_file


def horn_slope(z: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Slope as rise over run (multiply by 100 for percent) by Horn's weights; NaN where a neighbour is NaN."""
    # beyond the edge, each row and column continues linearly (2·edge − inner), so a plane keeps its slope
    p = np.pad(z, 1, mode="reflect", reflect_type="odd") if min(z.shape) > 1 else np.pad(z, 1, mode="edge")
    a, b, c = p[:-2, :-2], p[:-2, 1:-1], p[:-2, 2:]
    d, f = p[1:-1, :-2], p[1:-1, 2:]
    g, h, i = p[2:, :-2], p[2:, 1:-1], p[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * dx)
    dzdy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * dy)
    return np.hypot(dzdx, dzdy)


def raster_values(path: Path, band: int, value: str, at: str, geometry: gpd.GeoSeries, ids: np.ndarray,
                  key: str, scenario: str) -> np.ndarray:
    """``value`` (elevation, slope_pct, slope_deg) per parcel; ``at``: ``mean`` over the cells whose centres
    lie in the parcel (the cell under the centroid when none does), or ``centroid``. Every parcel's centroid
    must fall on a cell with data: a raster that does not cover the parcels is an InputError listing them."""
    label = str(path)
    check_file(path, "raster", f"check {key}.path in {scenario} (relative to the scenario file)")
    try:
        src = rasterio.open(path)
    except RasterioIOError as e:
        raise InputError(label, None, f"cannot read as a raster: {e}", f"give a GeoTIFF (or another raster GDAL "
                         f"reads) in {key}.path") from None
    with src:
        if band > src.count:
            raise InputError(label, f"{key}.band", f"the raster has {src.count} band(s), not band {band}",
                             f"set {key}.band to 1…{src.count}")
        if src.crs is None:
            raise InputError(label, "CRS", "the raster has no CRS", "assign it (QGIS: Assign Projection, or "
                             "gdal_edit.py -a_srs EPSG:…) and save again")
        t = src.transform
        if t.b != 0 or t.d != 0:
            raise InputError(label, "transform", "the raster is rotated", "warp it to a north-up grid (gdalwarp)")
        slope = value.startswith("slope")
        if slope and not (src.crs.is_projected and src.crs.linear_units.lower() in ("metre", "meter", "m")):
            raise InputError(label, "CRS", f"slope needs a DEM in a projected CRS in metres; this one is in "
                             f"{src.crs.to_string()}", "reproject the DEM first, e.g. gdalwarp -t_srs EPSG:9210 "
                             f"(or the scenario's CRS) dem.tif dem_m.tif, and name that file in {key}.path")
        parcels = geometry.to_crs(src.crs) if geometry.crs != src.crs else geometry
        centroids = shapely.centroid(parcels.to_numpy())
        cx, cy = shapely.get_x(centroids), shapely.get_y(centroids)
        win = _window(t, parcels.total_bounds, src.width, src.height)
        if win is None:
            raise _not_covering(label, key, ids, np.ones(len(ids), bool), src, parcels)
        z = src.read(band, window=win, masked=True).astype(float).filled(np.nan)
        wt = src.window_transform(win)
    if slope:
        z = horn_slope(z, abs(wt.a), abs(wt.e))
        z = 100 * z if value == "slope_pct" else np.degrees(np.arctan(z))
    inv = ~wt
    col, row = inv @ (cx, cy)
    col, row = np.floor(col).astype(np.int64), np.floor(row).astype(np.int64)
    inside = (row >= 0) & (row < z.shape[0]) & (col >= 0) & (col < z.shape[1])
    at_centroid = np.full(len(ids), np.nan)
    at_centroid[inside] = z[row[inside], col[inside]]
    missing = ~np.isfinite(at_centroid)
    if missing.any():
        raise _not_covering(label, key, ids, missing, None, parcels)
    if at == "centroid":
        return at_centroid
    labels = rasterize(((g, i + 1) for i, g in enumerate(parcels.to_numpy())), out_shape=z.shape, transform=wt,
                       fill=0, all_touched=False, dtype="int32")
    good = (labels > 0) & np.isfinite(z)
    n = len(ids) + 1
    total = np.bincount(labels[good], weights=z[good], minlength=n)[1:]
    count = np.bincount(labels[good], minlength=n)[1:]
    return np.where(count > 0, total / np.maximum(count, 1), at_centroid)


def _window(t, bounds, width: int, height: int):
    """The cells under ``bounds`` and two more on every side (Horn's slope needs neighbours), within the
    raster; None when the bounds miss it."""
    x0, y0, x1, y1 = bounds
    cols, rows = ~t @ (np.array([x0, x1, x0, x1]), np.array([y0, y0, y1, y1]))
    c0, c1 = max(int(np.floor(cols.min())) - 2, 0), min(int(np.ceil(cols.max())) + 2, width)
    r0, r1 = max(int(np.floor(rows.min())) - 2, 0), min(int(np.ceil(rows.max())) + 2, height)
    return Window(c0, r0, c1 - c0, r1 - r0) if c1 > c0 and r1 > r0 else None


def _not_covering(label: str, key: str, ids: np.ndarray, missing: np.ndarray, src, parcels: gpd.GeoSeries) -> InputError:
    b = parcels.total_bounds
    extent = f"; raster extent x {src.bounds.left:,.0f} … {src.bounds.right:,.0f}, y {src.bounds.bottom:,.0f} … " \
             f"{src.bounds.top:,.0f}" if src is not None else ""
    return InputError(label, key, f"the raster does not cover {int(missing.sum())} of {len(ids)} parcels (no data "
                      f"at their centroids), parcel ids {', '.join(map(str, ids[missing][:5]))}; parcels span x "
                      f"{b[0]:,.0f} … {b[2]:,.0f}, y {b[1]:,.0f} … {b[3]:,.0f} in {parcels.crs.to_string()}{extent}",
                      "give a raster covering every parcel (QGIS: Raster → Miscellaneous → Merge the tiles), "
                      "or check its CRS")
