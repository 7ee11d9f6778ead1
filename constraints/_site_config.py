"""The sites family's configuration: the named sites, their windows and anchors.

Apart from ``sites.py`` so the candidate neighbourhoods and the model, which read it, sit below the
family without importing it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictStr, field_validator, model_validator

from optimizer.engine.scenario import Code
from optimizer.engine.text import nfc_str

from constraints._api import FamilyConfig

FAMILY_NAME = "sites"


def site_field(i: int, what: str) -> str:
    """The scenario key of field ``what`` of the i-th site, for error messages."""
    return f"constraints.{FAMILY_NAME}.sites.{i}.{what}"


class Anchor(FamilyConfig):
    """A point a site must stay near: ``{x, y}`` in the scenario CRS, or one feature of a point layer."""

    x: float | None = Field(None, description="easting in the scenario CRS (with y)")
    y: float | None = Field(None, description="northing in the scenario CRS (with x)")
    layer: str | None = Field(None, description="point layer (path relative to the scenario) holding the anchor")
    layer_name: str | None = Field(None, description="layer inside a multi-layer file (GeoPackage)")
    field: str | None = Field(None, description="attribute of the point layer that identifies the anchor")
    value: StrictStr | int | None = Field(None, description="the anchor feature's value in `field` (compared as text)")
    label: str | None = Field(None, description="name used in reasons and messages, e.g. 'Tà Lùng'; default: value")
    max_km: float = Field(gt=0, description="every point of the site lies within this distance (km) of the anchor")

    @model_validator(mode="after")
    def _one_way(self) -> "Anchor":
        xy = (self.x is not None, self.y is not None)
        lyr = (self.layer is not None, self.field is not None, self.value is not None)
        if any(xy) and any(lyr):
            raise ValueError("give the anchor either as x, y or as layer, field, value — not both")
        if any(xy) and not all(xy):
            raise ValueError("give both x and y (coordinates in the scenario CRS)")
        if any(lyr) and not all(lyr):
            raise ValueError("a layer anchor needs layer, field and value")
        if not any(xy) and not any(lyr):
            raise ValueError("give x, y (scenario CRS) or layer, field, value")
        return self


class Site(FamilyConfig):
    """One named site: its use, its size window and optionally its anchor."""

    name: str = Field(min_length=1, description="the site's name, written into the output layer's `site` column")
    use: Code = Field(description="land-use code the site's parcels are converted to (must be in `allocate`)")
    min_ha: float = Field(0.0, ge=0, description="smallest area (ha); 0 makes the site optional")
    max_ha: float | None = Field(None, gt=0, description="largest area (ha); none = unbounded")
    anchor: Anchor | None = Field(None, description="keep the whole site within anchor.max_km of a point")
    max_candidates: int | None = Field(None, ge=1, description="overrides the family's max_candidates for this site")
    neighbourhood: float | None = Field(None, gt=0, description="overrides the family's neighbourhood for this site")
    include: list[StrictStr | int] = Field(default_factory=list, description=(
        "parcel ids the candidate neighbourhood grows from and always holds (those that may take the use), "
        "e.g. an existing park to expand; phasing fills it with the earlier site's candidates"))

    @model_validator(mode="after")
    def _window(self) -> "Site":
        if self.max_ha is not None and self.min_ha > self.max_ha:
            raise ValueError(f"min_ha ({self.min_ha}) is greater than max_ha ({self.max_ha}); swap them or widen the window")
        if self.max_ha is None and self.min_ha == 0:
            raise ValueError("give min_ha, max_ha or both: the window sizes the site and its candidate neighbourhood")
        return self


class SitesConfig(FamilyConfig):
    max_candidates: int = Field(400, ge=1, description="most candidate parcels per site; see the docstring for "
                                                       "which sizes stay tractable")
    neighbourhood: float = Field(2.0, gt=0, description="a site's candidate neighbourhood holds this many times its "
                                                        "max_ha (min_ha without max_ha), capped by max_candidates")
    existing: Literal["outside", "may_join"] = Field(
        "outside", description="parcels already of a site's use: 'outside' = sites cover conversions only; "
                               "'may_join' = they may belong to a site and count towards its window")
    sites: list[Site] = Field(min_length=1, description="the named sites, placed in this order")

    @field_validator("sites")
    @classmethod
    def _unique(cls, v: list[Site]) -> list[Site]:
        names = [nfc_str(s.name) for s in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"site names must be unique: {dup} given twice")
        return v


def anchor_label(site: Site) -> str:
    """The anchor's name in reasons and messages: its label, its layer value or its coordinates."""
    a = site.anchor
    if a.label:
        return a.label
    return str(a.value) if a.layer is not None else f"({a.x:.0f}, {a.y:.0f})"
