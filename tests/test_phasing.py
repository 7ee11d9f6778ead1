"""Multi-period phasing on the tiny instance, checked against brute-force enumeration."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pyogrio
import pytest
import yaml

from .conftest import TINY

# tiny objective per conversion (see test_tiny.py): value[use][parcel]; p3 strict, p6 buffer (no SKK)
VALUE = {"SKK": {1: 5, 2: 4, 4: 3, 5: 12}, "TMD": {1: 1, 2: 0, 4: 6, 5: 2, 6: 6}}
AREA = {1: 1, 2: 2, 3: 1, 4: 1, 5: 2, 6: 1}
BANDS = {"2030": {"SKK": (3, 3), "TMD": (1, 2)}, "2050": {"SKK": (4, 5), "TMD": (1, 3)}}
WEIGHT = {"2030": 1.0, "2050": 0.5}


def plans(period):
    """Every plan of one period that meets its bands: dict parcel → use (None = keep)."""
    out = []
    for combo in itertools.product([None, "SKK", "TMD"], repeat=6):
        plan = dict(zip(range(1, 7), combo))
        if any(u is not None and p not in VALUE[u] for p, u in plan.items()):
            continue
        if all(lo <= sum(AREA[p] for p, u in plan.items() if u == use) <= hi for use, (lo, hi) in BANDS[period].items()):
            out.append(plan)
    return out


def value(plan):
    return sum(VALUE[u][p] for p, u in plan.items() if u is not None)


def brute_force():
    best = -np.inf
    for a in plans("2030"):
        for b in plans("2050"):
            if all(u is None or b[p] == u for p, u in a.items()):  # built stays built
                best = max(best, WEIGHT["2030"] * value(a) + WEIGHT["2050"] * value(b))
    return best


@pytest.fixture
def phased(tmp_path):
    raw = yaml.safe_load(TINY.read_text())
    raw["parcels"]["path"] = str(TINY.parent / "parcels.geojson")
    raw["constraints"]["allowed_uses"]["layer"] = str(TINY.parent / "zones.geojson")
    raw["periods"] = {
        "2030": {"weight": WEIGHT["2030"]},
        "2050": {"weight": WEIGHT["2050"], "overrides": {"quotas": {
            "SKK": {"lo": 4, "hi": 5}, "TMD": {"lo": 1, "hi": 3}}}},
    }
    path = tmp_path / "phased.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def test_joint_optimum_equals_brute_force(cli, phased, tmp_path):
    res = cli("solve", phased, "--out", tmp_path / "run", "--json", "--no-marginals")
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)
    assert run["objective"] == pytest.approx(brute_force())
    assert run["periods"] == ["2030", "2050"]
    assert {(q["period"], q["key"]) for q in run["quotas"]} == {("2030", "SKK"), ("2030", "TMD"), ("2050", "SKK"), ("2050", "TMD")}
    plan = pyogrio.read_dataframe(tmp_path / "run" / "allocation.gpkg", layer="allocation")
    assert "period" in plan.columns and len(plan) == 12
    a = plan[plan["period"] == "2030"].set_index("parcel_id")
    b = plan[plan["period"] == "2050"].set_index("parcel_id")
    built = a.index[a["changed"]]
    assert (a.loc[built, "new_use"] == b.loc[built, "new_use"]).all()
    for period, (lo, hi) in (("2030", BANDS["2030"]["SKK"]), ("2050", BANDS["2050"]["SKK"])):
        skk = plan[(plan["period"] == period) & (plan["new_use"] == "SKK")].geometry.area.sum() / 1e4
        assert lo - 1e-6 <= skk <= hi + 1e-6
    assert cli("verify", tmp_path / "run").exit_code == 0


def test_verify_catches_unbuilt_parcel(cli, phased, tmp_path):
    out = tmp_path / "run"
    assert cli("solve", phased, "--out", out, "--no-marginals").exit_code == 0
    plan = pyogrio.read_dataframe(out / "allocation.gpkg", layer="allocation")
    a = plan[(plan["period"] == "2030") & plan["changed"]].iloc[0]
    i = plan.index[(plan["period"] == "2050") & (plan["parcel_id"] == a["parcel_id"])][0]
    plan.loc[i, ["new_use", "changed"]] = [plan.loc[i, "current_use"], False]
    pyogrio.write_dataframe(plan, out / "allocation.gpkg", layer="allocation")
    res = cli("verify", out, "--json")
    assert res.exit_code == 1
    assert "phasing" in {v["family"] for v in json.loads(res.stdout)["violations"]}
