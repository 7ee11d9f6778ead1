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
  land use, households and suitabilities are SYNTHETIC (seeded; formulas in ``stages/`` and metadata.json);
* ``metadata.json`` — counts, areas, land balance, formulas, seeds, sources.

Everything is deterministic: a fixed seed (``SEED``), fixed lattice origin, coordinates rounded to
a 0.1 m grid, and ``OGR_CURRENT_DATE`` pinned so the GeoPackages are byte-reproducible on one machine.
Nothing here is a legal boundary or a measured land-use map; see ``README.md``.

This module runs the stages and writes the files; the stages themselves (reference layers, BEZ,
terrain, tessellation, land use, parcels, metadata) are the modules of ``instances/cao_bang/stages/``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import geopandas as gpd
import pyogrio

from instances.cao_bang.stages.constants import DATA_DIR, DATASETS, GPKG_DATASET_OPTIONS, PINNED_DATE, SOURCE_DIR
from instances.cao_bang.stages.context import build_context
from instances.cao_bang.stages.metadata import dataset_metadata, jsonable, metadata
from instances.cao_bang.stages.parcels import generate_parcels


def write_gpkg(gdf: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    """GeoPackage 1.2 (opens warning-free in older QGIS/GDAL), replaced whole, pinned timestamp."""
    path.unlink(missing_ok=True)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": PINNED_DATE})
    types = set(gdf.geom_type)
    if not types <= {"Point", "Polygon", "MultiPolygon"}:
        raise ValueError(f"{path.name}: unexpected geometry types {sorted(types)}")
    pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG", dataset_options=GPKG_DATASET_OPTIONS,
                            promote_to_multi=len(types) > 1 or None)


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
        json.dumps(jsonable(meta), ensure_ascii=False, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    log("done")
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description="Build instances/cao_bang/data from instances/cao_bang/source.")
    ap.add_argument("--out", type=Path, default=DATA_DIR)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    build(args.out, verbose=not args.quiet)


if __name__ == "__main__":
    main()
