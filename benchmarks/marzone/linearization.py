"""The boundary linearizations side by side on the grid projects: size, root LP bound, time to 0.5 %.

For each project the forms (aggregated, marginal, auto) are built and solved in turn, ``repeat`` rounds,
so they share the machine's load: the LP relaxation (integrality dropped, HiGHS, one thread) gives the
root bound and its time; the MIP (HiGHS, one thread, gap 0.5 %, soft targets) gives the time to 0.5 %
from its time-to-gap trace, its final gap and the best plan's score. Round k uses HiGHS seed
``seed + k``: the search path, not only the load, varies between rounds.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.marzone.compare import load
from benchmarks.solve_one import time_to_gap
from optimizer.engine.scenario import SolverSettings
from optimizer.engine.solvers import get_adapter
from optimizer.marxan.model import build_model
from optimizer.marxan.reader import read_project

FORMS = ("aggregated", "marginal", "auto")


def measure(project: Path, *, time_limit: float, repeat: int = 1, seed: int = 0, forms=FORMS) -> list[dict]:
    p = read_project(project)
    highs = get_adapter("highs")
    rows = []
    for k in range(repeat):
        for form in forms:
            t = time.perf_counter()
            mm = build_model(p, "soft", form)
            build_s = time.perf_counter() - t
            m = mm.model
            row = {"planning_units": p.n_pu, "form": form, "repeat": k, "highs_seed": seed + k, "load_before": load(),
                   "build_s": build_s,
                   "columns": m.n_cols, "rows": m.n_rows, "nonzeros": int(m.A.nnz),
                   "boundary_form": mm.stats["boundary_form"], "boundary_pairs": mm.stats["boundary_pairs"],
                   "aggregated_tight_pairs": mm.stats["boundary_tight_pairs"]}
            lp = highs.solve(replace(m, integer=np.zeros(m.n_cols, dtype=bool)),
                             SolverSettings(time_limit=time_limit, threads=1, seed=0))
            row.update(root_lp_bound=lp.objective, root_lp_s=lp.time_s, root_lp_termination=lp.termination)
            r = highs.solve(m, SolverSettings(time_limit=time_limit, threads=1, seed=seed + k, gap=0.005))
            ttg = time_to_gap(r.progress, (0.05, 0.01, 0.005))
            row.update(mip_termination=r.termination, mip_s=r.time_s, objective=r.objective, bound=r.bound, gap=r.gap,
                       t_5pct=ttg["0.05"], t_1pct=ttg["0.01"], t_half_pct=ttg["0.005"],
                       first_plan_s=next((pt["t"] for pt in r.progress if pt.get("incumbent") is not None), None))
            print(f"  {p.n_pu:>6} PUs {form:>10} ({row['boundary_form']}, seed {seed + k}): {m.n_cols:,} columns, root LP "
                  f"{lp.objective:,.2f} in {lp.time_s:.1f} s; MIP {r.termination}, gap "
                  f"{'—' if r.gap is None else format(100 * r.gap, '.2f')} %, ≤0.5 % at {row['t_half_pct']} s; "
                  f"load {row['load_before']}", file=sys.stderr, flush=True)
            rows.append(row)
    return rows
