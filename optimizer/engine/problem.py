"""The kinds of run behind one protocol, so that the run spine (``run.solve_scenario``) reads the same
for every scenario and holds no special cases.

A :class:`Problem` is a compiled scenario as a run sees it: the model to solve, and how to start,
decode, verify, explain, diagnose and write its plans. The implementations:

- :class:`SinglePeriod` — parcels, one plan (this module);
- :class:`Phased` — parcels, one plan per period, linked so that built stays built (this module);
- ``MarxanProject`` — planning units without geometry scored by Marxan's own formula
  (``optimizer/marxan/problem.py``).

``run.problem_class`` is the one place that chooses among them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer.engine.compile import compile_model
from optimizer.engine.decode import decode
from optimizer.engine.diagnosis import diagnose
from optimizer.engine.errors import InputError, SolverFailure
from optimizer.engine.explain import alternatives, binding_rows, marginal_values
from optimizer.engine.files import sha256_file
from optimizer.engine.instance import Instance, load_instance
from optimizer.engine.model import CompiledModel
from optimizer.engine.phasing import compile_phased, solve_myopic
from optimizer.engine.primal.plans import Polish, completed
from optimizer.engine.reachability import reachability
from optimizer.engine.rundir import write_run_dir
from optimizer.engine.scenario import LoadedScenario, SolverSettings
from optimizer.engine.solvers.base import OPTIMAL, SolveResult
from optimizer.engine.text import number as text_number
from optimizer.engine.verify import VerifyReport, loaded_from_run, verify_plan

Log = Callable[[str], None]


@dataclass
class ExplainOptions:
    """What the caller asked of the explanation of a plan (CLI flags over the scenario's ``explain``)."""
    marginals: bool
    alternatives: int = 0
    min_difference: float = 10.0


@dataclass
class Findings:
    """What explaining or diagnosing a plan adds: run.json keys, and further layers or tables to write
    beside the plan (relative path → content)."""
    run: dict
    outputs: dict[str, Any]


@runtime_checkable
class Problem(Protocol):
    kind: str
    loaded: LoadedScenario
    model: CompiledModel
    settings: SolverSettings
    timings: dict[str, float]
    """``load_s``, ``compile_s`` and any other preparation the problem timed"""
    polish: Polish | None
    """the problem's own local search, which the primal engine runs on each plan it finds (None: none)"""
    start_beside_lp: bool
    """its first plan is a bounded heuristic that may run in a second thread beside the LP when the run
    has two threads or more (the myopic plan of a phased scenario is whole solves: it runs first)"""

    def describe(self) -> dict:
        """run.json keys known before solving: model size, notes, reachability, inputs."""

    def reachability(self) -> list[dict]:
        """Each requirement's reachable amount before any solve; one unreachable item skips the solver."""

    def initial_plan(self, log: Log) -> tuple[np.ndarray | None, dict | None]:
        """A plan to start from (adapters with the ``warm_start`` feature use it) and run.json's ``warm_start``;
        several whole plans as the rows of a matrix, best first, where the problem's own search found more
        than one worth merging (the primal engine's ``crossover``)."""

    def complete(self, x: np.ndarray) -> np.ndarray:
        """An integer plan with its auxiliary columns set exactly from it (``Family.complete``), so its
        objective is its true value also when the solver stopped at a limit."""

    def decode(self, x: np.ndarray) -> Any:
        """The plan as it is written and verified."""

    def rescore(self, plan: Any) -> float | None:
        """The objective recomputed from the plan when it is defined outside the model (Marxan's score);
        None when the model's objective is the plan's objective."""

    def verify(self, plan: Any) -> VerifyReport:
        """The plan checked independently of the matrix."""

    def summarize(self, plan: Any, report: VerifyReport) -> dict:
        """run.json figures of a verified plan (area by use, what changed)."""

    def explain(self, result: SolveResult, options: ExplainOptions, log: Log) -> Findings:
        """Binding rows, marginal values, alternative plans."""

    def diagnose(self, result: SolveResult, log: Log) -> Findings:
        """Why an infeasible model is infeasible."""

    def write(self, target: Path, run: dict, plan: Any, outputs: dict[str, Any], x: np.ndarray | None) -> Path:
        """The run directory, atomically; ``x``: the plan's column values, kept for pricing the run later."""

    def layer(self, plan: Any) -> gpd.GeoDataFrame | None:
        """The plan as a GIS layer (what the run store keeps), None where it has no geometry."""

    @classmethod
    def reverify(cls, run_dir: Path, run: dict, plan: Any) -> VerifyReport:
        """``landalloc verify``: the plan saved in a run directory, checked again from its inputs."""


def changed_inputs(run: dict) -> list[dict]:
    """The inputs of a run whose file is missing or whose sha256 differs from run.json's (the scenario
    itself is stored in run.json and is not re-read)."""
    out = []
    for item in run.get("inputs", []):
        if item.get("role") == "scenario":
            continue
        path = Path(item["path"])
        if not path.exists() or sha256_file(path) != item["sha256"]:
            out.append(item)
    return out


class ParcelProblem:
    """What single-period and phased scenarios share: parcels with geometry, families, a GeoPackage plan."""

    kind: ClassVar[str]
    polish: ClassVar[None] = None
    start_beside_lp: ClassVar[bool] = False

    def __init__(self, loaded: LoadedScenario, settings: SolverSettings):
        self.loaded, self.settings, self.timings = loaded, settings, {}
        self._reach: list[dict] | None = None
        t = time.perf_counter()
        self.instance: Instance = load_instance(loaded)
        self.timings["load_s"] = time.perf_counter() - t
        t = time.perf_counter()
        self._compile()
        self.timings["compile_s"] = time.perf_counter() - t

    # -- what the two kinds define ----------------------------------------------------------------
    def _compile(self) -> None:
        raise NotImplementedError

    parts: list[tuple[str | None, LoadedScenario, Any]]
    """(period or None, that period's scenario, its CompiledScenario)"""

    def _slices(self, x: np.ndarray) -> list[tuple[str | None, Any, np.ndarray]]:
        raise NotImplementedError

    # -- the protocol ------------------------------------------------------------------------------
    @property
    def families(self) -> list:
        return [f for _, _, c in self.parts for f in c.families]

    def describe(self) -> dict:
        model, sc = self.model, self.loaded.scenario
        return {"periods": list(sc.periods) if sc.periods else None,
                "model": {"columns": model.n_cols, "rows": model.n_rows, "nonzeros": int(model.A.nnz),
                          "parcels": self.instance.n, "ineligible_pairs": len(model.ineligible), "sense": model.sense},
                "area_source": self.instance.area_source,
                "notes": list(self.instance.notes),
                "reachability": self.reachability(),
                "inputs": self.inputs()}

    def reachability(self) -> list[dict]:
        if self._reach is None:
            self._reach = []
            for period, _, comp in self.parts:
                self._reach += [{**r, **({"period": period} if period else {})} for r in reachability(comp, self.instance)]
        return self._reach

    def inputs(self) -> list[dict]:
        loaded, instance = self.loaded, self.instance
        items = []
        if loaded.path is not None:
            items.append({"role": "scenario", "path": str(loaded.path), "sha256": loaded.sha256})
        items.append({"role": "parcels", "path": str(instance.path.resolve()), "sha256": instance.sha256})
        seen = set()
        for fam in self.families:
            for p in fam.input_paths():
                p = Path(p).resolve()
                if (fam.name, p) not in seen:
                    seen.add((fam.name, p))
                    items.append({"role": fam.name, "path": str(p), "sha256": sha256_file(p)})
        return items

    def complete(self, x: np.ndarray) -> np.ndarray:
        x = x.copy()
        for _, comp, xs in self._slices(x):  # views into x
            for fam in comp.families:
                xs[:] = fam.complete(xs)
        return x

    def decode(self, x: np.ndarray) -> gpd.GeoDataFrame:
        plans = []
        for period, comp, xs in self._slices(x):
            plan = decode(comp, self.instance, xs)
            if period is not None:
                plan.insert(plan.columns.get_loc("site") + 1, "period", period)
            plans.append(plan)
        return plans[0] if len(plans) == 1 else gpd.GeoDataFrame(pd.concat(plans, ignore_index=True), crs=plans[0].crs)

    def rescore(self, plan: gpd.GeoDataFrame) -> None:
        return None

    def verify(self, plan: gpd.GeoDataFrame) -> VerifyReport:
        return verify_plan(self.loaded, self.instance, plan, {period: comp.families for period, _, comp in self.parts})

    def summarize(self, plan: gpd.GeoDataFrame, report: VerifyReport) -> dict:
        changed = plan["changed"].to_numpy(dtype=bool)
        return {"area_by_use": report.area_by_use,
                "changed_area_ha": float(plan.loc[changed, "area_ha"].sum()),
                "changed_parcels": int(changed.sum()),
                "objective_terms": report.terms}

    def explain(self, result: SolveResult, options: ExplainOptions, log: Log) -> Findings:
        found = self.price(result, log, marginals=options.marginals)
        outputs: dict[str, Any] = {}
        if options.alternatives > 0:
            found.update(self._alternatives(result, options, outputs))
        return Findings(found, outputs)

    def price(self, result: SolveResult, log: Log, *, marginals: bool = True, budget_s: float | None = None) -> dict:
        """The binding rows of a plan and, with ``marginals``, each priced by the next parcel within
        ``budget_s`` seconds (default: ``explain.marginal_budget`` of the solve time, at least
        ``explain.marginal_min_s``); the rows learn which side of a band narrower than a parcel binds."""
        binding = binding_rows(self.model, result.x)
        rows = [{"family": r.family, "key": r.key, "side": r.side, "unit": r.unit, "activity": float(r.activity),
                 "slack": float(r.slack), **({"period": r.period} if "period" in binding else {})}
                for r in binding.itertuples()]
        found: dict = {"binding": rows}
        if marginals and len(binding):
            found.update(self._marginal_values(result, binding, rows, log, budget_s))
        return found

    def _marginal_values(self, result: SolveResult, binding: pd.DataFrame, rows: list[dict], log: Log,
                         budget_s: float | None) -> dict:
        ex = self.loaded.scenario.explain
        if result.termination != OPTIMAL:
            return {"marginal_values": [], "marginal_values_skipped": f"the plan is not proven ({result.termination}); "
                                                                      "marginal values are priced from a proven plan"}
        budget = budget_s if budget_s is not None else max(ex.marginal_budget * result.time_s, ex.marginal_min_s)
        log(f"marginal values: pricing {min(len(binding), ex.max_marginal_rows)} binding row(s) by the next parcel "
            f"(at most {budget:.1f} s)")
        items, skipped = marginal_values(self.model, self.settings, result, binding, budget_s=budget,
                                         min_step=ex.marginal_step, max_rows=ex.max_marginal_rows,
                                         time_limit=ex.marginal_time_limit, log=log, complete=self.complete)
        for row, item in zip(rows, items):
            if "skipped" not in item and row["side"] == "both":
                row.update(side=item["side"], band_narrower_than_a_parcel=True)
        out = {"marginal_values": [self._in_words(it) for it in items],
               "marginal_values_method": ("the binding bound relaxed by the next parcel, re-solved warm-started from "
                                          "the plan; value = objective change / activity change (optimizer/engine/explain.py)")}
        if skipped:
            out["marginal_values_skipped"] = skipped
        return out

    def _in_words(self, item: dict) -> dict:
        """The marginal value with the parcels that moved (ids and uses) and a sentence in English and Vietnamese."""
        if "skipped" in item or item["step"] is None:
            return item
        cols = self.model.columns

        def parcel_ids(columns: list[int]) -> list:
            parcels = cols["parcel"].to_numpy()[columns]
            return self.instance.ids[parcels[parcels >= 0]].tolist()

        item = dict(item)
        item["parcels_in"], item["parcels_out"] = parcel_ids(item.pop("columns_in")), parcel_ids(item.pop("columns_out"))
        unit_vi = {"ha": "ha", "households": "hộ", "parcel": "thửa"}.get(item["unit"], item["unit"])
        what = f"{item['family']} {item['key']}" + (f" ({item['period']})" if item.get("period") else "")
        moved = item["parcels_in"] or item["parcels_out"]
        ids = ", ".join(map(str, moved[:5])) + ("…" if len(moved) > 5 else "")
        bound_en = f"the {'cap' if item['side'] == 'hi' else 'floor'} of {text_number(item['bound'], 'en')} {item['unit']}"
        bound_vi = f"{'mức trần' if item['side'] == 'hi' else 'mức sàn'} {text_number(item['bound'], 'vi')} {unit_vi}"
        if abs(item["step"]) < 1e-9:
            if item["conclusive"]:
                item["explanation_en"] = f"{what}: room for one more parcel past {bound_en} does not improve the plan."
                item["explanation_vi"] = f"{what}: nới {bound_vi} thêm một thửa không cải thiện phương án."
            else:
                item["explanation_en"] = (f"{what}: no better plan was found within {item['time_s']:g} s with room for "
                                          f"one more parcel past {bound_en}; inconclusive.")
                item["explanation_vi"] = (f"{what}: trong {text_number(item['time_s'], 'vi', 1)} giây chưa tìm được phương án "
                                          f"tốt hơn khi nới {bound_vi} thêm một thửa; chưa kết luận được.")
            return item
        value = (f"{text_number(item['marginal_value'], 'en')} per {item['unit']}" if item["conclusive"] else
                 "inconclusive at the solves' gap")
        value_vi = (f"{text_number(item['marginal_value'], 'vi')} trên mỗi {unit_vi}" if item["conclusive"] else
                    "chưa kết luận được trong sai số của lời giải")
        item["explanation_en"] = (
            f"{what}: {bound_en} binds (the plan holds {text_number(item['activity'], 'en')}). "
            f"With the next parcel(s) ({ids}) it would hold {text_number(item['achieved'], 'en')} {item['unit']} and the objective would change by "
            f"{text_number(item['delta_objective'], 'en')}: {value}.")
        item["explanation_vi"] = (
            f"{what}: {bound_vi} đang ràng buộc (phương án đạt {text_number(item['activity'], 'vi')}). "
            f"Với thửa kế tiếp ({ids}) giá trị sẽ là {text_number(item['achieved'], 'vi')} {unit_vi} "
            f"và hàm mục tiêu thay đổi {text_number(item['delta_objective'], 'vi')}: {value_vi}.")
        return item

    def _alternatives(self, result: SolveResult, options: ExplainOptions, outputs: dict) -> dict:
        raise InputError(self.loaded.label, "periods", "--alternatives is not available for phased scenarios yet",
                         "run the alternatives on one period's scenario")

    def diagnose(self, result: SolveResult, log: Log) -> Findings:
        log("infeasible: re-solving with soft rows relaxed to find the conflicting requirements")
        relaxed, rows, _ = diagnose(self.model, self.settings, self.loaded.scenario.diagnosis)
        found = {"diagnosis": rows, "diagnosis_certificate": relaxed.certificate(),
                 "diagnosis_total_shortfall": float(sum(d["shortfall"] for d in rows))}
        outputs = {}
        if relaxed.has_solution:
            found["diagnosis_weighted_relaxation"] = relaxed.objective
            outputs["diagnosis_plan.gpkg"] = self.decode(relaxed.x[: self.model.n_cols])
        return Findings(found, outputs)

    def layer(self, plan: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
        return plan

    def write(self, target: Path, run: dict, plan: gpd.GeoDataFrame | None, outputs: dict[str, Any],
              x: np.ndarray | None) -> Path:
        return write_run_dir(target, run, plan, outputs, style=self.loaded.scenario.land_uses,
                             solution=None if x is None else (self.model, x))

    @classmethod
    def reverify(cls, run_dir: Path, run: dict, plan: gpd.GeoDataFrame | None) -> VerifyReport:
        """``landalloc verify``: the saved plan against the scenario stored in run.json."""
        if plan is None:
            raise InputError(str(run_dir), "allocation.gpkg", "no plan in this run (status "
                             f"{run.get('status')!r})", "only runs that found a plan can be verified")
        loaded = loaded_from_run(run, run_dir)
        return verify_plan(loaded, load_instance(loaded), plan)


class SinglePeriod(ParcelProblem):
    """One plan for one horizon."""

    kind = "single period"

    def _compile(self) -> None:
        self.compiled = compile_model(self.instance, self.loaded)
        self.model = self.compiled.model
        self.parts = [(None, self.loaded, self.compiled)]

    def _slices(self, x):
        return [(None, self.compiled, x)]

    def initial_plan(self, log: Log) -> tuple[np.ndarray | None, dict | None]:
        """The families' partial plans (the sites' greedy cores, NaN elsewhere), which the solver completes."""
        start = np.full(self.model.n_cols, np.nan)
        for fam in self.compiled.families:
            cols, values = fam.start()
            start[cols] = values
        return (None if np.isnan(start).all() else start), None

    def _alternatives(self, result: SolveResult, options: ExplainOptions, outputs: dict) -> dict:
        """K further plans, each differing from every earlier one by min_difference % of the converted area."""
        t = time.perf_counter()
        compiled, model = self.compiled, self.model
        cols = model.columns.iloc[: compiled.n_assign]
        area = self.instance.area_ha[cols["parcel"].to_numpy()]
        converted = (result.x[: compiled.n_assign] > 0.5) & ~cols["keep"].to_numpy()
        items = []
        for i, (res, alt_model) in enumerate(alternatives(compiled, self.settings, result, area, converted,
                                                          options.alternatives, options.min_difference), start=1):
            res = completed(alt_model, res, self.complete)
            item = {"index": i, **res.certificate(), "status": res.status}
            if res.has_solution:
                check_plan(alt_model, res)
                plan = self.decode(res.x)
                report = self.verify(plan)
                item.update(gap_to_best=abs(res.objective - result.objective) / max(abs(result.objective), 1e-9),
                            verify=report.as_dict(), layer=f"alternatives/alternative_{i}.gpkg",
                            changed_area_ha=float(plan.loc[plan["changed"], "area_ha"].sum()))
                outputs[item["layer"]] = plan
            items.append(item)
        self.timings["alternatives_s"] = time.perf_counter() - t
        return {"alternatives": items, "alternatives_min_difference_pct": options.min_difference}


class Phased(ParcelProblem):
    """One plan per period, solved jointly: x[parcel, use, period], built stays built, sites expand."""

    kind = "phased"

    def _compile(self) -> None:
        self.phased = compile_phased(self.instance, self.loaded)
        self.model = self.phased.model
        self.parts = [(b.name, b.loaded, b.compiled) for b in self.phased.blocks]

    def _slices(self, x):
        return [(b.name, b.compiled, self.phased.x_of(b, x)) for b in self.phased.blocks]

    def initial_plan(self, log: Log) -> tuple[np.ndarray | None, dict | None]:
        """The myopic plan (each period solved in turn, earlier ones fixed), so the joint plan is never worse."""
        log("warm start: solving the periods one after another (myopic plan)")
        t = time.perf_counter()
        periods, start = solve_myopic(self.phased, self.settings)
        start = None if start is None else self.complete(start)
        self.timings["warm_start_s"] = time.perf_counter() - t
        return start, {"method": "myopic: each period solved in turn with the earlier ones fixed",
                       "objective": None if start is None else self.model.objective_value(start),
                       "periods": [p.__dict__ for p in periods]}


def check_plan(model: CompiledModel, result: SolveResult) -> None:
    """A plan that breaks the model's own rows is solver garbage: refuse it rather than report it."""
    violations = model.violations(result.x)
    if len(violations):
        raise SolverFailure(f"{result.solver} returned a plan that breaks {len(violations)} model row(s), e.g. "
                            f"{violations.iloc[0].to_dict()}; not trusting it")
