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
An expanded site's candidate neighbourhood is grown from its earlier site's candidates (the sites
family's ``include``), so every parcel the earlier site may take can stay in the expansion.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from constraints._api import Violation

from optimizer.engine.compile import Compiled, compile_model
from optimizer.engine.instance import Instance
from optimizer.engine.model import CompiledModel
from optimizer.engine.scenario import LoadedScenario, deep_merge, parse_scenario
from optimizer.engine.solvers import get_adapter

PHASING = "phasing"


@dataclass(frozen=True)
class PeriodBlock:
    name: str
    loaded: LoadedScenario
    compiled: Compiled
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


def _site_columns(model: CompiledModel) -> pd.DataFrame:
    cols = model.columns
    sel = (cols["family"] == "sites") & (cols["parcel"] >= 0) & (cols["use"] != "")
    out = cols.loc[sel, ["key", "parcel"]].copy()
    out["site"] = out["key"].str.rsplit(":", n=1).str[0]
    out["col"] = out.index.to_numpy()
    return out


def _links(prev: pd.DataFrame, nxt: pd.DataFrame, on: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(column in t, column in t+1 or -1) for every column of ``prev``, matched on ``on``."""
    m = prev.merge(nxt, on=on, how="left", suffixes=("_t", "_n"))
    return m["col_t"].to_numpy(dtype=np.int64), m["col_n"].fillna(-1).to_numpy(dtype=np.int64)


def _seed_expansions(instance: Instance, lt: LoadedScenario, expansions: dict[str, str],
                     prev: PeriodBlock) -> LoadedScenario:
    """The period's scenario with each expanded site's ``include`` holding its earlier site's candidates."""
    fam = next((f for f in prev.compiled.families if f.name == "sites"), None)
    sites = lt.raw.get("constraints", {}).get("sites", {}).get("sites")
    if not expansions or fam is None or not sites:
        return lt
    earlier = fam.candidates()
    raw = copy.deepcopy(lt.raw)
    for site in raw["constraints"]["sites"]["sites"]:
        old = expansions.get(site.get("name"))
        if old in earlier:
            seeds = list(site.get("include", [])) + instance.ids[earlier[old]].tolist()
            site["include"] = list(dict.fromkeys(seeds))
    return parse_scenario(raw, lt.label, lt.base_dir, lt.path, lt.sha256)


def compile_phased(instance: Instance, loaded: LoadedScenario) -> Phased:
    blocks: list[PeriodBlock] = []
    col_off = row_off = 0
    for name, lt in period_scenarios(loaded):
        if blocks:
            lt = _seed_expansions(instance, lt, loaded.scenario.periods[name].site_expansions, blocks[-1])
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
        ct, cn = _links(pa, pb, ["parcel", "use"])
        expansions = loaded.scenario.periods[b.name].site_expansions
        if expansions:
            sa, sb = _site_columns(ma), _site_columns(mb)
            sb = sb.assign(site=sb["site"].map({v: k for k, v in expansions.items()}))  # name as in period a
            sa = sa.assign(col=sa["col"] + a.col_offset)[["site", "parcel", "col"]]
            sb = sb.dropna(subset=["site"]).assign(col=lambda d: d["col"] + b.col_offset)[["site", "parcel", "col"]]
            st, sn = _links(sa[sa["site"].isin(expansions.values())], sb, ["site", "parcel"])
            ct, cn = np.concatenate([ct, st]), np.concatenate([cn, sn])
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
    """Independent of the matrix: every parcel developed in t keeps its use in t+1; every parcel of an
    expanded site stays in its expansion."""
    out = []
    for (ta, pa), (tb, pb) in zip(plans[:-1], plans[1:]):
        a = pa.set_index("parcel_id")
        b = pb.set_index("parcel_id").loc[a.index]
        lost = a["changed"].to_numpy(dtype=bool) & (a["new_use"].to_numpy() != b["new_use"].to_numpy())
        if lost.any():
            out.append(Violation(PHASING, f"{ta}→{tb}", f"{lost.sum()} parcel(s) developed by {ta} have another use in {tb}",
                                 tuple(a.index[lost].tolist())))
        for new, old in loaded.scenario.periods[tb].site_expansions.items():
            in_old = a["site"].to_numpy() == old
            moved = in_old & (b["site"].to_numpy() != new)
            if moved.any():
                out.append(Violation(PHASING, f"{old}→{new}", f"{moved.sum()} parcel(s) of {old} ({ta}) are not in "
                                     f"its expansion {new} ({tb})", tuple(a.index[moved].tolist())))
    return out


@dataclass(frozen=True)
class PeriodResult:
    period: str
    objective: float | None
    """this period's own objective (unweighted), or None when it has no plan"""
    termination: str
    gap: float | None


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
            out.append(PeriodResult(b.name, None, res.termination, None))
            out += [PeriodResult(later.name, None, "not solved", None) for later in phased.blocks[len(out):]]
            return out, None
        x = np.round(res.x, 9)
        x[sub.integer] = np.round(x[sub.integer])
        fixed = x
        out.append(PeriodResult(b.name, res.objective, res.termination, res.gap))
    return out, fixed


def period_objectives(phased: Phased, x: np.ndarray) -> list[float]:
    """Each period's own (unweighted) objective of a stacked plan."""
    return [float(b.compiled.model.c @ phased.x_of(b, x) + b.compiled.model.offset) for b in phased.blocks]

