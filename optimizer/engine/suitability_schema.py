"""The scenario's ``suitability:`` section: how each use's suitability (0–100) is built from criteria.

A planner states suitability the way GIS multi-criteria evaluation does: criteria (a parcel field, the
distance to a layer's features, elevation or slope from a raster, the current use) each normalised to
0..1 by a stated function, combined by a weighted sum (weights given, or derived from pairwise
comparisons), times multipliers (a multiplier of 0/1 is what GIS calls a constraint)::

    suitability:
      "SKK":
        criteria:     # the weighted overlay; weights are normalised to sum 1
          gate: {distance: {layer: ../data/places.gpkg, layer_name: places, where: {kind: [border_gate]}},
                 decay: 25, weight: 0.55}
          city: {distance: {layer: ../data/places.gpkg, where: {place_id: [cao_bang_city]}}, decay: 30, weight: 0.45}
        multipliers:  # multiplied in
          slope: {field: slope_pct, flat: 25}
          current_use: {current_use: true, classes: {"RDD": 0, "LUA": 0.7}, default: 1}

The values are built in ``suitability.py``; this module only says what may be written, so a
mistake is an error naming the key before any layer is read.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator, model_validator

RANDOM_INDEX = (0.0, 0.0, 0.0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49, 1.51, 1.48, 1.56, 1.57, 1.59)
"""Saaty's random consistency index by matrix size (index = n), for the consistency ratio CR = CI / RI"""
MAX_CONSISTENCY_RATIO = 0.1
"""Saaty's rule: pairwise comparisons with CR above this are too inconsistent to give weights"""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DistanceSource(_Strict):
    """The straight-line distance from each parcel to the nearest feature of a point, line or polygon
    layer, measured in the scenario's CRS (the layer is reprojected when it is in another)."""

    layer: str = Field(description="the layer's file (GeoPackage, Shapefile, GeoJSON), relative to the scenario")
    layer_name: str | None = Field(None, description="the layer inside a multi-layer file")
    where: dict[str, list[StrictStr]] | None = Field(None, description="keep features whose field takes one of "
                                                     "these values, e.g. {kind: [border_gate]}")
    match: dict[str, str] | None = Field(None, description="{feature field: parcel field}: to the nearest feature "
                                         "whose value equals the parcel's own, e.g. {seat_of: district_code}")
    origin: Literal["centroid", "boundary"] = Field("centroid", description="measure from the parcel's centroid, "
                                                    "or from its boundary (0 when the feature touches the parcel)")
    unit: Literal["m", "km"] = "km"

    @field_validator("match")
    @classmethod
    def _one_match(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is not None and len(v) != 1:
            raise ValueError("match pairs one feature field with one parcel field, e.g. {seat_of: district_code}")
        return v


class RasterSource(_Strict):
    """Elevation, or slope computed from it (Horn's 3×3 method, as ``gdaldem slope``), from a DEM raster."""

    path: str = Field(description="the raster (GeoTIFF or any raster GDAL reads), relative to the scenario")
    band: int = Field(1, ge=1)
    value: Literal["elevation", "slope_pct", "slope_deg"] = "elevation"
    at: Literal["mean", "centroid"] = Field("mean", description="mean over the cells whose centres lie in the "
                                            "parcel (the cell under the centroid for a parcel smaller than a cell), "
                                            "or the cell under the parcel's centroid")


class Criterion(_Strict):
    """One criterion: a source (exactly one of field, distance, raster, current_use) and the function that
    normalises its value x to 0..1 (exactly one of linear, near, flat, decay, classes)."""

    field: str | None = Field(None, description="a numeric field of the parcel layer")
    distance: DistanceSource | None = None
    raster: RasterSource | None = None
    current_use: bool = Field(False, description="the parcel's current land-use code (use with classes)")
    linear: tuple[float, float] | None = Field(None, description="[a, b]: 0 at x = a, 1 at x = b, straight between "
                                               "(rising when a < b, falling when a > b), clipped to 0..1")
    near: float | None = Field(None, gt=0, description="d0: max(0, 1 − x/d0)")
    flat: float | None = Field(None, gt=0, description="s0: max(0, 1 − x/s0), for slopes (the same line as near)")
    decay: float | None = Field(None, gt=0, description="d0: exp(−x/d0)")
    classes: dict[str, float] | None = Field(None, description="value → score in 0..1 (codes, or numbers as text)")
    default: float | None = Field(None, ge=0, le=1, description="score of a value the class table does not list")
    weight: float | None = Field(None, ge=0, description="its weight in the overlay (criteria only)")

    @model_validator(mode="after")
    def _one_of_each(self) -> "Criterion":
        sources = [k for k in ("field", "distance", "raster") if getattr(self, k) is not None]
        sources += ["current_use"] if self.current_use else []
        if len(sources) != 1:
            raise ValueError("give exactly one source: field, distance, raster or current_use: true"
                             + (f" (got {', '.join(sources)})" if sources else ""))
        shapes = [k for k in ("linear", "near", "flat", "decay", "classes") if getattr(self, k) is not None]
        if len(shapes) != 1:
            raise ValueError("give exactly one normalisation: linear: [a, b], near: d0, flat: s0, decay: d0 or "
                             "classes: {value: score}" + (f" (got {', '.join(shapes)})" if shapes else ""))
        if self.linear is not None and self.linear[0] == self.linear[1]:
            raise ValueError(f"linear: [{self.linear[0]}, {self.linear[1]}] needs two different values")
        if self.classes is not None:
            bad = {k: v for k, v in self.classes.items() if not 0 <= v <= 1}
            if bad:
                raise ValueError(f"class scores must lie in 0..1: {bad}")
        elif self.default is not None:
            raise ValueError("default belongs to a class table (classes:)")
        if self.current_use and self.classes is None:
            raise ValueError("current_use gives a code, not a number: score the codes with classes: {code: score}")
        return self

    @property
    def source(self) -> str:
        return "current_use" if self.current_use else next(k for k in ("field", "distance", "raster")
                                                           if getattr(self, k) is not None)


def _ratio(value: float | str) -> float:
    """A pairwise judgement: a positive number or a fraction written as text (``"1/3"``)."""
    try:
        x = float(Fraction(value.replace(" ", ""))) if isinstance(value, str) else float(value)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{value!r} is not a number or a fraction such as \"1/3\"") from None
    if not x > 0:
        raise ValueError(f"{value!r}: judgements are positive (Saaty's scale 1/9 … 9)")
    return x


def pairwise_weights(matrix: list[list[float]]) -> dict:
    """Weights from a reciprocal pairwise-comparison matrix (AHP): the principal eigenvector, normalised
    to sum 1, with λmax, the consistency index CI = (λmax − n)/(n − 1) and ratio CR = CI / RI(n)."""
    a = np.asarray(matrix, dtype=float)
    n = len(a)
    values, vectors = np.linalg.eig(a)
    k = int(np.argmax(values.real))
    w = np.abs(vectors[:, k].real)
    w = w / w.sum()
    lam = float(values[k].real)
    ci = (lam - n) / (n - 1) if n > 2 else 0.0
    cr = ci / RANDOM_INDEX[n] if n > 2 else 0.0
    return {"weights": [float(x) for x in w], "lambda_max": lam, "consistency_index": ci, "consistency_ratio": cr}


class UseSuitability(_Strict):
    """score = scale × Π multipliers × Σ wᵢ·cᵢ (weights normalised to sum 1; without criteria the sum is 1),
    clipped to 0..scale and rounded; written to the parcel field ``field`` (default ``suit_<use>``)."""

    field: str | None = Field(None, description="the field the score is written to; default suit_<use>")
    scale: float = Field(100.0, gt=0)
    round: int = Field(2, ge=0, le=6, description="decimals kept")
    criteria: dict[str, Criterion] = Field(default_factory=dict, description="the weighted overlay")
    pairwise: dict[str, dict[str, float | str]] | None = Field(None, description="AHP judgements, each pair of "
                                                               "criteria once: {a: {b: 3}} = a matters 3× as much as "
                                                               "b (Saaty's 1/9 … 9); replaces their weights")
    multipliers: dict[str, Criterion] = Field(default_factory=dict, description="multiplied in; 0/1 = a constraint")

    @model_validator(mode="after")
    def _weights(self) -> "UseSuitability":
        if not self.criteria and not self.multipliers:
            raise ValueError("give criteria (weighted), multipliers, or both")
        for name, c in self.multipliers.items():
            if c.weight is not None:
                raise ValueError(f"multipliers.{name}: a multiplier has no weight (move it to criteria to weigh it)")
        if self.pairwise is None:
            missing = [n for n, c in self.criteria.items() if c.weight is None]
            if missing:
                raise ValueError(f"criteria {', '.join(missing)}: give each a weight, or give pairwise comparisons")
            if self.criteria and sum(c.weight for c in self.criteria.values()) <= 0:
                raise ValueError("the criteria's weights sum to 0")
            return self
        given = [n for n, c in self.criteria.items() if c.weight is not None]
        if given:
            raise ValueError(f"criteria {', '.join(given)}: weights come from pairwise; remove weight: or pairwise:")
        self.ahp()  # shape, reciprocity and consistency, checked now
        return self

    def ahp(self) -> dict:
        """The judgements as a reciprocal matrix in the order the criteria are listed (a pair is named, so the
        order of YAML keys never matters), with its weights and consistency."""
        names, n = list(self.criteria), len(self.criteria)
        if n > len(RANDOM_INDEX) - 1:
            raise ValueError(f"pairwise comparisons take at most {len(RANDOM_INDEX) - 1} criteria")
        index = {name: i for i, name in enumerate(names)}
        a = np.eye(n)
        given: set[frozenset] = set()
        for row, judged in self.pairwise.items():
            for col, value in judged.items():
                unknown = [x for x in (row, col) if x not in index]
                if unknown:
                    raise ValueError(f"pairwise.{row}.{col}: {', '.join(unknown)} is not one of the criteria "
                                     f"({', '.join(names)})")
                pair = frozenset((row, col))
                if row == col:
                    raise ValueError(f"pairwise.{row}.{col}: a criterion is not compared with itself")
                if pair in given:
                    raise ValueError(f"pairwise.{row}.{col}: give each pair of different criteria once "
                                     f"({col} against {row} is 1/{value})")
                given.add(pair)
                a[index[row], index[col]] = _ratio(value)
                a[index[col], index[row]] = 1 / a[index[row], index[col]]
        missing = [f"{names[i]}/{names[j]}" for i in range(n) for j in range(i + 1, n)
                   if frozenset((names[i], names[j])) not in given]
        if missing:
            raise ValueError(f"pairwise: no judgement for {', '.join(missing)}; compare every pair of criteria")
        out = pairwise_weights(a)
        if out["consistency_ratio"] > MAX_CONSISTENCY_RATIO:
            w = ", ".join(f"{k} {x:.3f}" for k, x in zip(names, out["weights"]))
            raise ValueError(f"the pairwise comparisons are inconsistent: consistency ratio "
                             f"{out['consistency_ratio']:.3f} > {MAX_CONSISTENCY_RATIO} (λmax {out['lambda_max']:.3f}; "
                             f"weights they would give: {w}); revise the judgements so that, e.g., if A is 3× B "
                             "and B is 2× C, A is about 6× C")
        return {"order": names, "matrix": a.round(6).tolist(), **out}
