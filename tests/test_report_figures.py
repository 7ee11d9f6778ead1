"""Figures a council reads outside the report's main map: the sweep's trade-off plot and the
difference map of two plans (``landalloc compare``, ``report --compare``). No solve; fast."""

from __future__ import annotations

import io

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely


def test_tradeoff_plot_skips_what_does_not_vary_and_names_axes_in_words():
    from optimizer.workflows.sweep import tradeoff_figure

    df = pd.DataFrame({"index": [0, 1, 2, 3], "quotas.SKK.hi": [200, 250, 200, 250],
                       "objective.terms.forest_loss.weight": [-30, -30, -10, -10], "status": ["optimal"] * 4,
                       "objective": [100.0, 120.0, 105.0, 126.0], "converted_forest_ha": [0.0] * 4,
                       "converted_rice_ha": [0.0] * 4, "displaced_households": [10.0, 14.0, 10.0, 15.0],
                       "changed_area_ha": [300.0, 350.0, 300.0, 352.0]})
    fig = tradeoff_figure(df, ["quotas.SKK.hi", "objective.terms.forest_loss.weight"], "sweep")
    left, right = fig.axes
    assert left.get_xlabel() == "upper bound of quota SKK (ha)" and left.get_ylabel() == "objective value"
    assert {t.get_text() for t in left.get_legend().get_texts()} == {
        "weight of objective term 'forest loss' = -30", "weight of objective term 'forest loss' = -10"}
    # forest and rice land are 0 at every point: the trade-off is drawn against the first quantity that moves
    assert right.get_xlabel() == "households displaced"
    assert "the same at every point: forest land converted (ha), rice land converted (ha)" in [t.get_text() for t in fig.texts]
    flat = tradeoff_figure(df.assign(displaced_households=12.0, changed_area_ha=300.0), ["quotas.SKK.hi"], "sweep")
    assert len(flat.axes) == 1  # nothing to trade against: no second panel


def test_difference_map_shows_changes_at_province_scale_in_vietnamese():
    """A 120 km × 80 km province where three ~10 ha parcels differ: each difference colour covers
    several times the pixels of its parcel at the map's scale (it is drawn bold), and the map
    carries the 2025 commune boundaries, places, north arrow and Vietnamese words."""
    import matplotlib.image as mpimg

    from reports.blocks import strings
    from reports.data import Layer
    from reports.maps import DIFF_COLOURS, difference_map

    xs, ys = np.meshgrid(np.arange(120) * 1000.0 + 500_000, np.arange(80) * 1000.0 + 2_400_000)
    side = np.full(xs.size, 1000.0)
    side[[1000, 5000, 7000]] = 316.0  # the parcels that differ are ~10 ha, two or three pixels wide at this scale
    cells = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + side, ys.ravel() + side)
    kinds = np.full(len(cells), "same", dtype=object)
    kinds[[1000, 5000, 7000]] = ["only_a", "only_b", "other_use"]
    plan = gpd.GeoDataFrame({"parcel_id": np.arange(len(cells)), "area_ha": side ** 2 / 1e4,
                             "commune_2025": np.where(xs.ravel() < 560_000, "Xã A", "Xã B")}, geometry=cells, crs="EPSG:9210")
    communes = Layer(plan.dissolve("commune_2025").reset_index()[["commune_2025", "geometry"]], "commune_2025", "test")
    places = Layer(gpd.GeoDataFrame({"_label": ["Thác Bản Giốc"]}, geometry=[shapely.Point(530_000, 2_430_000)],
                                    crs="EPSG:9210"), "_label", "test")
    T = strings("vi")
    counts = {k: int((kinds == k).sum()) for k in DIFF_COLOURS}
    img = difference_map(plan, kinds, counts, "vi", T, "EPSG:9210", communes, shapely.box(*plan.total_bounds), places, dpi=100)
    pixels = (mpimg.imread(io.BytesIO(img.png))[..., :3] * 255).round().astype(int)
    x0, y0, x1, y1 = (int(round(v)) for v in img.frame_px)
    frame = pixels[y0:y1, x0:x1]
    parcel_px = 316.0 ** 2 / img.metres_per_pixel ** 2
    for kind in ("only_a", "only_b", "other_use"):  # drawn bold: several times the parcel's own pixels
        colour = np.array([int(DIFF_COLOURS[kind][i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(frame - colour).max(axis=2) <= 8).sum() >= 4 * parcel_px, kind
    assert {"B", T["map_communes"], T["map_province"], "Thác Bản Giốc", T["diff_only_b"] + " (1)"} <= set(img.texts)
