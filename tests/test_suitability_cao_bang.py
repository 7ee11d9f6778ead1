"""The Cao Bằng scenarios build their suitability from criteria (the ``suitability`` section of
instances/cao_bang/scenarios/land_uses.yaml); on the ~100 ha parcels it must reproduce the builder's
formulas (instances/cao_bang/stages/land_use.py), which also wrote the precomputed ``suit_*`` fields.

Why the fields and the built scores differ by up to 0.03: the builder scored the *unrounded* slope, while
the parcel layer stores ``slope_pct`` rounded to 0.01 %, so flat(s, s0) moves by up to 0.005/s0 — at most
100 × 0.005/15 = 0.033 for logistics — and both scores are rounded to 0.01 (±0.005 each): bound 0.044.
Applied to the *stored* fields, the builder's formulas agree with the built scores to one rounding step
(0.01): the distances the tool measures from the real places equal the stored ``dist_*_km`` within 0.6 m —
those are rounded to 1 m (±0.5 m) and were measured from the centroids before the parcel outlines were
snapped to the 0.1 m grid, which moves a centroid by at most 0.05·√2 ≈ 0.07 m (measured: ≤ 0.566 m on
the 100 ha and the 10 ha parcels).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from instances.cao_bang.stages.land_use import suitability as builder_suitability
from optimizer.engine.instance import load_instance
from optimizer.engine.scenario import apply_overrides, load_scenario

from .conftest import ROOT

SCENARIOS = ROOT / "instances" / "cao_bang" / "scenarios"
BUILT = {"SKK": "suit_industry", "SKN": "suit_cluster", "DGT": "suit_logistics", "TMD": "suit_tourism",
         "ONT": "suit_resettlement"}


@pytest.fixture(scope="module")
def province_100ha():
    loaded = load_scenario(SCENARIOS / "land_uses.yaml")
    loaded = apply_overrides(loaded, {"allocate": list(BUILT), "parcels.path": "../data/province_100ha.gpkg"})
    return loaded, load_instance(loaded)


def test_built_scores_match_the_builders_formulas(province_100ha):
    _, inst = province_100ha
    a = inst.attrs
    stored = pd.DataFrame({"slope_pct": a.slope_pct, "d_gate_km": a.dist_gate_km, "d_city_km": a.dist_city_km,
                           "d_seat_km": a.dist_seat_km, "d_tourism_km": a.dist_tourism_km,
                           "d_commune_km": a.dist_commune_km})
    recomputed = builder_suitability(stored, inst.current_use)
    for use, field in BUILT.items():
        built = a[f"suit_{use}"].to_numpy()
        assert np.abs(built - recomputed[field]).max() <= 0.01 + 1e-9, use
        assert np.abs(built - a[field].to_numpy(float)).max() <= 0.044, use
        assert built.max() > 50  # a real range, not a column of zeros
    uses = {u["use"]: u for u in inst.suitability["uses"]}
    assert set(uses) == set(BUILT)
    assert uses["SKK"]["formula"] == "100 × slope × current_use × (0.55·gate + 0.45·city)"
    assert uses["SKK"]["result"]["max"] == pytest.approx(a["suit_industry"].max(), abs=0.044)


def test_measured_distances_equal_the_stored_ones(province_100ha):
    """Each distance criterion alone, as linear(d, 0 → 1000 km) × 1000 = d in km: from the gates, the city,
    the parcel's own district seat (match seat_of = district_code), the tourism places, and the pre-2020
    commune seats (a GeoJSON in WGS 84, reprojected to EPSG:9210)."""
    loaded, inst = province_100ha
    crit = {u: spec["criteria"] for u, spec in loaded.raw["suitability"].items()}
    sources = {"SKK": crit["SKK"]["gate"], "SKN": crit["SKN"]["seat"], "DGT": crit["DGT"]["city"],
               "TMD": crit["TMD"]["tourism"], "ONT": crit["ONT"]["commune"]}
    fields = {"SKK": "dist_gate_km", "SKN": "dist_seat_km", "DGT": "dist_city_km", "TMD": "dist_tourism_km",
              "ONT": "dist_commune_km"}
    as_km = {u: {"scale": 1000, "round": 6, "criteria": {"d": {"distance": c["distance"], "linear": [0, 1000],
                                                              "weight": 1}}} for u, c in sources.items()}
    measured = load_instance(apply_overrides(loaded, {"suitability": as_km})).attrs
    for use, field in fields.items():
        assert np.abs(measured[f"suit_{use}"] - inst.attrs[field]).max() <= 0.0006, field
