"""What the objective is made of: every term with its weight, quantity, unit and contribution, summing
to the objective (run.json ``objective_terms``)."""

from __future__ import annotations

import pytest

from optimizer.engine.run import solve_scenario
from optimizer.engine.scenario import load_scenario

from .conftest import TINY
from .test_phasing import expanding_park


def test_tiny_objective_terms_by_hand():
    """tests/test_tiny.py derives the optimum 29: p1, p5 → SKK and p4, p6 → TMD. Suitability of the
    converted parcels: 5·1 + 6·2 + 6·1 + 8·1 = 31 (Σ suit × ha); forest converted: p6, 1 ha, at −2 per ha."""
    run = solve_scenario(load_scenario(TINY), None).run
    terms = {t["name"]: t for t in run["objective_terms"]}
    assert set(terms) == {"suitability", "forest_loss"}
    assert terms["suitability"]["quantity"] == pytest.approx(31) and terms["suitability"]["contribution"] == pytest.approx(31)
    assert terms["suitability"]["unit"] == "ha × value"
    assert terms["forest_loss"]["quantity"] == pytest.approx(1) and terms["forest_loss"]["weight"] == -2
    assert terms["forest_loss"]["contribution"] == pytest.approx(-2) and terms["forest_loss"]["unit"] == "ha × is_forest"
    assert sum(t["contribution"] for t in terms.values()) == pytest.approx(run["objective"]) == pytest.approx(29)


def test_phased_terms_carry_their_period_and_weight(tmp_path):
    """A phased objective is Σ period weight × the period's objective: each term is listed per period with
    its weight applied, and the terms still sum to the objective."""
    path, _ = expanding_park(tmp_path)
    run = solve_scenario(load_scenario(path), None).run
    assert run["status"] == "optimal"
    periods = {t["period"] for t in run["objective_terms"]}
    assert periods == {"2030", "2050"}
    for t in run["objective_terms"]:
        assert t["contribution"] == pytest.approx(t["period_weight"] * t["weight"] * t["quantity"])
    assert sum(t["contribution"] for t in run["objective_terms"]) == pytest.approx(run["objective"])


def test_marxan_score_terms_sum_to_the_score(tmp_path):
    """A Marxan run's objective is Marxan's score: cost + BLM × boundary + shortfall penalty, listed as terms."""
    from optimizer.workflows.marxan import import_and_solve

    from .conftest import ROOT

    data, code, imported = import_and_solve(ROOT / "tests" / "data" / "marxan" / "small3_csv", tmp_path / "s",
                                            targets="soft", linearization="aggregated")
    run = solve_scenario(load_scenario(imported.scenario_path), None).run
    terms = {t["name"]: t["contribution"] for t in run["objective_terms"]}
    assert set(terms) == {"cost", "connection", "shortfall penalty"}
    assert sum(terms.values()) == pytest.approx(run["objective"]) == pytest.approx(run["marxan"]["score"]["score"])
    assert terms["cost"] == pytest.approx(run["marxan"]["score"]["cost"])
