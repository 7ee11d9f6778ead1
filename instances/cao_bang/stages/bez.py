"""The border-gate economic zone: a band along the China border, calibrated to the published area."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from instances.cao_bang.stages.constants import (BEZ_DISC_RADIUS_M, BEZ_DISTRICTS, BEZ_END_COMMUNES, BEZ_FOCAL,
                                                 BEZ_TARGET_HA, CRS, SOURCE_FILES)
from instances.cao_bang.stages.reading import polygonal, prec
from instances.cao_bang.stages.reference import anchor_inside


def bearing_deg(x, y, origin) -> np.ndarray:
    return np.degrees(np.arctan2(np.asarray(x) - origin.x, np.asarray(y) - origin.y)) % 360.0


def border_arc(province, communes2025: gpd.GeoDataFrame, districts: gpd.GeoDataFrame):
    """The China-border part of the province outline between the two BEZ end communes.

    Which outline segments are international border cannot be known offline. Cao Bằng borders China
    on the north and east and Vietnamese provinces on the west and south, so we take the outline
    vertices (densified to 100 m) whose bearing from the province centroid lies in the clockwise
    sector from xã Cần Yên to xã Đức Long, and that belong to one of the five BEZ districts
    (BEZ_DISTRICTS; nearest district). The district rule cuts off Bảo Lạc's border, which the
    bearing sector alone would take in because of the notch around Cần Yên. All four BEZ focal
    points (gates, Bản Giốc) lie next to the resulting arc.
    """
    centre = province.centroid
    ends = []
    for name in BEZ_END_COMMUNES:
        p = communes2025.loc[communes2025.name_vi == name].geometry
        if len(p) != 1:
            raise ValueError(f"{SOURCE_FILES['communes_2025']}: commune {name!r} not found once")
        ends.append(float(bearing_deg(p.iloc[0].x, p.iloc[0].y, centre)))
    b0, b1 = ends
    ring = max(shapely.get_parts(province), key=lambda g: g.area).exterior
    xy = shapely.get_coordinates(shapely.segmentize(ring, 100.0))[:-1]
    b = bearing_deg(xy[:, 0], xy[:, 1], centre)
    pts = shapely.points(xy)
    dist = np.stack([shapely.distance(g, pts) for g in districts.geometry.values])
    owner = districts.district_code.to_numpy()[np.argmin(dist, axis=0)]
    inside = (((b - b0) % 360.0) <= ((b1 - b0) % 360.0)) & np.isin(owner, BEZ_DISTRICTS)
    # contiguous runs of in-sector vertices along the closed ring
    start = int(np.argmin(inside)) if not inside.all() else 0
    xy, inside = np.roll(xy, -start, axis=0), np.roll(inside, -start)
    edges = np.flatnonzero(np.diff(np.r_[0, inside.astype(int), 0]))
    runs = [xy[a:z] for a, z in zip(edges[::2], edges[1::2]) if z - a >= 2]
    arc = shapely.line_merge(shapely.multilinestrings([shapely.linestrings(r) for r in runs]))
    return arc, {"sector_from_deg": round(b0, 3), "sector_to_deg": round(b1, 3),
                 "districts": list(BEZ_DISTRICTS), "arc_length_km": round(arc.length / 1000, 3),
                 "arc_parts": len(runs)}


def build_bez(land, arc, focal: dict, target_ha: float = BEZ_TARGET_HA):
    """Band of calibrated width along the border arc, clipped to ``land`` (the five BEZ districts).

    Width found by bisection so the area is the published 30,130 ha (±0.05 %). If the band misses a
    focal point (gates, Bản Giốc), a disc of BEZ_DISC_RADIUS_M joined to the arc by a corridor as wide
    as that radius is added and the width recalibrated. Focal points outside the province are represented
    by their nearest point 5 m inside it.
    """
    shapely.prepare(land)
    extras = []

    def footprint(w):
        band = shapely.intersection(shapely.buffer(arc, w, quad_segs=8), land)
        return polygonal(prec(shapely.union_all([band, *extras])) if extras else prec(band))

    for _ in range(len(focal) + 1):
        lo, hi = 10.0, 20_000.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            a = footprint(mid).area / 1e4
            if abs(a - target_ha) < 0.0005 * target_ha:
                break
            lo, hi = (mid, hi) if a < target_ha else (lo, mid)
        geom = footprint(mid)
        missed = [k for k, p in focal.items() if not shapely.contains(geom, p)]
        if not missed:
            break
        for k in missed:
            p = focal[k]
            link = shapely.buffer(shapely.shortest_line(arc, p), BEZ_DISC_RADIUS_M / 2)
            extras.append(shapely.intersection(
                shapely.union(shapely.buffer(p, BEZ_DISC_RADIUS_M, quad_segs=16), link), land))
    else:
        raise RuntimeError(f"BEZ footprint still misses {missed}")
    return geom, mid, len(extras)


def bez_layer(province, districts, places, communes2025):
    """The BEZ footprint layer and its build facts (arc, width, focal-point anchors)."""
    arc, arc_info = border_arc(province, communes2025, districts)
    land = shapely.union_all(districts.loc[districts.district_code.isin(BEZ_DISTRICTS)].geometry.values)
    pl = places.set_index("place_id")
    focal = {k: anchor_inside(pl.loc[k].geometry, province) for k in BEZ_FOCAL}
    geom, width, n_extra = build_bez(land, arc, focal)
    area = geom.area / 1e4
    info = {**arc_info, "width_m": round(width, 2), "area_ha": round(area, 4), "target_ha": BEZ_TARGET_HA,
            "discs_added": n_extra,
            "focal_points": {k: {"inside_province": bool(pl.loc[k, "inside_province"]),
                                 "anchor_x": round(p.x, 1), "anchor_y": round(p.y, 1)} for k, p in focal.items()}}
    basis = (f"band of width {width:.0f} m along the outline vertices whose bearing from the province centroid "
             f"lies clockwise between xã Cần Yên ({arc_info['sector_from_deg']}°) and xã Đức Long "
             f"({arc_info['sector_to_deg']}°) and that belong to the districts {', '.join(BEZ_DISTRICTS)} "
             "(taken as the China border), clipped to those districts; width calibrated by bisection to the "
             "published 30,130 ha (Decision 20/2014/QĐ-TTg); not a legal boundary")
    gdf = gpd.GeoDataFrame({
        "name": ["Khu kinh tế cửa khẩu Cao Bằng (approximate footprint)"],
        "area_ha": [round(area, 4)], "target_area_ha": [BEZ_TARGET_HA], "width_m": [round(width, 2)],
        "approximate": [True], "basis": [basis],
    }, geometry=[geom], crs=CRS)
    return gdf, info
