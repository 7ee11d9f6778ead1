"""`landalloc init PARCELS --out DIR`: from a department's own parcel layer to a scenario that solves.

Reads the layer through the front door every input passes (``layers.open_layer``: GeoPackage, Shapefile,
GeoJSON; a CP1258 or TCVN3 attribute table decoded from its bytes), finds which field holds the parcel
number, current-use code, commune and legal area (``init_fields``), reads the codes as the parcel loader
will (``land_codes``: national classification, crosswalk of earlier codes, combined codes, and what
stays unmapped, with counts), chooses the CRS areas are measured in (``init_crs``), compares the legal
areas with the geometry's, and writes a commented scenario skeleton (``init_scenario``) with
``init_report.json`` and ``init_report.txt``.

The mapping is not baked into a copy of the layer: the scenario points at the department's own file
and says ``parcels.cadastral``, so the parcel loader maps the codes on every run — an updated layer
needs no new `init`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
from pyproj import Transformer

from optimizer.engine.errors import InputError
from optimizer.engine.files import atomic_write_text, sha256_file, write_dir_atomically
from optimizer.engine.land_codes import default_allocate, national_classification, resolve_codes
from optimizer.engine.layers import check_crs, check_file, check_geometry, is_text, open_layer
from optimizer.engine.rundir import dumps
from optimizer.engine.vn_encodings import ENCODINGS, canonical, guess, shapefile_declared
from optimizer.workflows.init_crs import choose_crs
from optimizer.workflows.init_fields import admin_level, choose_fields, parcel_id
from optimizer.workflows.init_scenario import Skeleton, render

AREA_DISAGREEMENT = 0.05
"""legal area (DienTich) and geometry area differing by more than this share is a warning"""
MARKER = "init_report.json"
ID_FIELD = "parcel_id"


@dataclass(frozen=True)
class InitResult:
    out: Path
    report: dict
    text: str


def _encoding(path: Path, flag: str | None) -> tuple[str | None, str]:
    """The attribute table's encoding and how it was decided: the flag, the .cpg, or the text itself."""
    if flag:
        enc = canonical(flag)
        if enc not in ENCODINGS:
            raise InputError(str(path), "--encoding", f"{flag!r} is not an encoding landalloc reads",
                             f"give one of {', '.join(ENCODINGS)}")
        return (None if enc == "utf-8" else enc), "--encoding"
    declared = shapefile_declared(path)
    if declared:
        return (declared if declared in ("cp1258", "tcvn3") else None), f"the .cpg says {declared}"
    if path.suffix.lower() == ".shp":
        try:
            raw = pyogrio.read_dataframe(path, encoding="ISO-8859-1", read_geometry=False, max_features=2000)
        except Exception:  # noqa: BLE001 - open_layer reports the unreadable file with its fix
            return None, "default"
        text = [v for col in raw.columns if is_text(raw[col]) for v in raw[col]]
        found = guess(text)
        if found:
            return found, f"detected from the text ({found})"
    return None, "UTF-8 (default)"


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise InputError(str(out), None, "exists and is not empty; refusing to overwrite it",
                         "choose another --out directory, or add --force to replace the files init writes there")
    if out.exists() and not out.is_dir():
        raise InputError(str(out), None, "is a file, not a directory", "choose another --out directory")


def init_project(parcels: Path, out: Path, *, id_field: str | None = None, use_field: str | None = None,
                 commune_field: str | None = None, area_field: str | None = None, crs: str | None = None,
                 province: str | None = None, encoding: str | None = None, allocate: list[str] | None = None,
                 layer: str | None = None, force: bool = False) -> InitResult:
    parcels, out = Path(parcels), Path(out)
    label = str(parcels)
    check_file(parcels, "parcel layer", "give the path of the parcel layer (GeoPackage, Shapefile or GeoJSON)")
    _check_out(out, force)
    enc, enc_how = _encoding(parcels, encoding)
    gdf = open_layer(parcels, layer, enc, what="parcel layer", fix="give the parcel layer as PARCELS",
                     layer_key="--layer")
    if len(gdf) == 0:
        raise InputError(label, None, "the layer has no parcels", "give the current land-use or cadastral parcel layer")
    check_crs(gdf, label, "layer")
    notes: list[str] = []
    gdf = check_geometry(gdf, label, "parcel layer", "polygon", repair=True, notes=notes)
    chosen = choose_fields(gdf, {"id": id_field, "current_use": use_field, "commune": commune_field,
                                 "area_m2": area_field}, label)
    id_from = parcel_id(gdf, chosen, label)
    use_col, commune_col = chosen["current_use"].field, chosen["commune"].field

    lon, lat = Transformer.from_crs(gdf.crs, 4326, always_xy=True).transform(*_centre(gdf))
    measuring = choose_crs(gdf.crs, (lon, lat), crs, province, label)
    area_ha = gdf.geometry.to_crs(measuring.crs).area.to_numpy() / 1e4
    reading = resolve_codes(gdf[use_col])
    codes_area: dict[str, float] = {}
    for code, a in zip(reading.code, area_ha):
        codes_area[code] = codes_area.get(code, 0.0) + float(a)
    unmapped = reading.unmapped
    if "" in unmapped:
        rows = np.flatnonzero(reading.code == "")[:5] + 1
        raise InputError(label, use_col, f"{unmapped['']} parcels have no current-use code (rows {rows.tolist()})",
                         "fill the code in, or name another field with --use-field")
    names = [" / ".join(map(str, row)) for row in gdf[id_from or [chosen["id"].field]].itertuples(index=False)]
    warnings = list(measuring.warnings) + _area_check(gdf, chosen["area_m2"].field, area_ha, names)
    table = national_classification()
    allocate = allocate or default_allocate()
    unknown_alloc = [c for c in allocate if c not in table]
    if unknown_alloc:
        raise InputError(label, "--allocate", f"unknown code(s) {unknown_alloc} (not in the national classification)",
                         f"choose codes of optimizer/engine/data/land_use_vn.yaml, e.g. {', '.join(default_allocate())}")
    skeleton = Skeleton(
        name=_name(parcels), source=parcels.name,
        parcels_path=_path_from(out, parcels), layer=layer, encoding=enc,
        fields={"id": ID_FIELD if id_from else chosen["id"].field, "current_use": use_col, "district": commune_col},
        admin_level=admin_level(commune_col),
        id_from=id_from, repair=bool(notes), crs_name=measuring.name, crs_why=measuring.why,
        codes_present={c: a for c, a in codes_area.items() if c not in unmapped}, unmapped=unmapped,
        allocate=allocate, total_ha=float(area_ha.sum()), largest_parcel_ha=float(area_ha.max()),
        real_fields=[c.field for c in chosen.values() if c.field])
    report = {
        "parcels": {"path": str(parcels), "sha256": sha256_file(parcels), "features": int(len(gdf)),
                    "area_ha": round(float(area_ha.sum()), 4), "layer_crs": gdf.crs.to_string()},
        "encoding": {"encoding": enc or "utf-8", "decided_by": enc_how},
        "fields": {c.role: {"field": c.field, "found_by": c.how} for c in chosen.values()},
        "parcel_id": {"field": skeleton.fields["id"], "composed_from": id_from},
        "codes": [{"value": v, "code": c, "rule": r, "parcels": n} for v, c, r, n in reading.table],
        "codes_by_rule": reading.count_by_rule(),
        "unmapped": unmapped,
        "crs": {"measure_areas_in": measuring.crs.name, "scenario_crs": measuring.name, "why": measuring.why},
        "warnings": warnings + notes,
        "allocate": allocate,
        "files": ["scenario.yaml", "init_report.json", "init_report.txt"],
    }
    text = summary(report)
    files = {"scenario.yaml": render(skeleton), "init_report.json": dumps(report) + "\n", "init_report.txt": text + "\n"}
    _write(out, files, force)
    return InitResult(out=out, report=report, text=text)


def _centre(gdf: gpd.GeoDataFrame) -> tuple[float, float]:
    b = gdf.total_bounds
    return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2


def _path_from(out: Path, target: Path) -> str:
    """``target`` as the scenario in ``out`` names it: relative when they share a folder below the root
    (the project moves as a whole), else absolute."""
    a, b = target.absolute(), out.absolute()
    return os.path.relpath(a, b) if os.path.commonpath([a, b]) != os.path.sep else str(a)


def _name(path: Path) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in path.stem.lower()) or "scenario"


def _area_check(gdf: gpd.GeoDataFrame, field: str | None, area_ha: np.ndarray, names: list[str]) -> list[str]:
    """The legal area (m²) against the geometry's: parcels differing by more than 5 % named."""
    if not field:
        return []
    legal = gdf[field].astype(float).to_numpy() / 1e4
    off = np.abs(legal - area_ha) > AREA_DISAGREEMENT * area_ha
    if not off.any():
        return []
    worst = np.argsort(-np.abs(legal - area_ha) / area_ha)[: min(5, int(off.sum()))]
    examples = ", ".join(f"parcel {names[i]}: {legal[i] * 1e4:,.1f} m² vs {area_ha[i] * 1e4:,.1f} m²" for i in worst)
    return [f"{int(off.sum())} parcels' {field} (legal area, m²) differs from their geometry's area by more than "
            f"{AREA_DISAGREEMENT:.0%} ({examples}); the scenario measures areas from the geometry"]


def _write(out: Path, files: dict[str, str], force: bool) -> None:
    """A new or empty DIR is written whole and atomically; with --force into a non-empty DIR, each file
    init writes is replaced atomically and the planner's other files are left alone."""
    if out.exists() and any(out.iterdir()):
        for name, text in files.items():
            atomic_write_text(out / name, text)
        return
    if out.exists():
        out.rmdir()

    def fill(tmp: Path) -> None:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")

    write_dir_atomically(out, fill, MARKER)


def summary(report: dict) -> str:
    """The report as a planner reads it on the terminal and in init_report.txt."""
    p, f = report["parcels"], report["fields"]
    lines = [f"{p['path']}: {p['features']} parcels, {p['area_ha']:,.2f} ha, CRS {p['layer_crs']}; "
             f"text {report['encoding']['encoding']} ({report['encoding']['decided_by']})"]
    taken = [f"{role} ← {v['field']} ({'by name' if v['found_by'] == 'name' else 'given'})"
             for role, v in f.items() if v["field"]]
    lines.append("fields: " + ", ".join(taken))
    if report["parcel_id"]["composed_from"]:
        lines.append(f"parcel id: {' / '.join(report['parcel_id']['composed_from'])} (the parcel number alone is not unique)")
    by_rule = report["codes_by_rule"]
    lines.append("codes: " + ", ".join(f"{rule} {n}" for rule, n in by_rule.items()) + " parcels")
    for row in report["codes"]:
        if row["rule"] in ("crosswalk", "combined", "map"):
            lines.append(f"  {row['value']} → {row['code']} ({row['rule']}): {row['parcels']} parcels")
    if report["unmapped"]:
        lines.append("unmapped codes (kept as their own use in scenario.yaml until mapped): "
                     + ", ".join(f"{c} {n} parcels" for c, n in report["unmapped"].items()))
    lines.append(f"areas measured in {report['crs']['measure_areas_in']}: {report['crs']['why']}")
    lines += [f"warning: {w}" for w in report["warnings"]]
    return "\n".join(lines)
