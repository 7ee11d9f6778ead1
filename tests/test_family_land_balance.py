"""land_balance: exact rows on a hand-made row of parcels, a hand-derived optimum, verify, errors.

The instance (EPSG:9210, all cells 100 m tall; p2 is 200 m wide, so 2 ha, every other parcel 1 ha):

    | p1 LUA | p2 LUA 2 ha | p3 HNK | p4 RSX | p5 BCS | p6 ONT |
    suit:  10      11          6        9        3        5        value of SKK = suit × area

Groups from land_uses: LUA, HNK, RSX agricultural (5 ha), BCS unused (1 ha), ONT, SKK
non-agricultural (1 ha). allocate: [SKK]; maximize Σ value over conversions.

Hand derivation with agricultural ≥ 3 ha, non-agricultural ≤ 3 ha:
p6 ONT→SKK (+5) stays non-agricultural, so it is always taken. Every other conversion moves its area
into non-agricultural, so at most 2 ha more may convert (≤ 3 ha), and at most 2 ha may leave
agriculture (≥ 3 ha). Best 2 ha: p2 alone = 22 > p1 + p4 = 19 > p1 + p3 = 16 → optimum 27
(p2, p6 → SKK).
With the rice cap (≤ 1 ha of LUA converted) p2 (2 ha of LUA) is out: best p1 + p4 = 19 → optimum 24
(p1, p4, p6 → SKK). Without any land balance every parcel converts: 10 + 22 + 6 + 9 + 3 + 5 = 55.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from constraints.land_balance import LandBalance
from optimizer.engine.compile import compile_model
from optimizer.engine.errors import InputError
from optimizer.engine.instance import load_instance
from optimizer.engine.verify import verify_allocation

from .helpers import row_terms, solve_highs, strip_parcels, strip_scenario

LAND_USES = {
    "LUA": {"name_vi": "Đất trồng lúa", "name_en": "Rice land", "group": "agricultural"},
    "HNK": {"name_vi": "Đất trồng cây hằng năm khác", "name_en": "Other annual crops", "group": "agricultural"},
    "RSX": {"name_vi": "Đất rừng sản xuất", "name_en": "Production forest", "group": "agricultural", "forest": True},
    "BCS": {"name_vi": "Đất bằng chưa sử dụng", "name_en": "Unused flat land", "group": "unused"},
    "ONT": {"name_vi": "Đất ở tại nông thôn", "name_en": "Rural residential", "group": "non_agricultural"},
    "SKK": {"name_vi": "Đất khu công nghiệp", "name_en": "Industrial park", "group": "non_agricultural"},
}
# id, current use, x from, x to (m), suitability
PARCELS = [(1, "LUA", 0, 100, 10), (2, "LUA", 100, 300, 11), (3, "HNK", 300, 400, 6),
           (4, "RSX", 400, 500, 9), (5, "BCS", 500, 600, 3), (6, "ONT", 600, 700, 5)]


def _loaded(tmp_path: Path, land_balance: dict | None):
    parcels = strip_parcels({"parcel_id": [p[0] for p in PARCELS], "current_use": [p[1] for p in PARCELS],
                             "district": "Huyện A", "suit_industry": [float(p[4]) for p in PARCELS]},
                            [(a, b) for _, _, a, b, _ in PARCELS])
    return strip_scenario(tmp_path, parcels, name="lb", land_uses=LAND_USES, allocate=["SKK"],
                          constraints={} if land_balance is None else {"land_balance": land_balance})


BANDS = {"groups": {"agricultural": {"lo": 3, "source": "≥ 3 ha stays agricultural"}, "non_agricultural": {"hi": 3}}}
RICE = {"caps": {"rice": {"codes": ["LUA"], "max_converted_ha": 1}}}


def _row(m, inst, key):
    return row_terms(m, inst, "land_balance", key)


def test_compile_group_rows_and_rice_cap(tmp_path):
    cfg = {**BANDS, **RICE, "tolerance_ha": 0.5}
    loaded = _loaded(tmp_path, cfg)
    inst = load_instance(loaded)
    m = compile_model(inst, loaded).model
    assert list(m.rows.loc[m.rows["family"] == "land_balance", "key"]) == ["agricultural", "non_agricultural", "cap:rice"]
    # agricultural: the keep columns of p1..p4 (SKK is non-agricultural), band widened by the tolerance
    assert _row(m, inst, "agricultural") == ([(1, "LUA", 1.0), (2, "LUA", 2.0), (3, "HNK", 1.0), (4, "RSX", 1.0)],
                                             2.5, np.inf, True, "ha")
    # non-agricultural: every SKK column plus p6 keeping ONT
    entries, lo, hi, soft, _ = _row(m, inst, "non_agricultural")
    assert entries == [(1, "SKK", 1.0), (2, "SKK", 2.0), (3, "SKK", 1.0), (4, "SKK", 1.0), (5, "SKK", 1.0),
                       (6, "ONT", 1.0), (6, "SKK", 1.0)]
    assert (lo, hi, soft) == (-np.inf, 3.5, True)
    # the rice cap holds only conversion columns of LUA parcels
    assert _row(m, inst, "cap:rice") == ([(1, "SKK", 1.0), (2, "SKK", 2.0)], -np.inf, 1.0, True, "ha")


def test_compile_no_rows_for_unconfigured_groups(tmp_path):
    loaded = _loaded(tmp_path, {"groups": {"unused": {"lo": 0.5}}})
    inst = load_instance(loaded)
    m = compile_model(inst, loaded).model
    assert list(m.rows.loc[m.rows["family"] == "land_balance", "key"]) == ["unused"]
    assert _row(m, inst, "unused")[:3] == ([(5, "BCS", 1.0)], 0.5, np.inf)


@pytest.mark.parametrize("cfg, objective, converted", [
    (None, 55.0, {1, 2, 3, 4, 5, 6}),
    (BANDS, 27.0, {2, 6}),
    ({**BANDS, **RICE}, 24.0, {1, 4, 6}),
])
def test_solve_hand_optimum(tmp_path, cfg, objective, converted):
    loaded = _loaded(tmp_path, cfg)
    inst, compiled, result, plan = solve_highs(loaded)
    assert result.objective == pytest.approx(objective, abs=1e-6)
    assert set(plan.loc[plan["changed"], "parcel_id"]) == converted
    report = verify_allocation(loaded, inst, plan)
    assert report.ok, report.violations
    assert report.objective == pytest.approx(objective, abs=1e-6)


def test_verify_catches_perturbed_plan(tmp_path):
    loaded = _loaded(tmp_path, {**BANDS, **RICE})
    inst, _, _, plan = solve_highs(loaded)
    fam = LandBalance.from_scenario(loaded)
    assert verify_allocation(loaded, inst, plan, [fam]).ok
    bad = plan.copy()
    bad.loc[bad["parcel_id"] == 3, ["new_use", "changed"]] = ["SKK", True]  # agr 2 ha < 3, non-agr 4 ha > 3
    v = verify_allocation(loaded, inst, bad, [fam]).violations
    assert [(x.family, x.key) for x in v] == [("land_balance", "agricultural"), ("land_balance", "non_agricultural")]
    assert "2.0000 ha of agricultural land is below lo = 3" in v[0].message
    assert "4.0000 ha of non_agricultural land is above hi = 3" in v[1].message
    bad = plan.copy()
    bad.loc[bad["parcel_id"] == 4, ["new_use", "changed"]] = ["RSX", False]
    bad.loc[bad["parcel_id"] == 1, ["new_use", "changed"]] = ["LUA", False]
    bad.loc[bad["parcel_id"] == 2, ["new_use", "changed"]] = ["SKK", True]  # 2 ha of rice land > cap 1 ha
    v = verify_allocation(loaded, inst, bad, [fam]).violations
    assert [(x.key, x.parcels) for x in v] == [("cap:rice", (2,))]
    assert "2.0000 ha of ['LUA'] converted, above max_converted_ha = 1.0 ha" in v[0].message


def test_report_balance_and_reference_difference(tmp_path):
    """The plan's group figures (3 + 3 + 1 = 7 ha) against a stated natural area of 6.99 ha: the 0.01 ha
    difference is reported, as Cao Bằng's 630,316 + 38,346 + 1,377 = 670,039 vs 670,030 ha must be."""
    cfg = {"groups": {"agricultural": {"lo": 3}, "non_agricultural": {"hi": 3}, "unused": {"figure": 1}},
           "natural_area_ha": 6.99, **RICE}
    loaded = _loaded(tmp_path, cfg)
    inst, compiled, _, plan = solve_highs(loaded)
    rows = compiled.model.rows
    assert list(rows.loc[rows["family"] == "land_balance", "key"]) == ["agricultural", "non_agricultural", "cap:rice"]
    figures = verify_allocation(loaded, inst, plan).figures
    rows = {r["group"]: r for r in figures["land_balance"]}
    assert [r["group"] for r in figures["land_balance"]] == ["agricultural", "non_agricultural", "unused", "total"]
    assert (rows["agricultural"]["before"], rows["agricultural"]["achieved"], rows["agricultural"]["at_lo"]) == (5.0, 3.0, True)
    assert (rows["non_agricultural"]["before"], rows["non_agricultural"]["achieved"]) == (1.0, 3.0)
    assert (rows["unused"]["before"], rows["unused"]["achieved"], rows["unused"]["reference"]) == (1.0, 1.0, 1.0)
    total = rows["total"]
    assert total["reference_total"] == 7.0 and total["natural_area_ha"] == 6.99
    assert total["difference_ha"] == pytest.approx(0.01)
    assert total["parcel_area_ha"] == pytest.approx(7.0) and total["parcel_area_difference_ha"] == pytest.approx(0.01)
    assert "note" not in total
    assert figures["land_balance_caps"] == [{"key": "rice", "codes": ["LUA"], "max_converted_ha": 1.0,
                                             "converted_ha": 1.0, "ok": True, "source": None}]


def test_report_cao_bang_nine_hectares(tmp_path):
    """The plan's own figures: 630,316 + 38,346 + 1,377 = 670,039 ha against 670,030 ha of natural area."""
    cfg = {"groups": {"agricultural": {"figure": 630316}, "non_agricultural": {"figure": 38346},
                      "unused": {"figure": 1377}}, "natural_area_ha": 670030}
    loaded = _loaded(tmp_path, cfg)
    inst, compiled, _, plan = solve_highs(loaded)
    assert "land_balance" not in set(compiled.model.rows["family"])  # figures alone add no rows
    total = verify_allocation(loaded, inst, plan).figures["land_balance"][-1]
    assert (total["reference_total"], total["natural_area_ha"], total["difference_ha"]) == (670039.0, 670030, 9.0)


def test_report_incomplete_balance_is_not_a_difference(tmp_path):
    """Without a figure for every group, the partial sum is not reported as a mismatch."""
    loaded = _loaded(tmp_path, {**BANDS, "natural_area_ha": 6.99})
    inst, _, _, plan = solve_highs(loaded)
    total = verify_allocation(loaded, inst, plan).figures["land_balance"][-1]
    assert total["reference_total"] == 6.0 and total["reference_groups"] == ["agricultural", "non_agricultural"]
    assert total["difference_ha"] is None and "no figure for unused" in total["note"]


def test_figure_defaults():
    from constraints.land_balance import GroupBand

    assert GroupBand(lo=3).reference == 3 and GroupBand(hi=4).reference == 4
    assert GroupBand(lo=2, hi=4).reference == 3 and GroupBand(lo=2, hi=4, figure=2.5).reference == 2.5


def test_error_unknown_cap_code(tmp_path):
    loaded = _loaded(tmp_path, {"caps": {"rice": {"codes": ["LUK"], "max_converted_ha": 1}}})
    with pytest.raises(InputError, match=r"test.yaml: constraints.land_balance.caps.rice.codes: unknown land-use code\(s\) \['LUK'\].*fix: use codes from land_uses"):
        compile_model(load_instance(loaded), loaded)


def test_error_unknown_group_and_bad_band(tmp_path):
    with pytest.raises(InputError, match=r"constraints.land_balance.groups.forest"):
        LandBalance.from_scenario(_loaded(tmp_path, {"groups": {"forest": {"lo": 1}}}))
    with pytest.raises(InputError, match=r"constraints.land_balance.groups.agricultural.*lo \(5.0\) is greater than hi \(3.0\)"):
        LandBalance.from_scenario(_loaded(tmp_path, {"groups": {"agricultural": {"lo": 5, "hi": 3}}}))
    with pytest.raises(InputError, match=r"constraints.land_balance.*at least one group band"):
        LandBalance.from_scenario(_loaded(tmp_path, {}))
    with pytest.raises(InputError, match=r"constraints.land_balance.groups.unused.*needs lo, hi or both.*or figure alone"):
        LandBalance.from_scenario(_loaded(tmp_path, {"groups": {"unused": {"source": "?"}}}))
