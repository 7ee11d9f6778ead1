"""Multi-period plans: x[parcel, use, period] with "built stays built".

Formulation. Each period t is the scenario with that period's overrides (its own quotas, sites,
land balance …) compiled on the same instance; the blocks are stacked block-diagonally and the
objective is Σ_t w_t · objective_t (weights stated in the scenario). Linking rows, for consecutive
periods t → t+1:

    x[p, u, t] ≤ x[p, u, t+1]      for every conversion column (p, u) of period t
                                    (fixed to 0 when period t+1 has no such column)
    y[p, s, t] ≤ y[p, s', t+1]     for every parcel of site s when s' = expansions[s] in t+1

so a parcel developed by 2030 keeps its use in 2050, an expanded site contains its earlier site
(and stays connected through its own contiguity rows in t+1), and the other sites of t+1 are new.

Why one row per conversion column, measured on cao_bang_2030_2050 (benchmarks/README.md, "The joint
model's built-stays-built rows"): 65,720 of its 65,917 linked conversions are the only conversion of
their parcel (ONT, resettlement land), so a row per parcel over uses is the same rows — and for a
parcel with several uses it is not exact (it lets a parcel switch use). Substituting cumulative
columns (x[t+1] = x[t] + d, d ≥ 0: no link rows at all, the same LP; benchmarks/phasing_links.py)
made HiGHS's presolve take minutes (the LP 165 s instead of 1.5 s, the MIP 2.4× slower), as x[t]
then enters every row of period t+1.

The engine owns only "built stays built". Everything else a family carries from one period to the
next goes through its period hooks (``Family.seed_period``, ``link_periods``, ``verify_periods``),
called for every registered family with the earlier period's compiled model and the later period's
settings: the sites family, for one, grows an expanded site's neighbourhood from its earlier site's
candidates and adds the y rows above. This module knows no family's columns or config.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from constraints._api import PeriodLink, Violation, match_columns, registry

from optimizer.engine.compile import CompiledScenario, compile_model
from optimizer.engine.instance import Instance
from optimizer.engine.model import CompiledModel
from optimizer.engine.scenario import LoadedScenario, Period, deep_merge, parse_scenario
from optimizer.engine.solvers import get_adapter

PHASING = "phasing"


@dataclass(frozen=True)
class PeriodBlock:
    name: str
    loaded: LoadedScenario
    compiled: CompiledScenario
    col_offset: int
    row_offset: int


@dataclass(frozen=True)
class Phased:
    model: CompiledModel
    blocks: list[PeriodBlock]

    def x_of(self, block: PeriodBlock, x: np.ndarray) -> np.ndarray:
        return x[block.col_offset: block.col_offset + block.compiled.model.n_cols]


def period_scenarios(loaded: LoadedScenario) -> list[tuple[str, LoadedScenario]]:
    """One validated scenario per period: the base (without `periods`) merged with the period's overrides."""
    base = {k: v for k, v in loaded.raw.items() if k != "periods"}
    out = []
    for name, period in loaded.scenario.periods.items():
        raw = deep_merge(base, period.overrides)
        raw["name"] = f"{loaded.scenario.name} [{name}]"
        out.append((name, parse_scenario(raw, f"{loaded.label} (period {name})", loaded.base_dir, loaded.path, loaded.sha256)))
    return out


def _seeded(instance: Instance, lt: LoadedScenario, period: Period, earlier: PeriodBlock) -> LoadedScenario:
    """The period's scenario with what every family carries over from the earlier period merged in."""
    link = PeriodLink(instance=instance, earlier=earlier.compiled.model, period=period)
    overlay: dict = {}
    for fam in registry().values():
        overlay = deep_merge(overlay, fam.seed_period(link, lt))
    if not overlay:
        return lt
    return parse_scenario(deep_merge(lt.raw, overlay), lt.label, lt.base_dir, lt.path, lt.sha256)


def _family_links(instance: Instance, a: PeriodBlock, b: PeriodBlock, period: Period) -> tuple[np.ndarray, np.ndarray]:
    """Every family's nesting pairs between periods a and b, as columns of the stacked model."""
    link = PeriodLink(instance=instance, earlier=a.compiled.model, period=period)
    ct, cn = [], []
    for fam in registry().values():
        t, n = fam.link_periods(link, b.compiled.model)
        ct.append(t + a.col_offset)
        cn.append(np.where(n >= 0, n + b.col_offset, -1))
    return np.concatenate(ct), np.concatenate(cn)


def compile_phased(instance: Instance, loaded: LoadedScenario) -> Phased:
    blocks: list[PeriodBlock] = []
    col_off = row_off = 0
    for name, lt in period_scenarios(loaded):
        if blocks:
            lt = _seeded(instance, lt, loaded.scenario.periods[name], blocks[-1])
        comp = compile_model(instance, lt)
        blocks.append(PeriodBlock(name, lt, comp, col_off, row_off))
        col_off += comp.model.n_cols
        row_off += comp.model.n_rows
    models = [b.compiled.model for b in blocks]
    weights = [loaded.scenario.periods[b.name].weight for b in blocks]
    columns = pd.concat([m.columns.assign(period=b.name) for m, b in zip(models, blocks)], ignore_index=True)
    rows = pd.concat([m.rows.assign(period=b.name) for m, b in zip(models, blocks)], ignore_index=True)
    col_hi = np.concatenate([m.col_hi for m in models])
    link_r, link_c, link_v, link_keys = [], [], [], []
    for a, b in zip(blocks[:-1], blocks[1:]):
        ma, mb = a.compiled.model, b.compiled.model
        conv_a = ma.columns.iloc[: a.compiled.n_assign]
        conv_b = mb.columns.iloc[: b.compiled.n_assign]
        pa = conv_a.loc[~conv_a["keep"], ["parcel", "use"]].assign(col=lambda d: d.index.to_numpy() + a.col_offset)
        pb = conv_b.loc[~conv_b["keep"], ["parcel", "use"]].assign(col=lambda d: d.index.to_numpy() + b.col_offset)
        ct, cn = match_columns(pa, pb, ["parcel", "use"])
        ft, fn = _family_links(instance, a, b, loaded.scenario.periods[b.name])
        ct, cn = np.concatenate([ct, ft]), np.concatenate([cn, fn])
        col_hi[ct[cn < 0]] = 0.0  # nothing to stay built as in t+1: cannot be built in t
        ct, cn = ct[cn >= 0], cn[cn >= 0]
        start = sum(len(k) for k in link_keys)
        r = np.arange(len(ct)) + start
        link_r += [r, r]
        link_c += [ct, cn]
        link_v += [np.ones(len(ct)), -np.ones(len(ct))]
        link_keys.append(np.array([f"{a.name}→{b.name}"] * len(ct), dtype=object))
    A = sp.block_diag([m.A for m in models], format="csr")
    n_links = sum(len(k) for k in link_keys)
    if n_links:
        L = sp.csr_matrix((np.concatenate(link_v), (np.concatenate(link_r), np.concatenate(link_c))),
                          shape=(n_links, A.shape[1]))
        A = sp.vstack([A, L]).tocsr()
        link_rows = pd.DataFrame({"family": PHASING, "key": np.concatenate(link_keys), "lo": -np.inf, "hi": 0.0,
                                  "soft": False, "unit": "", "period": np.concatenate(link_keys)})
        rows = pd.concat([rows, link_rows], ignore_index=True)
    sense = models[0].sense
    c = np.concatenate([w * m.c for w, m in zip(weights, models)])
    model = CompiledModel(A=A, row_lo=rows["lo"].to_numpy(dtype=float), row_hi=rows["hi"].to_numpy(dtype=float), c=c,
                          col_lo=np.concatenate([m.col_lo for m in models]), col_hi=col_hi,
                          integer=np.concatenate([m.integer for m in models]), sense=sense, columns=columns, rows=rows,
                          ineligible=pd.concat([m.ineligible.assign(period=b.name) for m, b in zip(models, blocks)],
                                               ignore_index=True),
                          offset=float(sum(w * m.offset for w, m in zip(weights, models))))
    return Phased(model=model, blocks=blocks)


def verify_nesting(loaded: LoadedScenario, plans: list[tuple[str, gpd.GeoDataFrame]]) -> list[Violation]:
    """Independent of the matrix: every parcel developed in t keeps its use in t+1, and what each
    family's period links promise (e.g. every parcel of an expanded site stays in its expansion)."""
    out = []
    for (ta, pa), (tb, pb) in zip(plans[:-1], plans[1:]):
        a = pa.set_index("parcel_id")
        b = pb.set_index("parcel_id").loc[a.index]
        lost = a["changed"].to_numpy(dtype=bool) & (a["new_use"].to_numpy() != b["new_use"].to_numpy())
        if lost.any():
            out.append(Violation(PHASING, f"{ta}→{tb}", f"{lost.sum()} parcel(s) developed by {ta} have another use in {tb}",
                                 tuple(a.index[lost].tolist())))
        for fam in registry().values():  # reported under phasing, whichever family checks the nesting
            out += [replace(v, family=PHASING) for v in fam.verify_periods(loaded.scenario.periods[tb], (ta, tb), a, b)]
    return out


@dataclass(frozen=True)
class PeriodResult:
    period: str
    objective: float | None
    """this period's own objective (unweighted), or None when it has no plan"""
    termination: str
    gap: float | None
    bound: float | None = None
    """the solver's bound on this period's own objective given the earlier periods' plans — for the first
    period a bound of its objective in every joint plan, as a joint plan meets all of its rows"""
    time_s: float | None = None


def _leading(model: CompiledModel, n_cols: int) -> CompiledModel:
    """The model restricted to its first n_cols columns and the rows that touch only them: the
    earlier periods without any row of a later one (their quotas, sites, or links into them)."""
    A = model.A.tocsr()
    last = np.full(A.shape[0], -1, dtype=np.int64)
    nnz_rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    np.maximum.at(last, nnz_rows, A.indices)
    keep = last < n_cols
    return CompiledModel(A=A[keep][:, :n_cols], row_lo=model.row_lo[keep], row_hi=model.row_hi[keep],
                         c=model.c[:n_cols], col_lo=model.col_lo[:n_cols].copy(), col_hi=model.col_hi[:n_cols].copy(),
                         integer=model.integer[:n_cols], sense=model.sense,
                         columns=model.columns.iloc[:n_cols].reset_index(drop=True),
                         rows=model.rows.loc[keep].reset_index(drop=True), ineligible=model.ineligible,
                         offset=model.offset)


def solve_myopic(phased: Phased, settings) -> tuple[list[PeriodResult], np.ndarray | None]:
    """Period by period, as a plan made for 2030 without regard for 2050: period t is solved with the
    rows of periods ≤ t only and every earlier period's plan fixed. Returns each period's own objective
    and the stacked plan (None when a period has no plan, e.g. when earlier choices make it infeasible)
    — the baseline the joint model is compared with."""
    adapter = get_adapter(settings.name)
    fixed = np.zeros(0)
    out: list[PeriodResult] = []
    for b in phased.blocks:
        end = b.col_offset + b.compiled.model.n_cols
        sub = _leading(phased.model, end)
        c = np.zeros(end)
        c[b.col_offset:] = b.compiled.model.c           # this period's own objective only
        sub = CompiledModel(**{**sub.__dict__, "c": c, "offset": b.compiled.model.offset})
        sub.col_lo[: len(fixed)] = fixed
        sub.col_hi[: len(fixed)] = fixed
        res = adapter.solve(sub, settings)
        if not res.has_solution:
            out.append(PeriodResult(b.name, None, res.termination, None, time_s=round(res.time_s, 3)))
            out += [PeriodResult(later.name, None, "not solved", None) for later in phased.blocks[len(out):]]
            return out, None
        x = np.round(res.x, 9)
        x[sub.integer] = np.round(x[sub.integer])
        fixed = x
        out.append(PeriodResult(b.name, res.objective, res.termination, res.gap, res.bound, round(res.time_s, 3)))
    return out, fixed


def period_objectives(phased: Phased, x: np.ndarray) -> list[float]:
    """Each period's own (unweighted) objective of a stacked plan."""
    return [float(b.compiled.model.c @ phased.x_of(b, x) + b.compiled.model.offset) for b in phased.blocks]

