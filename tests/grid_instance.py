"""Hand-made square-grid instances for family tests: exact 100 m cells (1 ha each) in EPSG:9210.

Parcel ids run row-major from the bottom-left cell: row r (0 = bottom), column c → id r·ncol + c + 1.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from instances.synthetic import LAND_USES
from optimizer.engine.scenario import LoadedScenario, parse_scenario

X0, Y0 = 600000.0, 2500000.0
CELL = 100.0


def cell_box(r: int, c: int, cell: float = CELL):
    return shapely.box(X0 + c * cell, Y0 + r * cell, X0 + (c + 1) * cell, Y0 + (r + 1) * cell)


def write_grid(out: Path, nrow: int, ncol: int, current: list[str], cell: float = CELL, **attrs) -> Path:
    """parcels.gpkg with parcel_id, district, current_use and any extra per-parcel attribute lists."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n = nrow * ncol
    assert len(current) == n
    r, c = np.divmod(np.arange(n), ncol)
    gdf = gpd.GeoDataFrame({"parcel_id": np.arange(1, n + 1), "district": "Huyện A", "current_use": list(current),
                            **{k: list(v) for k, v in attrs.items()}},
                           geometry=[cell_box(a, b, cell) for a, b in zip(r, c)], crs="EPSG:9210")
    path = out / "parcels.gpkg"
    gdf.to_file(path, layer="parcels", driver="GPKG")
    return path


def grid_scenario(base: Path, *, allocate: list[str], quotas: dict | None = None, constraints: dict | None = None,
                  objective: dict | None = None, adjacency: str = "rook", label: str = "grid.yaml") -> LoadedScenario:
    raw = {
        "name": "grid",
        "crs": "EPSG:9210",
        "parcels": {"path": "parcels.gpkg", "layer": "parcels", "adjacency": adjacency},
        "land_uses": LAND_USES,
        "allocate": allocate,
        "quotas": quotas or {},
        "constraints": constraints or {},
        "objective": objective or {"sense": "maximize", "terms": {}},
        "solver": {"name": "highs", "time_limit": 60, "gap": 0, "threads": 1, "seed": 0},
    }
    return parse_scenario(raw, str(Path(base) / label), Path(base), path=Path(base) / label)
