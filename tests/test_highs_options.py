"""HiGHS options per model class (optimizer/engine/solvers/_highs_options.py): the class read from real
compiled models, the scenario's own solver.options winning over a class option, and the options
HiGHS was given recorded in run.json."""

from __future__ import annotations

import json

from optimizer.engine.compile import compile_model
from optimizer.engine.instance import load_instance
from optimizer.engine.phasing import compile_phased
from optimizer.engine.run import solve_scenario
from optimizer.engine.scenario import apply_overrides, load_scenario
from optimizer.engine.solvers import _highs_options as ho
from optimizer.marxan.model import build_model
from optimizer.marxan.reader import read_project

from .conftest import ROOT, TINY
from .helpers import tiny_raw, write_scenario

COMPACT = {"constraints.compactness": {"weights": {"SKK": 5.0}}}


def _model(overrides: dict | None = None):
    loaded = apply_overrides(load_scenario(TINY), overrides or {})
    return compile_model(load_instance(loaded), loaded).model, loaded.scenario.solver


def test_class_is_read_from_the_families_of_the_rows(tmp_path):
    core, _ = _model()
    compact, _ = _model(COMPACT)
    assert ho.model_class(core) == "core"
    assert ho.model_class(compact) == "compactness"
    raw = tiny_raw()
    raw["periods"] = {"2030": {"weight": 1.0}, "2050": {"weight": 0.5}}
    loaded = load_scenario(write_scenario(tmp_path / "phased.yaml", raw))
    assert ho.model_class(compile_phased(load_instance(loaded), loaded).model) == "phased"
    for project in ("small3_csv", "classic_csv"):  # Marxan with Zones and classic Marxan
        assert ho.model_class(build_model(read_project(ROOT / "tests" / "data" / "marxan" / project)).model) == "marxan"


def test_scenario_options_override_the_class_options(monkeypatch):
    model, settings = _model(COMPACT)
    monkeypatch.setitem(ho.CLASS_OPTIONS, "compactness", {"mip_heuristic_effort": 0.3, "presolve": "off"})
    settings = settings.model_copy(update={"options": {"presolve": "on"}})
    opts = ho.highs_options(model, settings)
    assert opts["mip_heuristic_effort"] == 0.3          # the class's option
    assert opts["presolve"] == "on"                     # the scenario's, over the class's
    assert opts["mip_rel_gap"] == settings.gap and opts["threads"] == settings.threads
    core, core_settings = _model()
    assert "mip_heuristic_effort" not in ho.highs_options(core, core_settings)   # another class: not given


def test_the_table_has_every_class_and_highs_accepts_each_entry():
    """A class without an entry would fail its runs with a KeyError, a typo in an entry every run of its
    class: the table lists exactly the classes model_class can return, and HiGHS takes each option."""
    import highspy

    assert set(ho.CLASS_OPTIONS) == {ho.CORE, *(name for name, _ in ho.CLASS_MARKERS)}
    h = highspy.Highs()
    assert set(ho.CLASS_LP_OPTIONS) <= set(ho.CLASS_OPTIONS)
    for cls, options in [*ho.CLASS_OPTIONS.items(), *ho.CLASS_LP_OPTIONS.items()]:
        for k, v in options.items():
            assert h.setOptionValue(k, v) == highspy.HighsStatus.kOk, (cls, k, v)


def test_lp_options_go_to_the_relaxation_only():
    """A Marxan model's LP relaxation runs without presolve (so an LP stopped early keeps its duals); its MIP
    keeps HiGHS's presolve, and a scenario's own option still wins."""
    from optimizer.engine.primal.neighbourhoods import relaxation
    from optimizer.engine.scenario import SolverSettings

    model = build_model(read_project(ROOT / "tests" / "data" / "marxan" / "small3_csv"), "soft").model
    settings = SolverSettings()
    assert ho.highs_options(relaxation(model), settings)["presolve"] == "off"
    assert "presolve" not in ho.highs_options(model, settings)
    core, core_settings = _model()
    assert "presolve" not in ho.highs_options(relaxation(core), core_settings)  # not for every class
    ours = settings.model_copy(update={"options": {"presolve": "on"}})
    assert ho.highs_options(relaxation(model), ours)["presolve"] == "on"


def test_run_json_records_the_options_highs_was_given(tmp_path):
    """HiGHS alone (no primal engine around it), so its SolveResult is the run's."""
    loaded = apply_overrides(load_scenario(TINY), {"solver.options": {"mip_heuristic_effort": 0.2},
                                                   "solver.warm_start": False})
    solve_scenario(loaded, tmp_path / "run")
    run = json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))
    recorded = run["solver_extra"]["highs_options"]
    assert recorded["model_class"] == "core"
    assert recorded["options"]["mip_heuristic_effort"] == 0.2
    assert recorded["options"]["mip_rel_gap"] == loaded.scenario.solver.gap
