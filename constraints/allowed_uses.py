"""allowed_uses — which uses each zone class admits (strict protection, buffers, …).

Formulation: no rows. For every zone class with a rule, the pairs (p, u) with p in a zone of that
class and u not admitted are screened out before columns exist, each with the reason
``<class>: <zone name>`` (e.g. ``strict: Phja Oắc – Phja Đén``) that the output layer carries.
Keeping the current use is always admitted. A parcel belongs to a zone when their overlap is at
least ``min_overlap_m2`` (touching along an edge does not count).

Verify re-reads the zone layer and spatially joins it with the output geometry: a parcel converted to
a use its zone forbids is a violation.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pydantic import Field, model_validator

from optimizer.engine.errors import InputError
from optimizer.engine.scenario import Code

from constraints._api import Exclusion, Family, FamilyConfig, Screen, Violation, VerifyContext


class Rule(FamilyConfig):
    allowed: list[Code] | None = Field(None, description="uses a parcel in this zone class may be converted to ([] = none)")
    forbidden: list[Code] | None = Field(None, description="uses it may not be converted to")

    @model_validator(mode="after")
    def _one(self) -> "Rule":
        if (self.allowed is None) == (self.forbidden is None):
            raise ValueError("give exactly one of allowed or forbidden")
        return self


class AllowedUsesConfig(FamilyConfig):
    layer: str = Field(description="polygon layer of zones (path relative to the scenario)")
    layer_name: str | None = None
    class_field: str = "zone_class"
    name_field: str = "zone_name"
    min_overlap_m2: float = Field(1.0, ge=0)
    rules: dict[str, Rule]


class AllowedUses(Family):
    name = "allowed_uses"
    Config = AllowedUsesConfig

    def _forbidden(self, rule: Rule) -> list[str]:
        allocate = self.loaded.scenario.allocate
        if rule.forbidden is not None:
            return [u for u in allocate if u in rule.forbidden]
        return [u for u in allocate if u not in rule.allowed]

    def read_zones(self, crs) -> gpd.GeoDataFrame:
        """The zone layer through the front door, in ``crs``, keeping the zones a rule names (also for
        ``landalloc instance-info``)."""
        cfg = self.config
        key = f"constraints.{self.name}"
        zones = self.read_config_layer(cfg.layer, f"{key}.layer", cfg.layer_name, "zone layer",
                                       {cfg.class_field: f"{key}.class_field", cfg.name_field: f"{key}.name_field"},
                                       geometry="polygon", exclusion=Exclusion(
                                           cfg.class_field, cfg.name_field,
                                           {c: tuple(self._forbidden(r)) for c, r in cfg.rules.items()}, cfg.min_overlap_m2))
        for code in [c for r in cfg.rules.values() for c in (r.allowed or []) + (r.forbidden or [])]:
            if code not in self.loaded.scenario.land_uses:
                raise InputError(self.loaded.label, f"constraints.{self.name}.rules", f"unknown use {code!r}", "use codes from land_uses")
        zones = zones.to_crs(crs)
        zones[cfg.class_field] = zones[cfg.class_field].astype(str)
        zones[cfg.name_field] = zones[cfg.name_field].astype(str)
        return zones[zones[cfg.class_field].isin(list(cfg.rules))].reset_index(drop=True)

    def _members(self, parcels: gpd.GeoSeries, zones: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(parcel index, zone index) pairs overlapping by at least min_overlap_m2."""
        zi, pi = parcels.sindex.query(zones.geometry.to_numpy(), predicate="intersects")
        overlap = shapely.area(shapely.intersection(parcels.to_numpy()[pi], zones.geometry.to_numpy()[zi]))
        keep = overlap >= max(self.config.min_overlap_m2, 1e-9)
        return pi[keep], zi[keep]

    def input_paths(self) -> list:
        return [self.loaded.resolve(self.config.layer, f"constraints.{self.name}.layer")]

    def prepare(self, instance) -> None:
        self._zones = self.read_zones(instance.crs)

    def screen(self, instance) -> list[Screen]:
        cfg = self.config
        zones = self._zones
        pi, zi = self._members(instance.geometry, zones)
        out = []
        for cls, rule in cfg.rules.items():
            sel = zones[cfg.class_field].to_numpy()[zi] == cls
            if not sel.any():
                continue
            p, names = pi[sel], zones[cfg.name_field].to_numpy()[zi[sel]]
            order = np.lexsort((names, p))
            p, names = p[order], names[order]
            uniq, start = np.unique(p, return_index=True)
            reasons = np.array([f"{cls}: " + " / ".join(dict.fromkeys(g)) for g in np.split(names, start[1:])], dtype=object)
            for use in self._forbidden(rule):
                out.append(Screen(uniq, use, reasons))
        return out

    def verify(self, ctx: VerifyContext) -> list[Violation]:
        cfg = self.config
        alloc = ctx.allocation
        zones = self.read_zones(alloc.crs)
        joined = gpd.sjoin(alloc[["parcel_id", "new_use", "changed", "geometry"]], zones, how="inner", predicate="intersects")
        out = []
        if joined.empty:
            return out
        zone_geom = zones.geometry.loc[joined["index_right"].to_numpy()].to_numpy()
        overlap = shapely.area(shapely.intersection(joined.geometry.to_numpy(), zone_geom))
        joined = joined[overlap >= max(cfg.min_overlap_m2, 1e-9)]
        for cls, rule in cfg.rules.items():
            forbidden = self._forbidden(rule)
            bad = joined[(joined[cfg.class_field] == cls) & joined["changed"].astype(bool) & joined["new_use"].isin(forbidden)]
            for zone_name, grp in bad.groupby(cfg.name_field, sort=True):
                out.append(Violation(self.name, f"{cls}: {zone_name}",
                                     f"{len(grp)} parcel(s) converted to {sorted(set(grp['new_use']))} inside {cls} zone {zone_name}",
                                     tuple(grp["parcel_id"].tolist())))
        return out


FAMILY = AllowedUses
