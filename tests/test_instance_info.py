"""`landalloc instance-info`: figures recomputed by hand for the tiny instance."""

from __future__ import annotations

import json

import pytest

from .conftest import TINY


def test_tiny_instance_info(cli):
    res = cli("instance-info", TINY, "--json")
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["parcels"] == 6 and d["total_area_ha"] == pytest.approx(8.0)
    assert {r["district"]: r["area_ha"] for r in d["districts"]} == {"Huyện A": 4.0, "Huyện B": 4.0}
    assert d["land_balance_by_code_ha"] == {"HNK": 3.0, "LUA": 2.0, "RSX": 3.0}
    assert d["land_balance_by_group_ha"] == {"agricultural": 8.0}
    assert d["forest_cover_pct"] == pytest.approx(37.5)
    zones = {z["zone_class"]: z for z in d["zones"]}
    assert zones["strict"]["area_ha"] == pytest.approx(0.64) and zones["strict"]["in_parcels_ha"] == pytest.approx(0.64)
    # the buffer box reaches 20 m beyond the parcels: 115 m × 90 m, of which 95 m × 90 m lie on parcels
    assert zones["buffer"]["area_ha"] == pytest.approx(1.035) and zones["buffer"]["in_parcels_ha"] == pytest.approx(0.855)


def test_instance_info_human_output(cli):
    res = cli("instance-info", TINY)
    assert res.exit_code == 0 and "land balance" in res.stdout and "Huyện A" in res.stdout
