"""``metadata.json``: every number, formula, seed and source a reader needs to judge the data.

Formulas are taken from the docstrings and rule tables of the code that computes them, so the text
cannot drift from the computation.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import geopandas as gpd
import numpy as np

from instances.cao_bang.stages.constants import (BUFFER_WIDTH_M, CODE_GROUP, CRS, FOREST_CODES, FOREST_SHARE, GRID,
                                                 HOUSEHOLD_DENSITY, HOUSEHOLDS_TOTAL, LAND_USES, NATURAL_AREA_HA,
                                                 NON_AGRI_CAP_2030_HA, POINT_ZONE_RADIUS_M, RIVER_HALF_WIDTH_M,
                                                 RIVER_SKELETON, RPH_SHARE_OF_FOREST, SEED, SOURCE_FILES, TARGET_HA,
                                                 UNUSED_2030_HA)
from instances.cao_bang.stages.context import ROAD_SKELETON, Context
from instances.cao_bang.stages.land_use import LAND_USE_RULES, SUITABILITY_FORMULAS, assign_land_use
from instances.cao_bang.stages.parcels import (PARCEL_COLUMNS, REAL_FIELDS, SYNTHETIC_FIELDS,
                                               nearest_commune_2025)
from instances.cao_bang.stages.reference import missing_protected_areas
from instances.cao_bang.stages.terrain import SyntheticTerrain
from instances.cao_bang.stages.tessellation import tessellate


def land_balance(gdf: gpd.GeoDataFrame) -> dict:
    area = gdf.groupby("current_use")["area_ha"].sum()
    by_code = {code: round(float(area.get(code, 0.0)), 4) for code in LAND_USES}
    by_group = {g: round(sum(v for c, v in by_code.items() if CODE_GROUP[c] == g), 4)
                for g in ("agricultural", "non_agricultural", "unused")}
    total = float(gdf.area_ha.sum())
    forest = sum(by_code[c] for c in FOREST_CODES)
    return {"by_code_ha": by_code, "by_group_ha": by_group, "forest_ha": round(forest, 4),
            "forest_cover_pct": round(100 * forest / total, 4)}


def dataset_metadata(gdf, info, region_area):
    return {
        "layer": "parcels", "parcel_count": int(len(gdf)), "total_area_ha": round(float(gdf.area_ha.sum()), 4),
        "region_area_ha": round(region_area, 4),
        "area_diff_pct": round(100 * (gdf.area_ha.sum() / region_area - 1), 5),
        "district_area_ha": {k: round(float(v), 4) for k, v in gdf.groupby("district_code")["area_ha"].sum().items()},
        "land_balance": land_balance(gdf),
        "households_total": int(gdf.households.sum()),
        "tessellation": info["tessellation"], "land_use_thresholds": info["thresholds"],
        "households_scale": round(info["households_scale"], 8),
    }


def licences_text() -> dict:
    return {
        SOURCE_FILES["province"]: "CC BY-SA 4.0, Open Development Vietnam ('Địa phận tỉnh')",
        SOURCE_FILES["districts"]: "GPL-3.0 (daohoangson/dvhcvn, from the government GIS portal)",
        SOURCE_FILES["places"]: "per row: Wikipedia coordinates, OSM (ODbL), MIT and CC BY 4.0 lists",
        SOURCE_FILES["protected_csv"]: "facts from government/news pages",
        SOURCE_FILES["protected_circles"]: "derived (circles of published area, approximate centres)",
        SOURCE_FILES["communes_2025"]: ("mapping MIT (Resolution 1657/NQ-UBTVQH15); coordinates CC BY 4.0 "
                                        "(open-admin-data)"),
        SOURCE_FILES["communes_pre2020"]: "MIT (0xmanhnv/laravel-vietnam-database)",
    }


FIELD_FORMULAS = {  # text of what SyntheticTerrain, field_frame and generate_parcels compute
    "elevation_m": ("max(150, 450 + 550/(1+exp((x - x_mid + 15 km)/20 km)) + Σ_60 a_k·exp(-r_k²/2σ_k²) "
                    "+ 900·exp(-r_PhjaOac²/2(5 km)²) - 350·valley + 120·(n3-0.5)), rounded to 1 m; "
                    "a_k ∈ U(-250,450) m, σ_k ∈ U(3,10) km, centres uniform over the province bbox"),
    "valley": ("max(exp(-d_settlement²/2(3 km)²), exp(-d_river_skeleton²/2(2 km)²)); "
               "settlements = district seats + towns"),
    "slope_pct": ("60·min(1, r/0.8)^1.2 with r = (0.5·clip((elevation-200)/1200,0,1) + 0.5·rugged)·(1-0.75·valley)"),
    "noise_fields": ("rugged, n1, n2, n3, hh, streams = Φ(Σ a_k cos(2π k·x + φ_k)/norm): 8–24 seeded random "
                     "plane waves with wavelengths 2–45 km, Φ the normal CDF"),
    "households": ("Poisson(scale · area_ha · density[use] · (0.6 + 0.8·hh)); scale makes the expected province "
                   f"total {HOUSEHOLDS_TOTAL:,}; bez_1ha uses province_10ha's scale; one seeded stream per dataset"),
    "distances": ("straight-line km in EPSG:9210 from the parcel centroid: dist_gate to the nearest of the Tà Lùng, "
                  "Trà Lĩnh, Sóc Giang gates; dist_city to Cao Bằng city centre; dist_seat to the parcel's own "
                  "district seat; dist_tourism to the nearest of Bản Giốc, Pác Bó, Phja Oắc, Thang Hen, "
                  "Trần Hưng Đạo forest, Cao Bằng city; dist_commune to the nearest pre-2020 commune seat"),
    "parcel_id": "1..N after sorting by hexagon row (north first), column, district, centroid x, y",
}


def metadata(ctx: Context, datasets: dict, src: Path) -> dict:
    """Everything a reader needs to judge the data: numbers, formulas, seeds, sources."""
    d = ctx.districts
    return {
        "title": "Cao Bằng demonstration instance data for landalloc",
        "crs": CRS, "seed": SEED, "coordinate_grid_m": GRID, "gpkg_version": "1.2",
        "rebuild": "python -m instances.cao_bang.build",
        "province": {"area_ha": float(ctx.province.area_ha.iloc[0]), "official_area_ha": NATURAL_AREA_HA,
                     "area_dev_pct": float(ctx.province.area_dev_pct.iloc[0])},
        "districts": {r.district_code: {"district": r.district, "area_ha": r.area_ha,
                                        "official_area_ha": r.official_area_ha, "source_area_ha": r.source_area_ha}
                      for r in d.itertuples()},
        "bez": ctx.bez_info,
        "zones": {r.zone_id: {"zone_class": r.zone_class, "zone_name": r.zone_name, "area_ha": r.area_ha,
                              "published_area_ha": r.published_area_ha} for r in ctx.zones.itertuples()},
        "zones_missing": missing_protected_areas(src),
        "zone_parameters": {"point_zone_radius_m": POINT_ZONE_RADIUS_M, "buffer_width_m": BUFFER_WIDTH_M,
                            "river_half_width_m": RIVER_HALF_WIDTH_M, "river_skeleton": list(RIVER_SKELETON)},
        "datasets": datasets,
        "land_uses": {c: {"name_vi": v[0], "name_en": v[1], "group": v[2], "forest": c in FOREST_CODES}
                      for c, v in LAND_USES.items()},
        "code_groups": CODE_GROUP,
        "targets": {
            "forest_share": FOREST_SHARE, "rph_share_of_forest": RPH_SHARE_OF_FOREST, "absolute_ha": TARGET_HA,
            "non_agricultural_target_ha": sum(v for c, v in TARGET_HA.items() if CODE_GROUP[c] == "non_agricultural"),
            "non_agricultural_cap_2030_ha": NON_AGRI_CAP_2030_HA, "unused_2030_ha": UNUSED_2030_HA,
            "households_total": HOUSEHOLDS_TOTAL, "household_density_per_ha": HOUSEHOLD_DENSITY},
        "real_fields": REAL_FIELDS,
        "synthetic_fields": SYNTHETIC_FIELDS,
        "fields": PARCEL_COLUMNS,
        "formulas": {
            "terrain": inspect.cleandoc(SyntheticTerrain.__doc__),
            **FIELD_FORMULAS,
            "current_use": {r.code: r.formula for r in LAND_USE_RULES},
            "current_use_procedure": inspect.cleandoc(assign_land_use.__doc__),
            "suitability": SUITABILITY_FORMULAS,
            "commune_2025": inspect.cleandoc(nearest_commune_2025.__doc__),
            "road_skeleton_for_DGT": [f"{a}–{b}" for a, b in ROAD_SKELETON],
            "tessellation": inspect.cleandoc(tessellate.__doc__),
        },
        "sources": licences_text(),
        "attribution": ("Province: © Open Development Vietnam, CC BY-SA 4.0. Districts: derived from "
                        "daohoangson/dvhcvn (GPL-3.0). Places: Wikipedia, OpenStreetMap contributors (ODbL), "
                        "0xmanhnv/laravel-vietnam-database (MIT), open-admin-data (CC BY 4.0). "
                        "See source/LICENSES.md."),
    }

def jsonable(o):
    """Plain JSON types; NaN (unpublished figures) and infinities become null."""
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, (bool, np.bool_)):
        return bool(o)
    if isinstance(o, (int, np.integer)):
        return int(o)
    if isinstance(o, (float, np.floating)):
        return float(o) if np.isfinite(o) else None
    return o
