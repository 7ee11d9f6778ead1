"""Everything a report reads: run.json, the plan layer joined with the input attributes, map layers.

Nothing here computes a figure (that is ``optimizer/workflows/metrics.py``); this module finds and
reads files and says, in ``notes``, what it could not read so the report can say so instead of failing.
The plan joined with its inputs is the core's reader (``optimizer.engine.rundir.read_run_with_inputs``),
the same one ``landalloc compare`` and ``landalloc sweep`` use.

Scenario ``metadata`` keys the report understands (all optional):

* ``province``: a name (``"Cao Bằng"``) or a mapping with ``name_vi``/``name_en``/``name``;
* ``sources``: a list of ``{name, licence, note}`` mappings, or a mapping name → licence text;
* ``synthetic_fields`` (and ``real_fields``): attribute names that are synthetic (or real);
* ``attribution``: one line of credits;
* ``layers``: ``{districts: …, places: …}``, each a path relative to the scenario file or a mapping
  ``{path, layer, label}`` (``label``: the field to print on the map; default ``district`` for
  districts and ``name`` for places). ``districts_layer`` / ``places_layer`` are accepted too.

Without a districts layer, district boundaries are the parcels dissolved by their district field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
from pyproj import CRS

from optimizer.engine.errors import InputError
from optimizer.engine.rundir import read_run_with_inputs
from optimizer.engine.text import nfc
from optimizer.engine.verify import loaded_from_run

COMMUNE_FIELD = "commune_2025"
DISTRICT_FIELD = "district"
"""the plan layer always carries the district under this name (optimizer/engine/decode.py OUTPUT_COLUMNS)"""


@dataclass
class Layer:
    gdf: gpd.GeoDataFrame
    label: str | None
    source: str


@dataclass
class RunData:
    run_dir: Path
    run: dict
    plan: gpd.GeoDataFrame | None
    """allocation layer joined with the input attributes (when readable), sorted by parcel_id"""
    loaded: Any | None
    """the run's scenario re-validated (``LoadedScenario``), or None when today's schema refuses it"""
    notes: list[str] = field(default_factory=list)

    @property
    def scenario(self) -> dict:
        return self.run.get("scenario") or {}

    @property
    def admin_level(self) -> str:
        """What the plan's ``district`` column holds: ``district`` or ``commune`` (scenario ``parcels.admin_level``)."""
        return (self.scenario.get("parcels") or {}).get("admin_level", "district")

    @property
    def metadata(self) -> dict:
        return self.scenario.get("metadata") or {}

    @property
    def base_dir(self) -> Path:
        return Path(self.run.get("scenario_dir") or self.run_dir)

    @property
    def crs(self) -> CRS:
        if self.plan is not None and self.plan.crs is not None:
            return CRS.from_user_input(self.plan.crs)
        return CRS.from_user_input(self.scenario.get("crs", "EPSG:9210"))



def crs_label(crs: CRS) -> str:
    """'EPSG:9210 (VN-2000 / TM-3 105°45′)' — the EPSG code and name, with the meridian in degrees and minutes."""
    epsg = crs.to_epsg()
    name = re.sub(r"(\d+)-(\d+)$", lambda m: f"{m.group(1)}°{m.group(2)}′", crs.name)
    return f"EPSG:{epsg} ({name})" if epsg else name


def load_run(run_dir: Path) -> RunData:
    """A run directory as the report reads it; the scenario is re-validated for the figures that need
    the families (current quota areas), and a scenario today's schema refuses is a note, not a failure."""
    run_dir = Path(run_dir)
    run, plan, notes = read_run_with_inputs(run_dir)
    data = RunData(run_dir=run_dir, run=run, plan=plan, loaded=None)
    try:
        data.loaded = loaded_from_run(run, run_dir)
    except InputError as e:
        data.notes.append(f"the run's scenario no longer validates ({e}); figures that need it are not shown")
    data.notes += notes
    return data


# --- map layers -------------------------------------------------------------------------------------

def _layer_spec(meta: dict, name: str):
    spec = (meta.get("layers") or {}).get(name, meta.get(f"{name}_layer"))
    if spec is None:
        return None
    return {"path": spec} if isinstance(spec, str) else dict(spec)


def _read_file(data: RunData, path_text: str, layer: str | None, name: str) -> tuple[Path, gpd.GeoDataFrame | None]:
    """A map layer the scenario names (relative to its directory); unreadable → a note and None, since a
    missing or unreadable map layer must not stop the report."""
    path = Path(path_text)
    path = path if path.is_absolute() else data.base_dir / path
    try:
        return path, (pyogrio.read_dataframe(path, layer=layer) if layer else pyogrio.read_dataframe(path))
    except Exception as e:  # noqa: BLE001 - pyogrio raises several kinds; all mean "not readable"
        data.notes.append(f"{path}: {name} layer not read ({e})")
        return path, None


def _read_meta_layer(data: RunData, name: str, default_label: str) -> Layer | None:
    spec = _layer_spec(data.metadata, name)
    if spec is None or not spec.get("path"):
        return None
    path, gdf = _read_file(data, spec["path"], spec.get("layer"), name)
    if gdf is None:
        return None
    if gdf.crs is None:
        data.notes.append(f"{path}: {name} layer has no CRS; not drawn")
        return None
    label = spec.get("label", default_label)
    if label not in gdf.columns:
        label = None
    else:
        gdf[label] = gdf[label].astype(object).map(nfc)
    return Layer(gdf.to_crs(data.crs), label, str(path))


def districts_layer(data: RunData) -> Layer | None:
    """The metadata's districts layer, else the parcels dissolved by district."""
    layer = _read_meta_layer(data, "districts", "district")
    if layer is not None or data.plan is None:
        return layer
    f = DISTRICT_FIELD
    dissolved = data.plan[[f, "geometry"]].dissolve(by=f, as_index=False)
    return Layer(dissolved, f, "parcels dissolved by district")


def places_layer(data: RunData) -> Layer | None:
    return _read_meta_layer(data, "places", "name")


@dataclass
class Zones:
    gdf: gpd.GeoDataFrame
    class_field: str
    name_field: str
    rules: dict[str, dict]
    """zone class → {'allowed': [...]} or {'forbidden': [...]} as in the scenario"""
    source: str


def zones_layer(data: RunData) -> Zones | None:
    """The zone layer of the scenario's ``allowed_uses`` family (classes that have a rule only)."""
    cfg = (data.scenario.get("constraints") or {}).get("allowed_uses")
    if not cfg or not cfg.get("layer"):
        return None
    path, gdf = _read_file(data, cfg["layer"], cfg.get("layer_name"), "zone")
    if gdf is None:
        return None
    cls, name = cfg.get("class_field", "zone_class"), cfg.get("name_field", "zone_name")
    if gdf.crs is None or cls not in gdf.columns:
        data.notes.append(f"{path}: zone layer without CRS or {cls!r}; not drawn")
        return None
    rules = cfg.get("rules") or {}
    gdf[cls] = gdf[cls].astype(str)
    gdf = gdf[gdf[cls].isin(list(rules))].to_crs(data.crs)
    if name in gdf.columns:
        gdf[name] = gdf[name].astype(object).map(nfc)
    return Zones(gdf.reset_index(drop=True), cls, name, rules, str(path))


def dissolve_by(plan: gpd.GeoDataFrame, column: str, tolerance: float = 0.0) -> gpd.GeoDataFrame:
    """One (multi)polygon per value of ``column`` with its summed ``area_ha`` (as ``area``), optionally
    simplified. Parcels tile the province, so a coverage union is exact and fast; anything else falls
    back to the general union."""
    import shapely

    parts, codes = [], []
    for code, grp in plan.groupby(column, sort=True):
        geoms = grp.geometry.to_numpy()
        try:
            merged = shapely.coverage_union_all(geoms)
        except Exception:  # not a clean coverage
            merged = shapely.union_all(geoms)
        parts.append(shapely.simplify(merged, tolerance, preserve_topology=True) if tolerance > 0 else merged)
        codes.append(code)
    out = gpd.GeoDataFrame({column: codes}, geometry=parts, crs=plan.crs)
    out["area"] = plan.groupby(column, sort=True)["area_ha"].sum().round(2).to_numpy()
    return out


# --- 2025 communes, anchors, the zone layers the exclusions are measured against --------------------

def parcels_once(plan: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One row per parcel: a phased plan's first period (geometry and attributes are the same in each)."""
    if "period" not in plan.columns:
        return plan
    return plan[plan["period"] == plan["period"].iloc[0]]


def communes_layer(data: RunData) -> Layer | None:
    """The 2025 communes, as the parcels dissolved by their commune (the instance carries no commune
    polygons); None when the parcel layer has no commune field."""
    if data.plan is None or COMMUNE_FIELD not in data.plan.columns:
        return None
    parcels = parcels_once(data.plan)
    parcels = parcels[parcels[COMMUNE_FIELD].notna() & (parcels[COMMUNE_FIELD].astype(str) != "")]
    return Layer(dissolve_by(parcels, COMMUNE_FIELD), COMMUNE_FIELD, "parcels dissolved by commune_2025")


def outline(layer: Layer | None):
    """The province outline: the union of a layer that tiles it (communes, districts)."""
    if layer is None or not len(layer.gdf):
        return None
    import shapely

    return shapely.union_all(layer.gdf.geometry.to_numpy())


@dataclass
class AnchorPoint:
    site: str
    point: Any
    label: str
    max_km: float


def _site_specs(node) -> list[dict]:
    """Every named site with an anchor anywhere in the scenario (its sites and its periods' overrides)."""
    found = []
    if isinstance(node, dict):
        if isinstance(node.get("anchor"), dict) and node.get("name"):
            found.append(node)
        for v in node.values():
            found += _site_specs(v)
    elif isinstance(node, list):
        for v in node:
            found += _site_specs(v)
    return found


def anchors(data: RunData) -> dict[str, AnchorPoint]:
    """site name → its anchor point in the plan's CRS; an anchor whose layer cannot be read is a note."""
    import shapely

    out: dict[str, AnchorPoint] = {}
    cache: dict[tuple, gpd.GeoDataFrame | None] = {}
    for spec in _site_specs(data.scenario.get("constraints")) + _site_specs(data.scenario.get("periods")):
        a, name = spec["anchor"], nfc(str(spec["name"]))
        label = a.get("label") or str(a.get("value") or "")
        if a.get("x") is not None and a.get("y") is not None:
            out[name] = AnchorPoint(name, shapely.Point(a["x"], a["y"]), label or f"({a['x']:.0f}, {a['y']:.0f})", a["max_km"])
            continue
        key = (a.get("layer"), a.get("layer_name"))
        if key not in cache:
            gdf = _read_file(data, a["layer"], a.get("layer_name"), "anchor")[1] if a.get("layer") else None
            cache[key] = gdf.to_crs(data.crs) if gdf is not None and gdf.crs is not None else None
        gdf = cache[key]
        if gdf is None or a.get("field") not in gdf.columns:
            continue
        hit = gdf[gdf[a["field"]].astype(str) == str(a.get("value"))]
        if len(hit):
            out[name] = AnchorPoint(name, hit.geometry.iloc[0], label, a["max_km"])
    return out


def zone_reader(data: RunData):
    """(path relative to the scenario, layer name) → that zone layer in the plan's CRS, or None (a note)."""
    cache: dict[tuple, gpd.GeoDataFrame | None] = {}

    def read(path: str, layer: str | None) -> gpd.GeoDataFrame | None:
        if (path, layer) not in cache:
            gdf = _read_file(data, path, layer, "zone")[1]
            cache[(path, layer)] = gdf.to_crs(data.crs) if gdf is not None and gdf.crs is not None else None
        return cache[(path, layer)]
    return read
