"""What an instance holds, for `landalloc instance-info`: parcels, areas per district against the
official figures, the land balance by group, protected and buffer zone areas, and which fields are
synthetic. Everything is measured from the layer in the scenario's CRS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyogrio

from constraints import active_families
from optimizer.engine.instance import Instance, load_instance
from optimizer.engine.scenario import LoadedScenario


def _official_districts(loaded: LoadedScenario) -> dict[str, float]:
    """Official district areas (ha) from ``metadata.districts_layer`` (fields district, official_area_ha)."""
    meta = loaded.scenario.metadata
    if "districts_layer" not in meta:
        return {}
    path = loaded.resolve(meta["districts_layer"], "metadata.districts_layer")
    d = pyogrio.read_dataframe(path, read_geometry=False)
    d = d[d["official_area_ha"].notna()]
    return dict(zip(d["district"], d["official_area_ha"].astype(float)))


def instance_info(loaded: LoadedScenario, instance: Instance | None = None) -> dict:
    sc = loaded.scenario
    inst = instance or load_instance(loaded)
    area = pd.Series(inst.area_ha)
    total = float(area.sum())
    official = _official_districts(loaded)
    districts = []
    for name, a in area.groupby(inst.district).sum().sort_index().items():
        off = official.get(name)
        districts.append({"district": name, "parcels": int((inst.district == name).sum()), "area_ha": round(float(a), 2),
                          "official_ha": off, "difference_pct": None if off is None else round(100 * (a - off) / off, 3)})
    groups = np.array([sc.land_uses[c].group for c in inst.current_use], dtype=object)
    forest = np.array([sc.land_uses[c].forest for c in inst.current_use])
    by_code = area.groupby(inst.current_use).sum().sort_index()
    by_group = area.groupby(groups).sum().sort_index()
    zones = []
    fam = next((f for f in active_families(loaded) if f.name == "allowed_uses"), None)
    if fam is not None:  # read as the family reads it: through the front door (optimizer/engine/layers.py)
        z = fam.read_zones(inst.crs)
        cls, nm = fam.config.class_field, fam.config.name_field
        for c, n, g in zip(z[cls], z[nm], z.geometry):
            zones.append({"zone_class": c, "zone_name": n, "area_ha": round(float(g.area / 1e4), 4),
                          "in_parcels_ha": round(float(inst.geometry.intersection(g).area.sum() / 1e4), 4)})
    meta = sc.metadata
    natural = meta.get("natural_area_ha")
    return {
        "scenario": sc.name, "parcels_path": str(inst.path), "crs": inst.crs.to_string(), "parcels": inst.n,
        "total_area_ha": round(total, 2),
        "natural_area_ha": natural,
        "difference_to_natural_pct": None if not natural else round(100 * (total - natural) / natural, 3),
        "districts": districts,
        "land_balance_by_group_ha": {k: round(float(v), 2) for k, v in by_group.items()},
        "land_balance_by_code_ha": {k: round(float(v), 2) for k, v in by_code.items()},
        "forest_cover_pct": round(100 * float(area[forest].sum()) / (natural or total), 3),
        "zones": zones,
        "synthetic_fields": meta.get("synthetic_fields", []),
        "real_fields": meta.get("real_fields", []),
        "notes": list(inst.notes),
    }
