"""Checks on the bundled Cao Bằng data (instances/cao_bang/data), read from the built files.

Rebuild with ``python -m instances.cao_bang.build`` if these fail after a change to the build or
its sources. The published figures come from the plan (see instances/cao_bang/README.md).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "instances" / "cao_bang" / "data"

NATURAL_AREA_HA = 670_030.0  # "tổng diện tích tự nhiên là 6.700,3 km2"
BEZ_AREA_HA = 30_130.0  # Decision 20/2014/QĐ-TTg
NON_AGRI_CAP_HA = 38_346.0  # 2030 quota
UNUSED_2030_HA = 1_377.0
# The district source says the Trùng Khánh / Quảng Hòa line is approximate (Quốc Toản commune
# moved in 2020, no open polygon), and the outline differs from the province's by ~0.3 %.
DISTRICT_TOL = 0.025
FIELDS = ["parcel_id", "district", "district_code", "commune_2025", "area_ha", "current_use", "slope_pct",
          "elevation_m", "dist_gate_km", "dist_city_km", "dist_seat_km", "households", "suit_industry",
          "suit_cluster", "suit_logistics", "suit_tourism", "suit_resettlement", "is_forest", "is_rice"]
PARCEL_SETS = {"province_100ha": "province", "province_10ha": "province", "bez_1ha": "bez"}
GRID_M = 0.1  # coordinates are snapped to a 0.1 m grid: overlays may stray by less than that


def strays(geoms, container) -> np.ndarray:
    """Mean width (m) by which each geometry sticks out of ``container`` (area outside / perimeter)."""
    return shapely.area(shapely.difference(geoms, container)) / shapely.length(geoms)


def read(name: str, layer: str) -> gpd.GeoDataFrame:
    path = DATA / f"{name}.gpkg"
    assert path.exists(), f"{path} missing: run python -m instances.cao_bang.build"
    return pyogrio.read_dataframe(path, layer=layer)


@pytest.fixture(scope="module")
def meta():
    return json.loads((DATA / "metadata.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def province():
    return read("province", "province")


@pytest.fixture(scope="module")
def districts():
    return read("districts", "districts")


@pytest.fixture(scope="module")
def places():
    return read("places", "places").set_index("place_id")


@pytest.fixture(scope="module")
def bez():
    return read("bez_footprint", "bez")


@pytest.fixture(scope="module")
def parcels():
    return {name: read(name, "parcels") for name in PARCEL_SETS}


def test_every_file_is_gpkg_1_2_in_epsg_9210():
    for path in sorted(DATA.glob("*.gpkg")):
        with sqlite3.connect(path) as con:
            assert con.execute("pragma user_version").fetchone()[0] == 10200, path.name
            srs = {r[0] for r in con.execute("select srs_id from gpkg_geometry_columns")}
        assert srs == {9210}, f"{path.name}: srs {srs}"


def test_province_area_close_to_published(province):
    area = province.geometry.area.sum() / 1e4
    assert abs(area / NATURAL_AREA_HA - 1) <= 0.005, f"province {area:,.1f} ha vs {NATURAL_AREA_HA:,.0f} ha"


def test_districts_tile_the_province(province, districts):
    assert len(districts) == 10 and districts.district_code.is_unique
    assert districts.district_code.map(type).eq(str).all()
    p_area = province.geometry.area.sum()
    d_area = districts.geometry.area.sum()
    assert abs(d_area / p_area - 1) < 1e-4
    assert abs(shapely.union_all(districts.geometry.values).area / d_area - 1) < 1e-6, "districts overlap"
    assert np.allclose(districts.area_ha, districts.geometry.area / 1e4, atol=1e-3)


def test_district_areas_match_published_ones(districts):
    pub = districts[districts.official_area_ha.notna()]
    assert set(pub.district_code) == {"040", "045", "047", "049"}
    dev = pub.geometry.area / 1e4 / pub.official_area_ha - 1
    bad = pub.loc[dev.abs() > DISTRICT_TOL, "district"].tolist()
    assert not bad, f"off by more than {DISTRICT_TOL:.1%}: {bad} ({dev.round(4).tolist()})"
    # The approximate Trùng Khánh / Quảng Hòa line moves area between the two, not out of them.
    pair = pub[pub.district_code.isin(["047", "049"])]
    assert abs(pair.geometry.area.sum() / 1e4 / pair.official_area_ha.sum() - 1) < 0.01


@pytest.mark.parametrize("name", list(PARCEL_SETS))
def test_parcel_areas_sum_to_their_region(name, parcels, province, bez):
    gdf = parcels[name]
    region = province if PARCEL_SETS[name] == "province" else bez
    total, expected = gdf.geometry.area.sum(), region.geometry.area.sum()
    assert abs(total / expected - 1) <= 0.001, f"{name}: {total / 1e4:,.1f} ha vs {expected / 1e4:,.1f} ha"
    assert np.allclose(gdf.area_ha, gdf.geometry.area / 1e4, atol=1e-3)


def test_parcel_counts_near_nominal(parcels, province, bez):
    for name, cell in (("province_100ha", 100), ("province_10ha", 10), ("bez_1ha", 1)):
        region = province if PARCEL_SETS[name] == "province" else bez
        nominal = region.geometry.area.sum() / 1e4 / cell
        assert nominal <= len(parcels[name]) <= 1.15 * nominal, (name, len(parcels[name]), nominal)


def test_bez_area_and_focal_points(bez, places, province):
    assert len(bez) == 1
    area = bez.geometry.area.sum() / 1e4
    assert abs(area / BEZ_AREA_HA - 1) <= 0.02, f"BEZ {area:,.1f} ha"
    geom, prov = bez.geometry.iloc[0], province.geometry.iloc[0]
    assert strays(geom, prov) < GRID_M, "BEZ must lie inside the province"
    for pid in ("ta_lung", "tra_linh", "soc_giang", "ban_gioc"):
        p = places.loc[pid].geometry
        if prov.contains(p):
            assert geom.contains(p), pid
        else:  # border places a little outside the ODM polygon: their nearest point inside must be in the BEZ
            assert prov.distance(p) < 500.0, f"{pid} is {prov.distance(p):.0f} m outside the province"
            inner = shapely.shortest_line(prov.buffer(-5.0), p).interpolate(0.0)
            assert geom.contains(inner), pid


def test_land_balance_of_province_parcels(parcels, meta):
    groups = meta["code_groups"]
    for name in ("province_100ha", "province_10ha"):
        gdf = parcels[name]
        assert set(gdf.current_use) <= set(groups), set(gdf.current_use) - set(groups)
        area = gdf.groupby("current_use").area_ha.sum()
        by_group = area.groupby(area.index.map(groups)).sum()
        total = gdf.area_ha.sum()
        forest = area.reindex(["RSX", "RPH", "RDD"]).fillna(0).sum() / total
        assert 0.60 <= forest <= 0.63, f"{name}: forest cover {forest:.2%}"
        assert by_group.get("non_agricultural", 0) <= NON_AGRI_CAP_HA, name
        assert by_group.get("unused", 0) >= UNUSED_2030_HA, name
        assert area.get("SKK", 0.0) <= 1.0, f"{name}: existing industrial-park land should be ~0"
        reported = meta["datasets"][name]["land_balance"]
        assert abs(reported["forest_cover_pct"] / 100 - forest) < 1e-6


@pytest.mark.parametrize("name", list(PARCEL_SETS))
def test_parcel_fields_ids_and_geometry(name, parcels, meta):
    gdf = parcels[name]
    missing = [f for f in FIELDS if f not in gdf.columns]
    assert not missing, f"{name}: missing fields {missing}"
    assert set(meta["synthetic_fields"]) <= set(gdf.columns) and set(meta["real_fields"]) <= set(gdf.columns)
    assert gdf[FIELDS].notna().all().all(), f"{name}: nulls in {gdf[FIELDS].columns[gdf[FIELDS].isna().any()].tolist()}"
    ids = gdf.parcel_id
    assert ids.dtype == np.int64 and ids.is_unique and ids.is_monotonic_increasing
    assert not gdf.geometry.is_empty.any() and gdf.geometry.notna().all()
    assert gdf.geometry.is_valid.all()
    assert gdf.district_code.map(type).eq(str).all() and gdf.current_use.map(type).eq(str).all()
    assert gdf.slope_pct.between(0, 60).all()
    for col in ("suit_industry", "suit_cluster", "suit_logistics", "suit_tourism", "suit_resettlement"):
        assert gdf[col].between(0, 100).all(), col
    assert (gdf.households >= 0).all() and pd.api.types.is_integer_dtype(gdf.households)
    assert (gdf.is_forest == gdf.current_use.isin(["RSX", "RPH", "RDD"]).astype(int)).all()
    assert (gdf.is_rice == (gdf.current_use == "LUA").astype(int)).all()
    # households are concentrated in residential parcels
    res = gdf.current_use.isin(["ONT", "ODT"])
    dens_res = gdf.households[res].sum() / gdf.area_ha[res].sum()
    dens_other = gdf.households[~res].sum() / gdf.area_ha[~res].sum()
    assert dens_res > 20 * dens_other, (dens_res, dens_other)
    if PARCEL_SETS[name] == "province":
        assert gdf.households[res].sum() >= 0.8 * gdf.households.sum()


@pytest.mark.parametrize("name", ["province_10ha", "bez_1ha"])
def test_each_parcel_lies_in_its_district(name, parcels, districts):
    gdf = parcels[name]
    sample = gdf.sample(n=min(600, len(gdf)), random_state=7)
    pts = gpd.GeoDataFrame(sample[["parcel_id", "district_code"]], geometry=sample.representative_point(),
                           crs=gdf.crs)
    hits = gpd.sjoin(pts, districts[["district_code", "geometry"]], predicate="within", how="left")
    assert hits.parcel_id.is_unique, "a parcel point falls in two districts"
    assert (hits.district_code_left == hits.district_code_right).all()
    own = districts.set_index("district_code").geometry.reindex(sample.district_code).values
    out = strays(sample.geometry.values, own)
    assert out.max() < GRID_M, f"{name}: a parcel sticks out of its district by {out.max():.3f} m"


def test_zones(province):
    z = read("zones", "zones")
    assert set(z.zone_class) == {"strict", "buffer"}
    assert z.approximate.all() and z.basis.str.len().gt(20).all()
    strict = z[z.zone_class == "strict"]
    assert {"Phja Oắc – Phja Đén", "Pác Bó", "Bản Giốc"} <= set(strict.zone_name)
    assert set(z.loc[z.zone_class == "buffer", "zone_name"]) == {f"vùng đệm: {n}" for n in strict.zone_name}
    prov = province.geometry.iloc[0]
    assert strays(z.geometry.values, prov).max() < GRID_M
    assert np.allclose(z.area_ha, z.geometry.area / 1e4, atol=1e-3)
    s_union = shapely.union_all(strict.geometry.values)
    rings = z.loc[z.zone_class == "buffer"].geometry.values
    overlap = shapely.area(shapely.intersection(rings, s_union)) / shapely.length(rings)
    assert overlap.max() < GRID_M, "buffer rings must not overlap strict zones"


def test_places_have_ids_and_seats(places, districts):
    for pid in ("ta_lung", "tra_linh", "soc_giang", "ban_gioc", "pac_bo", "cao_bang_city"):
        assert pid in places.index
    seats = places[places.seat_of.notna()]
    assert sorted(seats.seat_of) == sorted(districts.district_code)


def test_build_is_deterministic_and_matches_committed_data(parcels):
    from instances.cao_bang import build

    ctx = build.build_context()
    a, _ = build.generate_parcels(ctx, "province_100ha")
    b, _ = build.generate_parcels(ctx, "province_100ha")
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
    assert (shapely.to_wkb(a.geometry.values) == shapely.to_wkb(b.geometry.values)).all()
    disk = parcels["province_100ha"]
    cols = [c for c in a.columns if c != "geometry"]
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), disk[cols].reset_index(drop=True),
                                  check_dtype=False)
    assert shapely.equals_exact(a.geometry.values, disk.geometry.values, tolerance=1e-6).all()
