"""Reading the source layers, and the geometry rules every written layer follows.

Sources mix diacritic forms and CRSs; everything is NFC-normalised and reprojected to EPSG:9210 on
the way in, and snapped to one 0.1 m grid on the way out, so shared edges stay exactly identical.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from instances.cao_bang.stages.constants import CRS, GRID
from optimizer.engine.text import nfc


def fold(s: str) -> str:
    """Ascii-fold a Vietnamese name for matching ("Huyện Hoà An" == "Hòa An" == "hoa an")."""
    s = unicodedata.normalize("NFD", nfc(s)).replace("đ", "d").replace("Đ", "D")
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Mn").lower().strip()
    for prefix in ("thanh pho ", "huyen ", "thi xa "):
        if s.startswith(prefix):
            s = s[len(prefix):]
    return s


def read_layer(path: Path) -> gpd.GeoDataFrame:
    """Read a vector file, refuse it without a CRS, reproject to EPSG:9210 and NFC-normalize text."""
    gdf = gpd.read_file(path)
    if gdf.crs is None:
        raise ValueError(f"{path.name}: layer has no CRS; refusing to guess")
    gdf = gdf.to_crs(CRS)
    for col in gdf.columns:
        if gdf[col].dtype == object and col != gdf.geometry.name:
            gdf[col] = gdf[col].map(nfc)
    return gdf


def prec(geom):
    """Snap to the 0.1 m grid (valid output), the single precision rule for every written geometry."""
    return shapely.set_precision(geom, GRID)


def polygonal(geom):
    """Only the polygon parts of an overlay result (drops the stray lines/points GEOS may return)."""
    parts = shapely.get_parts(geom)
    parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    return shapely.union_all(parts) if len(parts) else shapely.Polygon()
