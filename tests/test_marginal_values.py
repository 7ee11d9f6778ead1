"""Marginal values priced by the next parcel, on strips whose answers are worked out by hand.

Every case is a strip of four parcels p1..p4 of 1, 2, 3 and 4 ha (100 m tall, 100·area m wide), all
annual crops (HNK) that may become an industrial park (SKK); the quota on SKK is the binding row.
"""

from __future__ import annotations

import pytest

from instances.synthetic import LAND_USES
from optimizer.engine.run import solve_scenario

from .helpers import strip_parcels, strip_scenario

SPANS = [(0, 100), (100, 300), (300, 600), (600, 1000)]   # p1..p4: 1, 2, 3, 4 ha
SUIT = [5.0, 4.0, 3.0, 2.0]                              # suitability per ha: p1 is the best
COST = [1.0, 1.1, 1.2, 1.3]                              # cost per ha of converting each parcel


def solve(tmp_path, quota: dict, terms: dict):
    parcels = strip_parcels({"parcel_id": [1, 2, 3, 4], "district": "A", "current_use": "HNK",
                             "suit_industry": SUIT, "cost": COST}, SPANS)
    loaded = strip_scenario(tmp_path, parcels, name="strip", land_uses=LAND_USES, allocate=["SKK"], constraints={},
                            quotas={"SKK": quota}, terms=terms)
    run = solve_scenario(loaded, None).run
    assert run["status"] == "optimal"
    (item,) = run["marginal_values"]
    return run, item


MAXIMIZE_SUIT = {"suit": {"per_use": {"SKK": "suit_industry"}}}
MINIMIZE_COST = {"cost": {"weight": -1.0, "per_use": {"SKK": "cost"}}}


def test_a_cap_is_priced_by_the_parcel_that_would_enter(tmp_path):
    """Cap 3.5 ha, maximize Σ suit·ha. Best plan {p1, p2}: 3 ha, 5 + 8 = 13. The cap binds: 0.5 ha of room,
    and the smallest parcel that could enter is p3 (3 ha). Relaxed by the largest such parcel (p4, 4 ha)
    to 7.5 ha, the best plan is {p1, p2, p3}: 6 ha, 22 ({p1, p2, p4} is 7 ha but 21). The next parcel is
    p3: +3 ha for +9, i.e. +3.00 per ha of cap."""
    run, item = solve(tmp_path, {"lo": 0, "hi": 3.5}, MAXIMIZE_SUIT)
    assert run["objective"] == pytest.approx(13)
    assert item["side"] == "hi" and item["bound"] == 3.5 and item["moved_to"] == pytest.approx(7.5)
    assert item["step"] == pytest.approx(3) and item["delta_objective"] == pytest.approx(9)
    assert item["marginal_value"] == pytest.approx(3.0) and item["conclusive"]
    assert item["parcels_in"] == [3] and item["parcels_out"] == []
    assert "3.00 per ha" in item["explanation_en"] and "3,00 trên mỗi ha" in item["explanation_vi"]


def test_a_floor_is_priced_by_the_parcel_that_would_leave(tmp_path):
    """Floor 4.5 ha, minimize Σ cost·ha (maximize its negative). Plans of ≥ 4.5 ha: {p2, p3} costs
    2.2 + 3.6 = 5.8 (5 ha), {p1, p4} 1 + 5.2 = 6.2, anything larger more: the plan is {p2, p3}, −5.8.
    The floor binds (0.5 ha above it, the smallest parcel that could leave is p2, 2 ha). Relaxed by the
    largest such parcel (p3, 3 ha) to 1.5 ha, the best plan is {p2}: −2.2 (p1 alone is only 1 ha).
    p3 leaves: −3 ha for +3.6, so one more hectare of the floor costs 1.20: −1.20 per ha."""
    run, item = solve(tmp_path, {"lo": 4.5}, MINIMIZE_COST)
    assert run["objective"] == pytest.approx(-5.8)
    assert item["side"] == "lo" and item["moved_to"] == pytest.approx(1.5)
    assert item["step"] == pytest.approx(-3) and item["delta_objective"] == pytest.approx(3.6)
    assert item["marginal_value"] == pytest.approx(-1.2) and item["conclusive"]
    assert item["parcels_out"] == [3] and item["parcels_in"] == []


def test_a_band_narrower_than_a_parcel_is_priced_on_the_side_that_binds_up(tmp_path):
    """Band 2.5–3.5 ha, maximize suitability: the plan {p1, p2} (3 ha, 13) is 0.5 ha from both ends and
    no parcel fits either way, so the band binds on both sides as far as slack goes. Only the cap holds
    the plan back: relaxed as in the cap case it pays +9 for +3 ha (+3.00 per ha); the floor, relaxed,
    pays nothing. The side reported — for the marginal value, the binding row and the quota — is "hi"."""
    run, item = solve(tmp_path, {"lo": 2.5, "hi": 3.5}, MAXIMIZE_SUIT)
    assert run["objective"] == pytest.approx(13)
    assert item["side"] == "hi" and item["band_narrower_than_a_parcel"]
    assert item["marginal_value"] == pytest.approx(3.0)
    (binding,) = run["binding"]
    assert binding["side"] == "hi" and binding["band_narrower_than_a_parcel"]
    assert next(q for q in run["quotas"] if q["key"] == "SKK")["binding"] == "hi"


def test_a_band_narrower_than_a_parcel_is_priced_on_the_side_that_binds_down(tmp_path):
    """Band 4.5–5.5 ha, minimize cost: the plan {p2, p3} (5 ha, −5.8) is 0.5 ha from both ends, the
    smallest parcels that could move being p1 (1 ha, in) and p2 (2 ha, out). Converting costs, so the
    floor binds: relaxed by p3 (3 ha) to 1.5 ha, {p2} costs 2.2 — p3 leaves, −3 ha for +3.6, −1.20 per ha."""
    run, item = solve(tmp_path, {"lo": 4.5, "hi": 5.5}, MINIMIZE_COST)
    assert run["objective"] == pytest.approx(-5.8)
    assert item["side"] == "lo" and item["band_narrower_than_a_parcel"]
    assert item["marginal_value"] == pytest.approx(-1.2) and item["parcels_out"] == [3]
    assert next(q for q in run["quotas"] if q["key"] == "SKK")["binding"] == "lo"


def test_marginal_values_wait_for_a_proven_plan(tmp_path):
    """A plan stopped by a limit is not priced: the run says why instead of re-solving from it."""
    from optimizer.engine.problem import ExplainOptions, SinglePeriod
    from optimizer.engine.solvers.base import TIME_LIMIT

    parcels = strip_parcels({"parcel_id": [1, 2, 3, 4], "district": "A", "current_use": "HNK",
                             "suit_industry": SUIT, "cost": COST}, SPANS)
    loaded = strip_scenario(tmp_path, parcels, name="strip", land_uses=LAND_USES, allocate=["SKK"], constraints={},
                            quotas={"SKK": {"lo": 0, "hi": 3.5}}, terms=MAXIMIZE_SUIT)
    problem = SinglePeriod(loaded, loaded.scenario.solver)
    from optimizer.engine.solvers import get_adapter

    result = get_adapter("highs").solve(problem.model, loaded.scenario.solver)
    result.termination = TIME_LIMIT
    found = problem.explain(result, ExplainOptions(marginals=True), lambda _: None).run
    assert found["marginal_values"] == [] and "not proven (time_limit)" in found["marginal_values_skipped"]
    assert found["binding"]


def test_ctrl_c_while_pricing_keeps_the_proven_plan(tmp_path):
    """SIGINT while the binding rows of the quick Cao Bằng plan are priced (given 30 s for it): the plan
    is already proven, so the run is written whole with exit 0, the rows not priced are listed as skipped
    because of the interruption, and the written plan verifies."""
    import json
    import signal
    import subprocess
    import sys

    from .conftest import ROOT

    quick = ROOT / "instances" / "cao_bang" / "scenarios" / "cao_bang_2030_quick.yaml"
    scenario = tmp_path / "slow_pricing.yaml"
    scenario.write_text(f'extends: "{quick}"\nexplain: {{marginal_min_s: 30}}\n', encoding="utf-8")
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "optimizer", "solve", str(scenario), "--out", str(out),
                             "--store", "none", "--json"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    for line in proc.stderr:
        if line.startswith("marginal values:"):
            break
    import time

    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["status"] == "optimal" and "interrupted" in run["marginal_values_skipped"]
    assert all("skipped" in m or m["termination"] for m in run["marginal_values"])
    check = subprocess.run([sys.executable, "-m", "optimizer", "verify", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_quick_scenario_cap_value_agrees_with_two_what_ifs(tmp_path):
    """The quick Cao Bằng plan with the industrial-park cap raised to 250 ha: the marginal value reported
    for that cap has the sign and the order of magnitude of the difference between two independent
    what-if runs, at 250 ha and at the cap the pricing moved it to, computed here from their objectives."""
    from optimizer.engine.scenario import apply_overrides, load_scenario

    from .conftest import ROOT

    quick = load_scenario(ROOT / "instances" / "cao_bang" / "scenarios" / "cao_bang_2030_quick.yaml")
    a = solve_scenario(apply_overrides(quick, {"quotas.SKK.hi": 250, "explain.marginal_min_s": 40}), None).run
    item = next(m for m in a["marginal_values"] if m["key"] == "SKK" and m["family"] == "quota_area")
    assert item["side"] == "hi" and item["marginal_value"] is not None, item
    b = solve_scenario(apply_overrides(quick, {"quotas.SKK.hi": item["moved_to"], "explain.marginal_values": False}),
                       None).run

    def skk(run: dict) -> float:
        return next(q for q in run["quotas"] if q["key"] == "SKK")["achieved"]

    assert skk(b) > skk(a)
    what_ifs = (b["objective"] - a["objective"]) / (skk(b) - skk(a))
    assert what_ifs > 0 and item["marginal_value"] > 0
    assert 0.1 <= item["marginal_value"] / what_ifs <= 10


def test_explain_prices_a_solved_run_from_its_saved_solution(cli, tmp_path):
    """`landalloc explain RUN --marginals`: the run's binding rows priced from solution.npz, without a new
    solve of the plan, with the same hand values as the solve's own pricing (tiny: SKK cap +2.00 per ha,
    see test_cli_end_to_end), written into run.json; a run whose inputs compile to another model is refused."""
    import json

    from .conftest import TINY

    out = tmp_path / "run"
    assert cli("solve", TINY, "--out", out, "--no-marginals", "--store", "none").exit_code == 0
    before = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert "marginal_values" not in before and (out / "solution.npz").is_file()
    res = cli("explain", out, "--marginals", "--budget", "5", "--json")
    assert res.exit_code == 0, res.stderr
    priced = {(m["key"], m["side"]): m["marginal_value"] for m in json.loads(res.stdout)["marginal_values"]}
    assert priced == {("SKK", "hi"): pytest.approx(2.0), ("TMD", "hi"): pytest.approx(0.0)}
    after = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert {m["key"] for m in after["marginal_values"]} == {"SKK", "TMD"} and list(after)[-1] == "scenario"
    assert after["objective"] == before["objective"] and cli("verify", out).exit_code == 0
    # the scenario stored in run.json asks for another model: the saved solution is not reused
    after["scenario"]["quotas"]["TMD"]["hi"] = 3
    (out / "run.json").write_text(json.dumps(after), encoding="utf-8")
    res = cli("explain", out, "--marginals")
    assert res.exit_code == 2 and "another model" in res.stderr
