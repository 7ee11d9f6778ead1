"""Build the bundled Cao Bằng geodata from the repo copy of the reference inputs.

    python -m instances.cao_bang.build            # everything, ~15–40 s on 2 cores

Reads only ``instances/cao_bang/source/`` (copied from the project's shared reference data, with
attribution in ``source/LICENSES.md``) and writes ``instances/cao_bang/data/``:

* ``province.gpkg``, ``districts.gpkg``, ``places.gpkg`` — real (approximate) reference layers,
  reconciled so the 10 districts tile the province polygon exactly;
* ``zones.gpkg`` — strict-protection zones and emission-restricted buffer rings, APPROXIMATE shapes;
* ``bez_footprint.gpkg`` — the border-gate economic zone as a calibrated band along the China border,
  APPROXIMATE;
* ``province_100ha.gpkg``, ``province_10ha.gpkg``, ``bez_1ha.gpkg`` — hexagonal parcels whose
  geometry, district, commune and distances derive from the real layers and whose terrain, current
  land use, households and suitabilities are SYNTHETIC (seeded, documented formulas below);
* ``metadata.json`` — counts, areas, land balance, formulas, seeds, sources.

Everything is deterministic: a fixed seed (``SEED``), fixed lattice origin, coordinates rounded to
a 0.1 m grid, and ``OGR_CURRENT_DATE`` pinned so the GeoPackages are byte-reproducible on one machine.
Nothing here is a legal boundary or a measured land-use map; see ``README.md``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from scipy.spatial import cKDTree
from scipy.special import ndtr

HERE = Path(__file__).resolve().parent
SOURCE_DIR = HERE / "source"
DATA_DIR = HERE / "data"

CRS = "EPSG:9210"  # VN-2000 / TM-3 105°45′, Cao Bằng's planning CRS; all areas are computed here
SEED = 20301
GRID = 0.1  # coordinate precision (m): keeps files small and shared edges exactly identical
GPKG_DATASET_OPTIONS = {"VERSION": "1.2"}  # pyogrio: VERSION is a *dataset* creation option for GPKG
PINNED_DATE = "2025-07-01T00:00:00.000Z"  # gpkg_contents.last_change, for byte-reproducible files

# Published figures (plan/caobang_plan.md)
NATURAL_AREA_HA = 670_030.0
BEZ_TARGET_HA = 30_130.0
NON_AGRI_CAP_2030_HA = 38_346.0
UNUSED_2030_HA = 1_377.0

SOURCE_FILES = {
    "province": "caobang_province_odm.geojson",
    "districts": "caobang_districts_10_2020_2025.geojson",
    "places": "caobang_key_places.geojson",
    "protected_csv": "caobang_protected_areas.csv",
    "protected_circles": "caobang_protected_areas_approx_circles.geojson",
    "communes_2025": "caobang_communes_2025_points.geojson",
    "communes_pre2020": "caobang_communes_pre2020_points.geojson",
}

# --------------------------------------------------------------------------------------------------
# Vocabulary (codes live in data: this table is also written into metadata.json)
# --------------------------------------------------------------------------------------------------
LAND_USES = {
    "LUA": ("Đất trồng lúa", "Rice land", "agricultural"),
    "HNK": ("Đất trồng cây hằng năm khác", "Other annual crops", "agricultural"),
    "CLN": ("Đất trồng cây lâu năm", "Perennial crops", "agricultural"),
    "RSX": ("Đất rừng sản xuất", "Production forest", "agricultural"),
    "RPH": ("Đất rừng phòng hộ", "Protection forest", "agricultural"),
    "RDD": ("Đất rừng đặc dụng", "Special-use forest", "agricultural"),
    "NTS": ("Đất nuôi trồng thủy sản", "Aquaculture", "agricultural"),
    "ONT": ("Đất ở tại nông thôn", "Rural residential", "non_agricultural"),
    "ODT": ("Đất ở tại đô thị", "Urban residential", "non_agricultural"),
    "DGT": ("Đất giao thông", "Transport", "non_agricultural"),
    "SKC": ("Đất cơ sở sản xuất phi nông nghiệp", "Non-agricultural production", "non_agricultural"),
    "TMD": ("Đất thương mại, dịch vụ", "Commercial and service", "non_agricultural"),
    "SKK": ("Đất khu công nghiệp", "Industrial park", "non_agricultural"),
    "SKN": ("Đất cụm công nghiệp", "Industrial cluster", "non_agricultural"),
    "SON": ("Đất sông, ngòi, kênh, rạch, suối", "Rivers and streams", "non_agricultural"),
    "BCS": ("Đất bằng chưa sử dụng", "Unused flat land", "unused"),
    "DCS": ("Đất đồi núi chưa sử dụng", "Unused hill land", "unused"),
    "NCS": ("Núi đá không có rừng cây", "Rocky mountain without forest", "unused"),
}
CODE_GROUP = {code: v[2] for code, v in LAND_USES.items()}
FOREST_CODES = ("RSX", "RPH", "RDD")
RICE_CODES = ("LUA",)

# Sub-regions of the plan (PP): Vùng I central, II east, III west, by GSO district code
SUBREGION = {"040": "I", "051": "I", "045": "I", "047": "II", "048": "II", "049": "II", "053": "II",
             "052": "III", "042": "III", "043": "III"}

# Stable ascii ids for the key places; matched on the start of the NFC name in the source file.
# The third item is the GSO code of the district whose seat the place stands for (None: not a seat).
PLACE_IDS = [
    ("Thành phố Cao Bằng", "cao_bang_city", "040"),
    ("Cửa khẩu quốc tế Tà Lùng", "ta_lung", None),
    ("Cửa khẩu quốc tế Trà Lĩnh", "tra_linh", None),
    ("Cửa khẩu Sóc Giang", "soc_giang", None),
    ("Bản Giốc waterfall", "ban_gioc", None),
    ("Pác Bó relic site", "pac_bo", None),
    ("Núi Phja Oắc", "phja_oac", None),
    ("Hồ Thang Hen", "thang_hen", None),
    ("Rừng Trần Hưng Đạo", "tran_hung_dao", None),
    ("Thị trấn Pác Miầu", "seat_bao_lam", "042"),
    ("Thị trấn Bảo Lạc", "seat_bao_lac", "043"),
    ("Thị trấn Xuân Hòa", "seat_ha_quang", "045"),
    ("Thị trấn Trùng Khánh", "seat_trung_khanh", "047"),
    ("Thị trấn Thanh Nhật", "seat_ha_lang", "048"),
    ("Thị trấn Quảng Uyên", "seat_quang_hoa", "049"),
    ("Thị trấn Nước Hai", "seat_hoa_an", "051"),
    ("Thị trấn Nguyên Bình", "seat_nguyen_binh", "052"),
    ("Thị trấn Đông Khê", "seat_thach_an", "053"),
    ("Thị trấn Tà Lùng", "town_ta_lung", None),
    ("Thị trấn Tĩnh Túc", "town_tinh_tuc", None),
    ("Thị trấn Thông Nông", "town_thong_nong", None),
    ("Thị trấn Hùng Quốc", "town_tra_linh", None),
    ("Xã Sóc Hà seat", "soc_ha", None),
]
GATES = ("ta_lung", "tra_linh", "soc_giang")
BEZ_FOCAL = ("ta_lung", "tra_linh", "soc_giang", "ban_gioc")  # must lie in the BEZ footprint
TOURISM_POINTS = ("ban_gioc", "pac_bo", "phja_oac", "thang_hen", "tran_hung_dao", "cao_bang_city")
TOWNS = ("town_ta_lung", "town_tinh_tuc", "town_thong_nong", "town_tra_linh")

# --------------------------------------------------------------------------------------------------
# Zones
# --------------------------------------------------------------------------------------------------
POINT_ZONE_RADIUS_M = 1_000.0  # nominal radius for protected areas known only by a point
BUFFER_WIDTH_M = 2_000.0  # emission-restricted ring around every strict zone
RIVER_HALF_WIDTH_M = 100.0  # half-width of the Bằng river inland-water reserve corridor
# The river corridor is a straight-line skeleton through places known to lie on the Bằng river
# (enters from China near the Sóc Giang gate / Sóc Hà, crosses Cao Bằng city, leaves at Tà Lùng);
# "pre2020:01648" is the Hòa Thuận commune seat (Phục Hòa), on the river between the city and Tà Lùng.
RIVER_SKELETON = ("soc_giang", "soc_ha", "cao_bang_city", "pre2020:01648", "town_ta_lung", "ta_lung")
CIRCLE_ZONES = [  # (start of the source name, zone_id, zone_name)
    ("Phja Oắc – Phja Đén", "phja_oac_phja_den", "Phja Oắc – Phja Đén"),
    ("Cao Vít gibbon", "cao_vit", "Vượn Cao Vít (Trùng Khánh)"),
    ("Trà Lĩnh – Thang Hen", "tra_linh_thang_hen", "Trà Lĩnh – Thang Hen"),
    ("Rừng Trần Hưng Đạo", "tran_hung_dao", "Rừng Trần Hưng Đạo"),
]
POINT_ZONES = [  # (place_id, zone_id, zone_name, name in caobang_protected_areas.csv)
    ("pac_bo", "pac_bo", "Pác Bó", "Pác Bó landscape protection area"),
    ("ban_gioc", "ban_gioc", "Bản Giốc", "Bản Giốc landscape protection area"),
]
# Strict-protection items of the plan that no source locates (besides the CSV rows without a centre)
MISSING_NOT_IN_CSV = ["Rừng phòng hộ đầu nguồn (watershed protection forest): no map; the synthetic RPH "
                      "land use stands in for it"]

# --------------------------------------------------------------------------------------------------
# Border-gate economic zone
# --------------------------------------------------------------------------------------------------
# The BEZ runs "from Đức Long commune (Thạch An) to Cần Nông commune (former Thông Nông, now in
# xã Cần Yên, Hà Quảng)". The 2025 commune points of xã Đức Long and xã Cần Yên (which contain the
# old communes) fix the two ends; the pre-2020 Đức Long point is misplaced (it falls in Quảng Hòa).
BEZ_END_COMMUNES = ("Xã Cần Yên", "Xã Đức Long")  # clockwise: sector runs N/NE/E from the first
# The BEZ communes lie in these five border districts (old Thông Nông is part of Hà Quảng since 2020);
# Bảo Lạc's stretch of the China border, west of Cần Nông, is not part of the BEZ.
BEZ_DISTRICTS = ("045", "047", "048", "049", "053")
BEZ_DISC_RADIUS_M = 1_000.0  # disc added around a focal point the band misses
INSIDE_SNAP_M = 5.0  # focal points outside the province are represented by their nearest point 5 m inside

# --------------------------------------------------------------------------------------------------
# Land-use balance targets (synthetic current use, calibrated on area)
# --------------------------------------------------------------------------------------------------
FOREST_SHARE = 0.615  # of the dataset's area; plan target is forest cover ≈ 60 %
RPH_SHARE_OF_FOREST = 0.35
TARGET_HA = {  # absolute targets (province datasets); non-agricultural sum 37,300 ha < 38,346 ha cap
    "ODT": 2_600.0, "TMD": 400.0, "SKC": 800.0, "ONT": 13_500.0, "DGT": 11_000.0, "SON": 9_000.0,
    "DCS": 2_000.0, "BCS": 400.0,
    "LUA": 33_000.0, "NTS": 1_000.0, "CLN": 30_000.0,
}
HOUSEHOLDS_TOTAL = 135_000  # ≈ 540,000 inhabitants / 4 per household (order of magnitude only)
HOUSEHOLD_DENSITY = {"ODT": 16.0, "ONT": 6.0, "TMD": 2.0, "SKC": 0.5,
                     "LUA": 0.06, "HNK": 0.06, "CLN": 0.06, "NTS": 0.06}  # relative households per ha

DATASETS = {  # name: (region, nominal cell area in ha)
    "province_100ha": ("province", 100.0),
    "province_10ha": ("province", 10.0),
    "bez_1ha": ("bez", 1.0),
}
SLIVER_FRACTION = 0.05


# ==================================================================================================
# Reading
# ==================================================================================================
def nfc(s):
    return unicodedata.normalize("NFC", s) if isinstance(s, str) else s


def fold(s: str) -> str:
    """Ascii-fold a Vietnamese name for matching ("Huyện Hoà An" == "Hòa An" == "hoa an")."""
    s = unicodedata.normalize("NFD", nfc(s)).replace("đ", "d").replace("Đ", "D")
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Mn").lower().strip()
    for prefix in ("thanh pho ", "huyen ", "thi xa "):
        if s.startswith(prefix):
            s = s[len(prefix):]
    return s


def read_layer(path: Path) -> gpd.GeoDataFrame:
    """Read a vector file, refuse it without a CRS, reproject to EPSG:9210 and NFC-normalize text."""
    gdf = gpd.read_file(path)
    if gdf.crs is None:
        raise ValueError(f"{path.name}: layer has no CRS; refusing to guess")
    gdf = gdf.to_crs(CRS)
    for col in gdf.columns:
        if gdf[col].dtype == object and col != gdf.geometry.name:
            gdf[col] = gdf[col].map(nfc)
    return gdf


def prec(geom):
    """Snap to the 0.1 m grid (valid output), the single precision rule for every written geometry."""
    return shapely.set_precision(geom, GRID)


def polygonal(geom):
    """Only the polygon parts of an overlay result (drops the stray lines/points GEOS may return)."""
    parts = shapely.get_parts(geom)
    parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    return shapely.union_all(parts) if len(parts) else shapely.Polygon()


# ==================================================================================================
# Reference layers
# ==================================================================================================
def build_province(src: Path) -> gpd.GeoDataFrame:
    """The ODM province polygon in EPSG:9210 (+0.3 % vs the published natural area)."""
    raw = read_layer(src / SOURCE_FILES["province"])
    geom = prec(shapely.union_all(raw.geometry.values))
    area = geom.area / 1e4
    return gpd.GeoDataFrame({
        "name_vi": ["Tỉnh Cao Bằng"], "name_en": ["Cao Bang Province"], "province_code": ["04"],
        "area_ha": [round(area, 4)], "official_area_ha": [NATURAL_AREA_HA],
        "area_dev_pct": [round(100 * (area / NATURAL_AREA_HA - 1), 3)],
        "source": ["Open Development Vietnam 'Địa phận tỉnh' (CC BY-SA 4.0), reprojected to EPSG:9210"],
    }, geometry=[geom], crs=CRS)


def build_districts(src: Path, province) -> gpd.GeoDataFrame:
    """The 10 plan districts, reconciled so they tile the province polygon exactly.

    The district and province sources disagree along the outer boundary (≈0.7 % each way). Parcels
    must tile the province and lie in exactly one district, so each district is clipped to the
    province, and province area outside every district is given to the district owning the nearest
    district-boundary vertex (Voronoi cells of the boundary vertices, densified to 250 m). Later
    districts are differenced against earlier ones so no area is counted twice.
    """
    raw = read_layer(src / SOURCE_FILES["districts"]).sort_values("gso_code").reset_index(drop=True)
    geoms = prec(raw.geometry.values)
    gap = shapely.difference(province, shapely.union_all(geoms))
    pts, lab = [], []
    for i, g in enumerate(geoms):
        c = shapely.get_coordinates(shapely.segmentize(shapely.boundary(g), 250.0))
        pts.append(c)
        lab.append(np.full(len(c), i))
    pts, lab = np.vstack(pts), np.concatenate(lab)
    _, first = np.unique(np.round(pts, 1), axis=0, return_index=True)
    first.sort()
    pts, lab = pts[first], lab[first]
    frame = shapely.box(*(np.asarray(province.bounds) + [-1e4, -1e4, 1e4, 1e4]))
    cells = np.asarray(shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame, ordered=True)))
    out, done = [], None
    for i, g in enumerate(geoms):
        zone = shapely.union_all(cells[lab == i])
        f = shapely.union(shapely.intersection(g, province), shapely.intersection(gap, zone))
        if done is not None:
            f = shapely.difference(f, done)
        f = polygonal(prec(f))
        out.append(f)
        done = f if done is None else shapely.union(done, f)
    area = shapely.area(np.asarray(out)) / 1e4
    official = raw["official_area_km2_wiki"].astype(float) * 100.0
    codes = raw["gso_code"].astype(str).str.zfill(3)
    return gpd.GeoDataFrame({
        "district": raw["name_vi"].values,
        "district_code": codes.values,
        "name_ascii": raw["name_ascii"].values,
        "subregion": codes.map(SUBREGION).values,
        "official_area_ha": official.where(official.notna(), None).values,
        "area_ha": np.round(area, 4),
        "area_dev_pct": np.round(100 * (area / official.values - 1), 3),
        "source_area_ha": np.round(shapely.area(geoms) / 1e4, 4),
    }, geometry=out, crs=CRS)


def build_places(src: Path, province, districts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Key places with stable ascii ``place_id``; ``seat_of`` is the district code a seat serves."""
    raw = read_layer(src / SOURCE_FILES["places"]).reset_index(drop=True)
    pid, seat = [], []
    for name in raw["name"]:
        hits = [(p, s) for prefix, p, s in PLACE_IDS if name.startswith(prefix)]
        if len(hits) != 1:
            raise ValueError(f"{SOURCE_FILES['places']}: place {name!r} matches {len(hits)} ids")
        pid.append(hits[0][0])
        seat.append(hits[0][1])
    missing = {p for _, p, _ in PLACE_IDS} - set(pid)
    if missing:
        raise ValueError(f"{SOURCE_FILES['places']}: no row for {sorted(missing)}")
    g = raw.geometry.values
    inside = shapely.contains(province, g)
    dist_out = np.where(inside, 0.0, shapely.distance(province, g))
    in_district = [districts.loc[districts.contains(p), "district_code"].tolist() for p in g]
    places = gpd.GeoDataFrame({
        "place_id": pid, "name": raw["name"].values, "kind": raw["kind"].values,
        "confidence": raw["confidence"].values, "seat_of": seat,
        "district_code": [c[0] if c else None for c in in_district],
        "inside_province": inside, "outside_by_m": np.round(dist_out, 1),
        "lat": raw["lat"].astype(float).values, "lon": raw["lon"].astype(float).values,
        "source": raw["source"].values, "note": raw["note"].fillna("").values,
    }, geometry=g, crs=CRS)
    bad = places[places.seat_of.notna() & (places.seat_of != places.district_code)]
    if len(bad):
        raise ValueError(f"district seat(s) outside their district: {bad.place_id.tolist()}")
    return places.sort_values("place_id").reset_index(drop=True)


def anchor_inside(point, province):
    """The point itself if inside the province, else its nearest point 5 m inside (border places)."""
    if shapely.contains(province, point):
        return point
    shrunk = shapely.buffer(province, -INSIDE_SNAP_M)
    return shapely.shortest_line(shrunk, point).interpolate(0.0)


def river_line(places: gpd.GeoDataFrame, pre2020: gpd.GeoDataFrame):
    """Straight-line skeleton of the Bằng river through RIVER_SKELETON (see its comment)."""
    pts = []
    for key in RIVER_SKELETON:
        if key.startswith("pre2020:"):
            pts.append(pre2020.loc[pre2020.gso_code_old == key.split(":")[1]].geometry.iloc[0])
        else:
            pts.append(places.loc[places.place_id == key].geometry.iloc[0])
    return shapely.linestrings(shapely.get_coordinates(np.asarray(pts)))


def missing_protected_areas(src: Path) -> list[str]:
    """Plan strict-protection areas with no location in the sources (documented, not drawn)."""
    table = pd.read_csv(src / SOURCE_FILES["protected_csv"], dtype=str).map(nfc)
    drawn = {z[3] for z in POINT_ZONES}
    for name in drawn:
        if name not in set(table["name"]):
            raise ValueError(f"{SOURCE_FILES['protected_csv']}: no row {name!r}")
    lost = table[table["centre_lat"].isna() & ~table["name"].isin(drawn)]
    return [f"{n}: no location in the sources" for n in lost["name"]] + MISSING_NOT_IN_CSV


def build_zones(src: Path, province, places: gpd.GeoDataFrame, river) -> gpd.GeoDataFrame:
    """Strict zones (approximate circles, point discs, river corridor) and their buffer rings."""
    circles = read_layer(src / SOURCE_FILES["protected_circles"])
    rows = []
    for prefix, zid, zname in CIRCLE_ZONES:
        r = circles[circles["name"].str.startswith(prefix)]
        if len(r) != 1:
            raise ValueError(f"{SOURCE_FILES['protected_circles']}: {prefix!r} matches {len(r)} rows")
        r = r.iloc[0]
        rows.append(dict(zone_id=zid, zone_name=zname, category=r["category"], geometry=r.geometry,
                         published_area_ha=float(r["area_ha"]), confidence=r["confidence"],
                         basis=(f"circle of the published area {r['area_ha']:g} ha ({r['area_source']}) "
                                f"around an approximate centre ({r['centre_source']}); shape not real")))
    for pid, zid, zname, _ in POINT_ZONES:
        p = places.loc[places.place_id == pid].iloc[0]
        rows.append(dict(zone_id=zid, zone_name=zname, category="landscape",
                         geometry=shapely.buffer(p.geometry, POINT_ZONE_RADIUS_M, quad_segs=16),
                         published_area_ha=None, confidence="low",
                         basis=(f"no published area or boundary: disc of nominal radius "
                                f"{POINT_ZONE_RADIUS_M:g} m around the point '{p['name']}' "
                                f"({p['confidence']} confidence)")))
    rows.append(dict(zone_id="song_bang", zone_name="Sông Bằng (khu bảo tồn vùng nước nội địa)",
                     category="inland_water", geometry=shapely.buffer(river, RIVER_HALF_WIDTH_M, quad_segs=8),
                     published_area_ha=None, confidence="low",
                     basis=(f"corridor of half-width {RIVER_HALF_WIDTH_M:g} m around a straight-line skeleton "
                            "through Sóc Giang gate, Sóc Hà, Cao Bằng city, Hòa Thuận, Tà Lùng town and gate; "
                            "the real river meanders km away from it in places")))
    strict = pd.DataFrame(rows)
    strict["geometry"] = [polygonal(g) for g in prec(shapely.intersection(np.asarray(strict.geometry, dtype=object),
                                                                          province))]
    strict["zone_class"] = "strict"
    strict_union = shapely.union_all(strict.geometry.values)
    buf = strict.copy()
    ring = shapely.buffer(np.asarray(strict.geometry, dtype=object), BUFFER_WIDTH_M, quad_segs=16)
    buf["geometry"] = [polygonal(g) for g in prec(shapely.intersection(shapely.difference(ring, strict_union),
                                                                       province))]
    buf["zone_class"] = "buffer"
    buf["zone_id"] = "buffer_" + buf["zone_id"]
    buf["zone_name"] = "vùng đệm: " + buf["zone_name"]
    buf["published_area_ha"] = None
    buf["basis"] = (f"ring of {BUFFER_WIDTH_M:g} m around the strict zone, minus all strict zones, clipped "
                    "to the province (rings of neighbouring zones may overlap)")
    zones = pd.concat([strict, buf], ignore_index=True)
    zones["approximate"] = True
    zones["area_ha"] = np.round(shapely.area(zones.geometry.values) / 1e4, 4)
    cols = ["zone_id", "zone_class", "zone_name", "category", "area_ha", "published_area_ha", "approximate",
            "confidence", "basis", "geometry"]
    return gpd.GeoDataFrame(zones[cols], geometry="geometry", crs=CRS)


# ==================================================================================================
# Border-gate economic zone
# ==================================================================================================
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


# ==================================================================================================
# Synthetic smooth fields (same functions for every resolution: evaluated at parcel centroids)
# ==================================================================================================
class SyntheticTerrain:
    """Seeded smooth fields: elevation (m), slope (%), and [0, 1] noise fields (n1, n2, n3, hh, streams).

    Elevation = regional west-high trend + 60 random Gaussian hills/basins + a 900 m bump on Phja Oắc
    − valley basins around the city, district seats and towns and along the Bằng skeleton; floored
    at 150 m. Slope mixes normalized elevation with a rugged noise (wavelengths 2–9 km) and is damped
    in the valleys. Only fixed constants enter (no data-dependent rescaling), so a field value at a
    point does not depend on which parcels are evaluated.
    """

    def __init__(self, seed: int, bounds, peak, valleys: np.ndarray, river):
        rng = np.random.default_rng(seed)
        x0, y0, x1, y1 = bounds
        self.x_mid = 0.5 * (x0 + x1)
        n = 60
        self.hx, self.hy = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
        self.hs, self.ha = rng.uniform(3e3, 10e3, n), rng.uniform(-250.0, 450.0, n)
        self.waves = {name: self._waves(rng, k, lmin, lmax)
                      for name, k, lmin, lmax in (("rugged", 24, 2e3, 9e3), ("n1", 16, 3e3, 12e3),
                                                  ("n2", 16, 3e3, 12e3), ("n3", 16, 3e3, 12e3),
                                                  ("hh", 12, 2e3, 8e3), ("streams", 8, 15e3, 45e3))}
        self.peak = np.asarray(peak.coords[0])
        self.valleys = np.asarray(valleys, dtype=float)
        self.river = river

    @staticmethod
    def _waves(rng, k, lmin, lmax):
        theta = rng.uniform(0, np.pi, k)
        lam = np.exp(rng.uniform(np.log(lmin), np.log(lmax), k))
        return (np.cos(theta) / lam, np.sin(theta) / lam, rng.uniform(0, 2 * np.pi, k), rng.uniform(0.5, 1.0, k))

    def noise(self, name, x, y):
        """Sum of random plane waves, ~N(0,1), mapped through the normal CDF to [0, 1]."""
        kx, ky, ph, amp = self.waves[name]
        z = np.cos(2 * np.pi * (np.outer(x, kx) + np.outer(y, ky)) + ph) @ amp
        return ndtr(z / np.sqrt(0.5 * np.sum(amp ** 2)))

    def valley(self, x, y):
        """1 at settlements and on the river skeleton, decaying over ~3 km (2 km for the river)."""
        d2 = (x[:, None] - self.valleys[None, :, 0]) ** 2 + (y[:, None] - self.valleys[None, :, 1]) ** 2
        v_pts = np.exp(-d2.min(axis=1) / (2 * 3_000.0 ** 2))
        d_riv = shapely.distance(shapely.points(x, y), self.river)
        return np.maximum(v_pts, np.exp(-d_riv ** 2 / (2 * 2_000.0 ** 2)))

    def elevation(self, x, y):
        trend = 450.0 + 550.0 / (1.0 + np.exp((x - self.x_mid + 15_000.0) / 20_000.0))
        d2 = (x[:, None] - self.hx[None]) ** 2 + (y[:, None] - self.hy[None]) ** 2
        hills = (self.ha[None] * np.exp(-d2 / (2 * self.hs[None] ** 2))).sum(axis=1)
        peak = 900.0 * np.exp(-((x - self.peak[0]) ** 2 + (y - self.peak[1]) ** 2) / (2 * 5_000.0 ** 2))
        e = trend + hills + peak - 350.0 * self.valley(x, y) + 120.0 * (self.noise("n3", x, y) - 0.5)
        return np.maximum(e, 150.0)

    def slope(self, x, y, elevation=None):
        e = self.elevation(x, y) if elevation is None else elevation
        r = 0.5 * np.clip((e - 200.0) / 1_200.0, 0.0, 1.0) + 0.5 * self.noise("rugged", x, y)
        r = r * (1.0 - 0.75 * self.valley(x, y))
        return 60.0 * np.clip(r / 0.8, 0.0, 1.0) ** 1.2


# ==================================================================================================
# Context: everything the parcel generator needs, built once from the sources
# ==================================================================================================
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


# ==================================================================================================
# Tessellation
# ==================================================================================================
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


# ==================================================================================================
# Land use (synthetic), households and suitability
# ==================================================================================================
@dataclass(frozen=True)
class UseRule:
    code: str
    formula: str  # lower score = assigned first
    score: Callable[[pd.DataFrame], np.ndarray] | None
    built: bool = False  # built-up uses stay out of the nature strict zones


def _urban_dist(f):
    return np.minimum(f.d_city_km, f.d_seat_town_km / 0.35)


LAND_USE_RULES = [
    UseRule("ODT", "min(d_city, d_seat_or_town/0.35) + slope/40", lambda f: _urban_dist(f) + f.slope_pct / 40, True),
    UseRule("TMD", "min(d_city, d_gate/0.6, d_seat/0.4) + slope/40",
            lambda f: np.minimum.reduce([f.d_city_km, f.d_gate_km / 0.6, f.d_seat_km / 0.4]) + f.slope_pct / 40, True),
    UseRule("SKC", "d_seat_or_town + slope/30", lambda f: f.d_seat_town_km + f.slope_pct / 30, True),
    UseRule("ONT", "d_commune_seat + slope/20 + 0.3*n1",
            lambda f: f.d_commune_km + f.slope_pct / 20 + 0.3 * f.n1, True),
    UseRule("DGT", "d_road_skeleton + slope/100", lambda f: f.d_road_km + f.slope_pct / 100, True),
    UseRule("SON", "min(d_river_skeleton, |streams-0.5|/0.025)  (streams: the 0.5 contour of a smooth "
            "random field, i.e. meandering synthetic stream lines)",
            lambda f: np.minimum(f.d_river_km, np.abs(f.streams - 0.5) / 0.025), True),
    UseRule("RDD", "every remaining parcel whose centroid lies in a nature strict zone (not the river)", None),
    UseRule("RPH", "-(slope + 10*n2)", lambda f: -(f.slope_pct + 10 * f.n2)),
    UseRule("RSX", "-(slope + 15*n2)", lambda f: -(f.slope_pct + 15 * f.n2)),
    UseRule("DCS", "-(slope + 10*n3)", lambda f: -(f.slope_pct + 10 * f.n3)),
    UseRule("BCS", "slope/5 - d_commune_seat", lambda f: f.slope_pct / 5 - f.d_commune_km),
    UseRule("LUA", "(elevation-150)/200 + slope/8", lambda f: (f.elevation_m - 150) / 200 + f.slope_pct / 8),
    UseRule("NTS", "(elevation-150)/200 + slope/8 + d_river_skeleton/5",
            lambda f: (f.elevation_m - 150) / 200 + f.slope_pct / 8 + f.d_river_km / 5),
    UseRule("CLN", "|slope-15|/5 + n1", lambda f: np.abs(f.slope_pct - 15) / 5 + f.n1),
    UseRule("HNK", "all remaining parcels", None),
]


def _target(code, total_ha, assigned):
    if code == "RPH":
        return RPH_SHARE_OF_FOREST * FOREST_SHARE * total_ha
    if code == "RSX":  # fill the forest up to FOREST_SHARE of the area
        return FOREST_SHARE * total_ha - assigned.get("RDD", 0.0) - assigned.get("RPH", 0.0)
    return TARGET_HA[code]


def assign_land_use(f: pd.DataFrame, area_ha: np.ndarray, thresholds: dict | None = None):
    """Current land use by ordered, area-calibrated rules (see LAND_USE_RULES).

    Each rule takes the still-unassigned eligible parcels whose score is ≤ a threshold. With
    ``thresholds=None`` each threshold is calibrated so the class area is as close as possible to
    its target (parcels taken in score order, cumulative area); otherwise the given thresholds are
    applied (the BEZ dataset reuses the province_10ha thresholds so both agree where they overlap).
    """
    n = len(f)
    codes = np.full(n, "", dtype=object)
    free = np.ones(n, bool)
    nature = f.in_nature_zone.to_numpy()
    used, assigned = {}, {}
    for rule in LAND_USE_RULES:
        if rule.code == "RDD":
            sel = free & nature
        elif rule.score is None:
            sel = free.copy()
        else:
            elig = free & ~nature if rule.built else free.copy()
            score = np.asarray(rule.score(f), dtype=float)
            if thresholds is None:
                target = _target(rule.code, area_ha.sum(), assigned)
                idx = np.flatnonzero(elig)
                order = idx[np.argsort(score[idx], kind="stable")]
                cum = np.cumsum(area_ha[order])
                if target <= 0 or len(order) == 0:
                    t = -np.inf
                else:
                    k = int(np.argmin(np.abs(cum - target)))
                    t = float(score[order[k]])
            else:
                t = thresholds[rule.code]
            used[rule.code] = t
            sel = elig & (score <= t)
        codes[sel] = rule.code
        free &= ~sel
        assigned[rule.code] = float(area_ha[sel].sum())
    return codes.astype(str), used


def _flat(slope, s0):
    return np.clip(1.0 - slope / s0, 0.0, 1.0)


def _near(d_km, scale_km):
    return np.exp(-d_km / scale_km)


# Use multipliers: how readily a parcel's current use gives way to the new use (0 = never).
U_DEVELOP = {"RDD": 0.0, "SON": 0.0, "RPH": 0.2, "DGT": 0.3, "ODT": 0.4, "ONT": 0.6, "LUA": 0.7}
U_RESETTLE = {"RDD": 0.0, "SON": 0.0, "RPH": 0.2, "DGT": 0.3, "ODT": 0.5, "LUA": 0.7, "SKC": 0.8, "TMD": 0.8,
              "ONT": 0.9}
U_TOURISM = {"SKC": 0.2, "DGT": 0.3, "SON": 0.6, "RDD": 0.8}

SUITABILITY_FORMULAS = {
    "suit_industry": "100 * flat(slope,25) * (0.55*near(dist_gate,25) + 0.45*near(dist_city,30)) * U_develop[use]",
    "suit_cluster": "100 * flat(slope,30) * (0.7*near(dist_seat,10) + 0.3*near(dist_city,40)) * U_develop[use]",
    "suit_logistics": "100 * flat(slope,15) * (0.8*near(dist_gate,8) + 0.2*near(dist_city,40)) * U_develop[use]",
    "suit_tourism": "100 * (0.55*near(dist_tourism,12) + 0.25*min(slope/40,1) + 0.2*is_forest) * U_tourism[use]",
    "suit_resettlement": "100 * flat(slope,20) * (0.5*near(dist_seat,8) + 0.5*near(dist_commune,3)) * U_resettle[use]",
    "_definitions": ("flat(s,s0) = clip(1 - s/s0, 0, 1); near(d,L) = exp(-d/L) with d, L in km; "
                     f"U_develop = {U_DEVELOP}; U_resettle = {U_RESETTLE}; U_tourism = {U_TOURISM}; "
                     "uses not listed have multiplier 1; results clipped to 0..100, rounded to 0.01"),
}


def suitability(f: pd.DataFrame, use: np.ndarray) -> dict[str, np.ndarray]:
    s = f.slope_pct.to_numpy()
    s_use = pd.Series(use)

    def mult(table):
        return s_use.map(table).fillna(1.0).to_numpy()

    dev, res, tour = mult(U_DEVELOP), mult(U_RESETTLE), mult(U_TOURISM)
    forest = np.isin(use, FOREST_CODES).astype(float)
    out = {
        "suit_industry": 100 * _flat(s, 25) * (0.55 * _near(f.d_gate_km, 25) + 0.45 * _near(f.d_city_km, 30)) * dev,
        "suit_cluster": 100 * _flat(s, 30) * (0.7 * _near(f.d_seat_km, 10) + 0.3 * _near(f.d_city_km, 40)) * dev,
        "suit_logistics": 100 * _flat(s, 15) * (0.8 * _near(f.d_gate_km, 8) + 0.2 * _near(f.d_city_km, 40)) * dev,
        "suit_tourism": 100 * (0.55 * _near(f.d_tourism_km, 12) + 0.25 * np.minimum(s / 40, 1) + 0.2 * forest) * tour,
        "suit_resettlement": 100 * _flat(s, 20) * (0.5 * _near(f.d_seat_km, 8) + 0.5 * _near(f.d_commune_km, 3)) * res,
    }
    return {k: np.round(np.clip(np.asarray(v, dtype=float), 0, 100), 2) for k, v in out.items()}


def nearest_commune_2025(ctx: Context, x, y, district_code: np.ndarray) -> np.ndarray:
    """Name of the nearest 2025 commune point among those formed from the parcel's pre-2025 district.

    The 2025 communes have points only (no polygons); a commune that took in communes of two
    districts is a candidate in both. Every district has candidates, so the fallback (nearest of
    all) is only a guard.
    """
    c = ctx.communes2025
    cands = c["pre2025_district"].map(lambda s: {fold(p) for p in s.split(";")})
    xy = shapely.get_coordinates(c.geometry.values)
    out = np.empty(len(x), dtype=object)
    names = c["name_vi"].to_numpy()
    for code, name in zip(ctx.districts.district_code, ctx.districts.district):
        m = district_code == code
        if not m.any():
            continue
        ok = cands.map(lambda s: fold(name) in s).to_numpy()
        if not ok.any():
            ok = np.ones(len(c), bool)
        _, k = cKDTree(xy[ok]).query(np.c_[x[m], y[m]])
        out[m] = names[ok][k]
    return out.astype(str)


def _dist_to_points_km(x, y, pts) -> np.ndarray:
    d, _ = cKDTree(shapely.get_coordinates(np.asarray(pts))).query(np.c_[x, y])
    return d / 1000.0


def field_frame(ctx: Context, x, y, district_code) -> pd.DataFrame:
    """All per-parcel explanatory values (real distances + synthetic fields) at the centroids."""
    pl = ctx.places.set_index("place_id")
    seats = pl[pl.seat_of.notna()]
    seat_xy = {row.seat_of: (row.geometry.x, row.geometry.y) for row in seats.itertuples()}
    sx = np.array([seat_xy[c][0] for c in district_code])
    sy = np.array([seat_xy[c][1] for c in district_code])
    pts = shapely.points(x, y)
    t = ctx.terrain
    elev = t.elevation(x, y)
    nature = ctx.zones[(ctx.zones.zone_class == "strict") & (ctx.zones.zone_id != "song_bang")]
    nat = shapely.union_all(nature.geometry.values)
    shapely.prepare(nat)
    return pd.DataFrame({
        "elevation_m": elev,
        "slope_pct": t.slope(x, y, elev),
        "n1": t.noise("n1", x, y), "n2": t.noise("n2", x, y), "n3": t.noise("n3", x, y),
        "streams": t.noise("streams", x, y),
        "hh_mod": t.noise("hh", x, y),
        "d_gate_km": _dist_to_points_km(x, y, pl.loc[list(GATES)].geometry.values),
        "d_city_km": np.hypot(x - pl.loc["cao_bang_city"].geometry.x, y - pl.loc["cao_bang_city"].geometry.y) / 1000,
        "d_seat_km": np.hypot(x - sx, y - sy) / 1000,
        "d_seat_town_km": _dist_to_points_km(x, y, pd.concat([seats, pl.loc[list(TOWNS)]]).geometry.values),
        "d_tourism_km": _dist_to_points_km(x, y, pl.loc[list(TOURISM_POINTS)].geometry.values),
        "d_commune_km": _dist_to_points_km(x, y, ctx.pre2020.geometry.values),
        "d_road_km": shapely.distance(pts, ctx.roads) / 1000,
        "d_river_km": shapely.distance(pts, ctx.river) / 1000,
        "in_nature_zone": shapely.contains_xy(nat, x, y),
    })


PARCEL_COLUMNS = ["parcel_id", "district", "district_code", "commune_2025", "area_ha", "current_use",
                  "slope_pct", "elevation_m", "dist_gate_km", "dist_city_km", "dist_seat_km", "dist_tourism_km",
                  "dist_commune_km", "households", "suit_industry", "suit_cluster", "suit_logistics",
                  "suit_tourism", "suit_resettlement", "is_forest", "is_rice"]
REAL_FIELDS = ["parcel_id", "district", "district_code", "commune_2025", "area_ha", "dist_gate_km",
               "dist_city_km", "dist_seat_km", "dist_tourism_km", "dist_commune_km"]
SYNTHETIC_FIELDS = ["current_use", "slope_pct", "elevation_m", "households", "suit_industry", "suit_cluster",
                    "suit_logistics", "suit_tourism", "suit_resettlement", "is_forest", "is_rice"]


def dataset_regions(ctx: Context, region: str) -> gpd.GeoDataFrame:
    d = ctx.districts[["district", "district_code", "geometry"]].copy()
    if region == "bez":
        d["geometry"] = [polygonal(g) for g in prec(shapely.intersection(d.geometry.values, ctx.bez.geometry.iloc[0]))]
        d = d[~d.geometry.is_empty].reset_index(drop=True)
    return d


def generate_parcels(ctx: Context, name: str, thresholds: dict | None = None, hh_scale: float | None = None):
    """One parcel dataset (deterministic). Returns (GeoDataFrame, info dict).

    ``thresholds``/``hh_scale`` None: calibrate land use and household density on this dataset (the
    province datasets); else reuse them (the BEZ dataset reuses province_10ha's).
    """
    region, cell_ha = DATASETS[name]
    regions = dataset_regions(ctx, region)
    parcels, stats = tessellate(regions, cell_ha * 1e4)
    parcels["district"] = regions.district.to_numpy()[parcels.region]
    parcels["district_code"] = regions.district_code.to_numpy()[parcels.region]
    c = shapely.centroid(parcels.geometry.values)
    x, y = shapely.get_x(c), shapely.get_y(c)
    dcode = parcels.district_code.to_numpy()
    f = field_frame(ctx, x, y, dcode)
    area = shapely.area(parcels.geometry.values) / 1e4
    use, used_t = assign_land_use(f, area, thresholds)

    lam = area * pd.Series(use).map(HOUSEHOLD_DENSITY).fillna(0.0).to_numpy() * (0.6 + 0.8 * f.hh_mod.to_numpy())
    if hh_scale is None:
        hh_scale = HOUSEHOLDS_TOTAL / lam.sum()
    rng = np.random.default_rng([SEED, list(DATASETS).index(name)])
    households = rng.poisson(lam * hh_scale).astype(np.int64)

    parcels["commune_2025"] = nearest_commune_2025(ctx, x, y, dcode)
    parcels["area_ha"] = np.round(area, 4)
    parcels["current_use"] = use
    parcels["slope_pct"] = np.round(f.slope_pct, 2)
    parcels["elevation_m"] = np.round(f.elevation_m, 0)  # whole metres: synthetic anyway, smaller file
    parcels["dist_gate_km"] = np.round(f.d_gate_km, 3)
    parcels["dist_city_km"] = np.round(f.d_city_km, 3)
    parcels["dist_seat_km"] = np.round(f.d_seat_km, 3)
    parcels["dist_tourism_km"] = np.round(f.d_tourism_km, 3)
    parcels["dist_commune_km"] = np.round(f.d_commune_km, 3)
    parcels["households"] = households
    for k, v in suitability(f, use).items():
        parcels[k] = v
    parcels["is_forest"] = np.isin(use, FOREST_CODES).astype(np.int32)
    parcels["is_rice"] = np.isin(use, RICE_CODES).astype(np.int32)
    gdf = gpd.GeoDataFrame(parcels[PARCEL_COLUMNS], geometry=parcels.geometry.values, crs=CRS)
    info = {"tessellation": stats, "thresholds": {k: float(v) for k, v in used_t.items()},
            "households_scale": hh_scale, "region_area_ha": float(shapely.area(regions.geometry.values).sum() / 1e4)}
    return gdf, info


# ==================================================================================================
# Writing
# ==================================================================================================
def write_gpkg(gdf: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    """GeoPackage 1.2 (opens warning-free in older QGIS/GDAL), replaced whole, pinned timestamp."""
    path.unlink(missing_ok=True)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": PINNED_DATE})
    types = set(gdf.geom_type)
    if not types <= {"Point", "Polygon", "MultiPolygon"}:
        raise ValueError(f"{path.name}: unexpected geometry types {sorted(types)}")
    pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG", dataset_options=GPKG_DATASET_OPTIONS,
                            promote_to_multi=len(types) > 1 or None)


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


def build(out: Path = DATA_DIR, src: Path = SOURCE_DIR, verbose: bool = True) -> dict:
    """Write every layer and metadata.json into ``out``. The BEZ parcels reuse province_10ha's calibration."""
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)

    def log(msg):
        if verbose:
            print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", flush=True)

    ctx = build_context(src)
    log(f"context: province {ctx.province.area_ha.iloc[0]:,.1f} ha, BEZ width {ctx.bez_info['width_m']} m")
    for gdf, name, layer in ((ctx.province, "province", "province"), (ctx.districts, "districts", "districts"),
                             (ctx.places, "places", "places"), (ctx.zones, "zones", "zones"),
                             (ctx.bez, "bez_footprint", "bez")):
        write_gpkg(gdf, out / f"{name}.gpkg", layer)

    datasets, calib = {}, {}
    for name in ("province_10ha", "province_100ha", "bez_1ha"):  # province_10ha first: bez_1ha reuses it
        reuse = calib if DATASETS[name][0] == "bez" else {}
        gdf, info = generate_parcels(ctx, name, **reuse)
        if name == "province_10ha":
            calib = {"thresholds": info["thresholds"], "hh_scale": info["households_scale"]}
        path = out / f"{name}.gpkg"
        write_gpkg(gdf, path, "parcels")
        datasets[name] = {"file": path.name, "nominal_cell_ha": DATASETS[name][1],
                          **dataset_metadata(gdf, info, info["region_area_ha"]),
                          "land_use_calibrated_on": "province_10ha" if reuse else name,
                          "bez": {"area_ha": ctx.bez_info["area_ha"], "width_m": ctx.bez_info["width_m"]},
                          "size_bytes": path.stat().st_size}
        log(f"{name}: {len(gdf):,} parcels")

    meta = metadata(ctx, {k: datasets[k] for k in DATASETS}, src)
    (out / "metadata.json").write_text(
        json.dumps(_jsonable(meta), ensure_ascii=False, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    log("done")
    return meta


def _jsonable(o):
    """Plain JSON types; NaN (unpublished figures) and infinities become null."""
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (bool, np.bool_)):
        return bool(o)
    if isinstance(o, (int, np.integer)):
        return int(o)
    if isinstance(o, (float, np.floating)):
        return float(o) if np.isfinite(o) else None
    return o


def main() -> None:
    ap = argparse.ArgumentParser(description="Build instances/cao_bang/data from instances/cao_bang/source.")
    ap.add_argument("--out", type=Path, default=DATA_DIR)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    build(args.out, verbose=not args.quiet)


if __name__ == "__main__":
    main()
