"""A Marxan-imported scenario as a run sees it: planning units without geometry, Marxan's score.

The run spine (``optimizer/engine/run.py``) treats it like any other problem; what differs is here.
The plan's objective is Marxan's score recomputed by ``score.py`` independently of the MIP (a plan
whose MIP value and score disagree is refused), verification checks locks, puzone and hard targets,
an infeasible model is explained by its unreachable targets, and the run directory holds
``allocation.csv`` (puid, zone id, zone) and ``best.csv`` (Marxan's ``_best`` format: ``planning_unit,zone``,
or ``planning_unit,solution`` for a classic project) instead of a GeoPackage.

The solver's first plan (adapters with the ``warm_start`` feature start from it; run.json ``warm_start``
records how it was found and its score) is Marxan's own search run for a share of the time limit
(``anneal.py``), or a classic project's initial reserve (status 1 with the locked-in units) where that
scores lower; a COSTTHRESH the score leaves out is reported against the plan
(run.json ``marxan.cost_threshold``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from constraints._api import Violation, tolerance
from optimizer.engine.errors import InputError, SolverFailure
from optimizer.engine.files import write_dir_atomically
from optimizer.engine.problem import ExplainOptions, Findings, Log
from optimizer.engine.rundir import RUN_JSON, dumps
from optimizer.engine.scenario import LoadedScenario, SolverSettings
from optimizer.engine.solvers.base import SolveResult
from optimizer.engine.verify import VerifyReport
from optimizer.marxan.anneal import anneal, nominal_rate
from optimizer.marxan.arrays import RESERVED
from optimizer.marxan.arrays import MarxanProject as Project
from optimizer.marxan.classic import status_counts
from optimizer.marxan.model import MarxanModel, build_model, objective_of_plan, reachability
from optimizer.marxan.project import marxan_settings, project_inputs
from optimizer.marxan.reader import read_project
from optimizer.marxan.score import Score, evaluate, missed_targets, plan_violations
from optimizer.marxan.solutions import plan_frame, read_plan

BEST = "best.csv"
ANNEAL_SHARE = 0.6
"""the share of the time limit the annealing start is given (as a number of moves): at Marxan with Zones' 10⁶
times (1.3–4 s) the LP relaxation of the benchmark's 2,500- to 40,000-unit grids does not finish, so the plan is
the annealing's, and at 400 units the MIP's 0.9 s after the LP-guided plan changed nothing (session 7's
``solver_extra.primal.steps``); the rest of the time goes to the LP, the polished LP-guided plan and the MIP
(benchmarks/README.md, "Annealing speed and search")"""
ANNEAL_TIME_CAP = 0.9
"""the annealing's safety time cap as a share of the time limit (the moves are sized at a nominal rate; a
loaded machine runs them slower)"""
MAX_MOVES_PER_UNIT, MIN_MOVES = 1_000, 4_000_000
"""the annealing start's moves at most on projects above ``SMALL_PROJECT_UNITS``: 1,000 per unit — where the LP
solves in time, the LP-guided plan polished (below) and the MIP did better with the time than more annealing —
but up to ``MIN_MOVES`` (1.3 s at the nominal rate) on smaller ones, which buys several runs
(``RESTART_MOVES_PER_UNIT``) (benchmarks/README.md, "Annealing speed and search")"""
SMALL_PROJECT_UNITS, SMALL_PROJECT_MOVES_PER_UNIT = 1_000, 100_000
"""projects of at most 1,000 units get the whole annealing share as moves, up to 100,000 per unit: their MIP
finds nothing in the time after the start (the 400-unit grid's optimum takes 160 s to prove, and at Marxan with
Zones' 10⁷ time the MIP ended at 339.10 from a 339.14 start), while 20–30 million moves in six runs reach that
optimum, 337.86, for five seeds in eight (benchmarks/README.md, "Annealing on small projects (session 8)")"""
RESTART_MOVES_PER_UNIT, MAX_RESTARTS = 1_500, 6
"""one annealing run per 1,500 moves per unit of the budget (at most 6), the best plan kept: on the 400-unit
grid at 6,750 moves per unit (seeds 0–11, mean score) 1 run 339.74, 2 339.45, 4 339.06, 6 338.95, 8 339.03"""
POLISH_MOVES_PER_UNIT, POLISH_SHARE, POLISH_HEAT = 200, 0.05, 0.1
"""the polish of each plan the engine finds: a short annealing from that plan (200 moves per unit, at most 5 %
of the time limit's worth), at a tenth of the start's temperature, so it improves the plan without leaving it;
on the 2,500-unit grid it took the LP-guided plan from 2,696.7 to 2,690.1 in 0.8 s (heats 0.02–0.2 and 200 or
1,000 moves per unit were measured: 0.05–0.1 did best)"""


class Polisher:
    """The engine's ``polish`` for a Marxan project: annealing on the score from the engine's plan."""

    def __init__(self, mm: MarxanModel, moves: int, seed: int):
        self.mm, self.moves, self.seed = mm, moves, seed
        self.seconds = moves / nominal_rate(mm.project.n_pu)

    def __call__(self, x: np.ndarray) -> np.ndarray | None:
        if self.moves <= 0:
            return None
        found = anneal(self.mm.project, moves=self.moves, seed=self.seed, start=self.mm.zone_of(x), heat=POLISH_HEAT,
                       rescore=False)
        return self.mm.complete(found.zone)


@dataclass
class MarxanPlan:
    zone: np.ndarray
    """zone index per planning unit"""
    score: Score


class MarxanProject:
    kind = "marxan project"
    polish: Polisher | None = None
    start_beside_lp = True
    """the annealing start is bounded (moves, and a time cap): with two threads it runs beside the LP"""

    def __init__(self, loaded: LoadedScenario, settings: SolverSettings):
        self.loaded, self.settings, self.timings = loaded, settings, {}
        t = time.perf_counter()
        cfg = marxan_settings(loaded)
        self.path, self.targets, self.linearization = cfg.project, cfg.targets, cfg.linearization
        self.project: Project = read_project(self.path, cfg.flavour)
        self.timings["load_s"] = time.perf_counter() - t
        t = time.perf_counter()
        self.mm = build_model(self.project, self.targets, self.linearization)
        self.model = self.mm.model
        self.timings["compile_s"] = time.perf_counter() - t
        self._reach = reachability(self.mm)
        rate = nominal_rate(self.project.n_pu)
        moves = int(min(POLISH_MOVES_PER_UNIT * self.project.n_pu, rate * POLISH_SHARE * settings.time_limit))
        self.polish = Polisher(self.mm, moves, settings.seed)

    def _block(self) -> dict:
        """run.json's ``marxan``: how the project was read and modelled."""
        p = self.project
        block = {"project": str(self.path), "flavour": p.flavour, "targets": self.targets,
                 "linearization": self.linearization, "boundary_linearization": self._boundary_choice(),
                 "blm": p.blm, "penalty_source": p.penalty_source,
                 "zones": dict(zip(p.zone_codes(), p.zone_ids.tolist())), "approximations": list(p.approximations)}
        if p.classic:
            block.update(status=status_counts(p.status), misslevel=p.misslevel)
        return block

    def _boundary_choice(self) -> dict:
        """What the boundary term was built as (``auto`` chooses by the zone boundary costs' structure): the form,
        the boundary pairs, those whose cost went into the zone costs (linear), and under ``auto`` those whose
        aggregated rows are as tight as the marginal form (all of them, or the form is marginal)."""
        st = self.mm.stats
        return {"requested": self.linearization, "form": st["boundary_form"], "pairs": st["boundary_pairs"],
                "linear_pairs": st["boundary_linear_pairs"], "aggregated_tight_pairs": st["boundary_tight_pairs"]}

    def describe(self) -> dict:
        p, m = self.project, self.model
        inputs = [{"role": "scenario", "path": str(self.loaded.path), "sha256": self.loaded.sha256}] if self.loaded.path else []
        return {"model": {"columns": m.n_cols, "rows": m.n_rows, "nonzeros": int(m.A.nnz), "parcels": p.n_pu,
                          "ineligible_pairs": int((~p.allowed).sum()), "sense": "min", **self.mm.stats},
                "reachability": self._reach,
                "inputs": inputs + project_inputs(p),
                "marxan": self._block()}

    def reachability(self) -> list[dict]:
        return self._reach

    def initial_plan(self, log: Log) -> tuple[np.ndarray | None, dict | None]:
        """Marxan's own search as the first plan: annealing on the score, then iterative improvement
        (``anneal.py``), with ``ANNEAL_SHARE`` of the time limit as its number of moves, shared among several
        runs when the budget per unit is large (the best kept); a classic project's initial reserve (status 1
        and the locked-in units) instead when that scores lower. The time it takes counts within the time
        limit (``within_time_limit``). The other runs' plans follow the best as the rows of a matrix: the engine
        merges them (its ``crossover``)."""
        p, t, limit = self.project, time.perf_counter(), self.settings.time_limit
        most = (SMALL_PROJECT_MOVES_PER_UNIT * p.n_pu if p.n_pu <= SMALL_PROJECT_UNITS
                else max(MAX_MOVES_PER_UNIT * p.n_pu, MIN_MOVES))
        moves = int(min(nominal_rate(p.n_pu) * ANNEAL_SHARE * limit, most))
        runs = int(np.clip(moves // max(1, RESTART_MOVES_PER_UNIT * p.n_pu), 1, MAX_RESTARTS))
        found = anneal(p, moves=moves, seed=self.settings.seed, time_cap_s=ANNEAL_TIME_CAP * limit, restarts=runs)
        zone, score = found.zone, found.score
        runners_up = [found.run_zones[r] for r in np.argsort(found.run_scores, kind="stable")[1:]]
        block = {"source": "annealing on Marxan's score, then iterative improvement", "moves": found.moves,
                 "runs": found.runs, "best_run": found.best_run, "improvement_sweeps": found.improvement_sweeps,
                 "stopped_by_time_cap": found.stopped_by_time, "initial_temperature": found.initial_temperature}
        if p.classic and (p.status == 1).any():
            reserve = np.where((p.status == 1) | (p.status == 2), RESERVED, 1 - RESERVED)
            initial = evaluate(p, reserve)
            if initial.total <= score.total:
                zone, score, runners_up = reserve, initial, []
                block = {"source": "pu.dat status 1 (Marxan's initial reserve)", "reserved": int((zone == RESERVED).sum())}
        met = bool(score.features["met"].all())
        log(f"first plan ({block['source']}): score {score.total:,.6g}"
            + ("" if self.targets == "soft" or met else ", misses a target (hard targets: the solver starts without it)"))
        block.update(score=score.total, meets_targets=met, time_s=round(time.perf_counter() - t, 3),
                     within_time_limit=True)
        plan = self.mm.complete(zone)
        return (np.stack([plan, *map(self.mm.complete, runners_up)]) if runners_up else plan), block

    def complete(self, x: np.ndarray) -> np.ndarray:
        """Unchanged: the plan's objective is Marxan's score, recomputed from its zones (``rescore``)."""
        return x

    def decode(self, x: np.ndarray) -> MarxanPlan:
        zone = self.mm.zone_of(x)
        t = time.perf_counter()
        score = evaluate(self.project, zone)
        self.timings["score_s"] = time.perf_counter() - t
        mip = objective_of_plan(self.mm, zone)
        if abs(mip - score.total) > tolerance(score.total):
            raise SolverFailure(f"the MIP values the plan at {mip!r} but Marxan's score is {score.total!r}: "
                                "the model and the score disagree (a bug; please report it)")
        return MarxanPlan(zone, score)

    def rescore(self, plan: MarxanPlan) -> float:
        return plan.score.total

    def verify(self, plan: MarxanPlan) -> VerifyReport:
        return plan_report(self.project, plan.zone, plan.score, self.targets)

    def summarize(self, plan: MarxanPlan, report: VerifyReport) -> dict:
        p = self.project
        block = {**self._block(), "score": {**plan.score.as_dict(), "features": plan.score.features.to_dict("records")}}
        thresh = p.options.get("COSTTHRESH", 0.0) if p.classic else 0.0
        if thresh > 0:
            spent = plan.score.cost + plan.score.connection
            block["cost_threshold"] = {"costthresh": thresh, "cost_plus_connection": spent, "exceeded": spent > thresh}
        sc = plan.score
        terms = [{"name": "cost", "weight": 1.0, "quantity": sc.cost, "unit": "cost", "contribution": sc.cost},
                 {"name": "connection", "weight": p.blm, "quantity": sc.connection / p.blm if p.blm else 0.0,
                  "unit": "boundary length", "contribution": sc.connection},
                 {"name": "shortfall penalty", "weight": 1.0, "quantity": sc.penalty, "unit": "penalty × spf × shortfall",
                  "contribution": sc.penalty}]
        return {"marxan": block, "objective_terms": terms,
                "area_by_use": {c: int(n) for c, n in zip(p.zone_codes(), np.bincount(plan.zone, minlength=p.n_zones))}}

    def explain(self, result: SolveResult, options: ExplainOptions, log: Log) -> Findings:
        return Findings({}, {})

    def diagnose(self, result: SolveResult, log: Log) -> Findings:
        """Only hard targets make a Marxan model infeasible: name each unreachable one."""
        rows = [{"family": "target", "key": r["target"], "side": "lo", "required": r["required"],
                 "achievable": r["achievable"], "shortfall": r["required"] - r["achievable"], "unit": "amount"}
                for r in self._reach if not r["reachable"]]
        return Findings({"diagnosis": rows,
                         "diagnosis_hint": ("the hard targets cannot all be met; set metadata.marxan.targets: soft (or "
                                            "`landalloc import-marxan --targets soft`) for Marxan's cheapest shortfall")},
                        {})

    def layer(self, plan: MarxanPlan | None) -> None:
        """Planning units have no geometry: the run store keeps run.json alone."""
        return None

    def write(self, target: Path, run: dict, plan: MarxanPlan | None, outputs: dict[str, Any],
              x: np.ndarray | None = None) -> Path:
        p = self.project
        files: dict[str, pd.DataFrame] = {}
        if plan is not None:
            files["allocation.csv"] = pd.DataFrame({"puid": p.pu_ids, "zone": p.zone_ids[plan.zone],
                                                    "zone_name": np.array(p.zone_codes(), dtype=object)[plan.zone]})
            files[BEST] = plan_frame(p, plan.zone)

        def fill(tmp: Path) -> None:
            for name, df in files.items():
                df.to_csv(tmp / name, index=False)
            (tmp / RUN_JSON).write_text(dumps(run), encoding="utf-8")

        return write_dir_atomically(target, fill, RUN_JSON)

    @classmethod
    def reverify(cls, run_dir: Path, run: dict, plan: Any) -> VerifyReport:
        """``landalloc verify``: the plan in best.csv against the project, scored by Marxan's formula."""
        best = Path(run_dir) / BEST
        if not best.exists():
            raise InputError(str(run_dir), BEST, f"no plan in this run (status {run.get('status')!r})",
                             "only runs that found a plan can be verified")
        mx = run["marxan"]
        p = read_project(mx["project"], mx.get("flavour", "auto"))
        zone = read_plan(p, best)
        return plan_report(p, zone, evaluate(p, zone), mx.get("targets"))


def plan_report(p: Project, zone: np.ndarray, score: Score, targets: str | None) -> VerifyReport:
    """Locks and puzone kept, and (hard targets) every target met; the objective is Marxan's score."""
    violations = [Violation(v["kind"], v["kind"], v["message"], tuple(v["planning_units"]))
                  for v in plan_violations(p, zone)]
    if targets == "hard":
        violations += [Violation("target", str(m["name"]), f"target missed: held {m['held']:.6g} of "
                                 f"{m['target']:.6g}, zone shortfall {m['zone_shortfall']:.6g}")
                       for m in missed_targets(score)]
    return VerifyReport(violations, {}, score.total, {})
