"""quota_area: rows from the tiny instance, verify on a perturbed plan, error messages."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from constraints.quota_area import QuotaArea
from optimizer.engine.compile import compile_model
from optimizer.engine.errors import InputError
from optimizer.engine.instance import load_instance
from optimizer.engine.scenario import load_scenario, parse_scenario
from optimizer.engine.verify import verify_allocation

from .conftest import TINY


def _loaded(mutate):
    raw = yaml.safe_load(TINY.read_text())
    mutate(raw)
    return parse_scenario(raw, "test.yaml", TINY.parent)


def test_compile_regional_quota_rows():
    """A quota restricted to district 'Huyện B' holds only SKK columns of p5 (p3, p6 are excluded)."""
    loaded = _loaded(lambda r: r["quotas"].update({"SKK_B": {"use": "SKK", "hi": 2, "region": {"field": "district", "values": ["Huyện B"]}}}))
    inst = load_instance(loaded)
    m = compile_model(inst, loaded).model
    rows = m.rows[m.rows["family"] == "quota_area"]
    assert list(rows["key"]) == ["SKK", "TMD", "SKK_B"]
    r = rows.index[rows["key"] == "SKK_B"][0]
    assert (m.row_lo[r], m.row_hi[r]) == (-np.inf, 2.0)
    row = m.A.getrow(r)
    assert list(inst.ids[m.columns["parcel"].to_numpy()[row.indices]]) == [5]
    assert list(row.data) == [pytest.approx(2.0)]
    assert bool(rows.loc[r, "soft"]) is True


def test_verify_catches_area_outside_band():
    loaded = load_scenario(TINY)
    inst = load_instance(loaded)
    from optimizer.engine.decode import decode
    from optimizer.engine.solvers import get_adapter

    compiled = compile_model(inst, loaded)
    plan = decode(compiled, inst, get_adapter("highs").solve(compiled.model, loaded.scenario.solver).x)
    fam = QuotaArea.from_scenario(loaded)
    assert verify_allocation(loaded, inst, plan, [fam]).ok
    plan.loc[plan["parcel_id"] == 2, ["new_use", "changed"]] = ["SKK", True]  # 5 ha SKK > hi 3
    report = verify_allocation(loaded, inst, plan, [fam])
    assert [(v.family, v.key) for v in report.violations] == [("quota_area", "SKK")]
    assert "5.0000 ha is above hi = 3.0 ha" in report.violations[0].message


def test_error_region_value_absent():
    loaded = _loaded(lambda r: r["quotas"].update({"SKK_X": {"use": "SKK", "hi": 2, "region": {"field": "district", "values": ["Huyện Z"]}}}))
    inst = load_instance(loaded)
    with pytest.raises(InputError, match=r"quotas.SKK_X.region.values.*Huyện Z.*never occur"):
        compile_model(inst, loaded)


def test_error_quota_for_unknown_use():
    with pytest.raises(InputError, match=r"quotas.XYZ: use 'XYZ' is not in land_uses"):
        _loaded(lambda r: r["quotas"].update({"XYZ": {"hi": 2}}))
