"""Suitability built inside the tool: each use's score per parcel from the scenario's criteria.

The planner's ``suitability:`` section (schema in ``suitability_schema.py``) names, per use, criteria —
a parcel field, the distance to a layer's features, elevation or slope from a raster, the current use —
each normalised to 0..1 by a stated function, and combines them as GIS multi-criteria evaluation does:

    score = scale × Π multipliers × Σ wᵢ·cᵢ      (wᵢ normalised to sum 1; clipped to 0..scale, rounded)

The scores become parcel fields (``suit_<use>`` unless named) while the parcel layer is loaded, once per
run and deterministically, so the objective reads them as any other field (``objective.terms.*.per_use``),
verify recomputes the same values, and run.json's ``suitability`` block records what went in: each
criterion's source, function, weight and the min / median / max of its raw and normalised values and of
the result. Only uses the scenario allocates (in any period) are scored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from optimizer.engine.errors import InputError
from optimizer.engine.files import sha256_file
from optimizer.engine.geometry import nearest_distance
from optimizer.engine.layers import read_scenario_layer
from optimizer.engine.raster import raster_values
from optimizer.engine.scenario import LoadedScenario
from optimizer.engine.suitability_schema import Criterion, DistanceSource, UseSuitability
from optimizer.engine.text import nfc_str

METHOD = ("weighted overlay: score = scale × Π multipliers × Σ wᵢ·cᵢ, weights normalised to sum 1, each "
          "criterion normalised to 0..1; clipped to 0..scale and rounded")


@dataclass
class Suitability:
    """The fields to add to the parcel layer and run.json's ``suitability`` block (empty without a section)."""

    columns: dict[str, np.ndarray] = field(default_factory=dict)
    block: dict = field(default_factory=dict)


@dataclass
class _Parcels:
    loaded: LoadedScenario
    path: Path
    geometry: gpd.GeoSeries
    attrs: pd.DataFrame
    current_use: np.ndarray
    ids: np.ndarray
    raw: dict = field(default_factory=dict)
    """source (as JSON) → raw values, so a layer used by several uses is measured once"""
    inputs: dict = field(default_factory=dict)
    layers: dict = field(default_factory=dict)
    """(file, layer name) → the layer in the scenario's CRS"""
    _centroids: np.ndarray | None = None

    def centroids(self) -> np.ndarray:
        if self._centroids is None:
            self._centroids = shapely.centroid(self.geometry.to_numpy())
        return self._centroids

    def field_values(self, name: str, needed_by: str, numeric: bool) -> np.ndarray:
        if name not in self.attrs.columns:
            raise InputError(str(self.path), name, f"field missing (needed by {needed_by})",
                             f"add it to the parcel layer or name one of {', '.join(map(str, self.attrs.columns[:12]))}")
        col = self.attrs[name]
        if not numeric:
            return _texts(col)
        values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            raise InputError(str(self.path), name, f"{bad.sum()} non-numeric or empty value(s) (needed by {needed_by}), "
                             f"parcel ids {', '.join(map(str, self.ids[bad][:5]))}", "fill them with numbers")
        return values


def _as_text(value) -> str:
    """A value as a class-table key: codes as written, whole numbers without '.0', empty for no value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return nfc_str(value)


def _texts(values) -> np.ndarray:
    """:func:`_as_text` of every value, computed once per distinct value (a field of 70,000 parcels has a few)."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    return np.append(np.array([_as_text(u) for u in uniques], dtype=object), "")[codes]


def _summary(x: np.ndarray) -> dict | None:
    if x.dtype == object or not len(x):
        return None
    return {"min": round(float(np.min(x)), 4), "median": round(float(np.median(x)), 4), "max": round(float(np.max(x)), 4)}


# --- sources -------------------------------------------------------------------------------------------

def _layer(d: DistanceSource, key: str, p: _Parcels) -> gpd.GeoDataFrame:
    """The criterion layer through the front door (file, CRS, geometry, near the parcels), in the scenario's
    CRS; read once however many criteria measure to it."""
    loaded = p.loaded
    path = loaded.resolve(d.layer, f"{key}.layer")
    memo = (str(path.resolve()), d.layer_name)
    if memo not in p.layers:
        gdf = read_scenario_layer(loaded, d.layer, f"{key}.layer", d.layer_name, "suitability layer")
        gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
        p.layers[memo] = gdf.to_crs(p.geometry.crs)
        p.inputs[memo[0]] = path
    return p.layers[memo]


def _distance(d: DistanceSource, key: str, p: _Parcels) -> np.ndarray:
    """Distance (m) from each parcel (centroid or boundary) to the nearest kept feature, in the scenario's CRS."""
    gdf = _layer(d, key, p)
    label = str(p.loaded.resolve(d.layer, f"{key}.layer"))
    for f, role in [(f, "where") for f in d.where or {}] + [(f, "match") for f in d.match or {}]:
        if f not in gdf.columns:
            raise InputError(label, f, f"field missing (needed by {key}.{role})",
                             f"use one of {', '.join(map(str, gdf.columns[:12]))}")
    for f, values in (d.where or {}).items():
        gdf = gdf[np.isin(_texts(gdf[f]), [nfc_str(v) for v in values])]
    if not len(gdf):
        raise InputError(label, f"{key}.where", f"no feature has {d.where}", "check the field values in the layer")
    origin = p.centroids() if d.origin == "centroid" else p.geometry.to_numpy()
    if d.match is None:
        return nearest_distance(origin, gdf.geometry.to_numpy())
    (feature_field, parcel_field), = d.match.items()
    own = p.field_values(parcel_field, f"{key}.match", numeric=False)
    feature_value = _texts(gdf[feature_field])
    unmatched = sorted(set(own) - set(feature_value))
    if unmatched:
        v = unmatched[0]
        raise InputError(label, feature_field, f"no feature has {feature_field} = {v!r}, which "
                         f"{int((own == v).sum())} parcel(s) have in {parcel_field} (needed by {key}.match)",
                         "add the feature or correct the values")
    return nearest_distance(origin, gdf.geometry.to_numpy(), own, feature_value)


def _raw(c: Criterion, key: str, p: _Parcels) -> np.ndarray:
    """The criterion's value x per parcel before normalisation (text for a class table of codes)."""
    src = c.source
    memo = json.dumps([src, c.model_dump(include={src})[src], c.classes is not None], sort_keys=True, default=str)
    if memo in p.raw:
        return p.raw[memo]
    if src == "current_use":
        x = p.current_use.astype(object)
    elif src == "field":
        x = p.field_values(c.field, f"{key}.field", numeric=c.classes is None)
    elif src == "distance":
        x = _distance(c.distance, f"{key}.distance", p) / (1000.0 if c.distance.unit == "km" else 1.0)
    else:
        r = c.raster
        path = p.loaded.resolve(r.path, f"{key}.raster.path")
        x = raster_values(path, r.band, r.value, r.at, p.geometry, p.ids, f"{key}.raster", p.loaded.label)
        p.inputs[str(path.resolve())] = path
    if c.classes is not None and x.dtype != object:
        x = _texts(x)
    p.raw[memo] = x
    return x


def normalise(c: Criterion, x: np.ndarray, key: str, file: str) -> np.ndarray:
    """The criterion's function applied to x, in 0..1."""
    if c.linear is not None:
        a, b = c.linear
        return np.clip((x - a) / (b - a), 0.0, 1.0)
    if c.near is not None or c.flat is not None:
        return np.clip(1.0 - x / (c.near or c.flat), 0.0, 1.0)
    if c.decay is not None:
        return np.clip(np.exp(-x / c.decay), 0.0, 1.0)
    table = {nfc_str(k): v for k, v in c.classes.items()}
    unknown = pd.Series([v for v in x if v not in table]).value_counts()
    if len(unknown) and c.default is None:
        listed = ", ".join(f"{v!r} ({n} parcels)" for v, n in unknown.head(8).items())
        raise InputError(file, f"{key}.classes", f"no score for {listed}", "add them to classes or give default:")
    return np.array([table.get(v, c.default) for v in x], dtype=float)


def _source_block(c: Criterion, crs: str) -> dict:
    if c.current_use:
        return {"kind": "current_use"}
    if c.field is not None:
        return {"kind": "field", "field": c.field}
    if c.distance is not None:
        return {"kind": "distance", **c.distance.model_dump(exclude_none=True), "crs": crs}
    return {"kind": "raster", **c.raster.model_dump()}


def function_text(c: Criterion) -> str:
    """The normalisation as a formula in x, the way run.json and the report state it."""
    if c.linear is not None:
        a, b = c.linear
        return f"linear: 0 at x = {a:g}, 1 at x = {b:g}"
    for name, formula in (("near", "max(0, 1 − x/{v:g})"), ("flat", "max(0, 1 − x/{v:g})"), ("decay", "exp(−x/{v:g})")):
        v = getattr(c, name)
        if v is not None:
            return f"{name}(x, {v:g}) = " + formula.format(v=v)
    listed = ", ".join(f"{k}: {v:g}" for k, v in c.classes.items())
    return f"classes {{{listed}}}" + (f", others {c.default:g}" if c.default is not None else "")


def _criterion_block(name: str, c: Criterion, x: np.ndarray, s: np.ndarray, weight: float | None, crs: str) -> dict:
    shape = next(k for k in ("linear", "near", "flat", "decay", "classes") if getattr(c, k) is not None)
    out = {"name": name, "source": _source_block(c, crs), "function": function_text(c),
           "normalise": {"kind": shape, "value": None if shape == "classes" else getattr(c, shape)},
           "raw": _summary(x), "normalised": _summary(s)}
    if c.classes is not None:
        out["classes"] = dict(c.classes) | ({"*": c.default} if c.default is not None else {})
    if weight is not None:
        out["weight_given"] = c.weight
        out["weight"] = round(weight, 6)
    return out


# --- one use, and all of them ------------------------------------------------------------------------------

def score_use(use: str, spec: UseSuitability, p: _Parcels) -> tuple[np.ndarray, dict]:
    """The use's score per parcel and its run.json entry."""
    key = f"suitability.{use}"
    crs = p.loaded.scenario.crs
    file = str(p.path)
    ahp = spec.ahp() if spec.pairwise is not None else None
    given = np.array([c.weight or 0.0 for c in spec.criteria.values()])
    weights = np.asarray(ahp["weights"]) if ahp else given / given.sum() if len(given) else given
    overlay = np.zeros(len(p.ids)) if spec.criteria else np.ones(len(p.ids))
    criteria, multipliers = [], []
    for (name, c), w in zip(spec.criteria.items(), weights):
        x = _raw(c, f"{key}.criteria.{name}", p)
        s = normalise(c, x, f"{key}.criteria.{name}", file)
        overlay += w * s
        criteria.append(_criterion_block(name, c, x, s, float(w), crs))
    product = np.ones(len(p.ids))
    for name, c in spec.multipliers.items():
        x = _raw(c, f"{key}.multipliers.{name}", p)
        s = normalise(c, x, f"{key}.multipliers.{name}", file)
        product *= s
        multipliers.append(_criterion_block(name, c, x, s, None, crs))
    score = np.round(np.clip(spec.scale * product * overlay, 0.0, spec.scale), spec.round)
    terms = " + ".join(f"{w:.4g}·{n}" for n, w in zip(spec.criteria, weights))
    formula = " × ".join([f"{spec.scale:g}"] + list(spec.multipliers) + ([f"({terms})"] if terms else []))
    entry = {"use": use, "field": spec.field or f"suit_{use}", "formula": formula, "scale": spec.scale,
             "round": spec.round, "weights_from": "pairwise" if ahp else "given",
             "criteria": criteria, "multipliers": multipliers, "result": _summary(score)}
    if ahp:
        entry["pairwise"] = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in ahp.items() if k != "weights"}
    return score, entry


def build_suitability(loaded: LoadedScenario, path: Path, geometry: gpd.GeoSeries, attrs: pd.DataFrame,
                      current_use: np.ndarray, ids: np.ndarray) -> Suitability:
    """Every allocated use's score from ``loaded``'s ``suitability`` section, for parcels sorted by id with
    ``geometry`` in the scenario's CRS. A field that would replace one of the layer's own is refused."""
    sc = loaded.scenario
    if not sc.suitability:
        return Suitability()
    for period, spec in (sc.periods or {}).items():
        if "suitability" in spec.overrides:
            raise InputError(loaded.label, f"periods.{period}.overrides.suitability", "suitability is built once "
                             "per run, for every period", "move it to the scenario's suitability section, or solve "
                             "the periods as separate scenarios")
    allocated = set(sc.allocate) | {u for spec in (sc.periods or {}).values() for u in spec.overrides.get("allocate") or []}
    p = _Parcels(loaded, path, geometry, attrs, current_use, ids)
    out = Suitability()
    entries, skipped = [], []
    for use, spec in sc.suitability.items():
        if use not in allocated:
            skipped.append(use)
            continue
        name = spec.field or f"suit_{use}"
        if name in attrs.columns or name in out.columns:
            raise InputError(loaded.label, f"suitability.{use}.field", f"{name!r} is already a field of "
                             f"{'the parcel layer' if name in attrs.columns else 'another use'}",
                             f"name the computed score differently (suitability.{use}.field: …)")
        out.columns[name], entry = score_use(use, spec, p)
        entries.append(entry)
    out.block = {"method": METHOD, "crs": sc.crs, "uses": entries,
                 "not_allocated": skipped,
                 "inputs": [{"role": "suitability", "path": k, "sha256": sha256_file(v)} for k, v in sorted(p.inputs.items())]}
    return out
