"""Multi-period phasing on the tiny instance, checked against brute-force enumeration."""

from __future__ import annotations

import copy
import itertools
import json

import numpy as np
import pyogrio
import pytest
import yaml

from constraints import registry
from optimizer.engine.compile import compile_model
from optimizer.engine.decode import decode
from optimizer.engine.instance import load_instance
from optimizer.engine.phasing import compile_phased, period_objectives, solve_myopic, verify_nesting
from optimizer.engine.reachability import reachability
from optimizer.engine.run import solve_scenario
from optimizer.engine.scenario import load_scenario
from optimizer.engine.solvers import get_adapter

from .helpers import Hookless, tiny_raw, write_scenario
from .test_family_sites import grid

# tiny objective per conversion (see test_tiny.py): value[use][parcel]; p3 strict, p6 buffer (no SKK)
VALUE = {"SKK": {1: 5, 2: 4, 4: 3, 5: 12}, "TMD": {1: 1, 2: 0, 4: 6, 5: 2, 6: 6}}
AREA = {1: 1, 2: 2, 3: 1, 4: 1, 5: 2, 6: 1}
BANDS = {"2030": {"SKK": (3, 3), "TMD": (1, 2)}, "2050": {"SKK": (4, 5), "TMD": (1, 3)}}
WEIGHT = {"2030": 1.0, "2050": 0.5}


def plans(period, bands=BANDS):
    """Every plan of one period that meets its bands: dict parcel → use (None = keep)."""
    out = []
    for combo in itertools.product([None, "SKK", "TMD"], repeat=6):
        plan = dict(zip(range(1, 7), combo))
        if any(u is not None and p not in VALUE[u] for p, u in plan.items()):
            continue
        if all(lo <= sum(AREA[p] for p, u in plan.items() if u == use) <= hi for use, (lo, hi) in bands[period].items()):
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
    raw = tiny_raw()
    raw["periods"] = {
        "2030": {"weight": WEIGHT["2030"]},
        "2050": {"weight": WEIGHT["2050"], "overrides": {"quotas": {
            "SKK": {"lo": 4, "hi": 5}, "TMD": {"lo": 1, "hi": 3}}}},
    }
    return write_scenario(tmp_path / "phased.yaml", raw)


def test_joint_optimum_equals_brute_force(cli, phased, tmp_path):
    res = cli("solve", phased, "--out", tmp_path / "run", "--json", "--no-marginals")
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)
    assert run["objective"] == pytest.approx(brute_force())
    # the joint solve started from the myopic plan, which the joint optimum can only improve on
    assert run["warm_start"]["objective"] <= run["objective"] + 1e-9
    assert [p["period"] for p in run["warm_start"]["periods"]] == ["2030", "2050"]
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


LATER_KCN = {"constraints": {"sites": {"neighbourhood": 1.0,
                                     "sites": [{"name": "KCN", "use": "SKK", "min_ha": 6, "max_ha": 6}]}}}
"""the 2050 park: up to 6 ha"""


def expanding_park(tmp_path):
    """A row of 12 one-hectare cells with suitability 9, 8, five 0s, five 7s; a 2 ha park KCN in 2030
    expanded to the 6 ha park KCN of 2050. Returns the scenario's path and raw dict."""
    values = [[9, 8, 0, 0, 0, 0, 0, 7, 7, 7, 7, 7]]
    path = grid(tmp_path, values, [{"name": "KCN", "use": "SKK", "min_ha": 2, "max_ha": 2}], cfg={"neighbourhood": 1.0})
    raw = yaml.safe_load(path.read_text())
    raw["periods"] = {"2030": {}, "2050": {"overrides": LATER_KCN, "site_expansions": {"KCN": "KCN"}}}
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False))
    return path, raw


def test_expanded_site_grows_from_its_earlier_candidates(tmp_path):
    """A row of 12 one-hectare cells. In 2030 a 2 ha park settles on the 9, 8 at the left end; alone,
    the 2050 park of up to 6 ha would centre on the run of 7s at the right end and could not contain
    it. Phasing seeds the 2050 neighbourhood with the 2030 candidates, so the expansion holds them
    and the joint plan keeps the 2030 park inside the 2050 one."""
    path, raw = expanding_park(tmp_path)
    loaded = load_scenario(path)
    inst = load_instance(loaded)
    phased = compile_phased(inst, loaded)
    cand = [next(f for f in b.compiled.families if f.name == "sites").candidates()["KCN"] for b in phased.blocks]
    assert sorted(inst.ids[cand[0]]) == [1, 2]
    assert set(inst.ids[cand[0]]) <= set(inst.ids[cand[1]])
    # without the seeds the 2050 neighbourhood lies at the right end
    alone = {k: v for k, v in raw.items() if k != "periods"} | LATER_KCN
    (tmp_path / "alone.yaml").write_text(yaml.safe_dump(alone, allow_unicode=True, sort_keys=False))
    la = load_scenario(tmp_path / "alone.yaml")
    fam = next(f for f in compile_model(inst, la).families if f.name == "sites")
    assert not set(inst.ids[cand[0]]) & set(inst.ids[fam.candidates()["KCN"]])
    res = get_adapter("highs").solve(phased.model, loaded.scenario.solver)
    assert res.termination == "optimal"


def nested(a, b):
    return all(u is None or b[p] == u for p, u in a.items())


def test_myopic_matches_brute_force_and_never_beats_joint(phased):
    """Myopic = the best 2030 plan alone, then the best 2050 plan that keeps it (enumerated here)."""
    loaded = load_scenario(phased)
    ph = compile_phased(load_instance(loaded), loaded)
    periods, x = solve_myopic(ph, loaded.scenario.solver)
    best_2030 = max(value(a) for a in plans("2030"))
    assert periods[0].period == "2030" and periods[0].objective == pytest.approx(best_2030)
    followups = [max(value(b) for b in plans("2050") if nested(a, b))
                 for a in plans("2030") if value(a) == best_2030]
    assert any(periods[1].objective == pytest.approx(f) for f in followups)
    assert period_objectives(ph, x) == pytest.approx([p.objective for p in periods])
    myopic_total = WEIGHT["2030"] * periods[0].objective + WEIGHT["2050"] * periods[1].objective
    assert myopic_total <= brute_force() + 1e-9


def test_a_family_without_hooks_leaves_a_phased_plan_unchanged(phased, tmp_path, monkeypatch):
    """A family that declares none of the optional hooks (the defaults) compiles into every period
    but adds no link row, no reachability item and no nesting check: the joint plan stays the same."""
    monkeypatch.setitem(registry(), Hookless.name, Hookless)
    raw = yaml.safe_load(phased.read_text())
    raw["constraints"][Hookless.name] = {}
    outcomes = []
    for path in (phased, write_scenario(tmp_path / "hookless.yaml", raw)):
        loaded = load_scenario(path)
        inst = load_instance(loaded)
        ph = compile_phased(inst, loaded)
        res = get_adapter("highs").solve(ph.model, loaded.scenario.solver)
        plans = [(b.name, decode(b.compiled, inst, ph.x_of(b, res.x))) for b in ph.blocks]
        outcomes.append({"families": [sorted(f.name for f in b.compiled.families) for b in ph.blocks],
                         "links": int((ph.model.rows["family"] == "phasing").sum()),
                         "reachability": [reachability(b.compiled, inst) for b in ph.blocks],
                         "nesting": verify_nesting(loaded, plans), "objective": res.objective})
    plain, hookless = outcomes
    assert all(Hookless.name in names and Hookless.name not in before
               for names, before in zip(hookless.pop("families"), plain.pop("families")))
    assert hookless["objective"] == pytest.approx(plain.pop("objective")) == brute_force()
    hookless.pop("objective")
    assert hookless == plain and plain["links"] > 0 and plain["nesting"] == []


def test_expanded_site_is_linked_on_the_site_field(tmp_path):
    """The 12-cell row of the test above: every y[p, KCN] of 2030 is tied to y[p, KCN] of 2050 by one
    phasing row, matched on the columns table's ``site`` field, which only the y columns carry."""
    loaded = load_scenario(expanding_park(tmp_path)[0])
    ph = compile_phased(load_instance(loaded), loaded)
    cols = ph.model.columns
    labelled = cols["site"].notna().to_numpy()
    assert (labelled == cols["key"].str.fullmatch(r"KCN: \d+").to_numpy()).all()   # y[p, KCN] = "KCN: <parcel id>"
    assert (cols.loc[labelled, "family"] == "sites").all() and (cols.loc[labelled, "use"] == "SKK").all()
    links = ph.model.A.tocsr()[np.nonzero((ph.model.rows["family"] == "phasing").to_numpy())[0]]
    pairs = set()
    for r in range(links.shape[0]):
        row = links.getrow(r)
        first, then = row.indices[row.data > 0][0], row.indices[row.data < 0][0]
        pairs.add((cols["period"].iat[first], cols["site"].iat[first], cols["parcel"].iat[first],
                   cols["period"].iat[then], cols["site"].iat[then], cols["parcel"].iat[then]))
    site_pairs = {p for p in pairs if isinstance(p[1], str)}
    early = cols[labelled & (cols["period"] == "2030").to_numpy()]
    assert site_pairs == {("2030", "KCN", p, "2050", "KCN", p) for p in early["parcel"]}


def test_a_renamed_expansion_contains_its_earlier_site(tmp_path):
    """site_expansions maps the later name to the earlier one ({"KCN 2050": "KCN"}): the 2030 park keeps
    its 2 ha and every parcel of it lies in the 2050 park, as with an unchanged name."""
    path, raw = expanding_park(tmp_path)
    later = copy.deepcopy(LATER_KCN)
    later["constraints"]["sites"]["sites"][0]["name"] = "KCN 2050"
    raw["periods"]["2050"] = {"overrides": later, "site_expansions": {"KCN 2050": "KCN"}}
    outcome = solve_scenario(load_scenario(write_scenario(tmp_path / "renamed.yaml", raw)), tmp_path / "run")
    assert outcome.exit_code == 0 and outcome.run["verify"]["ok"]
    plan = outcome.allocation
    park_2030 = set(plan.loc[(plan["period"] == "2030") & (plan["site"] == "KCN"), "parcel_id"])
    park_2050 = set(plan.loc[(plan["period"] == "2050") & (plan["site"] == "KCN 2050"), "parcel_id"])
    assert len(park_2030) == 2 and park_2030 <= park_2050
