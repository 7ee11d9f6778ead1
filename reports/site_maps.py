"""Maps at the scale of a decision: one detail map per named site or cluster of nearby sites, and
the thematic maps Decree 102/2024 asks of a land-use plan where the data hold them (rice land;
forest land by type — protection, special-use, production — with the plan's changes on them).

A detail map shows every parcel (faded by planned use, the plan's conversions in full colour), the
site's parcels outlined, 2025 commune boundaries and names, the site's anchor with the distance it
must keep, zones, places, a scale bar, a north arrow and the CRS. A thematic map fades everything
but its theme and draws the plan's conversions on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import shapely
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch

from optimizer.workflows.metrics import land_flags, ordered_codes
from reports.blocks import num
from reports.data import AnchorPoint, Layer, Zones, dissolve_by
from reports.mapkit import (DPI, FONT, Labels, MapImage, draw_boundaries, draw_places, draw_zones, furniture, legend,
                            muted, new_figure, padded_extent, render, set_extent)
from reports.maps import draw_developed, finish, label_sites

CLUSTER_GAP_M = 4000.0
"""Sites closer than this share one detail map (their own maps would nearly repeat each other)."""
DETAIL_MIN_SPAN_M = 5000.0
"""A detail map shows at least 5 km each way, so a 20 ha site sits in its surroundings."""
THEME_OTHER = "#eeeeee"


def natural_key(name: str) -> list:
    """'CCN 2' before 'CCN 10'."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(name))]


@dataclass
class Cluster:
    sites: list[str]
    bounds: tuple[float, float, float, float]


def site_clusters(plan: gpd.GeoDataFrame, gap_m: float = CLUSTER_GAP_M) -> list[Cluster]:
    """The named sites grouped by single linkage (parcels within ``gap_m``), in the order of their names."""
    if "site" not in plan.columns:
        return []
    named = plan[plan["site"].fillna("").astype(str) != ""]
    if not len(named):
        return []
    shapes = named.groupby("site", sort=True).geometry.agg(lambda g: shapely.union_all(g.to_numpy()))
    shapes = shapes.loc[sorted(shapes.index, key=natural_key)]
    names, geoms = list(shapes.index), list(shapes.to_numpy())
    parent = list(range(len(names)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=gap_m)
    for i, j in zip(left, right):
        parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(names)):
        groups.setdefault(root(i), []).append(i)
    out = [Cluster([names[i] for i in idx], tuple(shapely.union_all([geoms[i] for i in idx]).bounds))
           for idx in groups.values()]
    return sorted(out, key=lambda c: natural_key(c.sites[0]))


def detail_map(plan: gpd.GeoDataFrame, cluster: Cluster, land_uses, lang: str, T: dict, crs_text: str,
               communes: Layer | None, zones: Zones | None, places: Layer | None,
               anchors: dict[str, AnchorPoint], site_area: dict[str, float], dpi: int = DPI) -> MapImage:
    """One site or cluster of sites: parcels, commune boundaries and names, anchors with their range."""
    name_col = "name_vi" if lang == "vi" else "name_en"
    colours = land_uses["colour"].to_dict()

    def colour(c):
        return colours.get(c, "#999999")

    minx, miny, maxx, maxy = cluster.bounds
    ours = [anchors[s] for s in cluster.sites if s in anchors]
    for a in ours:  # the anchor belongs on the map
        minx, miny, maxx, maxy = min(minx, a.point.x), min(miny, a.point.y), max(maxx, a.point.x), max(maxy, a.point.y)
    bounds = (minx, miny, maxx, maxy)
    ext = padded_extent(bounds, 0.12, DETAIL_MIN_SPAN_M)
    view = plan.cx[ext[0]:ext[2], ext[1]:ext[3]]
    changed = view[view["changed"].astype(bool)]
    in_sites = view[view["site"].isin(cluster.sites)] if "site" in view.columns else view.iloc[:0]
    order = list(land_uses.index)
    handles = ([Patch(facecolor=muted(colour(c)), edgecolor="#999999", linewidth=0.4,
                      label=f"{c} – {land_uses[name_col].get(c, c)}") for c in ordered_codes(set(view["new_use"]), order)]
               + [Patch(facecolor=colour(c), edgecolor="#202020", linewidth=1.0,
                        label=T["map_developed"].format(code=c, name=land_uses[name_col].get(c, c)))
                  for c in ordered_codes(set(changed["new_use"]), order)]
               + [Patch(facecolor="none", edgecolor="black", linewidth=1.6, label=T["map_site_outline"])]
               + ([Line2D([], [], marker="*", linestyle=":", color="#1f4e9c", markersize=8, label=T["map_anchor"])]
                  if ours else []))
    n_context = 2 + (len(zones.rules) if zones is not None else 0)
    with mpl.rc_context({"font.family": FONT, "hatch.linewidth": 0.5}):
        fig, ax, legend_frac = new_figure(ext, len(handles) + n_context, 2, dpi=dpi, width_in=6.3, max_map_h=5.6)
        view.plot(ax=ax, color=[muted(colour(c)) for c in view["new_use"]], edgecolor="white", linewidth=0.3, zorder=2)
        pieces = draw_developed(ax, changed, "new_use", colour, outline=1.0)
        if len(in_sites):
            dissolve_by(in_sites.assign(area_ha=0.0), "site").boundary.plot(ax=ax, color="black", linewidth=1.6, zorder=9)
        draw_zones(ax, zones, T, lang, handles, linewidth=1.0)
        if communes is not None and len(communes.gdf):
            draw_boundaries(ax, communes, None, T, handles, line={"color": "#404040", "linewidth": 0.9, "linestyle": "--"})
        for a in ours:
            ax.add_patch(Circle((a.point.x, a.point.y), a.max_km * 1000, fill=False, edgecolor="#1f4e9c", linestyle=":",
                                linewidth=1.1, zorder=9))
            ax.scatter([a.point.x], [a.point.y], marker="*", s=110, c="#1f4e9c", edgecolors="white", linewidths=0.6, zorder=11)
        set_extent(ax, bounds, pad_frac=0.12, min_span=DETAIL_MIN_SPAN_M)
        furniture(ax, T["map_crs"].format(crs=crs_text), lang, T["map_north"])
        labels = Labels(ax)
        labels.reserve(pieces)
        label_sites(labels, in_sites, {s: f"{s}\n{num(site_area.get(s), lang)} ha" for s in cluster.sites}, inside=True)
        for a in ours:
            labels.beside(a.point.x, a.point.y, T["map_anchor_label"].format(label=a.label, km=num(a.max_km, lang, 0)),
                          far=True, fontsize=6.5, color="#1f4e9c", zorder=12)
        if communes is not None and len(communes.gdf):
            window = shapely.box(*ext)
            for geom, name in zip(communes.gdf.geometry, communes.gdf[communes.label]):
                part = geom.intersection(window)
                if not part.is_empty and part.area > 0.04 * window.area:
                    p = part.representative_point()
                    labels.beside(p.x, p.y, name, far=True, fontsize=7, style="italic", color="#303030", zorder=10)
        draw_places(ax, places, labels, T, handles)
        legend(fig, handles, T["map_legend"], legend_frac, 2)
        return render(fig, ax)


def _theme_map(plan: gpd.GeoDataFrame, theme: np.ndarray, theme_colour: dict, theme_handles: list, T: dict, lang: str,
               crs_text: str, communes: Layer | None, province, places: Layer | None, dpi: int) -> MapImage:
    """Everything but the theme faded to one grey, the theme in its colours, the plan's conversions bold."""
    shown = plan.assign(_theme=np.where(theme, plan["_theme_key"], ""))
    handles = list(theme_handles)
    with mpl.rc_context({"font.family": FONT}):
        fig, ax, legend_frac = new_figure(plan.total_bounds, len(handles) + 4, 2, dpi=dpi)
        parts = dissolve_by(shown, "_theme")
        parts.plot(ax=ax, color=[theme_colour.get(k, THEME_OTHER) for k in parts["_theme"]], linewidth=0, zorder=2)
        draw_boundaries(ax, communes, province, T, handles)
        changed = shown[shown["changed"].astype(bool)]
        hit = changed[changed["_theme"] != ""]
        pieces = draw_developed(ax, changed.assign(_k="x"), "_k", lambda k: "#d7301f")
        if len(hit):
            hit.plot(ax=ax, facecolor="none", edgecolor="black", linewidth=0.8, zorder=9)
        finish(ax, plan.total_bounds, pieces, changed, places, T, lang, crs_text, handles)
        handles.append(Patch(facecolor="#d7301f", edgecolor="#202020", linewidth=1.2, label=T["map_theme_converted"]))
        legend(fig, handles, T["map_legend"], legend_frac, 2)
        return render(fig, ax)


def rice_map(plan: gpd.GeoDataFrame, run: dict, land_uses, lang: str, T: dict, crs_text: str, communes: Layer | None,
             province, places: Layer | None, dpi: int = DPI) -> tuple[MapImage, float] | None:
    """Rice land today and what the plan converts of it (ha); None when the parcels hold no rice land."""
    rice = land_flags(plan, (run.get("scenario") or {}).get("land_uses") or {})["rice"][0]
    if not rice.any():
        return None
    colour = land_uses["colour"].get("LUA", "#f2d600") if "LUA" in land_uses.index else "#f2d600"
    converted = float(plan["area_ha"].to_numpy(dtype=float)[rice & plan["changed"].astype(bool).to_numpy()].sum())
    handles = [Patch(facecolor=colour, edgecolor="#999999", linewidth=0.4, label=T["map_rice"]),
               Patch(facecolor=THEME_OTHER, edgecolor="#999999", linewidth=0.4, label=T["map_other_land"])]
    img = _theme_map(plan.assign(_theme_key="rice"), rice, {"rice": colour}, handles, T, lang, crs_text, communes,
                     province, places, dpi)
    return img, converted


def forest_map(plan: gpd.GeoDataFrame, run: dict, land_uses, lang: str, T: dict, crs_text: str, communes: Layer | None,
               province, places: Layer | None, dpi: int = DPI) -> tuple[MapImage, float] | None:
    """Forest land by type (the codes marked ``forest: true`` in ``land_uses``, each in its colour and
    name — protection, special-use, production) and the plan's conversions on it (ha converted)."""
    lu = (run.get("scenario") or {}).get("land_uses") or {}
    codes = [c for c, v in lu.items() if (v or {}).get("forest")]
    cur = plan["current_use"].astype(str)
    theme = cur.isin(codes).to_numpy()
    if not theme.any():
        return None
    name_col = "name_vi" if lang == "vi" else "name_en"
    colours = {c: land_uses["colour"].get(c, "#2e7d32") for c in codes}
    handles = [Patch(facecolor=colours[c], edgecolor="#999999", linewidth=0.4, label=f"{c} – {land_uses[name_col].get(c, c)}")
               for c in codes] + [Patch(facecolor=THEME_OTHER, edgecolor="#999999", linewidth=0.4, label=T["map_other_land"])]
    converted = float(plan["area_ha"].to_numpy(dtype=float)[theme & plan["changed"].astype(bool).to_numpy()].sum())
    img = _theme_map(plan.assign(_theme_key=cur.to_numpy()), theme, colours, handles, T, lang, crs_text, communes,
                     province, places, dpi)
    return img, converted
