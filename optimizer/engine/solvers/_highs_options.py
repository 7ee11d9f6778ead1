"""HiGHS options per model class, adopted only where measured better.

A model's class is read from the families of its compiled rows, so a scenario gets the options of
the hardest structure it contains. Each entry of ``CLASS_OPTIONS`` carries the measurement behind it
(alternating side-by-side runs, benchmarks/README.md, "HiGHS options per model class"); a class
whose measurements showed no option better than HiGHS's defaults has none. The scenario's own
``solver.options`` are applied last, so a planner can always override (or undo) a class option.
"""

from __future__ import annotations

from typing import Any

from optimizer.engine.model import CompiledModel

# (class, a row family that marks it), most specific first: a phased model with sites is "phased"
CLASS_MARKERS: tuple[tuple[str, str], ...] = (
    ("marxan", "one_zone"),
    ("phased", "phasing"),
    ("compactness", "compactness"),
    ("sites", "sites"),
)
CORE = "core"

# Measured 2026-12-06, HiGHS 1.16.0, 1 thread, alternating rounds on the shared 2-core machine (load 3.5–6):
CLASS_OPTIONS: dict[str, dict[str, Any]] = {
    # synthetic 10k: mip_heuristic_effort 0.3 does the same work (236 LP iterations, 1 node, the same
    # plan; its faster runs were load), mip_lp_solver ipm no faster (7.6–17.1 s against 5.5–14.4 s)
    CORE: {},
    # synthetic 1k: ipm slower in 3 of 3 rounds (7.6–13.5 s against 5.9–7.7 s to 0.5 %) with a worse plan;
    # heuristic effort 0.3 the same plan and times
    "compactness": {},
    # cao_bang_2030: defaults, ipm and heuristic effort 0.3 all 6.7–7.5 s to 0.00 %: nothing to gain.
    # Session 8 (load 1.1–1.7), the primal engine's held MIP from the same plan: bez_2030 to 0.5 % in
    # 14.1 / 15.6 s with heuristic effort 0.3 against 30.9 / 33.4 s (it finds a 6,658.6 plan, so stops
    # with a weaker bound), cao_bang_2030 2.9 / 3.1 s against 3.0 / 3.1 s (benchmarks/README.md, "Round three")
    "sites": {"mip_heuristic_effort": 0.3},
    # cao_bang_2030_2050 from the myopic plan: defaults 0.5 % at 78 s; presolve off 0.86 % at the 240 s limit;
    # heuristic effort 0.3 a better plan (51,921.8 against 51,903.4) but 0.5 % only at 194 s. The time goes
    # to HiGHS's objective clique partition (quadratic in the cost-carrying binaries left by presolve),
    # which no option turns off. On the model held by reduced-cost fixing (optimizer/engine/primal/fixing.py), load 2.4–3.4:
    # mip_heuristic_effort 0.01 30.9 s against 31.7 s, RINS and RENS off 24.4 / 21.5 / 30.7 s against
    # 20.0 / 24.0 / 31.0 s to 0.5 %, the same plans: no gain
    "phased": {},
    # Marxan with Zones grids, soft targets: 2,500 PUs ipm 0.88 % / 0.50 % at 60 s against 0.87 % / 0.98 %
    # (a draw); 10,000 PUs ipm 1.19 % at the 90 s limit twice, the defaults 0.08 % in 84 s, then 1.19 %
    "marxan": {},
}


# Options for a model's LP relaxation only (the primal engine's first step), by class:
CLASS_LP_OPTIONS: dict[str, dict[str, Any]] = {
    # Marxan with Zones grids (session 9, load 1): the LP to optimality in the same time either way (2,500 PUs
    # 0.92 / 0.83 s, 10,000 PUs 5.41 / 5.45 s with / without presolve), but stopped by its time limit only the
    # LP without presolve keeps duals, whose bound the adapter then reports (10,000 PUs at 2 s: 9,658.36, the
    # optimum 9,816.66). cao_bang_2030's LP takes 1.4 s with presolve and over 60 s without: not for every class
    "marxan": {"presolve": "off"},
}


def model_class(model: CompiledModel) -> str:
    """The class whose options a model gets: the first marker family among its rows, else core."""
    families = set(model.rows["family"].unique()) if len(model.rows) else set()
    return next((name for name, family in CLASS_MARKERS if family in families), CORE)


def highs_options(model: CompiledModel, settings) -> dict[str, Any]:
    """Every option HiGHS is given for this model: the run's settings, the class's measured options (and
    its LP options when the model has no integer column), then the scenario's ``solver.options`` (which win)."""
    cls = model_class(model)
    lp = CLASS_LP_OPTIONS.get(cls, {}) if not model.integer.any() else {}
    return {"time_limit": float(settings.time_limit), "mip_rel_gap": float(settings.gap),
            "random_seed": int(settings.seed), "threads": int(settings.threads),
            **CLASS_OPTIONS[cls], **lp, **settings.options}


def chosen_options(model: CompiledModel, settings) -> dict[str, Any]:
    """What run.json records (``solver_extra.highs_options``): the model's class and every option given."""
    return {"model_class": model_class(model), "options": highs_options(model, settings)}
