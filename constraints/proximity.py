"""proximity — a use only within d km of named places or lines, or only at least d km away from them.

Examples: logistics within 5 km of a border gate, tourism within 10 km of Bản Giốc, no industrial park
within 2 km of a heritage site.

Formulation: no rows. For rule r with uses U_r, target geometries T_r (points, lines or polygons,
chosen from a layer by ``field``/``values``, or given inline as ``points`` in the scenario CRS) and
distance d(p, T_r) = min_{t ∈ T_r} distance(parcel geometry p, t), measured in the scenario's
projected CRS from the parcel's nearest point (not its centroid: a large parcel whose edge reaches
within the radius qualifies, and a parcel containing the target is at distance 0):

    within_km:  pairs (p, u), u ∈ U_r with d(p, T_r) > 1000 · within_km  are screened out,
                reason ``proximity: > 10 km from ban_gioc``
    beyond_km:  pairs (p, u), u ∈ U_r with d(p, T_r) < 1000 · beyond_km  are screened out,
                reason ``proximity: < 2 km from <nearest target>``

(at exactly the distance a parcel qualifies on both sides). Only conversions are screened: a parcel
that already has the use keeps it whatever its distance, as with every screening family.

Scenario example (the layer path is relative to the scenario file)::

    constraints:
      proximity:
        rules:
          - {use: "TMD", layer: places.gpkg, field: place_id, values: ["ban_gioc"], name_field: name, within_km: 10}
          - {uses: ["SKK"], points: [[585000, 2520000]], label: "Pác Bó", beyond_km: 2}

Verify re-reads the layer (or the inline points), recomputes each converted parcel's nearest
distance from the output geometry with shapely, and reports every parcel converted to a rule's use
outside its distance band (1 mm tolerance).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from pydantic import Field, StrictStr, model_validator

from optimizer.engine.errors import InputError
from optimizer.engine.geometry import nearest_distance
from optimizer.engine.scenario import Code
from optimizer.engine.text import nfc_array, nfc_str

from constraints._api import Family, FamilyConfig, Screen, Violation, VerifyContext

TOL_M = 1e-3


class ProximityRule(FamilyConfig):
    use: Code | None = Field(None, description="the land-use code the rule restricts (or give `uses`)")
    uses: list[Code] | None = Field(None, description="several land-use codes restricted alike (or give `use`)")
    layer: str | None = Field(None, description="layer of target points/lines/polygons, path relative to the scenario")
    layer_name: str | None = Field(None, description="layer inside a multi-layer file such as a GeoPackage")
    field: str | None = Field(None, description="attribute that selects the targets (with `values`)")
    values: list[StrictStr] | None = Field(None, description="values of `field` to keep (quoted strings); none: every feature")
    name_field: str | None = Field(None, description="attribute naming a target in reasons; default `field`")
    points: list[tuple[float, float]] | None = Field(None, description="inline target points [[x, y], …] in the scenario CRS")
    label: str | None = Field(None, description="name of the targets in reasons; default: the selected targets' names "
                                                "(`name_field`, else `field`), the nearest one for beyond_km")
    within_km: float | None = Field(None, gt=0, description="the use only on parcels at most this far from a target")
    beyond_km: float | None = Field(None, gt=0, description="the use only on parcels at least this far from every target")

    @model_validator(mode="after")
    def _check(self) -> "ProximityRule":
        if (self.use is None) == (self.uses is None):
            raise ValueError("give exactly one of use or uses")
        if self.uses is not None and not self.uses:
            raise ValueError("uses is empty")
        if (self.layer is None) == (self.points is None):
            raise ValueError("give exactly one of layer (with field/values) or points")
        if self.points is not None and not self.points:
            raise ValueError("points is empty")
        if self.values is not None and self.field is None:
            raise ValueError("values need a field to select by")
        if self.within_km is None and self.beyond_km is None:
            raise ValueError("give within_km, beyond_km or both")
        if self.within_km is not None and self.beyond_km is not None and self.beyond_km > self.within_km:
            raise ValueError(f"beyond_km ({self.beyond_km}) exceeds within_km ({self.within_km}): no parcel could qualify")
        return self

    @property
    def use_list(self) -> list[str]:
        return [self.use] if self.use is not None else list(self.uses)


class ProximityConfig(FamilyConfig):
    rules: list[ProximityRule] = Field(min_length=1, description="distance rules, each for one or more uses")


class Proximity(Family):
    name = "proximity"
    Config = ProximityConfig

    def _where(self, k: int, attr: str) -> str:
        return f"constraints.{self.name}.rules.{k}.{attr}"

    def _targets(self, k: int, crs) -> tuple[np.ndarray, np.ndarray, str]:
        """(geometries, names, label) of rule k's targets in ``crs``."""
        rule = self.config.rules[k]
        for u in rule.use_list:
            if u not in self.loaded.scenario.land_uses:
                raise InputError(self.loaded.label, self._where(k, "use" if rule.use else "uses"), f"unknown use {u!r}",
                                 "use codes from land_uses")
        if rule.points is not None:
            geoms = shapely.points(np.asarray(rule.points, dtype=float))
            names = np.array([f"({x:.0f}, {y:.0f})" for x, y in rule.points], dtype=object)
            return geoms, names, rule.label or ("point " + " / ".join(names) if len(names) <= 3 else f"{len(names)} points")
        gdf = self.read_config_layer(rule.layer, self._where(k, "layer"), rule.layer_name, "target layer",
                                     {getattr(rule, a): self._where(k, a) for a in ("field", "name_field")
                                      if getattr(rule, a) is not None})
        path = self.loaded.resolve(rule.layer, self._where(k, "layer"))
        if rule.values is not None:
            have = nfc_array(map(str, gdf[rule.field]))
            want = [nfc_str(v) for v in rule.values]
            missing = [v for v in want if v not in set(have)]
            if missing:
                raise InputError(str(path), rule.field, f"{missing} never occur in field {rule.field!r} (needed by "
                                 f"{self._where(k, 'values')})", f"use values that occur, e.g. {sorted(set(have))[:5]}")
            gdf = gdf[np.isin(have, want)]
        gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
        if gdf.empty:
            raise InputError(str(path), rule.field, "no target feature with a geometry", f"check {self._where(k, 'values')}")
        gdf = gdf.to_crs(crs)
        name_field = rule.name_field or rule.field
        if name_field is not None:
            names = nfc_array(map(str, gdf[name_field]))
        else:
            names = np.array([f"feature {i}" for i in gdf.index], dtype=object)
        label = rule.label or " / ".join(dict.fromkeys(names))
        return gdf.geometry.to_numpy(), names, label

    def input_paths(self) -> list:
        return [self.loaded.resolve(r.layer, self._where(k, "layer")) for k, r in enumerate(self.config.rules) if r.layer]

    def prepare(self, instance) -> None:
        self._cache = {k: self._targets(k, instance.crs) for k in range(len(self.config.rules))}

    @staticmethod
    def _pairs_within(parcels: np.ndarray, targets: np.ndarray, d: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(parcel, target, distance) for every pair at most d metres apart."""
        t, p = shapely.STRtree(parcels).query(targets, predicate="dwithin", distance=d)
        return p, t, shapely.distance(parcels[p], targets[t])

    def screen(self, instance) -> list[Screen]:
        parcels = instance.geometry.to_numpy()
        allocate = set(self.loaded.scenario.allocate)
        out = []
        for k, rule in enumerate(self.config.rules):
            targets, names, label = self._cache[k]
            uses = [u for u in rule.use_list if u in allocate]
            current = instance.current_use
            if rule.within_km is not None:
                p, _, _ = self._pairs_within(parcels, targets, 1000.0 * rule.within_km)
                far = np.setdiff1d(np.arange(instance.n), p)
                for u in uses:  # a parcel that has the use today keeps it: nothing to screen
                    out.append(Screen(far[current[far] != u], u, f"proximity: > {rule.within_km:g} km from {label}"))
            if rule.beyond_km is not None:
                d0 = 1000.0 * rule.beyond_km
                p, t, dist = self._pairs_within(parcels, targets, d0)
                close = dist < d0
                p, t, dist = p[close], t[close], dist[close]
                order = np.lexsort((t, dist, p))  # nearest target first per parcel
                p, t = p[order], t[order]
                uniq, first = np.unique(p, return_index=True)
                near = names[t[first]] if rule.label is None else np.full(len(first), rule.label, dtype=object)
                reasons = (f"proximity: < {rule.beyond_km:g} km from " + pd.Series(near, dtype=object)).to_numpy(dtype=object)
                for u in uses:
                    keep = current[uniq] != u
                    out.append(Screen(uniq[keep], u, reasons[keep]))
        return out

    def verify(self, ctx: VerifyContext) -> list[Violation]:
        alloc = ctx.allocation
        changed = alloc["changed"].to_numpy(dtype=bool)
        new_use = alloc["new_use"].to_numpy()
        out = []
        for k, rule in enumerate(self.config.rules):
            sel = np.nonzero(changed & np.isin(new_use, rule.use_list))[0]
            if not len(sel):
                continue
            targets, _, label = self._targets(k, alloc.crs)
            d = nearest_distance(alloc.geometry.to_numpy()[sel], targets, missing=np.inf)
            ids = alloc["parcel_id"].to_numpy()
            if rule.within_km is not None:
                bad = d > 1000.0 * rule.within_km + TOL_M
                if bad.any():
                    out.append(Violation(self.name, f"rules.{k}: within {rule.within_km:g} km of {label}",
                                         f"{bad.sum()} parcel(s) converted to {sorted(set(new_use[sel[bad]]))} farther than "
                                         f"{rule.within_km:g} km (up to {d[bad].max() / 1000:.3f} km)", tuple(ids[sel[bad]].tolist())))
            if rule.beyond_km is not None:
                bad = d < 1000.0 * rule.beyond_km - TOL_M
                if bad.any():
                    out.append(Violation(self.name, f"rules.{k}: beyond {rule.beyond_km:g} km of {label}",
                                         f"{bad.sum()} parcel(s) converted to {sorted(set(new_use[sel[bad]]))} closer than "
                                         f"{rule.beyond_km:g} km (down to {d[bad].min() / 1000:.3f} km)", tuple(ids[sel[bad]].tolist())))
        return out


FAMILY = Proximity
