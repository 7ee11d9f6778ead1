"""Hexagonal parcels cut along the district lines, slivers merged into their neighbours."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from instances.cao_bang.stages.constants import CRS, GRID, SLIVER_FRACTION
from instances.cao_bang.stages.reading import prec


def hex_side(cell_area_m2: float) -> float:
    return float(np.sqrt(2.0 * cell_area_m2 / (3.0 * np.sqrt(3.0))))


def hex_lattice(bounds, side):
    """Pointy-top hexagon centres on a lattice anchored at the CRS origin (stable across builds)."""
    dx, dy = np.sqrt(3.0) * side, 1.5 * side
    x0, y0, x1, y1 = bounds
    j = np.arange(int(np.floor(y0 / dy)) - 1, int(np.ceil(y1 / dy)) + 2)
    i = np.arange(int(np.floor(x0 / dx)) - 1, int(np.ceil(x1 / dx)) + 2)
    J, I = np.meshgrid(j, i, indexing="ij")
    X = I * dx + (J % 2) * dx / 2.0
    return I.ravel(), J.ravel(), X.ravel(), (J * dy).ravel()


def hexagons(x, y, side):
    ang = np.deg2rad(np.arange(7) * 60.0 + 30.0)
    coords = np.stack([x[:, None] + side * np.cos(ang), y[:, None] + side * np.sin(ang)], axis=-1)
    coords[:, 6] = coords[:, 0]
    return prec(shapely.polygons(coords))


def tessellate(regions: gpd.GeoDataFrame, cell_area_m2: float, sliver_frac: float = SLIVER_FRACTION):
    """Hexagon cells cut by non-overlapping regions (districts, or BEZ ∩ districts).

    Cells wholly inside one region are kept whole; the others are intersected with each region and
    split into single polygons. Pieces smaller than ``sliver_frac`` of the nominal cell are merged
    into the same-district piece with which they share the longest edge (dropped if there is none),
    so every parcel lies in exactly one district and the parcels tile the regions.
    Returns (GeoDataFrame with cell_i, cell_j, region index and geometry, sorted; stats dict).
    """
    side = hex_side(cell_area_m2)
    rgeoms = np.asarray(regions.geometry.values, dtype=object)
    union = shapely.union_all(rgeoms)
    I, J, X, Y = hex_lattice(union.bounds, side)
    near = shapely.buffer(union, 1.01 * side)
    shapely.prepare(near)
    keep = shapely.contains_xy(near, X, Y)
    I, J, X, Y = I[keep], J[keep], X[keep], Y[keep]
    cells = hexagons(X, Y, side)

    shapely.prepare(rgeoms)
    ci, ri = shapely.STRtree(rgeoms).query(cells, predicate="intersects")
    whole = shapely.contains_properly(rgeoms[ri], cells[ci])
    cut = shapely.intersection(cells[ci[~whole]], rgeoms[ri[~whole]], grid_size=GRID)
    parts, src = shapely.get_parts(cut, return_index=True)
    poly = shapely.get_type_id(parts) == 3
    parts, src = parts[poly], src[poly]
    piece_geom = np.concatenate([cells[ci[whole]], parts])
    piece_cell = np.concatenate([ci[whole], ci[~whole][src]])
    piece_reg = np.concatenate([ri[whole], ri[~whole][src]])
    area = shapely.area(piece_geom)
    ok = area > 0
    piece_geom, piece_cell, piece_reg, area = piece_geom[ok], piece_cell[ok], piece_reg[ok], area[ok]

    sliver = area < sliver_frac * cell_area_m2
    s_idx, n_idx = np.flatnonzero(sliver), np.flatnonzero(~sliver)
    qs, qn = shapely.STRtree(piece_geom[n_idx]).query(piece_geom[s_idx], predicate="intersects")
    same = piece_reg[s_idx[qs]] == piece_reg[n_idx[qn]]
    qs, qn = qs[same], qn[same]
    shared = shapely.length(shapely.intersection(shapely.boundary(piece_geom[s_idx[qs]]),
                                                 shapely.boundary(piece_geom[n_idx[qn]]), grid_size=GRID))
    pairs = pd.DataFrame({"s": qs, "n": qn, "len": shared})
    pairs = pairs[pairs.len > 0].sort_values(["s", "len", "n"], ascending=[True, False, True])
    best = pairs.drop_duplicates("s")
    tgt = n_idx[best.n.to_numpy()]
    sl = s_idx[best.s.to_numpy()]
    merged_geom = piece_geom.copy()
    rank = pd.Series(tgt).groupby(tgt).cumcount().to_numpy()
    for r in range(int(rank.max()) + 1 if len(rank) else 0):
        m = rank == r
        merged_geom[tgt[m]] = shapely.union(merged_geom[tgt[m]], piece_geom[sl[m]], grid_size=GRID)
    dropped = np.setdiff1d(s_idx, sl)
    stats = {"cells": int(len(cells)), "pieces": int(len(piece_geom)), "slivers": int(len(s_idx)),
             "slivers_merged": int(len(sl)), "slivers_dropped": int(len(dropped)),
             "dropped_area_ha": round(float(area[dropped].sum() / 1e4), 4)}

    g = merged_geom[n_idx]
    out = gpd.GeoDataFrame({"cell_i": I[piece_cell[n_idx]], "cell_j": J[piece_cell[n_idx]],
                            "region": piece_reg[n_idx]}, geometry=g, crs=CRS)
    c = shapely.centroid(g)
    order = np.lexsort((shapely.get_y(c), shapely.get_x(c), out.region.to_numpy(),
                        out.cell_i.to_numpy(), -out.cell_j.to_numpy()))
    out = out.iloc[order].reset_index(drop=True)
    out.insert(0, "parcel_id", np.arange(1, len(out) + 1, dtype=np.int64))
    return out, stats
