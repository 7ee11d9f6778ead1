"""forest_cover: exact rows, a hand-derived optimum that forest cover changes, verify, errors.

The instance (EPSG:9210, cells 100 m tall; p5 is 200 m wide, so 2 ha, every other parcel 1 ha):

    | p1 RSX | p2 RSX | p3 HNK | p4 HNK | p5 RSX 2 ha |
    suit:  10       9        7        4        6              value of SKK = suit × area

RSX is marked ``forest: true``; forest before = p1 + p2 + p5 = 4 ha of 6 ha. The SKK quota is
exactly 2 ha; maximize Σ value over conversions.

Hand derivation:
- no forest constraint: best 2 ha is p1 + p2 = 19 (p1 + p3 = 17, p5 = 12, p3 + p4 = 11);
- min_share 0.5 of the parcel area (3 ha of forest must remain, so at most 1 ha may be lost):
  p1 + p2 and p5 lose 2 ha; best is p1 + p3 = 17;
- min_share 0.5 of a stated natural area of 8 ha (4 ha: no forest may be lost): p3 + p4 = 11;
- max_loss_ha 0.5 alone (no 1 ha forest parcel may go): p3 + p4 = 11.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from constraints.forest_cover import ForestCover
from optimizer.engine.compile import compile_model
from optimizer.engine.errors import InputError
from optimizer.engine.instance import load_instance
from optimizer.engine.verify import verify_allocation

from .helpers import row_terms, solve_highs, strip_parcels, strip_scenario

LAND_USES = {
    "RSX": {"name_vi": "Đất rừng sản xuất", "name_en": "Production forest", "group": "agricultural", "forest": True},
    "RPH": {"name_vi": "Đất rừng phòng hộ", "name_en": "Protection forest", "group": "agricultural", "forest": True},
    "HNK": {"name_vi": "Đất trồng cây hằng năm khác", "name_en": "Other annual crops", "group": "agricultural"},
    "SKK": {"name_vi": "Đất khu công nghiệp", "name_en": "Industrial park", "group": "non_agricultural"},
}
PARCELS = [(1, "RSX", 0, 100, 10), (2, "RSX", 100, 200, 9), (3, "HNK", 200, 300, 7), (4, "HNK", 300, 400, 4),
           (5, "RSX", 400, 600, 6)]


def _loaded(tmp_path: Path, forest_cover: dict | None, allocate=("SKK",), land_uses=LAND_USES):
    parcels = strip_parcels({"parcel_id": [p[0] for p in PARCELS], "current_use": [p[1] for p in PARCELS],
                             "district": "Huyện A", "suit_industry": [float(p[4]) for p in PARCELS]},
                            [(a, b) for _, _, a, b, _ in PARCELS])
    return strip_scenario(tmp_path, parcels, name="fc", land_uses=land_uses, allocate=allocate,
                          quotas={"SKK": {"lo": 2, "hi": 2}},
                          constraints={} if forest_cover is None else {"forest_cover": forest_cover})


def _row(m, inst, key):
    return row_terms(m, inst, "forest_cover", key)[:4]


def test_compile_rows_count_kept_and_new_forest(tmp_path):
    """With RPH (a second forest code) in allocate: RSX→RPH counts as forest and is not a loss."""
    loaded = _loaded(tmp_path, {"min_share": 0.5, "max_loss_ha": 1.5}, allocate=("SKK", "RPH"))
    inst = load_instance(loaded)
    m = compile_model(inst, loaded).model
    assert list(m.rows.loc[m.rows["family"] == "forest_cover", "key"]) == ["min_share", "max_loss"]
    assert _row(m, inst, "min_share") == ([(1, "RPH", 1.0), (1, "RSX", 1.0), (2, "RPH", 1.0), (2, "RSX", 1.0),
                                          (3, "RPH", 1.0), (4, "RPH", 1.0), (5, "RPH", 2.0), (5, "RSX", 2.0)],
                                         3.0, np.inf, True)
    assert _row(m, inst, "max_loss") == ([(1, "SKK", 1.0), (2, "SKK", 1.0), (5, "SKK", 2.0)], -np.inf, 1.5, True)


def test_compile_stated_natural_area(tmp_path):
    loaded = _loaded(tmp_path, {"min_share": 0.6, "natural_area_ha": 5})
    inst = load_instance(loaded)
    m = compile_model(inst, loaded).model
    entries, lo, hi, _ = _row(m, inst, "min_share")
    assert entries == [(1, "RSX", 1.0), (2, "RSX", 1.0), (5, "RSX", 2.0)] and lo == pytest.approx(3.0)
    assert "max_loss" not in set(m.rows["key"])


@pytest.mark.parametrize("cfg, objective, converted", [
    (None, 19.0, {1, 2}),
    ({"min_share": 0.5}, 17.0, {1, 3}),
    ({"min_share": 0.5, "natural_area_ha": 8}, 11.0, {3, 4}),
    ({"min_share": 0.0, "max_loss_ha": 0.5}, 11.0, {3, 4}),
])
def test_solve_forest_cover_changes_the_choice(tmp_path, cfg, objective, converted):
    loaded = _loaded(tmp_path, cfg)
    inst, _, result, plan = solve_highs(loaded)
    assert result.objective == pytest.approx(objective, abs=1e-6)
    assert set(plan.loc[plan["changed"], "parcel_id"]) == converted
    report = verify_allocation(loaded, inst, plan)
    assert report.ok, report.violations


def test_report_figures(tmp_path):
    loaded = _loaded(tmp_path, {"min_share": 0.5, "source": "≥ 50 % forest"})
    inst, _, _, plan = solve_highs(loaded)
    [row] = verify_allocation(loaded, inst, plan).figures["forest_cover"]
    assert row["before_ha"] == 4.0 and row["after_ha"] == 3.0
    assert row["share_before"] == pytest.approx(4 / 6) and row["share_after"] == pytest.approx(0.5)
    assert row["min_share"] == 0.5 and row["natural_area_ha"] == pytest.approx(6.0) and row["natural_area_source"] == "parcel layer"
    assert row["at_min"] is True and row["ok"] is True and row["loss_ha"] == 1.0 and row["source"] == "≥ 50 % forest"


def test_verify_catches_forest_below_share_and_loss(tmp_path):
    loaded = _loaded(tmp_path, {"min_share": 0.5, "max_loss_ha": 1})
    inst, _, _, plan = solve_highs(loaded)
    fam = ForestCover.from_scenario(loaded)
    assert verify_allocation(loaded, inst, plan, [fam]).ok
    plan.loc[plan["parcel_id"] == 2, ["new_use", "changed"]] = ["SKK", True]
    v = verify_allocation(loaded, inst, plan, [fam]).violations
    assert [(x.family, x.key) for x in v] == [("forest_cover", "min_share"), ("forest_cover", "max_loss")]
    assert "forest after conversion 2.0000 ha = 33.3333% of 6.0" in v[0].message and "below min_share 50.00%" in v[0].message
    assert v[1].parcels == (1, 2) and "2.0000 ha of forest converted" in v[1].message


def test_error_share_above_one(tmp_path):
    with pytest.raises(InputError, match=r"test.yaml: constraints.forest_cover.min_share: Input should be less than or equal to 1"):
        ForestCover.from_scenario(_loaded(tmp_path, {"min_share": 60}))


def test_error_no_forest_code(tmp_path):
    land_uses = {k: {**v, "forest": False} for k, v in LAND_USES.items()}
    loaded = _loaded(tmp_path, {"min_share": 0.6}, land_uses=land_uses)
    with pytest.raises(InputError, match=r"test.yaml: land_uses: no land-use code is marked forest.*fix: mark the forest codes with `forest: true`"):
        compile_model(load_instance(loaded), loaded)


def test_error_unknown_key(tmp_path):
    with pytest.raises(InputError, match=r"constraints.forest_cover.min_cover: Extra inputs are not permitted"):
        ForestCover.from_scenario(_loaded(tmp_path, {"min_share": 0.6, "min_cover": 0.6}))
