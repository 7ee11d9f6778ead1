"""compactness — reward shared boundary between neighbouring parcels that take the same use (or group).

Planners want industrial parks, clusters and tourism areas in blocks, not scattered cells. This
family rewards every metre of boundary two neighbouring parcels share when both end up in the same
use (or in the same group of uses, e.g. SKK and SKN together as "industry").

Formulation. Groups G (a use with a weight in ``weights`` is a group of one; ``groups`` lists
multi-use groups) with weight w_G > 0, the reward per km of shared boundary. For a parcel p let

    y[p, G] = Σ_{u ∈ G} x[p, u]          (∈ {0, 1}: each parcel takes exactly one use)

where x[p, u] includes the keep column, so a parcel that keeps a use of G is in G. For every
undirected rook edge e = (i, j) of the parcel layer with shared length b_e > 1e-6 m (queen point
contacts have no length and earn nothing) whose two parcels both have a column in G, one
continuous column z[e, G] ∈ [0, 1] with objective coefficient s · w_G · b_e / 1000, where s = +1 in a
maximized and −1 in a minimized objective (the reward always improves the objective), and

    pairwise (default):   z[e, G] ≤ y[i, G],   z[e, G] ≤ y[j, G]                    (2 rows per edge)
    aggregated:           Σ_{e ∋ p} z[e, G] ≤ deg_G(p) · y[p, G]   for every parcel p  (1 row per parcel)

The reward pushes z up, so at an integer optimum z[e, G] = min(y[i, G], y[j, G]) = y[i, G]·y[j, G]:
the product is exact without any binary per edge, and without a variable per pair of uses — one
continuous column per edge per group ("aggregated edge variables"). The aggregated rows are also
exact for integer y (y[p] = 0 forces every incident z to 0; y[p] = 1 makes the row redundant given
z ≤ 1) and need n rows instead of 2·|E|, but their LP relaxation is weaker (y = ½ lets a degree-4
parcel's edges reach 1 each), so branch and bound works harder; the pairwise rows are the standard,
tight ones (prioritizr's boundary penalties use the same two rows per product). Measured on
prioritizr's p6 (tests/test_family_compactness.py): pairwise rows solve to optimality (10,260) in
seconds; aggregated rows with one product per zone pair still had a bound of 3,304 after 120 s.

The reward makes z exact at an optimum, not at every integer point: a plan returned at a time or gap
limit may carry some z below y_i·y_j (seen with HiGHS: the reported objective understated the plan's
reward by up to 1.1 % at 1,000 parcels, and verify flagged the objective). Rather than a row per edge
z ≥ y_i + y_j − 1 (redundant for the LP, only there to pin z at integer points), ``complete`` sets
every z to y_i·y_j from the integer plan after the solve; the run does so for every plan a solver
returns and recomputes its objective, so a plan stopped by a limit carries its true reward (the
bound stays the solver's). z = y_i·y_j meets both linearizations' rows. ``exact_incumbents`` is
still accepted for scenarios that set it, and has no effect.

Which pairs count (``count``):
- ``new`` (default): edges whose two parcels are not both in G today — the boundary the plan creates.
  For a single use this is exactly "at least one of the two parcels is converted" (a parcel in use u
  today and in u after the plan kept its use). Like the core objective, which counts conversions
  only, the term then measures the plan's change: keeping everything earns 0.
- ``all``: every edge whose two parcels are both in G after the plan, existing blocks included.

Block-diagonal zone matrices (prioritizr's ``zones`` argument to ``add_boundary_penalties``, e.g.
[[1,1,0],[1,1,0],[0,0,1]]) are groups: x_i1·x_j1 + x_i2·x_j2 + x_i1·x_j2 + x_i2·x_j1 = y_i·y_j for
y = x_1 + x_2, so one product per edge per block replaces one per pair of zones.

Scenario example::

    constraints:
      compactness:
        weights: {"SKK": 50, "TMD": 20}            # reward per km of shared boundary
        groups: [{uses: ["SKK", "SKN"], weight: 10, name: industry}]
        count: new                                 # or all

Verify recomputes the reward from the output geometry (shared boundary lengths between neighbouring
parcels whose ``new_use`` is in G, measured with shapely in the scenario CRS, and ``current_use`` for
``new``), so the solver's objective is checked independently of the matrix. There is no hard row to
break; ``report`` gives the shared length and reward per group (run.json key ``compactness``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pydantic import Field, field_validator, model_validator

from optimizer.engine.errors import InputError
from optimizer.engine.scenario import Code

from constraints._api import CompileContext, Family, FamilyConfig, Violation, VerifyContext

MIN_SHARED_M = 1e-6
"""edges sharing less than this (m) are point contacts and earn nothing, in the model and in verify"""


class UseGroup(FamilyConfig):
    uses: list[Code] = Field(min_length=1, description="land-use codes whose parcels count as one block")
    weight: float = Field(gt=0, description="reward per km of boundary shared by two parcels both in the group")
    name: str | None = Field(None, description="key in rows and in run.json; default: the codes joined by '+'")


class CompactnessConfig(FamilyConfig):
    weights: dict[Code, float] = Field(default_factory=dict,
                                       description="use → reward per km of boundary shared by two parcels both in that use (> 0)")
    groups: list[UseGroup] = Field(default_factory=list, description="multi-use blocks, e.g. SKK and SKN together as industry")
    count: Literal["new", "all"] = Field("new", description="new: only boundary the plan creates (pairs not both in the "
                                                            "group today); all: every same-group pair after the plan")
    linearization: Literal["pairwise", "aggregated"] = Field(
        "pairwise", description="pairwise: z ≤ y_i, z ≤ y_j per edge (tight LP); aggregated: one row per parcel (compact, weaker LP)")
    exact_incumbents: bool = Field(True, description="deprecated, no effect: every plan's z columns are set from its "
                                                     "integer plan after the solve (Compactness.complete)")

    @field_validator("weights")
    @classmethod
    def _positive(cls, v: dict[str, float]) -> dict[str, float]:
        for code, w in v.items():
            if not w > 0:
                raise ValueError(f"{code} = {w}: a reward must be > 0 (leave the use out to reward nothing); "
                                 "the linearization is exact only for a reward")
        return v

    @model_validator(mode="after")
    def _something(self) -> "CompactnessConfig":
        if not self.weights and not self.groups:
            raise ValueError("give weights (use → reward per km) or groups")
        return self


def _indicator(columns: pd.DataFrame, uses, n: int, n_cols: int) -> sp.csr_matrix:
    """n × n_cols matrix P with P[p, c] = 1 for the assignment columns of parcel p whose use is in ``uses``."""
    sel = np.isin(columns["use"].to_numpy(), list(uses))
    idx = np.nonzero(sel)[0]
    return sp.csr_matrix((np.ones(len(idx)), (columns["parcel"].to_numpy()[idx], idx)), shape=(n, n_cols))


def add_pair_min(m, family: str, prefix: str, i: np.ndarray, j: np.ndarray, P_left: sp.csr_matrix,
                 P_right: sp.csr_matrix | None, cost: np.ndarray, labels: np.ndarray,
                 linearization: str = "pairwise") -> np.ndarray:
    """Continuous z[e] ∈ [0, 1] with z[e] ≤ P_left[i_e]·x and z[e] ≤ P_right[j_e]·x, objective coefficient ``cost``.

    Exact as z[e] = min(...) at an optimum only when the objective pushes z up (a reward); a plan
    stopped by a limit is made exact by ``Compactness.complete`` (no per-edge z ≥ y_i + y_j − 1 rows).
    ``P_right=None`` means the same indicator at both ends (a symmetric product), which lets the
    aggregated form share one row per parcel. ``labels`` names parcels in row/column keys. Returns the
    z column indices.
    """
    E = len(i)
    if E == 0:
        return np.zeros(0, dtype=np.int64)
    same = P_right is None
    P_right = P_left if same else P_right
    edge = pd.Series(labels[i].astype(str)) + "-" + pd.Series(labels[j].astype(str))
    z = m.add_columns(family, (prefix + ":" + edge).to_numpy(dtype=object), cost=cost, lo=0.0, hi=1.0, integer=False)
    L, R = P_left[i].tocoo(), P_right[j].tocoo()
    if linearization == "pairwise":
        rows = np.concatenate([np.arange(E), L.row, E + np.arange(E), E + R.row])
        cols = np.concatenate([z, L.col, z, R.col])
        coef = np.concatenate([np.ones(E), -L.data, np.ones(E), -R.data])
        keys = np.concatenate([(prefix + ":" + edge + "≤" + labels[i].astype(str)).to_numpy(dtype=object),
                               (prefix + ":" + edge + "≤" + labels[j].astype(str)).to_numpy(dtype=object)])
        m.add_rows(family, keys, np.nan, 0.0, row=rows, col=cols, coef=coef, unit="z≤y")
    elif linearization == "aggregated":
        ends = [(np.concatenate([i, j]), np.concatenate([z, z]), P_left, "")] if same else \
               [(i, z, P_left, "(left)"), (j, z, P_right, "(right)")]
        for parcel, zcol, P, side in ends:
            uniq, r = np.unique(parcel, return_inverse=True)
            deg = np.bincount(r, minlength=len(uniq)).astype(float)
            Y = P[uniq].tocoo()
            rows = np.concatenate([r, Y.row])
            cols = np.concatenate([zcol, Y.col])
            coef = np.concatenate([np.ones(len(r)), -deg[Y.row] * Y.data])
            keys = (prefix + side + ":" + pd.Series(labels[uniq].astype(str))).to_numpy(dtype=object)
            m.add_rows(family, keys, np.nan, 0.0, row=rows, col=cols, coef=coef, unit="Σz≤deg·y")
    else:
        raise ValueError(f"unknown linearization {linearization!r}")
    return z


def shared_boundary_pairs(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, shared length m) for i < j among ``geoms`` sharing more than MIN_SHARED_M of boundary."""
    if len(geoms) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(geoms[a]), shapely.boundary(geoms[b])))
    keep = shared > MIN_SHARED_M
    return a[keep], b[keep], shared[keep]


class Compactness(Family):
    name = "compactness"
    Config = CompactnessConfig
    _products: tuple[tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix], ...] = ()
    """per group of the last build: its z columns and the indicator rows P[i], P[j] that ``complete`` multiplies"""

    def _groups(self) -> list[tuple[str, list[str], float]]:
        """(key, uses, weight) for every group, checked against land_uses."""
        cfg = self.config
        known = self.loaded.scenario.land_uses
        out = [(code, [code], float(w)) for code, w in cfg.weights.items()]
        for k, g in enumerate(cfg.groups):
            out.append((g.name or "+".join(g.uses), list(g.uses), float(g.weight)))
        where = [f"weights.{c}" for c in cfg.weights] + [f"groups.{k}.uses" for k in range(len(cfg.groups))]
        for (key, uses, _), field in zip(out, where):
            for u in uses:
                if u not in known:
                    raise InputError(self.loaded.label, f"constraints.{self.name}.{field}", f"unknown use {u!r}",
                                     f"use codes from land_uses ({', '.join(sorted(known))})")
        keys = [k for k, _, _ in out]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise InputError(self.loaded.label, f"constraints.{self.name}.groups", f"group key {dup[0]!r} is used twice",
                             "give each group a distinct name")
        return out

    def _sign(self) -> float:
        return 1.0 if self.loaded.scenario.objective.sense == "maximize" else -1.0

    def prepare(self, instance) -> None:
        self._groups()

    def build(self, ctx: CompileContext, m) -> None:
        products = []
        inst = ctx.instance
        adj = sp.triu(inst.adjacency(), k=1).tocoo()
        keep = adj.data > MIN_SHARED_M
        ei, ej, b = adj.row[keep], adj.col[keep], adj.data[keep]
        labels = np.asarray(inst.ids)
        for key, uses, w in self._groups():
            P = _indicator(ctx.columns, uses, inst.n, m.n_cols)
            has = np.diff(P.indptr) > 0
            sel = has[ei] & has[ej]
            if self.config.count == "new":
                now = np.isin(inst.current_use, uses)
                sel &= ~(now[ei] & now[ej])
            z = add_pair_min(m, self.name, key, ei[sel], ej[sel], P, None, self._sign() * w * b[sel] / 1000.0, labels,
                             self.config.linearization)
            products.append((z, P[ei[sel]], P[ej[sel]]))
        self._products = tuple(products)

    def complete(self, x: np.ndarray) -> np.ndarray:
        """Every z set to y_i·y_j of the integer plan ``x``: its greatest value the rows allow, so the
        reward the plan earns is all counted."""
        if not self._products:
            return x
        x = x.copy()
        for z, left, right in self._products:
            n = left.shape[1]  # the model's width when the group was built; later columns are not in y
            x[z] = np.clip(np.round(left @ x[:n]), 0, 1) * np.clip(np.round(right @ x[:n]), 0, 1)
        return x

    def shared_km(self, ctx: VerifyContext) -> dict[str, float]:
        """Counted shared boundary (km) per group, from the output geometry alone."""
        alloc = ctx.allocation
        geoms = alloc.geometry.to_numpy()
        new_use = alloc["new_use"].to_numpy()
        current = alloc["current_use"].to_numpy()
        out = {}
        for key, uses, _ in self._groups():
            idx = np.nonzero(np.isin(new_use, uses))[0]
            a, b, length = shared_boundary_pairs(geoms[idx])
            if self.config.count == "new":
                now = np.isin(current[idx], uses)
                length = length[~(now[a] & now[b])]
            out[key] = float(length.sum()) / 1000.0
        return out

    def objective_terms(self, ctx: VerifyContext) -> list[dict]:
        weight = {k: w for k, _, w in self._groups()}
        return [{"name": f"{self.name} {k}", "weight": self._sign() * weight[k], "quantity": km,
                 "unit": "km of shared boundary", "contribution": self._sign() * weight[k] * km}
                for k, km in self.shared_km(ctx).items()]

    def verify(self, ctx: VerifyContext) -> list[Violation]:
        # no hard rows: the reward is checked through objective_terms (verify compares the objective)
        return []

    def report(self, ctx: VerifyContext) -> dict[str, list[dict]]:
        rows = []
        groups = {k: (u, w) for k, u, w in self._groups()}
        for key, km in self.shared_km(ctx).items():
            uses, w = groups[key]
            rows.append({"family": self.name, "key": key, "uses": uses, "weight_per_km": w, "count": self.config.count,
                         "shared_km": round(km, 9), "reward": round(w * km, 9)})
        return {"compactness": rows}


FAMILY = Compactness
