"""Instance: the planner's parcel layer turned into sorted, frozen arrays.

GIS at the edges, arrays in the middle: this module validates the layer (file, CRS, geometry — through
the front door every input layer passes, ``layers.py`` — then ids, codes, numeric fields) and hands
compilation plain numpy arrays. Areas are measured in the scenario's projected CRS (EPSG:9210 for
Cao Bằng), never in degrees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS

from optimizer.engine.errors import InputError
from optimizer.engine.files import sha256_file
from optimizer.engine.layers import check_crs, check_geometry, open_layer, read_cadastral
from optimizer.engine.scenario import LoadedScenario
from optimizer.engine.suitability import build_suitability
from optimizer.engine.text import nfc_array


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
    suitability: dict = field(default_factory=dict)
    """run.json's ``suitability`` block: the scores built from the scenario's criteria (empty without them)"""
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


def read_parcel_layer(path: Path, layer: str | None, encoding: str | None, label: str) -> gpd.GeoDataFrame:
    """The parcel layer through the front door's file checks (``layers.open_layer``); ``label`` is the scenario."""
    return open_layer(path, layer, encoding, what="parcel layer", fix=f"check `parcels.path` in {label}")


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
    gdf = read_parcel_layer(path, src.layer, src.encoding, loaded.label)
    f = src.fields
    label = str(path)
    gdf = read_cadastral(gdf, src, sc.land_uses, label)  # parcels.cadastral: land-office codes and ids
    if len(gdf) == 0:
        raise InputError(label, None, "the layer has no parcels", "check the file and `parcels.layer`")
    check_crs(gdf, label, "layer")
    target = CRS.from_user_input(sc.crs)  # resolvable, projected and in metres: checked by the schema
    for role, name in (("id", f.id), ("current_use", f.current_use), ("district", f.district)):
        if name not in gdf.columns:
            raise InputError(label, name, f"field missing (the {role} field, parcels.fields.{role})",
                             f"add it or map parcels.fields.{role} to an existing field ({', '.join(map(str, gdf.columns[:12]))})")
    notes: list[str] = []
    gdf = check_geometry(gdf, label, "parcel layer", "polygon", repair=src.repair, notes=notes, id_field=f.id)
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
    suit = build_suitability(loaded, path, gdf.geometry, attrs, current, gdf[f.id].to_numpy())
    attrs = attrs.assign(**suit.columns)
    arrays = [area, current, district]
    for a in arrays:
        a.setflags(write=False)
    id_arr = gdf[f.id].to_numpy()
    id_arr.setflags(write=False)
    return Instance(path=path, sha256=sha256_file(path), crs=target, ids=id_arr, area_ha=area, current_use=current,
                    district=district, attrs=attrs, geometry=gdf.geometry, area_source=area_source,
                    adjacency_kind=src.adjacency, notes=tuple(notes), suitability=suit.block)
