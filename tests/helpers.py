"""Helpers the family tests share: a strip of box parcels written as a scenario, a HiGHS solve
decoded to a plan, one model row read back as (parcel id, use, coefficient) terms, a copy of the
tiny scenario, and a family that declares none of the optional hooks."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
import yaml

from constraints._api import Family, FamilyConfig, VerifyContext, Violation

from optimizer.engine.compile import compile_model
from optimizer.engine.decode import decode
from optimizer.engine.instance import load_instance
from optimizer.engine.scenario import LoadedScenario, parse_scenario
from optimizer.engine.solvers import get_adapter

from .conftest import TINY
from .grid_instance import X0, Y0

SUIT_SKK = {"suit": {"per_use": {"SKK": "suit_industry"}}}
"""the objective most family tests maximize: suitability of the parcels converted to SKK"""


def strip_parcels(attrs: dict, spans: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    """Parcels 100 m tall, the i-th from x = X0 + spans[i][0] to X0 + spans[i][1], with ``attrs``."""
    return gpd.GeoDataFrame(attrs, geometry=[shapely.box(X0 + a, Y0, X0 + b, Y0 + 100) for a, b in spans],
                            crs="EPSG:9210")


def strip_scenario(tmp_path: Path, parcels: gpd.GeoDataFrame, *, name: str, land_uses: dict, allocate,
                   constraints: dict, quotas: dict | None = None, terms: dict = SUIT_SKK) -> LoadedScenario:
    """``parcels`` saved as parcels.geojson and a maximizing scenario over them, solved by HiGHS to gap 0."""
    parcels.to_file(tmp_path / "parcels.geojson", driver="GeoJSON")
    raw = {"name": name, "crs": "EPSG:9210", "parcels": {"path": "parcels.geojson"}, "land_uses": land_uses,
           "allocate": list(allocate), **({} if quotas is None else {"quotas": quotas}), "constraints": constraints,
           "objective": {"sense": "maximize", "terms": terms},
           "solver": {"name": "highs", "gap": 0, "time_limit": 60}}
    return parse_scenario(raw, "test.yaml", tmp_path, path=tmp_path / "test.yaml")


def solve_highs(loaded: LoadedScenario):
    """(instance, compiled, solver result, decoded plan) of an optimal HiGHS solve."""
    inst = load_instance(loaded)
    compiled = compile_model(inst, loaded)
    result = get_adapter("highs").solve(compiled.model, loaded.scenario.solver)
    assert result.termination == "optimal"
    return inst, compiled, result, decode(compiled, inst, result.x)


def row_terms(m, inst, family: str, key: str):
    """The row (family, key): its terms as sorted (parcel id, use, coefficient), lo, hi, soft and unit."""
    r = m.rows.index[(m.rows["family"] == family) & (m.rows["key"] == key)][0]
    row = m.A.getrow(r)
    cols = m.columns.iloc[row.indices]
    entries = sorted(zip(inst.ids[cols["parcel"].to_numpy()].tolist(), cols["use"], np.round(row.data, 9).tolist()))
    return entries, m.row_lo[r], m.row_hi[r], bool(m.rows.loc[r, "soft"]), m.rows.loc[r, "unit"]


def tiny_raw() -> dict:
    """instances/tiny/tiny.yaml as a dict, its data paths made absolute so a copy may live anywhere."""
    raw = yaml.safe_load(TINY.read_text())
    raw["parcels"]["path"] = str(TINY.parent / "parcels.geojson")
    raw["constraints"]["allowed_uses"]["layer"] = str(TINY.parent / "zones.geojson")
    return raw


def write_scenario(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


class HooklessConfig(FamilyConfig):
    pass


class Hookless(Family):
    """A family that declares no optional hook: no reachability, nothing carried between periods.
    Register it for one test with ``monkeypatch.setitem(registry(), Hookless.name, Hookless)``."""

    name = "hookless"
    Config = HooklessConfig

    def verify(self, ctx: VerifyContext) -> list[Violation]:
        return []
