"""The real (approximate) reference layers: province, districts reconciled to tile it, key places,
and the strict zones with their buffer rings."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from instances.cao_bang.stages.constants import (BUFFER_WIDTH_M, CIRCLE_ZONES, CRS, INSIDE_SNAP_M,
                                                 MISSING_NOT_IN_CSV, NATURAL_AREA_HA, PLACE_IDS, POINT_ZONE_RADIUS_M,
                                                 POINT_ZONES, RIVER_HALF_WIDTH_M, RIVER_SKELETON, SOURCE_FILES,
                                                 SUBREGION)
from instances.cao_bang.stages.reading import polygonal, prec, read_layer
from optimizer.engine.text import nfc


def build_province(src: Path) -> gpd.GeoDataFrame:
    """The ODM province polygon in EPSG:9210 (+0.3 % vs the published natural area)."""
    raw = read_layer(src / SOURCE_FILES["province"])
    geom = prec(shapely.union_all(raw.geometry.values))
    area = geom.area / 1e4
    return gpd.GeoDataFrame({
        "name_vi": ["Tỉnh Cao Bằng"], "name_en": ["Cao Bang Province"], "province_code": ["04"],
        "area_ha": [round(area, 4)], "official_area_ha": [NATURAL_AREA_HA],
        "area_dev_pct": [round(100 * (area / NATURAL_AREA_HA - 1), 3)],
        "source": ["Open Development Vietnam 'Địa phận tỉnh' (CC BY-SA 4.0), reprojected to EPSG:9210"],
    }, geometry=[geom], crs=CRS)


def build_districts(src: Path, province) -> gpd.GeoDataFrame:
    """The 10 plan districts, reconciled so they tile the province polygon exactly.

    The district and province sources disagree along the outer boundary (≈0.7 % each way). Parcels
    must tile the province and lie in exactly one district, so each district is clipped to the
    province, and province area outside every district is given to the district owning the nearest
    district-boundary vertex (Voronoi cells of the boundary vertices, densified to 250 m). Later
    districts are differenced against earlier ones so no area is counted twice.
    """
    raw = read_layer(src / SOURCE_FILES["districts"]).sort_values("gso_code").reset_index(drop=True)
    geoms = prec(raw.geometry.values)
    gap = shapely.difference(province, shapely.union_all(geoms))
    pts, lab = [], []
    for i, g in enumerate(geoms):
        c = shapely.get_coordinates(shapely.segmentize(shapely.boundary(g), 250.0))
        pts.append(c)
        lab.append(np.full(len(c), i))
    pts, lab = np.vstack(pts), np.concatenate(lab)
    _, first = np.unique(np.round(pts, 1), axis=0, return_index=True)
    first.sort()
    pts, lab = pts[first], lab[first]
    frame = shapely.box(*(np.asarray(province.bounds) + [-1e4, -1e4, 1e4, 1e4]))
    cells = np.asarray(shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame, ordered=True)))
    out, done = [], None
    for i, g in enumerate(geoms):
        zone = shapely.union_all(cells[lab == i])
        f = shapely.union(shapely.intersection(g, province), shapely.intersection(gap, zone))
        if done is not None:
            f = shapely.difference(f, done)
        f = polygonal(prec(f))
        out.append(f)
        done = f if done is None else shapely.union(done, f)
    area = shapely.area(np.asarray(out)) / 1e4
    official = raw["official_area_km2_wiki"].astype(float) * 100.0
    codes = raw["gso_code"].astype(str).str.zfill(3)
    return gpd.GeoDataFrame({
        "district": raw["name_vi"].values,
        "district_code": codes.values,
        "name_ascii": raw["name_ascii"].values,
        "subregion": codes.map(SUBREGION).values,
        "official_area_ha": official.where(official.notna(), None).values,
        "area_ha": np.round(area, 4),
        "area_dev_pct": np.round(100 * (area / official.values - 1), 3),
        "source_area_ha": np.round(shapely.area(geoms) / 1e4, 4),
    }, geometry=out, crs=CRS)


def build_places(src: Path, province, districts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Key places with stable ascii ``place_id``; ``seat_of`` is the district code a seat serves."""
    raw = read_layer(src / SOURCE_FILES["places"]).reset_index(drop=True)
    pid, seat = [], []
    for name in raw["name"]:
        hits = [(p, s) for prefix, p, s in PLACE_IDS if name.startswith(prefix)]
        if len(hits) != 1:
            raise ValueError(f"{SOURCE_FILES['places']}: place {name!r} matches {len(hits)} ids")
        pid.append(hits[0][0])
        seat.append(hits[0][1])
    missing = {p for _, p, _ in PLACE_IDS} - set(pid)
    if missing:
        raise ValueError(f"{SOURCE_FILES['places']}: no row for {sorted(missing)}")
    g = raw.geometry.values
    inside = shapely.contains(province, g)
    dist_out = np.where(inside, 0.0, shapely.distance(province, g))
    in_district = [districts.loc[districts.contains(p), "district_code"].tolist() for p in g]
    places = gpd.GeoDataFrame({
        "place_id": pid, "name": raw["name"].values, "kind": raw["kind"].values,
        "confidence": raw["confidence"].values, "seat_of": seat,
        "district_code": [c[0] if c else None for c in in_district],
        "inside_province": inside, "outside_by_m": np.round(dist_out, 1),
        "lat": raw["lat"].astype(float).values, "lon": raw["lon"].astype(float).values,
        "source": raw["source"].values, "note": raw["note"].fillna("").values,
    }, geometry=g, crs=CRS)
    bad = places[places.seat_of.notna() & (places.seat_of != places.district_code)]
    if len(bad):
        raise ValueError(f"district seat(s) outside their district: {bad.place_id.tolist()}")
    return places.sort_values("place_id").reset_index(drop=True)


def anchor_inside(point, province):
    """The point itself if inside the province, else its nearest point 5 m inside (border places)."""
    if shapely.contains(province, point):
        return point
    shrunk = shapely.buffer(province, -INSIDE_SNAP_M)
    return shapely.shortest_line(shrunk, point).interpolate(0.0)


def river_line(places: gpd.GeoDataFrame, pre2020: gpd.GeoDataFrame):
    """Straight-line skeleton of the Bằng river through RIVER_SKELETON (see its comment)."""
    pts = []
    for key in RIVER_SKELETON:
        if key.startswith("pre2020:"):
            pts.append(pre2020.loc[pre2020.gso_code_old == key.split(":")[1]].geometry.iloc[0])
        else:
            pts.append(places.loc[places.place_id == key].geometry.iloc[0])
    return shapely.linestrings(shapely.get_coordinates(np.asarray(pts)))


def missing_protected_areas(src: Path) -> list[str]:
    """Plan strict-protection areas with no location in the sources (documented, not drawn)."""
    table = pd.read_csv(src / SOURCE_FILES["protected_csv"], dtype=str).map(nfc)
    drawn = {z[3] for z in POINT_ZONES}
    for name in drawn:
        if name not in set(table["name"]):
            raise ValueError(f"{SOURCE_FILES['protected_csv']}: no row {name!r}")
    lost = table[table["centre_lat"].isna() & ~table["name"].isin(drawn)]
    return [f"{n}: no location in the sources" for n in lost["name"]] + MISSING_NOT_IN_CSV


def build_zones(src: Path, province, places: gpd.GeoDataFrame, river) -> gpd.GeoDataFrame:
    """Strict zones (approximate circles, point discs, river corridor) and their buffer rings."""
    circles = read_layer(src / SOURCE_FILES["protected_circles"])
    rows = []
    for prefix, zid, zname in CIRCLE_ZONES:
        r = circles[circles["name"].str.startswith(prefix)]
        if len(r) != 1:
            raise ValueError(f"{SOURCE_FILES['protected_circles']}: {prefix!r} matches {len(r)} rows")
        r = r.iloc[0]
        rows.append(dict(zone_id=zid, zone_name=zname, category=r["category"], geometry=r.geometry,
                         published_area_ha=float(r["area_ha"]), confidence=r["confidence"],
                         basis=(f"circle of the published area {r['area_ha']:g} ha ({r['area_source']}) "
                                f"around an approximate centre ({r['centre_source']}); shape not real")))
    for pid, zid, zname, _ in POINT_ZONES:
        p = places.loc[places.place_id == pid].iloc[0]
        rows.append(dict(zone_id=zid, zone_name=zname, category="landscape",
                         geometry=shapely.buffer(p.geometry, POINT_ZONE_RADIUS_M, quad_segs=16),
                         published_area_ha=None, confidence="low",
                         basis=(f"no published area or boundary: disc of nominal radius "
                                f"{POINT_ZONE_RADIUS_M:g} m around the point '{p['name']}' "
                                f"({p['confidence']} confidence)")))
    rows.append(dict(zone_id="song_bang", zone_name="Sông Bằng (khu bảo tồn vùng nước nội địa)",
                     category="inland_water", geometry=shapely.buffer(river, RIVER_HALF_WIDTH_M, quad_segs=8),
                     published_area_ha=None, confidence="low",
                     basis=(f"corridor of half-width {RIVER_HALF_WIDTH_M:g} m around a straight-line skeleton "
                            "through Sóc Giang gate, Sóc Hà, Cao Bằng city, Hòa Thuận, Tà Lùng town and gate; "
                            "the real river meanders km away from it in places")))
    strict = pd.DataFrame(rows)
    strict["geometry"] = [polygonal(g) for g in prec(shapely.intersection(np.asarray(strict.geometry, dtype=object),
                                                                          province))]
    strict["zone_class"] = "strict"
    strict_union = shapely.union_all(strict.geometry.values)
    buf = strict.copy()
    ring = shapely.buffer(np.asarray(strict.geometry, dtype=object), BUFFER_WIDTH_M, quad_segs=16)
    buf["geometry"] = [polygonal(g) for g in prec(shapely.intersection(shapely.difference(ring, strict_union),
                                                                       province))]
    buf["zone_class"] = "buffer"
    buf["zone_id"] = "buffer_" + buf["zone_id"]
    buf["zone_name"] = "vùng đệm: " + buf["zone_name"]
    buf["published_area_ha"] = None
    buf["basis"] = (f"ring of {BUFFER_WIDTH_M:g} m around the strict zone, minus all strict zones, clipped "
                    "to the province (rings of neighbouring zones may overlap)")
    zones = pd.concat([strict, buf], ignore_index=True)
    zones["approximate"] = True
    zones["area_ha"] = np.round(shapely.area(zones.geometry.values) / 1e4, 4)
    cols = ["zone_id", "zone_class", "zone_name", "category", "area_ha", "published_area_ha", "approximate",
            "confidence", "basis", "geometry"]
    return gpd.GeoDataFrame(zones[cols], geometry="geometry", crs=CRS)
