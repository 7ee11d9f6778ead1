"""Instance: the planner's parcel layer turned into sorted, frozen arrays.

GIS at the edges, arrays in the middle: this module validates the layer (file, CRS, geometry,
ids, codes, numeric fields) and hands compilation plain numpy arrays. Areas are measured in the
scenario's projected CRS (EPSG:9210 for Cao Bằng), never in degrees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import scipy.sparse as sp
import shapely
from pyproj import CRS

from optimizer.engine.errors import InputError
from optimizer.engine.files import sha256_file
from optimizer.engine.scenario import LoadedScenario
from optimizer.engine.text import nfc, nfc_array


@dataclass(frozen=True, eq=False)
class Instance:
    """Parcels sorted by id. Arrays are read-only; adjacency is built once, on first use."""

    path: Path
    sha256: str
    crs: CRS
    ids: np.ndarray
    area_ha: np.ndarray
    current_use: np.ndarray
    district: np.ndarray
    attrs: pd.DataFrame
    geometry: gpd.GeoSeries
    area_source: str
    adjacency_kind: str = "rook"
    notes: tuple[str, ...] = ()
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        return len(self.ids)

    def column(self, name: str, needed_by: str) -> np.ndarray:
        """A numeric attribute as float64; missing, non-numeric, NaN or negative values are input errors."""
        if name not in self.attrs.columns:
            raise InputError(str(self.path), name, f"field missing (needed by {needed_by})",
                             f"add a numeric field {name!r} to the parcel layer or change the scenario")
        key = ("col", name)
        if key not in self._cache:
            values = pd.to_numeric(self.attrs[name], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(values)
            if bad.any():
                rows = ", ".join(str(i) for i in self.ids[bad][:5])
                raise InputError(str(self.path), name, f"{bad.sum()} non-numeric or empty value(s), parcel ids {rows}",
                                 "fill them with numbers")
            if (values < 0).any():
                rows = ", ".join(str(i) for i in self.ids[values < 0][:5])
                raise InputError(str(self.path), name, f"negative value(s) at parcel ids {rows}",
                                 "values must be ≥ 0")
            values.setflags(write=False)
            self._cache[key] = values
        return self._cache[key]

    def text(self, name: str, needed_by: str) -> np.ndarray:
        if name not in self.attrs.columns:
            raise InputError(str(self.path), name, f"field missing (needed by {needed_by})",
                             f"add a text field {name!r} to the parcel layer")
        return nfc_array(self.attrs[name].astype(object).where(self.attrs[name].notna(), ""))

    def adjacency(self) -> sp.csr_matrix:
        """Symmetric n×n matrix of shared boundary length (m); queen adds point contacts with weight 0+."""
        if "adj" not in self._cache:
            self._cache["adj"] = build_adjacency(self.geometry, self.adjacency_kind)
        return self._cache["adj"]


def build_adjacency(geometry: gpd.GeoSeries, kind: str = "rook") -> sp.csr_matrix:
    """Shared boundary lengths from geometry, vectorized over candidate pairs from the spatial index."""
    n = len(geometry)
    geoms = geometry.to_numpy()
    left, right = geometry.sindex.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(geoms[left]), shapely.boundary(geoms[right])))
    mask = shared > 1e-6 if kind == "rook" else np.ones(len(left), dtype=bool)
    # queen contacts that share only a point get a tiny positive length so they stay in the sparse pattern
    length = np.where(shared > 1e-6, shared, 1e-9)[mask]
    a = sp.coo_matrix((length, (left[mask], right[mask])), shape=(n, n))
    return (a + a.T).tocsr()


_VIETNAMESE_LEGACY_HINT = ("the text looks like a legacy Vietnamese encoding (TCVN3/ABC or VNI), which GDAL cannot "
                           "read; convert the layer to Unicode (e.g. with Unikey's converter) and save as GeoPackage")


def _is_text(col: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)


def _decode_cp1258(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """GDAL reads CP1258 .dbf text with each value's last character cut off; read it as latin-1
    (byte-transparent) and decode CP1258 here instead, then normalize to NFC."""
    for col in gdf.columns:
        if col != gdf.geometry.name and _is_text(gdf[col]):
            gdf[col] = [nfc(v.encode("latin-1").decode("cp1258")) if isinstance(v, str) else v
                        for v in gdf[col]]
    return gdf


_VIETNAMESE_LATIN1 = set("àáâãèéêìíòóôõùúýÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝ")


def _looks_legacy(values) -> bool:
    """TCVN3/VNI text read through a Latin code page shows Latin-1 symbols that Unicode Vietnamese
    never uses (Ö, ¸, », ä …); Unicode Vietnamese uses only a few Latin-1 letters and U+1Exx."""
    text = "".join(v for v in values if isinstance(v, str))
    if any("\u1ea0" <= ch <= "\u1ef9" or ch in "ăĂđĐĩĨũŨơƠưƯ" for ch in text):
        return False  # real Unicode Vietnamese present
    latin1 = [ch for ch in text if "\x80" <= ch <= "\xff"]
    odd = sum(ch not in _VIETNAMESE_LATIN1 for ch in latin1)
    return odd >= 3 and odd >= 0.3 * len(latin1)


def read_layer(path: Path, layer: str | None, encoding: str | None, label: str) -> gpd.GeoDataFrame:
    if "://" in str(path):
        raise InputError(str(path), None, "is a URL; landalloc reads local files only", "download it and name the local path")
    if not path.exists():
        raise InputError(str(path), None, "parcel layer not found", f"check `parcels.path` in {label}")
    if not (path.is_file() or path.is_dir()):
        raise InputError(str(path), None, "is not a regular file (device, pipe or socket)", "name a GIS file")
    cp1258 = encoding is not None and encoding.replace("-", "").lower() in ("cp1258", "windows1258")
    try:
        kwargs = {"layer": layer} if layer else {}
        if encoding:
            kwargs["encoding"] = "ISO-8859-1" if cp1258 else encoding
        gdf = pyogrio.read_dataframe(path, **kwargs)
    except Exception as e:  # pyogrio raises several DataSource/Field errors; all mean "cannot read"
        raise InputError(str(path), f"layer {layer}" if layer else None, f"cannot read as a GIS layer: {e}",
                         "give a GeoPackage, Shapefile or GeoJSON (and `parcels.layer` for multi-layer files)") from None
    if not isinstance(gdf, gpd.GeoDataFrame):  # a table without geometry (e.g. a CSV) is not a parcel layer
        raise InputError(str(path), None, "has no geometry", "give a polygon layer (GeoPackage, Shapefile or GeoJSON)")
    if cp1258:
        gdf = _decode_cp1258(gdf)
    for col in gdf.columns:
        if col != gdf.geometry.name and _is_text(gdf[col]) and _looks_legacy(gdf[col].head(2000)):
            raise InputError(str(path), col, _VIETNAMESE_LEGACY_HINT,
                             "or, for Windows-1258 text, set `parcels.encoding: cp1258` in the scenario")
    return gdf


def _check_geometry(gdf: gpd.GeoDataFrame, id_field: str, label: str, repair: bool, notes: list[str]) -> gpd.GeoDataFrame:
    geom = gdf.geometry
    empty = geom.isna() | geom.is_empty
    if empty.any():
        raise InputError(label, "geometry", f"{empty.sum()} empty geometries, parcel ids {list(gdf.loc[empty, id_field][:5])}",
                         "delete or redraw those parcels")
    polygonal = geom.geom_type.isin(["Polygon", "MultiPolygon"])
    if not polygonal.all():
        raise InputError(label, "geometry", f"non-polygon geometries ({sorted(set(geom.geom_type[~polygonal]))}), "
                         f"parcel ids {list(gdf.loc[~polygonal, id_field][:5])}", "parcels must be polygons")
    invalid = ~geom.is_valid
    if invalid.any():
        ids = list(gdf.loc[invalid, id_field][:5])
        if not repair:
            raise InputError(label, "geometry", f"{invalid.sum()} invalid geometries, parcel ids {ids}",
                             "repair them (QGIS: Fix geometries) or run with --repair")
        # make_valid may return collections with stray lines; keep the polygonal part
        fixed = [shapely.union_all([g for g in shapely.get_parts(f) if g.geom_type in ("Polygon", "MultiPolygon")])
                 for f in shapely.make_valid(geom[invalid].to_numpy())]
        gdf = gdf.copy()
        gdf.loc[invalid, gdf.geometry.name] = gpd.GeoSeries(fixed, index=gdf.index[invalid], crs=gdf.crs)
        notes.append(f"{label}: repaired {invalid.sum()} invalid geometries with make_valid (parcel ids {ids})")
    return gdf


def _check_overlaps(gdf: gpd.GeoDataFrame, id_field: str, label: str, tolerance_m2: float) -> None:
    geoms = gdf.geometry.to_numpy()
    left, right = gdf.sindex.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    overlap = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    bad = overlap > tolerance_m2
    if bad.any():
        ids = gdf[id_field].to_numpy()
        pairs = [f"{ids[a]}/{ids[b]} ({o:,.0f} m²)" for a, b, o in zip(left[bad][:5], right[bad][:5], overlap[bad][:5])]
        raise InputError(label, "geometry", f"{bad.sum()} pairs of parcels overlap by more than {tolerance_m2} m²: "
                         f"{', '.join(pairs)}", "remove the overlaps (QGIS: Topology checker) or raise parcels.overlap_tolerance_m2")


def load_instance(loaded: LoadedScenario) -> Instance:
    sc = loaded.scenario
    src = sc.parcels
    path = loaded.resolve(src.path, "parcels.path")
    gdf = read_layer(path, src.layer, src.encoding, loaded.label)
    f = src.fields
    label = str(path)
    if len(gdf) == 0:
        raise InputError(label, None, "the layer has no parcels", "check the file and `parcels.layer`")
    if gdf.crs is None:
        raise InputError(label, None, "the layer has no CRS", "assign its CRS in QGIS (e.g. EPSG:9210) and save again")
    target = CRS.from_user_input(sc.crs)
    if not target.is_projected:
        raise InputError(loaded.label, "crs", f"{sc.crs} is not projected; areas need a projected CRS", "use EPSG:9210 for Cao Bằng")
    for role, name in (("id", f.id), ("current_use", f.current_use), ("district", f.district)):
        if name not in gdf.columns:
            raise InputError(label, name, f"field missing (the {role} field, parcels.fields.{role})",
                             f"add it or map parcels.fields.{role} to an existing field ({', '.join(map(str, gdf.columns[:12]))})")
    notes: list[str] = []
    gdf = _check_geometry(gdf, f.id, label, src.repair, notes)
    ids = gdf[f.id]
    if ids.isna().any():
        raise InputError(label, f.id, "empty parcel id(s)", "give every parcel an id")
    dup = ids.duplicated(keep=False)
    if dup.any():
        raise InputError(label, f.id, f"duplicate parcel ids: {sorted(set(ids[dup].tolist()))[:5]}", "make ids unique")
    if gdf.crs != target:
        kind = "geographic" if gdf.crs.is_geographic else "projected"
        notes.append(f"{label}: reprojected from {kind} {gdf.crs.to_string()} to {target.to_string()} to measure areas")
        gdf = gdf.to_crs(target)
    _check_overlaps(gdf, f.id, label, src.overlap_tolerance_m2)
    gdf = gdf.sort_values(f.id, kind="stable").reset_index(drop=True)
    current = nfc_array(gdf[f.current_use].astype(object).where(gdf[f.current_use].notna(), ""))
    unknown = sorted(set(current) - set(sc.land_uses))
    if unknown:
        raise InputError(label, f.current_use, f"unknown land-use code(s) {unknown[:8]}",
                         f"add them to land_uses in {loaded.label} or correct the data")
    if f.area_ha:
        if f.area_ha not in gdf.columns:
            raise InputError(label, f.area_ha, "area field missing (parcels.fields.area_ha)", "add it or remove the mapping to compute areas")
        area = pd.to_numeric(gdf[f.area_ha], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(area).all() or (area <= 0).any():
            raise InputError(label, f.area_ha, "areas must be positive numbers", "fix the area field or drop the mapping")
        area_source = f"field:{f.area_ha}"
    else:
        area = gdf.geometry.area.to_numpy() / 1e4
        area_source = f"geometry:{target.to_string()}"
    district = nfc_array(gdf[f.district].astype(object).where(gdf[f.district].notna(), ""))
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    arrays = [area, current, district]
    for a in arrays:
        a.setflags(write=False)
    id_arr = gdf[f.id].to_numpy()
    id_arr.setflags(write=False)
    return Instance(path=path, sha256=sha256_file(path), crs=target, ids=id_arr, area_ha=area, current_use=current,
                    district=district, attrs=attrs, geometry=gdf.geometry, area_source=area_source,
                    adjacency_kind=src.adjacency, notes=tuple(notes))
