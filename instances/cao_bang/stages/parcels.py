"""One parcel dataset: tessellate its region, evaluate the fields at the centroids, assign use,
households and suitability."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from instances.cao_bang.stages.constants import (CRS, DATASETS, FOREST_CODES, GATES, HOUSEHOLD_DENSITY,
                                                 HOUSEHOLDS_TOTAL, RICE_CODES, SEED, TOURISM_POINTS, TOWNS)
from instances.cao_bang.stages.context import Context
from instances.cao_bang.stages.land_use import assign_land_use, suitability
from instances.cao_bang.stages.reading import fold, polygonal, prec
from instances.cao_bang.stages.tessellation import tessellate


def nearest_commune_2025(ctx: Context, x, y, district_code: np.ndarray) -> np.ndarray:
    """Name of the nearest 2025 commune point among those formed from the parcel's pre-2025 district.

    The 2025 communes have points only (no polygons); a commune that took in communes of two
    districts is a candidate in both. Every district has candidates, so the fallback (nearest of
    all) is only a guard.
    """
    c = ctx.communes2025
    cands = c["pre2025_district"].map(lambda s: {fold(p) for p in s.split(";")})
    xy = shapely.get_coordinates(c.geometry.values)
    out = np.empty(len(x), dtype=object)
    names = c["name_vi"].to_numpy()
    for code, name in zip(ctx.districts.district_code, ctx.districts.district):
        m = district_code == code
        if not m.any():
            continue
        ok = cands.map(lambda s: fold(name) in s).to_numpy()
        if not ok.any():
            ok = np.ones(len(c), bool)
        _, k = cKDTree(xy[ok]).query(np.c_[x[m], y[m]])
        out[m] = names[ok][k]
    return out.astype(str)


def _dist_to_points_km(x, y, pts) -> np.ndarray:
    d, _ = cKDTree(shapely.get_coordinates(np.asarray(pts))).query(np.c_[x, y])
    return d / 1000.0


def field_frame(ctx: Context, x, y, district_code) -> pd.DataFrame:
    """All per-parcel explanatory values (real distances + synthetic fields) at the centroids."""
    pl = ctx.places.set_index("place_id")
    seats = pl[pl.seat_of.notna()]
    seat_xy = {row.seat_of: (row.geometry.x, row.geometry.y) for row in seats.itertuples()}
    sx = np.array([seat_xy[c][0] for c in district_code])
    sy = np.array([seat_xy[c][1] for c in district_code])
    pts = shapely.points(x, y)
    t = ctx.terrain
    elev = t.elevation(x, y)
    nature = ctx.zones[(ctx.zones.zone_class == "strict") & (ctx.zones.zone_id != "song_bang")]
    nat = shapely.union_all(nature.geometry.values)
    shapely.prepare(nat)
    return pd.DataFrame({
        "elevation_m": elev,
        "slope_pct": t.slope(x, y, elev),
        "n1": t.noise("n1", x, y), "n2": t.noise("n2", x, y), "n3": t.noise("n3", x, y),
        "streams": t.noise("streams", x, y),
        "hh_mod": t.noise("hh", x, y),
        "d_gate_km": _dist_to_points_km(x, y, pl.loc[list(GATES)].geometry.values),
        "d_city_km": np.hypot(x - pl.loc["cao_bang_city"].geometry.x, y - pl.loc["cao_bang_city"].geometry.y) / 1000,
        "d_seat_km": np.hypot(x - sx, y - sy) / 1000,
        "d_seat_town_km": _dist_to_points_km(x, y, pd.concat([seats, pl.loc[list(TOWNS)]]).geometry.values),
        "d_tourism_km": _dist_to_points_km(x, y, pl.loc[list(TOURISM_POINTS)].geometry.values),
        "d_commune_km": _dist_to_points_km(x, y, ctx.pre2020.geometry.values),
        "d_road_km": shapely.distance(pts, ctx.roads) / 1000,
        "d_river_km": shapely.distance(pts, ctx.river) / 1000,
        "in_nature_zone": shapely.contains_xy(nat, x, y),
    })


PARCEL_COLUMNS = ["parcel_id", "district", "district_code", "commune_2025", "area_ha", "current_use",
                  "slope_pct", "elevation_m", "dist_gate_km", "dist_city_km", "dist_seat_km", "dist_tourism_km",
                  "dist_commune_km", "households", "suit_industry", "suit_cluster", "suit_logistics",
                  "suit_tourism", "suit_resettlement", "is_forest", "is_rice"]
REAL_FIELDS = ["parcel_id", "district", "district_code", "commune_2025", "area_ha", "dist_gate_km",
               "dist_city_km", "dist_seat_km", "dist_tourism_km", "dist_commune_km"]
SYNTHETIC_FIELDS = ["current_use", "slope_pct", "elevation_m", "households", "suit_industry", "suit_cluster",
                    "suit_logistics", "suit_tourism", "suit_resettlement", "is_forest", "is_rice"]


def dataset_regions(ctx: Context, region: str) -> gpd.GeoDataFrame:
    d = ctx.districts[["district", "district_code", "geometry"]].copy()
    if region == "bez":
        d["geometry"] = [polygonal(g) for g in prec(shapely.intersection(d.geometry.values, ctx.bez.geometry.iloc[0]))]
        d = d[~d.geometry.is_empty].reset_index(drop=True)
    return d


def generate_parcels(ctx: Context, name: str, thresholds: dict | None = None, hh_scale: float | None = None):
    """One parcel dataset (deterministic). Returns (GeoDataFrame, info dict).

    ``thresholds``/``hh_scale`` None: calibrate land use and household density on this dataset (the
    province datasets); else reuse them (the BEZ dataset reuses province_10ha's).
    """
    region, cell_ha = DATASETS[name]
    regions = dataset_regions(ctx, region)
    parcels, stats = tessellate(regions, cell_ha * 1e4)
    parcels["district"] = regions.district.to_numpy()[parcels.region]
    parcels["district_code"] = regions.district_code.to_numpy()[parcels.region]
    c = shapely.centroid(parcels.geometry.values)
    x, y = shapely.get_x(c), shapely.get_y(c)
    dcode = parcels.district_code.to_numpy()
    f = field_frame(ctx, x, y, dcode)
    area = shapely.area(parcels.geometry.values) / 1e4
    use, used_t = assign_land_use(f, area, thresholds)

    lam = area * pd.Series(use).map(HOUSEHOLD_DENSITY).fillna(0.0).to_numpy() * (0.6 + 0.8 * f.hh_mod.to_numpy())
    if hh_scale is None:
        hh_scale = HOUSEHOLDS_TOTAL / lam.sum()
    rng = np.random.default_rng([SEED, list(DATASETS).index(name)])
    households = rng.poisson(lam * hh_scale).astype(np.int64)

    parcels["commune_2025"] = nearest_commune_2025(ctx, x, y, dcode)
    parcels["area_ha"] = np.round(area, 4)
    parcels["current_use"] = use
    parcels["slope_pct"] = np.round(f.slope_pct, 2)
    parcels["elevation_m"] = np.round(f.elevation_m, 0)  # whole metres: synthetic anyway, smaller file
    parcels["dist_gate_km"] = np.round(f.d_gate_km, 3)
    parcels["dist_city_km"] = np.round(f.d_city_km, 3)
    parcels["dist_seat_km"] = np.round(f.d_seat_km, 3)
    parcels["dist_tourism_km"] = np.round(f.d_tourism_km, 3)
    parcels["dist_commune_km"] = np.round(f.d_commune_km, 3)
    parcels["households"] = households
    for k, v in suitability(f, use).items():
        parcels[k] = v
    parcels["is_forest"] = np.isin(use, FOREST_CODES).astype(np.int32)
    parcels["is_rice"] = np.isin(use, RICE_CODES).astype(np.int32)
    gdf = gpd.GeoDataFrame(parcels[PARCEL_COLUMNS], geometry=parcels.geometry.values, crs=CRS)
    info = {"tessellation": stats, "thresholds": {k: float(v) for k, v in used_t.items()},
            "households_scale": hh_scale, "region_area_ha": float(shapely.area(regions.geometry.values).sum() / 1e4)}
    return gdf, info
