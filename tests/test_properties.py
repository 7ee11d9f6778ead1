"""Property tests (Hypothesis) over random small synthetic instances and scenarios.

- never crash: every outcome is optimal, infeasible (with a diagnosis) — never an exception;
- every returned plan satisfies every model row and every family's verify;
- relabelling the parcels (a permutation of ids and of the file order) leaves the optimum unchanged;
- tightening a quota never improves the objective.
"""

from __future__ import annotations

import numpy as np
import pyogrio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instances.synthetic import write_instance
from optimizer.engine.run import solve_scenario
from optimizer.engine.scenario import apply_overrides, load_scenario

SETTINGS = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _scenario(tmp_path, n, seed, share):
    path = write_instance(tmp_path / f"n{n}s{seed}", n=n, seed=seed, gap=0.0)
    loaded = load_scenario(path)
    total = loaded.scenario.quotas["SKK"].hi / 0.02 / 1.05  # the generator sets SKK hi = 2 % × total × 1.05
    band = {"quotas.SKK.lo": round(share * total * 0.9, 3), "quotas.SKK.hi": round(share * total * 1.1, 3)}
    return apply_overrides(loaded, {**band, "explain.marginal_values": False})


@SETTINGS
@given(n=st.integers(12, 30), seed=st.integers(0, 10_000), share=st.floats(0.0, 0.4))
def test_plans_satisfy_rows_and_verify(tmp_path_factory, n, seed, share):
    loaded = _scenario(tmp_path_factory.mktemp("p"), n, seed, share)
    outcome = solve_scenario(loaded, None)
    run = outcome.run
    assert run["status"] in ("optimal", "infeasible")
    if run["status"] == "optimal":
        assert run["verify"]["ok"], run["verify"]
        assert abs(run["verify"]["recomputed_objective"] - run["objective"]) <= 1e-6 * max(1, abs(run["objective"]))
        terms = sum(t["contribution"] for t in run["objective_terms"])
        assert abs(terms - run["objective"]) <= 1e-6 * max(1, abs(run["objective"]))
    else:
        assert run["diagnosis"] or any(not r["reachable"] for r in run["reachability"])


@SETTINGS
@given(n=st.integers(12, 30), seed=st.integers(0, 10_000), perm_seed=st.integers(0, 10_000))
def test_relabelling_parcels_keeps_the_optimum(tmp_path_factory, n, seed, perm_seed):
    tmp = tmp_path_factory.mktemp("r")
    loaded = _scenario(tmp, n, seed, 0.05)
    base = solve_scenario(loaded, None).run
    src = loaded.resolve(loaded.scenario.parcels.path, "parcels.path")
    gdf = pyogrio.read_dataframe(src, layer="parcels")
    rng = np.random.default_rng(perm_seed)
    gdf["parcel_id"] = rng.permutation(np.arange(1000, 1000 + len(gdf)))
    gdf = gdf.iloc[rng.permutation(len(gdf))].reset_index(drop=True)
    pyogrio.write_dataframe(gdf, src.parent / "relabelled.gpkg", layer="parcels")
    other = solve_scenario(apply_overrides(loaded, {"parcels.path": "relabelled.gpkg"}), None).run
    assert other["status"] == base["status"]
    if base["status"] == "optimal":
        assert abs(other["objective"] - base["objective"]) <= 1e-6 * max(1, abs(base["objective"]))


@SETTINGS
@given(n=st.integers(12, 30), seed=st.integers(0, 10_000), cut=st.floats(0.05, 0.9))
def test_tightening_a_quota_never_improves(tmp_path_factory, n, seed, cut):
    loaded = _scenario(tmp_path_factory.mktemp("t"), n, seed, 0.05)
    base = solve_scenario(loaded, None).run
    if base["status"] != "optimal":
        return
    q = loaded.scenario.quotas["TMD"]
    tighter = apply_overrides(loaded, {"quotas.TMD.hi": q.lo + (q.hi - q.lo) * (1 - cut)})
    other = solve_scenario(tighter, None).run
    if other["status"] == "optimal":  # maximization: the tighter band cannot do better
        assert other["objective"] <= base["objective"] + 1e-6 * max(1, abs(base["objective"]))
    else:
        assert other["status"] == "infeasible"
