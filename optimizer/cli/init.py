"""`landalloc init PARCELS --out DIR`: a scenario skeleton from a department's own parcel layer.

The work is in ``optimizer/workflows/init.py``; this verb parses, calls it, prints what it found.
"""

from __future__ import annotations

from pathlib import Path

import click

from optimizer.cli.terminal import console, emit_json, err_console, handle_errors
from optimizer.workflows.init import init_project


@click.command("init")
@click.argument("parcels", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="directory for scenario.yaml and init_report.{json,txt} (new or empty, else --force)")
@click.option("--layer", help="the layer to read in a file with several (a GeoPackage)")
@click.option("--id-field", help="the parcel number field (default: found by name: SoThua, MaThua …)")
@click.option("--use-field", help="the current-use code field (default: MaLoaiDat, LoaiDat, KyHieu …)")
@click.option("--commune-field", help="the commune field (default: TenXa, MaXa …)")
@click.option("--area-field", help="the legal area field in m², compared with the geometry (default: DienTich …)")
@click.option("--crs", help="CRS to measure areas in, e.g. EPSG:3405 (VN-2000 / UTM 48N); default: the province's "
              "VN-2000 TM-3")
@click.option("--province", help="the province whose VN-2000 TM-3 meridian to use for a layer in another CRS, "
              "e.g. 'Cao Bằng'")
@click.option("--encoding", type=click.Choice(["cp1258", "tcvn3", "utf-8"], case_sensitive=False),
              help="the attribute table's text encoding (default: the .cpg, else detected from the text)")
@click.option("--allocate", help="comma-separated uses the scenario allocates (default: SKN,TMD,ONT)")
@click.option("--force", is_flag=True, help="write into a non-empty DIR (replaces only the files init writes)")
@click.option("--json", "as_json", is_flag=True, help="print init_report.json to stdout only")
@handle_errors
def init(parcels, out, layer, id_field, use_field, commune_field, area_field, crs, province, encoding, allocate, force,
         as_json):
    """Read a parcel layer as a land office keeps it — GeoPackage, Shapefile (also with a Windows-1258 or
    TCVN3 attribute table) or GeoJSON, in any CRS — and write a commented scenario skeleton that
    `landalloc explain` accepts and that solves.

    Finds the parcel number, current-use code, commune and legal-area fields by their usual names
    (SoThua/MaThua, SoTo, MaLoaiDat/LoaiDat/KyHieu, TenXa/MaXa, DienTich) and says which it took; reads
    the codes through the national classification (Circular 08/2024/TT-BTNMT), the crosswalk of earlier
    codes, and combined codes (ONT+CLN: the first code is the parcel's use), and lists the codes it
    could not map with their counts; states the CRS areas are measured in; warns on a VN-2000 layer
    without its datum shift and on legal areas more than 5 % off the geometry's.

    \b
    Example (the bundled department example, a CP1258 Shapefile):
      landalloc init instances/department/data/hien_trang.shp --out work/department
      landalloc explain work/department/scenario.yaml
      landalloc solve work/department/scenario.yaml --out runs/department
      landalloc init parcels.gpkg --out work/x --use-field LOAIDAT --crs EPSG:3405 --json
    """
    uses = [c.strip() for c in allocate.split(",") if c.strip()] if allocate else None
    result = init_project(parcels, out, id_field=id_field, use_field=use_field, commune_field=commune_field,
                          area_field=area_field, crs=crs, province=province, encoding=encoding, allocate=uses,
                          layer=layer, force=force)
    if as_json:
        emit_json(result.report)
        return
    for line in result.text.splitlines():
        (err_console if line.startswith("warning:") else console).print(
            line, highlight=False, markup=False, soft_wrap=True, style="yellow" if line.startswith("warning:") else None)
    console.print(f"written: {result.out / 'scenario.yaml'}, init_report.json, init_report.txt", highlight=False)
    console.print(f"next: landalloc explain {result.out / 'scenario.yaml'}", highlight=False)
