"""The province-scale maps: the plan (the council report's overview) and the difference between two
plans (the report's comparison and ``landalloc compare`` draw the same one).

At province scale a 10 ha parcel is two or three pixels wide, so a plan drawn parcel by parcel in
its land-use colours hides its own decisions. These maps draw the land as it stays in faded
colours and the land the plan changes in full colour with a bold outline of the same colour, label
the named sites (with leader lines where they crowd), and keep place labels off the developed land.
Every map carries 2025 commune boundaries, the province outline, a legend in the report's language,
a scale bar, a north arrow and the CRS (e.g. "EPSG:9210 (VN-2000 / TM-3 105°45′)").
"""

from __future__ import annotations

import geopandas as gpd
import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from optimizer.workflows.metrics import DIFFERENCE_KINDS, ordered_codes
from reports.data import Layer, Zones, dissolve_by
from reports.mapkit import (DPI, FONT, MAX_PARCEL_PATCHES, Labels, MapImage, draw_boundaries,
                            draw_places, draw_zones, furniture, legend, muted, new_figure, render, set_extent)

DIFF_COLOURS = {"same": "#eeeeee", "same_conversion": "#a6a6a6", "only_a": "#d7301f", "only_b": "#2b8cbe",
                "other_use": "#8856a7"}
"""Colour of each difference kind (metrics.plan_difference); the labels are the ``diff_<kind>`` strings."""
CHANGED_KINDS = ("only_a", "only_b", "other_use")
"""Kinds whose parcels end up in different uses: drawn bold on the difference map."""
DEVELOPED_OUTLINE = 3.0
"""points: the outline, in the parcel's own colour, that keeps a 10 ha parcel visible at province scale"""


def _base(ax, plan: gpd.GeoDataFrame, column: str, colour_of) -> None:
    """Every parcel faded by ``column`` (dissolved when there are many)."""
    shown = plan if len(plan) <= MAX_PARCEL_PATCHES else dissolve_by(plan, column)
    shown.plot(ax=ax, color=[colour_of(v) for v in shown[column]], linewidth=0, zorder=2)


def draw_developed(ax, parts: gpd.GeoDataFrame, column: str, colour_of, outline: float = DEVELOPED_OUTLINE) -> list:
    """Land the plan changes: full colour, outlined bold in its own colour over a thin dark rim;
    returns the world bounds of each piece, to keep labels off it."""
    if not len(parts):
        return []
    shown = dissolve_by(parts, column) if len(parts) > 1 else parts
    pieces = shown[[column, "geometry"]].explode(index_parts=False)
    pieces = pieces[~pieces.geometry.is_empty].assign(_a=lambda d: d.geometry.area).sort_values("_a", ascending=False)
    for i, (value, geom) in enumerate(zip(pieces[column], pieces.geometry)):  # small pieces last, so none hides one
        colour, z = colour_of(value), 8 + i * 1e-3
        gpd.GeoSeries([geom]).plot(ax=ax, facecolor="none", edgecolor="#202020", linewidth=outline + 1.0, zorder=z)
        gpd.GeoSeries([geom]).plot(ax=ax, facecolor=colour, edgecolor=colour, linewidth=outline, zorder=z + 5e-4)
    return [tuple(g.bounds) for g in pieces.geometry]


SITE_BOX = {"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "#202020", "linewidth": 0.5}


def label_sites(labels: Labels, plan: gpd.GeoDataFrame, texts: dict[str, str] | None = None, inside: bool = False) -> None:
    """Each named site labelled, boxed: beside it (a leader line when it has to move away), or, with
    ``inside``, on it when it spans a fifth of the map or more (a detail map's large site)."""
    if "site" not in plan.columns:
        return
    named = plan[plan["site"].fillna("").astype(str) != ""]
    x0, x1 = labels.ax.get_xlim()
    for site, grp in named.groupby("site", sort=True):
        shape = grp.geometry.union_all()
        text = (texts or {}).get(site, site)
        if inside and shape.bounds[2] - shape.bounds[0] >= 0.2 * (x1 - x0):
            p = shape.representative_point()
            labels.centred(p.x, p.y, text, fontsize=7, fontweight="bold", zorder=12, bbox=SITE_BOX)
        else:
            c = shape.centroid
            labels.beside(c.x, c.y, text, far=True, fontsize=6.5, fontweight="bold", zorder=12, bbox=SITE_BOX)


def finish(ax, bounds, pieces: list, labelled: gpd.GeoDataFrame, places: Layer | None, T: dict, lang: str,
           crs_text: str, handles: list) -> None:
    """What every province map ends with: its extent, scale bar, north arrow and CRS, then the labels —
    named sites first, beside the developed land kept free, then places where room is left."""
    set_extent(ax, bounds)
    furniture(ax, T["map_crs"].format(crs=crs_text), lang, T["map_north"])
    labels = Labels(ax)
    labels.reserve(pieces)
    label_sites(labels, labelled)
    draw_places(ax, places, labels, T, handles)


def plan_map(plan: gpd.GeoDataFrame, land_uses, lang: str, T: dict, crs_text: str, communes: Layer | None = None,
             province=None, zones: Zones | None = None, places: Layer | None = None, dpi: int = DPI) -> MapImage:
    """The plan at province scale: planned use faded, developed land (converted parcels) in full
    colour and bold, named sites labelled, places labelled where they leave the developed land free."""
    name_col = "name_vi" if lang == "vi" else "name_en"
    colours = land_uses["colour"].to_dict()
    order = list(land_uses.index)

    def colour(c):
        return colours.get(c, "#999999")

    changed = plan[plan["changed"].astype(bool)]
    developed = ordered_codes(set(changed["new_use"]), order)
    base_codes = ordered_codes(set(plan["new_use"]), order)
    handles = [Patch(facecolor=muted(colour(c)), edgecolor="#999999", linewidth=0.4,
                     label=f"{c} – {land_uses[name_col].get(c, c)}") for c in base_codes]
    handles += [Patch(facecolor=colour(c), edgecolor="#202020", linewidth=1.2,
                      label=T["map_developed"].format(code=c, name=land_uses[name_col].get(c, c))) for c in developed]
    n_context = 3 + (len(zones.rules) if zones is not None else 0)
    cols = 2
    with mpl.rc_context({"font.family": FONT, "hatch.linewidth": 0.5}):
        fig, ax, legend_frac = new_figure(plan.total_bounds, len(handles) + n_context, cols, dpi=dpi)
        _base(ax, plan, "new_use", lambda c: muted(colour(c)))
        draw_zones(ax, zones, T, lang, handles, linewidth=0.9)
        draw_boundaries(ax, communes, province, T, handles)
        pieces = draw_developed(ax, changed, "new_use", colour)
        finish(ax, plan.total_bounds, pieces, changed, places, T, lang, crs_text, handles)
        legend(fig, handles, T["map_legend"], legend_frac, cols)
        return render(fig, ax)


def difference_figure(plan: gpd.GeoDataFrame, kinds, counts: dict[str, int], lang: str, T: dict, crs_text: str,
                      communes: Layer | None = None, province=None, places: Layer | None = None,
                      title: str | None = None, dpi: int = DPI) -> tuple[Figure, object]:
    """Parcels by how the two plans differ (``kinds``: per-parcel kind from metrics.plan_difference,
    aligned with ``plan``): parcels that end up in different uses in full colour and bold, parcels
    both plans convert alike in grey, the rest faded; legend with counts per kind."""
    kinds = list(kinds)
    handles = [Patch(facecolor=DIFF_COLOURS[k], edgecolor="#202020" if k in CHANGED_KINDS else "#999999",
                     linewidth=1.2 if k in CHANGED_KINDS else 0.4, label=f"{T['diff_' + k]} ({counts.get(k, 0)})")
               for k in DIFFERENCE_KINDS]
    with mpl.rc_context({"font.family": FONT}):
        fig, ax, legend_frac = new_figure(plan.total_bounds, len(handles) + 3, 2, title, dpi=dpi)
        shown = plan.assign(kind=kinds, area_ha=plan["area_ha"] if "area_ha" in plan.columns else 0.0)
        _base(ax, shown, "kind", lambda k: DIFF_COLOURS[k] if k == "same" else muted(DIFF_COLOURS[k], 0.6))
        draw_boundaries(ax, communes, province, T, handles)
        changed = shown[shown["kind"].isin(CHANGED_KINDS)]
        pieces = draw_developed(ax, changed, "kind", lambda k: DIFF_COLOURS[k])
        finish(ax, plan.total_bounds, pieces, changed.iloc[:0], places, T, lang, crs_text, handles)
        legend(fig, handles, T["map_legend"], legend_frac, 2)
        return fig, ax


def difference_map(plan: gpd.GeoDataFrame, kinds, counts: dict[str, int], lang: str, T: dict, crs_text: str,
                   communes: Layer | None = None, province=None, places: Layer | None = None, dpi: int = DPI) -> MapImage:
    """:func:`difference_figure` rendered, for the report."""
    fig, ax = difference_figure(plan, kinds, counts, lang, T, crs_text, communes, province, places, dpi=dpi)
    return render(fig, ax)

