"""Everything the parcel generator needs, built once from the sources and shared by every dataset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from instances.cao_bang.stages.bez import bez_layer
from instances.cao_bang.stages.constants import SEED, SOURCE_DIR, SOURCE_FILES, TOWNS
from instances.cao_bang.stages.reading import read_layer
from instances.cao_bang.stages.reference import (build_districts, build_places, build_province, build_zones,
                                                 river_line)
from instances.cao_bang.stages.terrain import SyntheticTerrain


@dataclass
class Context:
    """Reference layers, zones, BEZ and synthetic fields shared by every parcel dataset."""

    province: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame
    places: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    bez: gpd.GeoDataFrame
    bez_info: dict
    communes2025: gpd.GeoDataFrame
    pre2020: gpd.GeoDataFrame
    terrain: SyntheticTerrain
    roads: object  # MultiLineString, synthetic road skeleton
    river: object  # LineString, Bằng river skeleton


# Synthetic straight-line road skeleton for the transport (DGT) land use. NOT real roads.
ROAD_SKELETON = [
    ("cao_bang_city", "seat_hoa_an"), ("seat_hoa_an", "seat_ha_quang"), ("seat_ha_quang", "soc_ha"),
    ("soc_ha", "soc_giang"), ("seat_ha_quang", "pac_bo"), ("seat_hoa_an", "town_thong_nong"),
    ("cao_bang_city", "seat_quang_hoa"), ("seat_quang_hoa", "seat_trung_khanh"),
    ("seat_trung_khanh", "ban_gioc"), ("seat_quang_hoa", "seat_ha_lang"), ("seat_quang_hoa", "town_ta_lung"),
    ("town_ta_lung", "ta_lung"), ("cao_bang_city", "town_tra_linh"), ("town_tra_linh", "tra_linh"),
    ("town_tra_linh", "seat_trung_khanh"), ("cao_bang_city", "seat_thach_an"), ("seat_thach_an", "town_ta_lung"),
    ("cao_bang_city", "seat_nguyen_binh"), ("seat_nguyen_binh", "town_tinh_tuc"),
    ("town_tinh_tuc", "seat_bao_lac"), ("seat_bao_lac", "seat_bao_lam"),
]


def build_context(src: Path = SOURCE_DIR) -> Context:
    """Read the sources and build the reference layers, zones, BEZ footprint and synthetic terrain."""
    province = build_province(src)
    P = province.geometry.iloc[0]
    districts = build_districts(src, P)
    places = build_places(src, P, districts)
    communes2025 = read_layer(src / SOURCE_FILES["communes_2025"])
    pre2020 = read_layer(src / SOURCE_FILES["communes_pre2020"])
    river = river_line(places, pre2020)
    zones = build_zones(src, P, places, river)
    bez, bez_info = bez_layer(P, districts, places, communes2025)

    pl = places.set_index("place_id").geometry
    settlements = places[places.seat_of.notna() | places.place_id.isin(TOWNS)].geometry
    terrain = SyntheticTerrain(SEED, P.bounds, pl["phja_oac"], shapely.get_coordinates(settlements.values), river)
    roads = shapely.multilinestrings([shapely.linestrings(shapely.get_coordinates(np.asarray([pl[a], pl[b]])))
                                      for a, b in ROAD_SKELETON])
    return Context(province, districts, places, zones, bez, bez_info, communes2025, pre2020, terrain, roads, river)
