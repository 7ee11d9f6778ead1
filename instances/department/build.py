"""Build the "department" example: the layers a district land office hands a planner, raw.

    python -m instances.department.build          # ~2 s; writes instances/department/data/

Everything is SYNTHETIC (seeded, ``SEED``) but shaped like the real thing, so ``landalloc init`` can be
shown — and tested — from a planner's own files rather than from the tool's prepared instances:

* ``hien_trang.shp`` — the current land-use map (bản đồ hiện trạng sử dụng đất): ~300 Voronoi parcels
  (~2 ha) in VN-2000 / TM-3 105°45′ (EPSG:9210, Cao Bằng's zone), attribute table in **Windows-1258**
  (.cpg ``CP1258``) with the cadastral fields ``SoTo`` (map sheet), ``SoThua`` (parcel number on the
  sheet), ``MaLoaiDat`` (current-use code: national codes such as ``LUC``, ``BHK``, ``RSX``, combined
  codes ``ONT+CLN`` and ``LUK/LUC``, codes of the earlier classification ``LNQ`` and ``RST``, and two
  codes no table knows, ``LUX`` and ``KHAC``), ``TenXa`` (commune), ``DienTich`` (legal area, m²: a
  few parcels deliberately more than 5 % off their geometry, as old surveys are);
* ``roads.gpkg`` — a national road along the valley and three commune roads (lines);
* ``communes.gpkg`` — the three communes' polygons (the parcels' union per ``TenXa``);
* ``protection.gpkg`` — a strict-protection zone (headwater protection forest) on the highest hill;
* ``dem.tif`` — a 30 m elevation model (GeoTIFF, EPSG:9210, metres) the land uses were drawn from;
* ``metadata.json`` — seed, counts, code counts, what is synthetic.

The place (near 106.2°E, 22.7°N, Hòa An) and the commune names are real; nothing else is. Output is
byte-reproducible: a fixed seed, coordinates on a 0.1 m grid, pinned file dates.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
import shapely

from optimizer.engine.layers import is_text
from optimizer.engine.vn_encodings import encode_cp1258

SEED = 20250701
DATA_DIR = Path(__file__).resolve().parent / "data"
CRS = "EPSG:9210"  # VN-2000 / TM-3 zone 105°45′ (Cao Bằng)
X0, Y0, WIDTH, HEIGHT = 545_000.0, 2_510_000.0, 3_000.0, 2_000.0
CELL = 30.0
PINNED_DATE = "2025-07-01T00:00:00.000Z"
COMMUNES = ("Xã Hưng Đạo", "Xã Bạch Đằng", "Xã Hồng Việt")
SHAPEFILE = "hien_trang.shp"


def elevation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A valley along a line rising west→east, hills on both sides, the highest in the north-east."""
    u, v = (x - X0) / WIDTH, (y - Y0) / HEIGHT
    valley = 0.35 + 0.15 * u
    z = 240 + 420 * (v - valley) ** 2 + 60 * u
    for cx, cy, h, r in ((0.85, 0.85, 260, 0.22), (0.2, 0.9, 150, 0.2), (0.55, 0.05, 120, 0.18), (0.1, 0.1, 90, 0.15)):
        z += h * np.exp(-((u - cx) ** 2 + (v - cy) ** 2) / (2 * r * r))
    return z


def _road_lines() -> gpd.GeoDataFrame:
    def line(points):
        return shapely.LineString([(X0 + px * WIDTH, Y0 + py * HEIGHT) for px, py in points])
    national = line([(-0.02, 0.33), (0.3, 0.38), (0.6, 0.42), (1.02, 0.52)])
    rows = [("Quốc lộ 3", "QL", national),
            ("Đường xã Hưng Đạo", "DX", line([(0.15, 0.36), (0.12, 0.6), (0.2, 0.85)])),
            ("Đường xã Bạch Đằng", "DX", line([(0.48, 0.4), (0.5, 0.15)])),
            ("Đường xã Hồng Việt", "DX", line([(0.78, 0.47), (0.72, 0.7), (0.66, 0.92)]))]
    return gpd.GeoDataFrame({"TenDuong": [r[0] for r in rows], "CapDuong": [r[1] for r in rows]},
                            geometry=[shapely.set_precision(r[2], 0.1) for r in rows], crs=CRS)


def _parcels(rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Voronoi cells of a jittered 20 × 15 lattice (about 2 ha each), clipped to the sheet area."""
    nx, ny = 20, 15
    gx, gy = np.meshgrid((np.arange(nx) + 0.5) / nx, (np.arange(ny) + 0.5) / ny)
    px = X0 + WIDTH * (gx.ravel() + rng.uniform(-0.35, 0.35, gx.size) / nx)
    py = Y0 + HEIGHT * (gy.ravel() + rng.uniform(-0.35, 0.35, gy.size) / ny)
    frame = shapely.box(X0, Y0, X0 + WIDTH, Y0 + HEIGHT)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.MultiPoint(np.c_[px, py]), extend_to=frame))
    cells = shapely.set_precision(shapely.intersection(cells, frame), 0.1)
    order = np.lexsort((shapely.get_x(shapely.centroid(cells)), -shapely.get_y(shapely.centroid(cells))))
    return gpd.GeoDataFrame(geometry=list(cells[order]), crs=CRS)


def _current_use(rng, z, slope, road_m, near_top) -> list[str]:
    """Codes as a land office records them, drawn from terrain and road access (synthetic)."""
    codes = []
    for zi, si, di, top in zip(z, slope, road_m, near_top):
        r = rng.random()
        if top:
            code = "RPH"
        elif di < 90 and r < 0.55:
            code = "ONT+CLN" if r < 0.25 else "ONT"
        elif zi < 350 and si < 16:
            code = "LUC" if r < 0.6 else "LUK" if r < 0.8 else "NTS" if r < 0.88 else "BHK"
        elif zi < 420:
            code = "BHK" if r < 0.35 else "CLN" if r < 0.6 else "NHK" if r < 0.75 else "RSX" if r < 0.95 else "BCS"
        else:
            code = "RSX" if r < 0.8 else "CLN" if r < 0.9 else "RPH"
        codes.append(code)
    return codes


def _sprinkle(rng, codes: list[str], eligible: set[str], new: str, k: int) -> None:
    """Put ``k`` parcels of a code from ``eligible`` under ``new`` (earlier-classification, combined, unknown codes)."""
    idx = [i for i, c in enumerate(codes) if c in eligible]
    for i in rng.choice(idx, size=min(k, len(idx)), replace=False):
        codes[i] = new


def _write_dem(path: Path) -> tuple[rasterio.Affine, np.ndarray]:
    margin = 10 * CELL
    ncol, nrow = int((WIDTH + 2 * margin) / CELL), int((HEIGHT + 2 * margin) / CELL)
    transform = rasterio.Affine(CELL, 0.0, X0 - margin, 0.0, -CELL, Y0 + HEIGHT + margin)  # north-up, 30 m cells
    cx = X0 - margin + (np.arange(ncol) + 0.5) * CELL
    cy = Y0 + HEIGHT + margin - (np.arange(nrow) + 0.5) * CELL
    xx, yy = np.meshgrid(cx, cy)
    dem = np.round(elevation(xx, yy), 1).astype("float32")
    with rasterio.Env(GDAL_PAM_ENABLED="NO"):
        with rasterio.open(path, "w", driver="GTiff", width=ncol, height=nrow, count=1, dtype="float32", crs=CRS,
                           transform=transform, nodata=-9999.0, compress="deflate") as dst:
            dst.write(dem, 1)
            dst.update_tags(AREA_OR_POINT="Area", UNITS="metre")
    return transform, dem


def _slope_pct(dem: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient(dem.astype(float), CELL)
    return 100 * np.hypot(gx, gy)


def write_cp1258_shapefile(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """A Shapefile whose .dbf text is Windows-1258, as Vietnamese desktop GIS writes it. Python's cp1258 codec
    (which GDAL is handed the text in) knows CP1258's letters but not the precomposed toned ones, so the text
    is first spelled CP1258's way (letter + combining tone); the .dbf's date is pinned for reproducibility."""
    out = gdf.copy()
    for col in out.columns:
        if col != out.geometry.name and is_text(out[col]):
            out[col] = [encode_cp1258(v).decode("cp1258") for v in out[col]]
    for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        path.with_suffix(suffix).unlink(missing_ok=True)
    pyogrio.write_dataframe(out, path, driver="ESRI Shapefile", encoding="cp1258")
    dbf = path.with_suffix(".dbf")
    raw = bytearray(dbf.read_bytes())
    raw[1:4] = struct.pack("<3B", 125, 7, 1)  # last update 2025-07-01
    dbf.write_bytes(bytes(raw))


def _write_gpkg(gdf: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    path.unlink(missing_ok=True)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": PINNED_DATE})
    pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG", dataset_options={"VERSION": "1.2"})


def build(out: Path = DATA_DIR) -> dict:
    rng = np.random.default_rng(SEED)
    out.mkdir(parents=True, exist_ok=True)
    transform, dem = _write_dem(out / "dem.tif")
    slope = _slope_pct(dem)
    roads = _road_lines()
    parcels = _parcels(rng)
    cent = parcels.geometry.centroid
    row, col = rasterio.transform.rowcol(transform, cent.x.to_numpy(), cent.y.to_numpy())
    row, col = np.asarray(row, int), np.asarray(col, int)
    z, s = dem[row, col].astype(float), slope[row, col]
    road_m = shapely.distance(cent.to_numpy()[:, None], roads.geometry.to_numpy()[None, :]).min(axis=1)
    top = shapely.Point(X0 + 0.85 * WIDTH, Y0 + 0.85 * HEIGHT)
    zone = shapely.set_precision(top.buffer(330, quad_segs=8), 0.1)
    near_top = shapely.intersects(parcels.geometry.to_numpy(), zone) & (shapely.distance(cent.to_numpy(), top) < 330)

    codes = _current_use(rng, z, s, road_m, near_top)
    _sprinkle(rng, codes, {"LUC", "LUK"}, "LUK/LUC", 2)
    _sprinkle(rng, codes, {"CLN"}, "LNQ", 3)   # earlier classification: perennial fruit trees
    _sprinkle(rng, codes, {"RSX"}, "RST", 3)   # earlier classification: planted production forest
    _sprinkle(rng, codes, {"LUC"}, "LUX", 3)   # a typing slip no table knows
    _sprinkle(rng, codes, {"BHK", "NHK"}, "KHAC", 2)  # "khác" (other): no code at all

    u = (cent.x.to_numpy() - X0) / WIDTH + 0.04 * np.sin(8 * (cent.y.to_numpy() - Y0) / HEIGHT)
    commune = np.where(u < 0.36, 0, np.where(u < 0.68, 1, 2))
    sheet = 1 + (cent.x.to_numpy() - X0 >= WIDTH / 3).astype(int) + (cent.x.to_numpy() - X0 >= 2 * WIDTH / 3) \
        + 3 * (cent.y.to_numpy() - Y0 < HEIGHT / 2)
    numbers = np.zeros(len(parcels), int)
    for sh in np.unique(sheet):
        numbers[sheet == sh] = np.arange(1, (sheet == sh).sum() + 1)
    area = parcels.geometry.area.to_numpy()
    legal = np.round(area, 1)
    off = rng.choice(len(parcels), size=4, replace=False)
    legal[off] = np.round(area[off] * np.array([1.08, 0.9, 1.12, 0.93]), 1)  # old surveys, > 5 % off

    parcels.insert(0, "SoTo", sheet.astype("int32"))
    parcels.insert(1, "SoThua", numbers.astype("int32"))
    parcels.insert(2, "MaLoaiDat", codes)
    parcels.insert(3, "TenXa", [COMMUNES[c] for c in commune])
    parcels.insert(4, "DienTich", legal)
    write_cp1258_shapefile(parcels, out / SHAPEFILE)

    communes = parcels.dissolve("TenXa", sort=True).reset_index()[["TenXa", "geometry"]]
    communes["geometry"] = shapely.set_precision(communes.geometry.to_numpy(), 0.1)
    _write_gpkg(communes, out / "communes.gpkg", "communes")
    _write_gpkg(roads, out / "roads.gpkg", "roads")
    _write_gpkg(gpd.GeoDataFrame({"zone_class": ["strict"], "zone_name": ["Rừng phòng hộ đầu nguồn Hồng Việt"]},
                                 geometry=[zone], crs=CRS), out / "protection.gpkg", "zones")
    meta = {
        "seed": SEED, "crs": CRS, "parcels": len(parcels), "area_ha": round(float(area.sum()) / 1e4, 2),
        "codes": dict(sorted(Counter(codes).items())), "legal_area_off_by_more_than_5pct": int(len(off)),
        "synthetic": ["parcel geometry", "MaLoaiDat", "SoTo", "SoThua", "DienTich", "roads", "dem.tif",
                      "protection.gpkg"],
        "real": ["place (near 106.2°E, 22.7°N)", "commune names (TenXa)"],
        "files": sorted(p.name for p in out.iterdir() if p.name != "metadata.json"),
    }
    (out / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return meta


if __name__ == "__main__":
    print(json.dumps(build(), ensure_ascii=False, indent=1))
