"""The bundled variant cao_bang_2030_compact (10 ha parcels, compactness on SKK, SKN and TMD) loads and
`explain`s — no solve: its benchmark line is in benchmarks/README.md. The figures explain prints are
checked against the parcel and place layers read here on their own."""

from __future__ import annotations

import json

import numpy as np
import pyogrio
import shapely

from optimizer.engine.scenario import load_scenario

from .conftest import ROOT

SCENARIOS = ROOT / "instances" / "cao_bang" / "scenarios"
COMPACT = SCENARIOS / "cao_bang_2030_compact.yaml"
DATA = ROOT / "instances" / "cao_bang" / "data"


def test_compact_variant_extends_the_10ha_province_with_compactness_on_three_uses():
    compact, base = load_scenario(COMPACT).scenario, load_scenario(SCENARIOS / "cao_bang_2030.yaml").scenario
    assert compact.parcels == base.parcels and "TMD" in compact.allocate and "TMD" not in base.allocate
    assert compact.constraints["compactness"]["weights"] == {"SKK": 200, "SKN": 200, "TMD": 200}
    assert {k: (q.lo, q.hi) for k, q in compact.quotas.items() if k != "TMD"} == \
        {k: (q.lo, q.hi) for k, q in base.quotas.items()}                       # the plan's own quotas unchanged
    assert "not a plan figure" in compact.quotas["TMD"].source                  # the assumption says so


def test_compact_variant_explains(cli):
    """explain: every quota reachable; the TMD band asks for land beyond today's TMD area, and proximity
    screens out exactly the parcels farther than 5 km from the six tourism places (recomputed here)."""
    result = cli("explain", COMPACT, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["parcels"] == 69590
    reach = {r["key"]: r for r in report["reachability"]}
    assert set(reach) == {"SKK", "SKN", "TMD"} and all(r["reachable"] for r in reach.values())

    parcels = pyogrio.read_dataframe(DATA / "province_10ha.gpkg", layer="parcels", columns=["current_use"])
    is_tmd = parcels["current_use"].to_numpy() == "TMD"
    today_ha = parcels.geometry.area[is_tmd].sum() / 1e4
    new_lo, new_hi = reach["TMD"]["lo"] - today_ha, reach["TMD"]["hi"] - today_ha
    assert 100 <= new_lo < 101 and 150 <= new_hi < 151  # today's TMD land + 100–150 ha, rounded to whole ha

    places = pyogrio.read_dataframe(DATA / "places.gpkg", layer="places").to_crs(parcels.crs)
    tourism = places[places["place_id"].isin(["ban_gioc", "pac_bo", "phja_oac", "thang_hen", "tran_hung_dao",
                                               "cao_bang_city"])]
    assert len(tourism) == 6
    far = shapely.distance(parcels.geometry.to_numpy(), shapely.union_all(tourism.geometry.to_numpy())) > 5000
    screened = sum(e["parcels"] for e in report["exclusions"] if e["family"] == "proximity" and e["use"] == "TMD")
    assert screened == int(np.sum(far & ~is_tmd)) > 0
