"""Static maps (matplotlib, Agg, no pyplot state): the plan over district boundaries, and the
difference between two plans (the council report's comparison and ``landalloc compare`` draw the same
one). Each returns PNG bytes; :func:`difference_figure` gives the figure for other formats (SVG).

Every map carries a legend (land-use codes with their Vietnamese/English names and scenario colours),
a scale bar, a north arrow and the CRS (e.g. "EPSG:9210 (VN-2000 / TM-3 105°45′)"). Coordinates are
the run's projected CRS in metres, so the scale bar is measured directly in map units.
"""

from __future__ import annotations

import io
import math
import re

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")  # headless; before any other matplotlib import
from matplotlib import patheffects  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

from optimizer.workflows.metrics import DIFFERENCE_KINDS, ordered_codes  # noqa: E402
from reports.data import Layer, Zones  # noqa: E402

WIDTH_IN = 7.0
DPI = 200
FONT = "DejaVu Sans"  # full Vietnamese coverage (fonts-dejavu-core)
HALO = [patheffects.withStroke(linewidth=2.2, foreground="white")]
ZONE_STYLES = {  # by rule kind, not by class name: class names are data
    "none": {"edgecolor": "#0b6e2e", "hatch": "////", "linestyle": "-"},
    "forbidden": {"edgecolor": "#8a4b08", "hatch": "..", "linestyle": "--"},
    "allowed": {"edgecolor": "#1f4e9c", "hatch": "\\\\", "linestyle": ":"},
}
DIFF_COLOURS = {"same": "#eeeeee", "same_conversion": "#a6a6a6", "only_a": "#d7301f", "only_b": "#2b8cbe",
                "other_use": "#8856a7"}
"""Colour of each difference kind (metrics.plan_difference); the labels are the ``diff_<kind>`` strings."""
CHANGED_KINDS = ("only_a", "only_b", "other_use")
"""Kinds whose parcels end up in different uses: outlined on the difference map."""


MAX_PARCEL_PATCHES = 6000
"""Above this many parcels, maps draw each land use as one dissolved polygon (same picture, ~10× faster)."""


def dissolve_by(plan: gpd.GeoDataFrame, column: str, tolerance: float = 0.0) -> gpd.GeoDataFrame:
    """One (multi)polygon per value of ``column`` with its summed ``area_ha`` (as ``area``), optionally
    simplified. Parcels tile the province, so a coverage union is exact and fast; anything else falls
    back to the general union."""
    import shapely

    parts, codes = [], []
    for code, grp in plan.groupby(column, sort=True):
        geoms = grp.geometry.to_numpy()
        try:
            merged = shapely.coverage_union_all(geoms)
        except Exception:  # not a clean coverage
            merged = shapely.union_all(geoms)
        parts.append(shapely.simplify(merged, tolerance, preserve_topology=True) if tolerance > 0 else merged)
        codes.append(code)
    out = gpd.GeoDataFrame({column: codes}, geometry=parts, crs=plan.crs)
    out["area"] = plan.groupby(column, sort=True)["area_ha"].sum().round(2).to_numpy()
    return out


def zone_kind(rule: dict) -> str:
    if rule.get("allowed") is not None:
        return "none" if not rule["allowed"] else "allowed"
    return "forbidden"


def zone_label(cls: str, rule: dict, T: dict) -> str:
    kind = zone_kind(rule)
    uses = ", ".join(rule.get("allowed") or rule.get("forbidden") or [])
    return T[f"map_zone_{kind}"].format(cls=cls, uses=uses)


def _nice_length(span_m: float) -> float:
    """A round scale-bar length near a fifth of the map width: 1, 2 or 5 × 10^k metres."""
    target = span_m / 5
    k = 10 ** math.floor(math.log10(target))
    return max(m * k for m in (1, 2, 5) if m * k <= target)


def _fmt_len(m: float, lang: str) -> str:
    value, unit = (m / 1000, "km") if m >= 1000 else (m, "m")
    text = f"{value:g}"
    return (text.replace(".", ",") if lang == "vi" else text) + f" {unit}"


def _scale_bar(ax, lang: str) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    w, h = x1 - x0, y1 - y0
    length = _nice_length(w)
    bx, by, bh = x0 + 0.04 * w, y0 + 0.045 * h, 0.012 * h
    for i, colour in enumerate(("black", "white")):
        ax.add_patch(Rectangle((bx + i * length / 2, by), length / 2, bh, facecolor=colour, edgecolor="black",
                               linewidth=0.6, zorder=20))
    for frac in (0, 0.5, 1):
        text = "0" if frac == 0 else _fmt_len(length * frac, lang)
        ax.text(bx + frac * length, by + 1.8 * bh, text, ha="center", va="bottom", fontsize=6.5, zorder=21,
                path_effects=HALO)


def _north_arrow(ax, letter: str) -> None:
    ax.annotate("", xy=(0.955, 0.965), xytext=(0.955, 0.875), xycoords="axes fraction",
                arrowprops={"facecolor": "black", "edgecolor": "black", "width": 3.5, "headwidth": 10, "headlength": 10},
                zorder=21)
    ax.text(0.955, 0.862, letter, transform=ax.transAxes, ha="center", va="top", fontsize=10, fontweight="bold",
            zorder=21, path_effects=HALO)


def _extent(ax, bounds) -> None:
    minx, miny, maxx, maxy = bounds
    pad = 0.04 * max(maxx - minx, maxy - miny, 1.0)
    ax.set_xlim(minx - pad, maxx + pad)
    ax.set_ylim(miny - pad, maxy + pad)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    for sp in ax.spines.values():
        sp.set_linewidth(0.8)


def _furniture(ax, crs_text: str, lang: str, north: str) -> None:
    """Scale bar, north arrow and CRS; called after the extent is fixed."""
    _scale_bar(ax, lang)
    _north_arrow(ax, north)
    ax.text(0.99, 0.012, crs_text, transform=ax.transAxes, ha="right", va="bottom", fontsize=6.5, zorder=21,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.5})


class _Labels:
    """Greedy label placement: a label that would overlap an earlier one (or the map furniture) tries
    the other sides of its point, and is left out when none is free; its marker stays."""

    OFFSETS = [(4, 3, "left", "bottom"), (-4, 3, "right", "bottom"), (4, -3, "left", "top"), (-4, -3, "right", "top")]

    def __init__(self, ax):
        self.ax = ax
        self.renderer = ax.figure.canvas.get_renderer()
        self.taken = [a.get_window_extent(self.renderer) for a in list(ax.texts) + list(ax.patches)]
        self.frame = ax.get_window_extent(self.renderer)

    def _free(self, artist) -> bool:
        bb = artist.get_window_extent(self.renderer)
        inside = (bb.x0 >= self.frame.x0 and bb.x1 <= self.frame.x1 and bb.y0 >= self.frame.y0 and bb.y1 <= self.frame.y1)
        if inside and not any(bb.overlaps(o) for o in self.taken):
            self.taken.append(bb.expanded(1.04, 1.2))
            return True
        return False

    def centred(self, x, y, text, **kw) -> None:
        artist = self.ax.text(x, y, text, ha="center", va="center", path_effects=HALO, **kw)
        self.taken.append(artist.get_window_extent(self.renderer).expanded(1.04, 1.2))

    def beside(self, x, y, text, **kw) -> bool:
        for dx, dy, ha, va in self.OFFSETS:
            artist = self.ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                                      path_effects=HALO, **kw)
            if self._free(artist):
                return True
            artist.remove()
        return False


def short_name(name: str) -> str:
    """'Thị trấn Bảo Lạc (seat of Bảo Lạc)' → 'Thị trấn Bảo Lạc': map labels drop qualifiers
    after ' (', ' - ' or ' ~ ' (the interactive map and tables keep the full name)."""
    return re.split(r"\s+(?:\(|-\s|~\s)", name.strip())[0]


def _figure(bounds, n_legend: int, legend_cols: int, title: str | None = None) -> tuple[Figure, object, float]:
    """The map on top, the legend below, and a title line above the map when given (a figure that
    stands alone, as ``landalloc compare`` writes it, has no caption to name the plans)."""
    minx, miny, maxx, maxy = bounds
    aspect = (maxy - miny) / max(maxx - minx, 1e-9)
    map_h = min(max(WIDTH_IN * aspect, 3.0), 8.0)
    legend_h = 0.3 + 0.165 * math.ceil(n_legend / legend_cols)
    title_h = 0.35 if title else 0.0
    total = map_h + legend_h + title_h
    fig = Figure(figsize=(WIDTH_IN, total), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, legend_h / total, 0.98, map_h / total - 0.01))
    if title:
        fig.text(0.5, 1 - 0.5 * title_h / total, title, ha="center", va="center", fontsize=9)
    return fig, ax, legend_h / total


def save_figure(fig: Figure, target, fmt: str) -> None:
    """Write a map to a path or a file object in ``fmt`` (png, svg), white behind it."""
    for ax in fig.axes:  # geopandas labels the axes with the CRS axis names on every plot call
        ax.set_xlabel("")
        ax.set_ylabel("")
    fig.savefig(target, format=fmt, dpi=DPI, facecolor="white")


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    save_figure(fig, buf, "png")
    return buf.getvalue()


def _draw_context(ax, districts: Layer | None, zones: Zones | None, places: Layer | None, T: dict,
                  handles: list) -> None:
    if zones is not None and len(zones.gdf):
        for cls, rule in zones.rules.items():
            part = zones.gdf[zones.gdf[zones.class_field] == cls]
            if part.empty:
                continue
            st = ZONE_STYLES[zone_kind(rule)]
            part.plot(ax=ax, facecolor="none", edgecolor=st["edgecolor"], hatch=st["hatch"], linewidth=1.1,
                      linestyle=st["linestyle"], zorder=6)
            handles.append(Patch(facecolor="none", edgecolor=st["edgecolor"], hatch=st["hatch"], linestyle=st["linestyle"],
                                 label=zone_label(cls, rule, T)))
    labels = _Labels(ax)
    if districts is not None and len(districts.gdf):
        districts.gdf.boundary.plot(ax=ax, color="#303030", linewidth=0.9, zorder=7)
        handles.append(Line2D([], [], color="#303030", linewidth=0.9, label=T["map_districts"]))
        if districts.label:
            for geom, name in zip(districts.gdf.geometry, districts.gdf[districts.label]):
                if geom is None or geom.is_empty or not isinstance(name, str):
                    continue
                p = geom.representative_point()
                labels.centred(p.x, p.y, name, fontsize=6.5, fontweight="bold", color="#202020", zorder=9)
    if places is not None and len(places.gdf):
        pts = places.gdf[places.gdf.geometry.geom_type == "Point"]
        ax.scatter(pts.geometry.x, pts.geometry.y, s=14, c="white", edgecolors="black", linewidths=0.9, zorder=10)
        if places.label:
            for x, y, name in zip(pts.geometry.x, pts.geometry.y, pts[places.label]):
                if isinstance(name, str):
                    labels.beside(x, y, short_name(name), fontsize=6, zorder=11)
        handles.append(Line2D([], [], marker="o", linestyle="none", markerfacecolor="white", markeredgecolor="black",
                              markersize=4.5, label=T["map_places"]))


def _legend(fig: Figure, handles: list, title: str, legend_frac: float, cols: int) -> None:
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, legend_frac), ncol=cols, fontsize=7,
               title=title, title_fontsize=8, frameon=False, handlelength=2.2, handleheight=1.1,
               columnspacing=1.5, alignment="left")


def plan_map(plan: gpd.GeoDataFrame, land_uses, lang: str, T: dict, crs_text: str,
             districts: Layer | None = None, zones: Zones | None = None, places: Layer | None = None) -> bytes:
    """The planned land use of every parcel (scenario colours), converted parcels outlined."""
    import matplotlib as mpl

    name_col = "name_vi" if lang == "vi" else "name_en"
    colours = land_uses["colour"].to_dict()
    present = ordered_codes(set(plan["new_use"]), list(land_uses.index))
    handles = [Patch(facecolor=colours.get(c, "#999999"), edgecolor="#666666", linewidth=0.5,
                     label=f"{c} – {land_uses[name_col].get(c, c)}") for c in present]
    handles.append(Patch(facecolor="none", edgecolor="black", linewidth=1.2, label=T["map_converted"]))
    n_context = sum(x is not None for x in (districts, places)) + (len(zones.rules) if zones is not None else 0)
    cols = 2
    with mpl.rc_context({"font.family": FONT, "hatch.linewidth": 0.5}):
        fig, ax, legend_frac = _figure(plan.total_bounds, len(handles) + n_context, cols)
        n = len(plan)
        edge = {"edgecolor": "white", "linewidth": 0.25} if n <= 3000 else {"linewidth": 0}
        shown = plan if n <= MAX_PARCEL_PATCHES else dissolve_by(plan, "new_use")
        shown.plot(ax=ax, color=shown["new_use"].map(colours).fillna("#999999").tolist(), zorder=2, **edge)
        changed = plan[plan["changed"].astype(bool)]
        if len(changed):
            changed.plot(ax=ax, facecolor="none", edgecolor="black", linewidth=0.9 if n <= 3000 else 0.7, zorder=5)
        _extent(ax, plan.total_bounds)
        _furniture(ax, T["map_crs"].format(crs=crs_text), lang, T["map_north"])
        _draw_context(ax, districts, zones, places, T, handles)
        _legend(fig, handles, T["map_legend"], legend_frac, cols)
        return _png(fig)


def difference_figure(plan: gpd.GeoDataFrame, kinds, counts: dict[str, int], lang: str, T: dict, crs_text: str,
                      districts: Layer | None = None, title: str | None = None) -> Figure:
    """Parcels coloured by how the two plans differ (``kinds``: per-parcel kind from metrics.plan_difference,
    aligned with ``plan``), parcels that end up in different uses outlined, legend with counts per kind."""
    import matplotlib as mpl

    kinds = list(kinds)
    handles = [Patch(facecolor=DIFF_COLOURS[k], edgecolor="#666666", linewidth=0.5,
                     label=f"{T['diff_' + k]} ({counts.get(k, 0)})") for k in DIFFERENCE_KINDS]
    with mpl.rc_context({"font.family": FONT}):
        fig, ax, legend_frac = _figure(plan.total_bounds, len(handles) + 1, 2, title)
        n = len(plan)
        edge = {"edgecolor": "white", "linewidth": 0.25} if n <= 3000 else {"linewidth": 0}
        if n <= MAX_PARCEL_PATCHES:
            plan.plot(ax=ax, color=[DIFF_COLOURS[k] for k in kinds], zorder=2, **edge)
        else:
            shown = dissolve_by(plan.assign(kind=kinds, area_ha=0.0), "kind")
            shown.plot(ax=ax, color=[DIFF_COLOURS[k] for k in shown["kind"]], zorder=2, **edge)
        changed = plan[[k in CHANGED_KINDS for k in kinds]]
        if 0 < len(changed) <= 3000:
            changed.plot(ax=ax, facecolor="none", edgecolor="black", linewidth=0.6, zorder=5)
        _extent(ax, plan.total_bounds)
        _furniture(ax, T["map_crs"].format(crs=crs_text), lang, T["map_north"])
        _draw_context(ax, districts, None, None, T, handles)
        _legend(fig, handles, T["map_legend"], legend_frac, 2)
        return fig


def difference_map(plan: gpd.GeoDataFrame, kinds, counts: dict[str, int], lang: str, T: dict, crs_text: str,
                   districts: Layer | None = None) -> bytes:
    """:func:`difference_figure` as PNG bytes, for the report."""
    return _png(difference_figure(plan, kinds, counts, lang, T, crs_text, districts))
