"""Every fixed choice of the Cao Bằng build in one place: paths, CRS, seed, published figures,
vocabulary, place ids, zone, BEZ and land-balance parameters, datasets.

The stages read them from here and ``metadata.json`` reports them, so a number in the data can be
traced to one line.
"""

from __future__ import annotations

from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parents[1]  # instances/cao_bang
SOURCE_DIR = INSTANCE_DIR / "source"
DATA_DIR = INSTANCE_DIR / "data"

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

# Stable ascii ids for the key places, by role; matched on the start of the NFC name in the source file.
DISTRICT_SEATS = {  # GSO district code: (start of the source name, place_id); the city is its own seat
    "040": ("Thành phố Cao Bằng", "cao_bang_city"),
    "042": ("Thị trấn Pác Miầu", "seat_bao_lam"),
    "043": ("Thị trấn Bảo Lạc", "seat_bao_lac"),
    "045": ("Thị trấn Xuân Hòa", "seat_ha_quang"),
    "047": ("Thị trấn Trùng Khánh", "seat_trung_khanh"),
    "048": ("Thị trấn Thanh Nhật", "seat_ha_lang"),
    "049": ("Thị trấn Quảng Uyên", "seat_quang_hoa"),
    "051": ("Thị trấn Nước Hai", "seat_hoa_an"),
    "052": ("Thị trấn Nguyên Bình", "seat_nguyen_binh"),
    "053": ("Thị trấn Đông Khê", "seat_thach_an"),
}
OTHER_PLACES = {  # start of the source name: place_id, for the places that are no district seat
    "Cửa khẩu quốc tế Tà Lùng": "ta_lung", "Cửa khẩu quốc tế Trà Lĩnh": "tra_linh", "Cửa khẩu Sóc Giang": "soc_giang",
    "Bản Giốc waterfall": "ban_gioc", "Pác Bó relic site": "pac_bo", "Núi Phja Oắc": "phja_oac",
    "Hồ Thang Hen": "thang_hen", "Rừng Trần Hưng Đạo": "tran_hung_dao", "Xã Sóc Hà seat": "soc_ha",
    "Thị trấn Tà Lùng": "town_ta_lung", "Thị trấn Tĩnh Túc": "town_tinh_tuc",
    "Thị trấn Thông Nông": "town_thong_nong", "Thị trấn Hùng Quốc": "town_tra_linh",
}
# (start of the source name, place_id, GSO code of the district the place is the seat of, or None)
PLACE_IDS = ([(name, pid, code) for code, (name, pid) in DISTRICT_SEATS.items()]
             + [(name, pid, None) for name, pid in OTHER_PLACES.items()])
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
