"""`landalloc compare`: two runs → the comparison files, drawn with the report's difference map.

* ``kpis.csv`` — kind, key, a, b, diff (b − a);
* ``changed.gpkg``, layer ``changed`` — parcels whose use differs: parcel_id, district, current_use,
  use_a, use_b, kind (only_a / only_b / other_use), area_ha, geometry (run B's);
* ``difference.png`` and ``difference.svg`` — every parcel coloured by how the plans differ, the same
  map as the council report's comparison section: parcels whose use differs in full colour and bold
  (visible at province scale), 2025 commune boundaries, places, north arrow, scale bar, CRS, and
  labels in ``lang`` (Vietnamese unless the caller asks for English);
* ``compare.json`` — the table, counts per kind, and notes (e.g. the runs read different parcel layers).

The figures come from ``optimizer/workflows/compare.py``; this module only draws and writes them,
each file atomically.
"""

from __future__ import annotations

from pathlib import Path

from pyproj import CRS

from optimizer.engine.errors import InputError
from optimizer.engine.files import atomic_write, atomic_write_text
from optimizer.engine.rundir import atomic_write_layer, dumps
from optimizer.workflows.compare import Comparison, load_comparison
from reports.blocks import strings
from reports.context import MapContext
from reports.data import RunData, crs_label
from reports.mapkit import save_figure
from reports.maps import difference_figure

LANG = "vi"
"""the difference map's language when the caller names none: the council's, as the report's default"""
FILES = (("kpis", "kpis.csv"), ("changed", "changed.gpkg"), ("map_png", "difference.png"),
         ("map_svg", "difference.svg"), ("json", "compare.json"))


def write_comparison(ref_a: str | Path, ref_b: str | Path, out: Path | None, store_spec: str | None = None,
                     lang: str = LANG) -> dict:
    """Compare two runs (directories or store ids); write the files into ``out`` when given. Returns the
    result as a JSON-able dict (``kpis``: list of rows, ``differences``: parcels and ha per kind,
    ``changed_parcels``, ``files``, ``notes``)."""
    comparison = load_comparison(ref_a, ref_b, store_spec)
    result = comparison.as_dict()
    if out is None:
        return result
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(str(out), None, "exists and is not a directory", "choose another --out directory")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "kpis.csv", comparison.kpis.to_csv(index=False))
    atomic_write_layer(comparison.changed, out / "changed.gpkg", layer="changed")
    fig = _difference_figure(comparison, lang)
    for fmt in ("png", "svg"):
        atomic_write(out / f"difference.{fmt}", lambda tmp, fmt=fmt: save_figure(fig, tmp, fmt))
    result["files"] = {key: str(out / name) for key, name in FILES}
    atomic_write_text(out / "compare.json", dumps(result))
    return result


def _difference_figure(comparison: Comparison, lang: str):
    """Run B's parcels by difference kind over its 2025 communes, with its places, titled with both
    runs (the file stands alone)."""
    a, b = comparison.a, comparison.b
    data = RunData(run_dir=Path(b.label), run=b.run, plan=b.plan, loaded=None)
    T = strings(lang, data.admin_level)
    plan = b.plan.merge(comparison.diff[["parcel_id", "kind"]], on="parcel_id", how="inner")
    counts = {k: int(v) for k, v in comparison.summary["parcels"].items()}
    crs_text = crs_label(CRS.from_user_input(b.plan.crs)) if b.plan.crs is not None else ""
    title = f"A: {a.run.get('scenario_name')} ({Path(a.label).name})  —  B: {b.run.get('scenario_name')} ({Path(b.label).name})"
    ctx = MapContext.of(data, lang, T)
    return difference_figure(plan, plan["kind"].tolist(), counts, lang, T, crs_text, ctx.units, ctx.province,
                             ctx.places, title=title)[0]
