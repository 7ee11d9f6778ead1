"""What every static map of the report shares (matplotlib, Agg, no pyplot state): the figure with
its legend below, scale bar, north arrow, CRS, label placement that avoids overlaps, muted base
colours, dissolving parcels by a column, and the PNG with what a reader sees on it.

Coordinates are the run's projected CRS in metres, so the scale bar is measured in map units.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")  # headless; before any other matplotlib import
from matplotlib import colors as mcolors  # noqa: E402
from matplotlib import patheffects  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from reports.data import Layer, Zones  # noqa: E402
from reports.labels import units_legend, zone_rule_label  # noqa: E402

WIDTH_IN = 7.0
DPI = 200
FONT = "DejaVu Sans"  # full Vietnamese coverage (fonts-dejavu-core)
HALO = [patheffects.withStroke(linewidth=2.2, foreground="white")]
ZONE_STYLES = {  # by rule kind, not by class name: class names are data
    "none": {"edgecolor": "#0b6e2e", "hatch": "////", "linestyle": "-"},
    "forbidden": {"edgecolor": "#8a4b08", "hatch": "..", "linestyle": "--"},
    "allowed": {"edgecolor": "#1f4e9c", "hatch": "\\\\", "linestyle": ":"},
}
MAX_PARCEL_PATCHES = 6000
"""Above this many parcels, maps draw each category as one dissolved polygon (same picture, ~10× faster)."""
COMMUNE_LINE = {"color": "#7a7a7a", "linewidth": 0.45}
PROVINCE_LINE = {"color": "#202020", "linewidth": 1.1}


@dataclass
class MapImage:
    """A rendered map: the PNG, the map frame in pixels (x0, y0, x1, y1 from the top left) and the
    world extent it shows (minx, miny, maxx, maxy, in the CRS's metres), and every text drawn on it
    (labels, legend, furniture) so the words a reader sees can be checked."""

    png: bytes
    frame_px: tuple[float, float, float, float]
    extent: tuple[float, float, float, float]
    texts: list[str] = field(default_factory=list)

    @property
    def metres_per_pixel(self) -> float:
        x0, _, x1, _ = self.frame_px
        return (self.extent[2] - self.extent[0]) / max(x1 - x0, 1e-9)


def muted(colour: str, keep: float = 0.35) -> str:
    """A land-use colour faded towards white, for the base under the plan's decisions."""
    r, g, b = mcolors.to_rgb(colour)
    return mcolors.to_hex((1 - keep * (1 - r), 1 - keep * (1 - g), 1 - keep * (1 - b)))


def zone_kind(rule: dict) -> str:
    if rule.get("allowed") is not None:
        return "none" if not rule["allowed"] else "allowed"
    return "forbidden"


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


def padded_extent(bounds, pad_frac: float = 0.04, min_span: float = 0.0) -> tuple[float, float, float, float]:
    """``bounds`` grown to at least ``min_span`` metres each way, plus a margin of ``pad_frac`` of the span."""
    minx, miny, maxx, maxy = bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half = max(maxx - minx, maxy - miny, min_span) / 2
    hx, hy = max((maxx - minx) / 2, min_span / 2), max((maxy - miny) / 2, min_span / 2)
    pad = pad_frac * 2 * half
    return (cx - hx - pad, cy - hy - pad, cx + hx + pad, cy + hy + pad)


def set_extent(ax, bounds, pad_frac: float = 0.04, min_span: float = 0.0) -> tuple[float, float, float, float]:
    """Fix the map extent around ``bounds`` (see :func:`padded_extent`); returns it."""
    ext = padded_extent(bounds, pad_frac, min_span)
    ax.set_xlim(ext[0], ext[2])
    ax.set_ylim(ext[1], ext[3])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for sp in ax.spines.values():
        sp.set_linewidth(0.8)
    return ext


def furniture(ax, crs_text: str, lang: str, north: str) -> None:
    """Scale bar, north arrow and CRS; called after the extent is fixed."""
    _scale_bar(ax, lang)
    _north_arrow(ax, north)
    ax.text(0.99, 0.012, crs_text, transform=ax.transAxes, ha="right", va="bottom", fontsize=6.5, zorder=21,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.5})


class Labels:
    """Greedy label placement: a label that would overlap an earlier one, the map furniture or an
    area reserved with :meth:`reserve` (the plan's developed parcels) tries other positions around its
    point, further out with a leader line, and is left out when none is free; its marker stays."""

    NEAR = [(4, 3, "left", "bottom"), (-4, 3, "right", "bottom"), (4, -3, "left", "top"), (-4, -3, "right", "top")]
    FAR = [(dx, dy, "left" if dx > 0 else "right" if dx < 0 else "center", "bottom" if dy > 0 else "top")
           for r in (14, 26, 40, 60, 85) for dx, dy in ((r, r), (-r, r), (r, -r), (-r, -r), (0, r * 1.2), (0, -r * 1.2),
                                                (r * 1.4, 0), (-r * 1.4, 0))]

    def __init__(self, ax):
        self.ax = ax
        self.renderer = ax.figure.canvas.get_renderer()
        self.frame = ax.get_window_extent(self.renderer)
        small = self.frame.width * self.frame.height / 20  # furniture, not a range circle around an anchor
        boxes = [a.get_window_extent(self.renderer) for a in list(ax.texts) + list(ax.patches)]
        self.taken = [b for b in boxes if b.width * b.height < small]

    def reserve(self, bounds_list) -> None:
        """Keep labels off these world rectangles (minx, miny, maxx, maxy), grown by a few pixels."""
        from matplotlib.transforms import Bbox

        to_px = self.ax.transData
        for minx, miny, maxx, maxy in bounds_list:
            (x0, y0), (x1, y1) = to_px.transform([(minx, miny), (maxx, maxy)])
            self.taken.append(Bbox([[x0 - 3, y0 - 3], [x1 + 3, y1 + 3]]))

    def _free(self, artist) -> bool:
        if hasattr(artist, "update_positions"):
            artist.update_positions(self.renderer)
        bb = Text.get_window_extent(artist, self.renderer)  # the words only: a leader line may cross what it points at
        if artist.get_bbox_patch() is not None:  # … and the box drawn around them
            bb = bb.padded(0.35 * artist.get_fontsize() * self.renderer.points_to_pixels(1.0))
        inside = (bb.x0 >= self.frame.x0 and bb.x1 <= self.frame.x1 and bb.y0 >= self.frame.y0 and bb.y1 <= self.frame.y1)
        if inside and not any(bb.overlaps(o) for o in self.taken):
            self.taken.append(bb.expanded(1.04, 1.2))
            return True
        return False

    def centred(self, x, y, text, **kw) -> None:
        artist = self.ax.text(x, y, text, ha="center", va="center", path_effects=None if "bbox" in kw else HALO, **kw)
        self.taken.append(artist.get_window_extent(self.renderer).expanded(1.04, 1.2))

    def beside(self, x, y, text, far: bool = False, leader: str = "#333333", **kw) -> bool:
        """Near the point first; with ``far``, also further out with a leader line to it."""
        for i, (dx, dy, ha, va) in enumerate(self.NEAR + (self.FAR if far else [])):
            arrow = {"arrowstyle": "-", "color": leader, "linewidth": 0.6, "shrinkA": 0, "shrinkB": 2} \
                if i >= len(self.NEAR) else None
            artist = self.ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                                      path_effects=None if "bbox" in kw else HALO, arrowprops=arrow, **kw)
            if self._free(artist):
                return True
            artist.remove()
        return False


def new_figure(bounds, n_legend: int, legend_cols: int, title: str | None = None, dpi: int = DPI,
               width_in: float = WIDTH_IN, max_map_h: float = 8.0) -> tuple[Figure, object, float]:
    """The map on top, the legend below, and a title line above the map when given (a figure that
    stands alone, as ``landalloc compare`` writes it, has no caption to name the plans)."""
    minx, miny, maxx, maxy = bounds
    aspect = (maxy - miny) / max(maxx - minx, 1e-9)
    map_h = min(max(width_in * aspect, 3.0), max_map_h)
    legend_h = 0.3 + 0.165 * math.ceil(n_legend / legend_cols)
    title_h = 0.35 if title else 0.0
    total = map_h + legend_h + title_h
    fig = Figure(figsize=(width_in, total), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, legend_h / total, 0.98, map_h / total - 0.01))
    if title:
        fig.text(0.5, 1 - 0.5 * title_h / total, title, ha="center", va="center", fontsize=9)
    return fig, ax, legend_h / total


def legend(fig: Figure, handles: list, title: str, legend_frac: float, cols: int) -> None:
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, legend_frac), ncol=cols, fontsize=7,
               title=title, title_fontsize=8, frameon=False, handlelength=2.2, handleheight=1.1,
               columnspacing=1.5, alignment="left")


def save_figure(fig: Figure, target, fmt: str) -> None:
    """Write a map to a path or a file object in ``fmt`` (png, svg), white behind it."""
    for ax in fig.axes:  # geopandas labels the axes with the CRS axis names on every plot call
        ax.set_xlabel("")
        ax.set_ylabel("")
    fig.savefig(target, format=fmt, dpi=fig.dpi, facecolor="white")


def figure_texts(fig: Figure) -> list[str]:
    """Every text on the figure: titles, labels, annotations, legend entries."""
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts]
    for lg in fig.legends:
        out += [lg.get_title().get_text()] + [t.get_text() for t in lg.get_texts()]
    return [t for t in out if t]


def render(fig: Figure, ax) -> MapImage:
    """The PNG of a map with its frame, extent and texts."""
    buf = io.BytesIO()
    save_figure(fig, buf, "png")
    renderer = fig.canvas.get_renderer()
    bb = ax.get_window_extent(renderer)
    height = fig.bbox.height
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    return MapImage(buf.getvalue(), (bb.x0, height - bb.y1, bb.x1, height - bb.y0), (x0, y0, x1, y1), figure_texts(fig))


def draw_zones(ax, zones: Zones | None, T: dict, lang: str, handles: list, linewidth: float = 1.1) -> None:
    """The zones of the scenario's ``allowed_uses`` rules, hatched by rule kind, each class once in the legend."""
    if zones is None or not len(zones.gdf):
        return
    for cls, rule in zones.rules.items():
        part = zones.gdf[zones.gdf[zones.class_field] == cls]
        if part.empty:
            continue
        st = ZONE_STYLES[zone_kind(rule)]
        part.plot(ax=ax, facecolor="none", edgecolor=st["edgecolor"], hatch=st["hatch"], linewidth=linewidth,
                  linestyle=st["linestyle"], zorder=6)
        handles.append(Patch(facecolor="none", edgecolor=st["edgecolor"], hatch=st["hatch"], linestyle=st["linestyle"],
                             label=zone_rule_label(cls, rule, T, lang)))


def draw_boundaries(ax, communes: Layer | None, province, T: dict, handles: list, line: dict | None = None) -> None:
    """The administrative units' boundaries (thin: the 2025 communes, or the parcels' own unit) and the
    province outline."""
    if communes is not None and len(communes.gdf):
        communes.gdf.boundary.plot(ax=ax, zorder=7, **(line or COMMUNE_LINE))
        handles.append(Line2D([], [], label=units_legend(communes, T), **(line or COMMUNE_LINE)))
    if province is not None:
        gpd.GeoSeries([province], crs=None).boundary.plot(ax=ax, zorder=7, **PROVINCE_LINE)
        handles.append(Line2D([], [], label=T["map_province"], **PROVINCE_LINE))


def draw_places(ax, places: Layer | None, labels: Labels, T: dict, handles: list, texts: list | None = None) -> None:
    """Place markers and their labels (already in the report's language, ``places.gdf['_label']``)."""
    if places is None or not len(places.gdf):
        return
    pts = places.gdf[places.gdf.geometry.geom_type == "Point"]
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    pts = pts[(pts.geometry.x >= x0) & (pts.geometry.x <= x1) & (pts.geometry.y >= y0) & (pts.geometry.y <= y1)]
    if not len(pts):
        return
    # under the developed land (zorder 8): a place never hides a decision; its label stays on top
    ax.scatter(pts.geometry.x, pts.geometry.y, s=14, c="white", edgecolors="black", linewidths=0.9, zorder=7.8)
    if "_label" in pts.columns:
        for x, y, name in zip(pts.geometry.x, pts.geometry.y, pts["_label"]):
            if isinstance(name, str) and name:
                labels.beside(x, y, name, fontsize=6, zorder=11)
    handles.append(Line2D([], [], marker="o", linestyle="none", markerfacecolor="white", markeredgecolor="black",
                          markersize=4.5, label=T["map_places"]))
