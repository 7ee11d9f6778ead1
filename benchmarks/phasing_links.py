"""The joint model's "built stays built" links in two exact forms, side by side.

    python -m benchmarks.phasing_links instances/cao_bang/scenarios/cao_bang_2030_2050.yaml --rounds 2

- rows (what optimizer/engine/phasing.py compiles): x[t] − x[t+1] ≤ 0, one row per linked column;
- cumulative: no link rows; each linked later column becomes the increment d = x[t+1] − x[t] ≥ 0,
  so x[t+1] = x[t] + d enters every row and objective entry of x[t+1]. Exact where x[t+1] ≤ 1 is
  implied by a row — a conversion column's one-use row — so the sites' y links stay rows.

Both have the same LP relaxation (a change of variables); the question is what HiGHS makes of
them. For each form, alternating round by round: the LP relaxation's bound and time, then the MIP
from the myopic plan (as `landalloc solve` starts a phased scenario) with its time to 0.5 %.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from optimizer.engine.model import CompiledModel

ONE_USE = "one_use"


@dataclasses.dataclass(frozen=True)
class Cumulative:
    model: CompiledModel
    T: sp.csr_matrix
    """x = T z: the original columns from the cumulative model's"""
    E: sp.csr_matrix
    """E[later, earlier] = 1 for each substituted link; T = (I − E)⁻¹"""

    def to_original(self, z: np.ndarray) -> np.ndarray:
        return self.T @ z

    def from_original(self, x: np.ndarray) -> np.ndarray:
        return x - self.E @ x


def cumulative(model: CompiledModel) -> Cumulative:
    """The model with its one-use-bounded link rows replaced by increment columns (module docstring)."""
    link = (model.rows["family"] == "phasing").to_numpy()
    rows = np.nonzero(link)[0]
    L = model.A[link].tocoo()                           # each link row: +1 on x[t], −1 on x[t+1]
    pos = L.data > 0
    ct = L.col[pos][np.argsort(L.row[pos], kind="stable")]
    cn = L.col[~pos][np.argsort(L.row[~pos], kind="stable")]
    one_use = model.A[(model.rows["family"] == ONE_USE).to_numpy()].tocsc()
    bounded = np.diff(one_use.indptr)[cn] > 0          # x[t+1] ≤ 1 follows from its one-use row
    drop = np.zeros(model.n_rows, bool)
    drop[rows[bounded]] = True
    ct, cn = ct[bounded], cn[bounded]
    n = model.n_cols
    E = sp.csr_matrix((np.ones(len(ct)), (cn, ct)), shape=(n, n))
    T, P = sp.identity(n, format="csr"), E.copy()
    while P.nnz:                                        # x = (I − E)⁻¹ z: chains over three or more periods
        T, P = T + P, (P @ E).tocsr()
    keep = ~drop
    col_lo = model.col_lo.copy()
    col_lo[cn] = 0.0
    out = dataclasses.replace(model, A=(model.A[keep] @ T).tocsr(), row_lo=model.row_lo[keep], row_hi=model.row_hi[keep],
                              rows=model.rows.loc[keep].reset_index(drop=True), c=np.asarray(T.T @ model.c).ravel(),
                              col_lo=col_lo)
    return Cumulative(out, T.tocsr(), E)


def main() -> None:
    from benchmarks.solve_one import time_to_gap
    from optimizer.engine.instance import load_instance
    from optimizer.engine.phasing import compile_phased, solve_myopic
    from optimizer.engine.scenario import apply_overrides, load_scenario
    from optimizer.engine.solvers import get_adapter

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", type=Path)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--forms", nargs="+", choices=("rows", "cumulative"), default=["rows", "cumulative"])
    args = ap.parse_args()
    loaded = apply_overrides(load_scenario(args.scenario), {"solver.time_limit": args.time_limit})
    settings = loaded.scenario.solver
    phased = compile_phased(load_instance(loaded), loaded)
    _, start = solve_myopic(phased, settings)
    cum = cumulative(phased.model)
    forms = {"rows": (phased.model, start), "cumulative": (cum.model, None if start is None else cum.from_original(start))}
    forms = {k: forms[k] for k in args.forms}
    adapter = get_adapter(settings.name)
    print("| form | round | load | rows | nonzeros | LP bound | LP (s) | t ≤ 0.5 % (s) | solve (s) | objective | termination |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for rnd in range(args.rounds):
        for name, (model, x0) in forms.items():
            load = os.getloadavg()[0]
            t = time.perf_counter()
            lp = adapter.solve(dataclasses.replace(model, integer=np.zeros(model.n_cols, bool)), settings)
            lp_s = time.perf_counter() - t
            res = adapter.solve(model, settings, start=x0)
            t05 = time_to_gap(res.progress)["0.005"]
            fmt = lambda v, f="{:,.2f}": "—" if v is None else f.format(v)  # noqa: E731
            print(f"| {name} | {rnd + 1} | {load:.2f} | {model.n_rows:,} | {model.A.nnz:,} | {fmt(lp.objective)} "
                  f"({lp.termination}) | {lp_s:.1f} | {fmt(t05, '{:.1f}')} | {res.time_s:.1f} | {fmt(res.objective)} | "
                  f"{res.termination} |", flush=True)


if __name__ == "__main__":
    main()
