"""Seeded synthetic instances of any size, for tests and benchmarks.

A rectangular tessellation with random row heights and column widths (so parcel areas differ and
area quotas behave like knapsacks, as on real cadastres), smooth synthetic terrain, current uses
drawn from it, one strict-protection disc with a buffer ring, and a scenario with industrial-park,
cluster and tourism quotas. Everything here is synthetic; nothing describes a real place.

    python -m instances.synthetic --n 1000 --seed 1 --out /tmp/syn1k
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
import yaml

X0, Y0 = 550000.0, 2480000.0  # inside the EPSG:9210 (VN-2000 TM-3 105°45′) zone used for Cao Bằng

LAND_USES = {
    "LUA": {"name_vi": "Đất trồng lúa", "name_en": "Rice land", "colour": "#ffff64", "group": "agricultural"},
    "HNK": {"name_vi": "Đất trồng cây hằng năm khác", "name_en": "Other annual crops", "colour": "#ffe6a0", "group": "agricultural"},
    "RSX": {"name_vi": "Đất rừng sản xuất", "name_en": "Production forest", "colour": "#6ec86e", "group": "agricultural", "forest": True},
    "ONT": {"name_vi": "Đất ở tại nông thôn", "name_en": "Rural residential", "colour": "#ffb4b4", "group": "non_agricultural"},
    "BCS": {"name_vi": "Đất bằng chưa sử dụng", "name_en": "Unused flat land", "colour": "#e6e6c8", "group": "unused"},
    "SKK": {"name_vi": "Đất khu công nghiệp", "name_en": "Industrial park", "colour": "#d94a8c", "group": "non_agricultural"},
    "SKN": {"name_vi": "Đất cụm công nghiệp", "name_en": "Industrial cluster", "colour": "#b03a7a", "group": "non_agricultural"},
    "TMD": {"name_vi": "Đất thương mại, dịch vụ", "name_en": "Commercial and service", "colour": "#f08c3c", "group": "non_agricultural"},
}


def _smooth_field(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, width: float, height: float, bumps: int = 6):
    """Sum of seeded Gaussian bumps scaled to 0..1: a terrain-like field."""
    z = np.zeros_like(x)
    for _ in range(bumps):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        s = rng.uniform(0.15, 0.4) * max(width, height)
        z += rng.uniform(0.5, 1.0) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s))
    return (z - z.min()) / max(z.max() - z.min(), 1e-12)


def make_parcels(n: int, seed: int = 0, cell_m: float = 100.0) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """(parcels, zones) with about ``n`` parcels, deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    ncol = max(2, int(math.ceil(math.sqrt(n))))
    nrow = max(1, int(math.ceil(n / ncol)))
    widths = rng.uniform(0.7, 1.3, ncol) * cell_m
    heights = rng.uniform(0.7, 1.3, nrow) * cell_m
    xs = np.concatenate([[0], np.cumsum(widths)])
    ys = np.concatenate([[0], np.cumsum(heights)])
    ci, ri = np.meshgrid(np.arange(ncol), np.arange(nrow))
    ci, ri = ci.ravel()[:n], ri.ravel()[:n]
    geoms = shapely.box(X0 + xs[ci], Y0 + ys[ri], X0 + xs[ci + 1], Y0 + ys[ri + 1])
    W, H = xs[-1], ys[-1]
    cx, cy = (xs[ci] + xs[ci + 1]) / 2, (ys[ri] + ys[ri + 1]) / 2
    slope = 40 * _smooth_field(rng, cx, cy, W, H)
    wet = _smooth_field(rng, cx, cy, W, H)
    gate = np.array([W * rng.uniform(0.6, 0.9), H * rng.uniform(0.6, 0.9)])
    dist_gate_km = np.hypot(cx - gate[0], cy - gate[1]) / 1000

    use = np.where(slope > 22, "RSX", np.where(wet > 0.6, "LUA", "HNK")).astype(object)
    village = rng.random(len(use)) < 0.04
    use[village] = "ONT"
    use[(rng.random(len(use)) < 0.02) & ~village] = "BCS"

    households = np.where(use == "ONT", rng.integers(5, 30, len(use)), rng.integers(0, 2, len(use)))
    noise = rng.uniform(0, 10, (3, len(use)))
    suit_industry = np.clip(100 - 2.0 * slope - 8 * dist_gate_km + noise[0], 0, 100)
    suit_cluster = np.clip(90 - 1.5 * slope - 4 * dist_gate_km + noise[1], 0, 100)
    suit_tourism = np.clip(30 + 50 * wet + slope * 0.5 + noise[2], 0, 100)
    order = rng.permutation(len(use))  # ids not in spatial order, so loaders must sort
    ids = np.empty(len(use), dtype=np.int64)
    ids[order] = np.arange(1, len(use) + 1)
    district = np.where(cx < W / 2, np.where(cy < H / 2, "Huyện Tây Nam", "Huyện Tây Bắc"),
                        np.where(cy < H / 2, "Huyện Đông Nam", "Huyện Đông Bắc"))
    parcels = gpd.GeoDataFrame({
        "parcel_id": ids, "district": district, "current_use": use.astype(str), "slope_pct": slope.round(3),
        "dist_gate_km": dist_gate_km.round(4), "households": households, "suit_industry": suit_industry.round(3),
        "suit_cluster": suit_cluster.round(3), "suit_tourism": suit_tourism.round(3),
        "is_forest": (use == "RSX").astype(int), "is_rice": (use == "LUA").astype(int),
    }, geometry=geoms, crs="EPSG:9210").sort_values("parcel_id").reset_index(drop=True)
    centre = shapely.Point(X0 + W * rng.uniform(0.2, 0.4), Y0 + H * rng.uniform(0.2, 0.4))
    r = 0.12 * min(W, H)
    core = centre.buffer(r, 32)
    zones = gpd.GeoDataFrame({"zone_class": ["strict", "buffer"], "zone_name": ["Khu bảo tồn tổng hợp", "vùng đệm: Khu bảo tồn tổng hợp"]},
                             geometry=[core, centre.buffer(2 * r, 32).difference(core)], crs="EPSG:9210")
    return parcels, zones


def scenario_dict(parcels: gpd.GeoDataFrame, name: str, gap: float = 1e-4) -> dict:
    """Quotas scaled to the instance: ~2 % industrial park, ~1 % cluster, ~1 % tourism (±5 %)."""
    total = float(parcels.geometry.area.sum() / 1e4)

    def band(share: float) -> dict:
        return {"lo": round(share * total * 0.95, 3), "hi": round(share * total * 1.05, 3)}

    return {
        "name": name,
        "title": f"Synthetic instance, {len(parcels)} parcels",
        "crs": "EPSG:9210",
        "parcels": {"path": "parcels.gpkg", "layer": "parcels"},
        "land_uses": LAND_USES,
        "allocate": ["SKK", "SKN", "TMD"],
        "quotas": {
            "SKK": {**band(0.02), "source": "synthetic: ~2 % of the area as industrial park"},
            "SKN": {**band(0.01), "source": "synthetic: ~1 % as industrial clusters"},
            "TMD": {**band(0.01), "source": "synthetic: ~1 % as tourism/service"},
        },
        "constraints": {"allowed_uses": {"layer": "zones.gpkg", "layer_name": "zones",
                                         "rules": {"strict": {"allowed": []}, "buffer": {"forbidden": ["SKK", "SKN"]}}}},
        "objective": {"sense": "maximize", "terms": {
            "suitability": {"weight": 1.0, "per_use": {"SKK": "suit_industry", "SKN": "suit_cluster", "TMD": "suit_tourism"}},
            "forest_loss": {"weight": -30.0, "column": "is_forest"},
            "displacement": {"weight": -5.0, "column": "households", "per_ha": False},
        }},
        "solver": {"name": "highs", "time_limit": 120, "gap": gap, "threads": 1, "seed": 0},
    }


def write_instance(out: Path, n: int, seed: int = 0, gap: float = 1e-4) -> Path:
    """Write parcels.gpkg, zones.gpkg and scenario.yaml into ``out``; returns the scenario path."""
    from optimizer.engine.files import atomic_write_text
    from optimizer.engine.rundir import atomic_write_layer

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    parcels, zones = make_parcels(n, seed)
    atomic_write_layer(parcels, out / "parcels.gpkg", layer="parcels")
    atomic_write_layer(zones, out / "zones.gpkg", layer="zones")
    path = out / "scenario.yaml"
    header = f"# Synthetic instance: n={n}, seed={seed}. Regenerate: python -m instances.synthetic --n {n} --seed {seed} --out DIR\n"
    atomic_write_text(path, header + yaml.safe_dump(scenario_dict(parcels, f"synthetic_{n}_s{seed}", gap),
                                                     allow_unicode=True, sort_keys=False))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gap", type=float, default=1e-4)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    print(write_instance(args.out, args.n, args.seed, args.gap))


if __name__ == "__main__":
    main()
