"""The boundary term's linearization chosen by the structure of the zone boundary costs (optimizer/marxan/model.py).

A 3×3 grid, PUs 1 2 3 / 4 5 6 / 7 8 9, zones available / partial / reserve; one cost column (multipliers 0,
0.5, 1), one feature held 0 / 0.5 / 1 per unit of amount in the three zones (soft target 4, penalty 12), grid
edges of length 1, BLM 1.5; PU 1 may not be reserve (puzone), PU 9 is locked to reserve. Three zone
boundary cost matrices:

    distance   [[0,1,2],[1,0,1],[2,1,0]]   costs grow with zone distance
    potts      [[0,1,1],[1,0,1],[1,1,0]]   all-or-nothing, but three groups of zones
    protected  [[0,1,1],[1,0,0],[1,0,0]]   all-or-nothing between available and the protected zones (two groups)

Expected choice (``auto``), worked out from the reduced matrix M'' of each pair (the module docstring):
pairs with PU 9 (locked) are linear (2); pairs with PU 1 (zones available/partial only) reduce to two
all-or-nothing rows in all three cases — distance: rows [0,1,2], [1,0,1] less the column minima (0,0,1)
give [0,1,1], [1,0,0] — so their aggregated rows are tight (2); every other pair (8) has three groups
under distance and potts, two under protected. So protected is built aggregated, the others marginal.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.sparse import vstack

from optimizer.engine.scenario import SolverSettings
from optimizer.marxan.arrays import MarxanProject
from optimizer.marxan.model import aggregated_is_tight, build_model, solve

ZBC = {"distance": [[0, 1, 2], [1, 0, 1], [2, 1, 0]], "potts": [[0, 1, 1], [1, 0, 1], [1, 1, 0]],
       "protected": [[0, 1, 1], [1, 0, 0], [1, 0, 0]]}
COST = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 2.0, 2.0, 1.0, 3.0])
AMOUNT = np.array([1.0, 2.0, 1.0, 2.0, 1.0, 1.0, 2.0, 1.0, 1.0])
BLM, TARGET, PENALTY = 1.5, 4.0, 12.0
EXACT = SolverSettings(gap=0.0, time_limit=60, threads=1)


def grid_project(zbc: str) -> MarxanProject:
    edges = [(r * 3 + c, r * 3 + c + 1) for r in range(3) for c in range(2)] + [(r * 3 + c, r * 3 + c + 3) for r in range(2) for c in range(3)]
    bi, bj = (np.array(v) for v in zip(*sorted(edges)))
    puzone = np.ones((9, 3), dtype=bool)
    puzone[0, 2] = False
    lock = np.full(9, -1)
    lock[8] = 2
    return MarxanProject(
        input_dat=Path("input.dat"), input_dir=Path("input"), files={}, name=zbc, blm=BLM, pu_ids=np.arange(1, 10),
        cost_ids=np.array([1]), cost_names=("cost",), costs=COST[:, None], zone_ids=np.array([1, 2, 3]),
        zone_names=("available", "partial", "reserve"), zone_cost=np.array([[0.0, 0.5, 1.0]]), feature_ids=np.array([1]),
        feature_names=("habitat",), target=np.array([TARGET]), target_occ=np.array([0]), spf=np.array([1.0]),
        ent_pu=np.arange(9), ent_sp=np.zeros(9, dtype=np.int64), ent_amount=AMOUNT, contrib=np.tile([0.0, 0.5, 1.0], (9, 1)),
        contrib_kind="zonecontrib", contrib_table=np.array([[0.0, 0.5, 1.0]]), zone_target=np.zeros((1, 3)),
        zone_target_occ=np.zeros((1, 3), dtype=np.int64), bound_i=bi, bound_j=bj, bound_b=np.ones(len(bi)),
        fixed=np.zeros(9), zone_bound_cost=np.array(ZBC[zbc], dtype=float), zone_bound_given=True, lock=lock,
        puzone=puzone, penalty=np.array([PENALTY]), penalty_source="file")


def brute_force_optimum(zbc: str) -> float:
    """Marxan's score of every allowed plan, straight from the definitions above (no landalloc code)."""
    p = grid_project(zbc)
    choices = [[0, 1] if i == 0 else [2] if i == 8 else [0, 1, 2] for i in range(9)]
    plans = np.array(list(itertools.product(*choices)))
    mult, contrib, zb = np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.5, 1.0]), np.array(ZBC[zbc], dtype=float)
    cost = (COST * mult[plans]).sum(axis=1)
    boundary = BLM * zb[plans[:, p.bound_i], plans[:, p.bound_j]].sum(axis=1)
    held = (AMOUNT * contrib[plans]).sum(axis=1)
    penalty = PENALTY * np.maximum(0.0, TARGET - held) / TARGET
    return float((cost + boundary + penalty).min())


def lp_bound(mm) -> float:
    """The LP relaxation's value (integrality dropped), solved by scipy's HiGHS interface."""
    m = mm.model
    A = m.A.tocsr()
    eq = m.row_lo == m.row_hi
    up = ~eq & np.isfinite(m.row_hi)
    lo = ~eq & np.isfinite(m.row_lo)
    res = linprog(m.c, A_ub=vstack([A[up], -A[lo]]), b_ub=np.concatenate([m.row_hi[up], -m.row_lo[lo]]),
                  A_eq=A[eq], b_eq=m.row_lo[eq], bounds=list(zip(m.col_lo, m.col_hi)), method="highs")
    assert res.status == 0
    return float(res.fun + m.offset)


@pytest.mark.parametrize("zbc", list(ZBC))
def test_every_form_gives_the_brute_force_optimum(zbc):
    p = grid_project(zbc)
    best = brute_force_optimum(zbc)
    for linearization in ("auto", "aggregated", "marginal"):
        mm = build_model(p, "soft", linearization)
        r = solve(mm, EXACT)
        assert r.termination == "optimal"
        assert r.objective == pytest.approx(best, abs=1e-7), linearization
        assert mm.model.objective_value(mm.complete(mm.zone_of(r.x))) == pytest.approx(best, abs=1e-7)


@pytest.mark.parametrize("zbc,form,tight", [("distance", "marginal", 2), ("potts", "marginal", 2),
                                            ("protected", "aggregated", 10)])
def test_auto_chooses_by_structure(zbc, form, tight):
    st = build_model(grid_project(zbc), "soft", "auto").stats
    assert (st["boundary_form"], st["boundary_tight_pairs"], st["boundary_pairs"], st["boundary_linear_pairs"]) == (form, tight, 12, 2)
    for forced in ("aggregated", "marginal"):
        st = build_model(grid_project(zbc), "soft", forced).stats
        assert (st["boundary_form"], st["boundary_tight_pairs"]) == (forced, None)


@pytest.mark.parametrize("zbc", list(ZBC))
def test_auto_has_the_marginal_forms_lp_bound(zbc):
    """The choice keeps the tight bound: auto's LP relaxation equals the marginal form's; the aggregated rows
    fall short where auto chose the marginal form (distance, potts) and match where it kept them (protected)."""
    p = grid_project(zbc)
    bound = {lin: lp_bound(build_model(p, "soft", lin)) for lin in ("auto", "aggregated", "marginal")}
    assert bound["auto"] == pytest.approx(bound["marginal"], abs=1e-7)
    if zbc == "protected":
        assert bound["aggregated"] == pytest.approx(bound["marginal"], abs=1e-7)
    else:
        assert bound["aggregated"] < bound["marginal"] - 1e-3, bound
    assert bound["marginal"] <= brute_force_optimum(zbc) + 1e-9


def test_tightness_rule_on_single_pairs_against_the_transportation_lp():
    """Per pair, at random fractional points: where aggregated_is_tight says so, the aggregated rows' value
    (max of 0 and every group's row) equals the transportation problem's; on the rule's two counter-cases
    (three all-or-nothing groups; two groups with entries 1 and 2) some point shows a gap."""
    rng = np.random.default_rng(3)
    cases = {"two groups, all-or-nothing": ([[0, 1, 1], [1, 0, 0], [1, 0, 0]], True),
             "two zones": ([[0, 2, 0], [3, 0, 0], [0, 0, 0]], True),
             "three groups (potts)": ([[0, 1, 1], [1, 0, 1], [1, 1, 0]], False),
             "two groups, 1 and 2": ([[0, 1, 2], [0, 1, 2], [1, 0, 0]], False)}
    for name, (M, tight) in cases.items():
        M = np.array(M, dtype=float)
        Ai = np.array([True, True, name != "two zones"])
        assert aggregated_is_tight(M[None], Ai[None])[0] == tight, name
        gaps = []
        for _ in range(200):
            xi = rng.dirichlet(np.ones(3)) * Ai
            xi /= xi.sum()
            xj = rng.dirichlet(np.ones(3))
            groups = {tuple(M[a]) for a in range(3) if Ai[a]}
            agg = max([0.0] + [float(np.dot(g, xj) - max(g) * (1 - sum(xi[a] for a in range(3) if tuple(M[a]) == g)))
                               for g in groups])
            eq = np.zeros((6, 9))
            for a in range(3):
                eq[a, a * 3:(a + 1) * 3] = 1
                eq[3 + a, a::3] = 1
            tr = linprog(M.ravel(), A_eq=eq, b_eq=np.concatenate([xi, xj]), bounds=(0, None), method="highs").fun
            assert agg <= tr + 1e-9
            gaps.append(tr - agg)
        assert (max(gaps) < 1e-9) == tight, (name, max(gaps))


def test_run_json_records_the_choice(cli, tmp_path):
    """Written as files, imported and solved as a user does: run.json says what was requested and built."""
    from optimizer.marxan.project import import_project
    from optimizer.marxan.writer import write_project_files

    (tmp_path / "project").mkdir()
    write_project_files(grid_project("distance"), tmp_path / "project")
    scenario = import_project(tmp_path / "project", tmp_path / "scenario", targets="soft", linearization="auto").scenario_path
    res = cli("solve", scenario, "--out", tmp_path / "run", "--json", "--store", "none")
    assert res.exit_code == 0, res.output
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["marxan"]["boundary_linearization"] == {"requested": "auto", "form": "marginal", "pairs": 12,
                                                       "linear_pairs": 2, "aggregated_tight_pairs": 2}
    assert run["objective"] == pytest.approx(brute_force_optimum("distance"), abs=1e-7)
