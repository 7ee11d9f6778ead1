"""allowed_uses: screening from the zone layer, verify by spatial join, error messages."""

from __future__ import annotations

import pytest
import yaml

from constraints.allowed_uses import AllowedUses
from optimizer.engine.compile import compile_model
from optimizer.engine.errors import InputError
from optimizer.engine.instance import load_instance
from optimizer.engine.scenario import parse_scenario
from optimizer.engine.verify import verify_allocation

from .conftest import TINY


def _loaded(mutate=lambda r: None):
    raw = yaml.safe_load(TINY.read_text())
    mutate(raw)
    return parse_scenario(raw, "test.yaml", TINY.parent)


def test_compile_screens_pairs_not_rows():
    loaded = _loaded()
    inst = load_instance(loaded)
    m = compile_model(inst, loaded).model
    assert "allowed_uses" not in set(m.rows["family"])
    keys = set(zip(inst.ids[m.columns["parcel"]], m.columns["use"]))
    assert (3, "SKK") not in keys and (3, "TMD") not in keys and (6, "SKK") not in keys
    assert (6, "TMD") in keys and (3, "HNK") in keys  # tourism allowed in the buffer; keeping always allowed


def test_compile_touching_zone_does_not_exclude():
    """Membership needs an overlap of at least min_overlap_m2: raising it above p3's overlap frees p3."""
    loaded = _loaded(lambda r: r["constraints"]["allowed_uses"].update({"min_overlap_m2": 7000}))
    inst = load_instance(loaded)
    m = compile_model(inst, loaded).model
    # p3's overlap with the strict zone is 80 m × 80 m = 6400 m² < 7000: no longer excluded
    assert set(m.ineligible["parcel"].map(lambda i: inst.ids[i])) == {6}


def test_verify_catches_conversion_inside_zone():
    loaded = _loaded()
    inst = load_instance(loaded)
    from optimizer.engine.decode import decode
    from optimizer.engine.solvers import get_adapter

    compiled = compile_model(inst, loaded)
    plan = decode(compiled, inst, get_adapter("highs").solve(compiled.model, loaded.scenario.solver).x)
    fam = AllowedUses.from_scenario(loaded)
    assert verify_allocation(loaded, inst, plan, [fam]).ok
    plan.loc[plan["parcel_id"] == 6, ["new_use", "changed"]] = ["SKK", True]
    v = verify_allocation(loaded, inst, plan, [fam]).violations
    assert [(x.family, x.key, x.parcels) for x in v] == [("allowed_uses", "buffer: vùng đệm thử nghiệm", (6,))]


def test_error_zone_layer_missing():
    loaded = _loaded(lambda r: r["constraints"]["allowed_uses"].update({"layer": "nope.gpkg"}))
    with pytest.raises(InputError, match="nope.gpkg.*zone layer not found"):
        compile_model(load_instance(loaded), loaded)


def test_error_zone_field_missing():
    loaded = _loaded(lambda r: r["constraints"]["allowed_uses"].update({"class_field": "kind"}))
    with pytest.raises(InputError, match="zones.geojson: kind: field missing"):
        compile_model(load_instance(loaded), loaded)
