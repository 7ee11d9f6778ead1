"""The exact MIP for Marxan's score (Marxan with Zones, or classic Marxan as two zones), built with
:class:`optimizer.engine.model.ModelBuilder`.

Columns and rows (N PUs, Z zones, S features, B bound.dat pairs; A_i = zones PU i may take: its lock,
else its puzone set, else every zone):

    x[i,z] ∈ {0,1} for z ∈ A_i                                cost Σ_k c_ik·ZC[k][z]
    one_zone:  Σ_z x[i,z] = 1                                 (Marxan gives every PU a zone)

Targets, with a[i,s] = puvspr amount, c[i,s,z] = zone contribution:

    overall amount    A_s = Σ_{i,z} a·c·x[i,z]  ≥ T_s                         hard
                      A_s + σ_s ≥ T_s, σ_s ≥ 0, cost penalty_s·spf_s/T_s per unit   soft
    overall occurrence Σ_{i,z: a·c>0} x[i,z] ≥ O_s                              hard
                      Σ_{i,z: a·c>0} x[i,z] + ω_s ≥ 1, ω_s ∈ [0,1], cost penalty_s·spf_s   soft
    per zone          the same with raw amounts R_sz = Σ_i a[i,s]·x[i,z] (contribution ignored)
                      and counts #{i: a[i,s] > 0, x[i,z] = 1}

Soft terms are exact: the minimization sets σ = max(0, T − A), so σ/T is Marxan's (T−A)/T when A < T
and 0 otherwise; ω = max(0, 1 − count) is 1 exactly when nothing is held, which is what Marxan's
integer division ⌊(O−N)/O⌋ charges. Hard occurrence targets ask N ≥ O (Marxan's "target met").
Features with penalty·spf = 0 get no soft columns (they cannot change the score).

Classic projects (``classic.py``, ``score.py``): occurrences count every puvspr row of a reserved unit
and their shortfall is a real fraction, so the soft occurrence term is N + ω ≥ O, ω ∈ [0, O], cost
penalty·spf/O per unit; a feature with both an amount and an occurrence target has both costs
halved (Marxan averages the two fractions). A unit's self-boundary counts only when it is reserved:
BLM·fixed_i goes on x[i, reserved] instead of into the constant.

Boundary term. BLM·(Σ_i fixed_i + Σ_{(i,j)} b_ij·ZBC[z_i][z_j]). The self-boundaries are a constant
(model offset). For a pair e = (i,j) with weight w_e = BLM·b_e let M = sign(w_e)·ZBC restricted to
A_i × A_j and |w_e| its scale. Because each PU takes exactly one zone, potentials move into the x
costs without changing any plan's value (a Hungarian-style reduction):

    u_a = min_{b∈A_j} M[a,b],   v_b = min_{a∈A_i} (M[a,b] − u_a),   M'' = M − u_a − v_b ≥ 0
    |w_e|·M[z_i][z_j] = |w_e|·u_{z_i} + |w_e|·v_{z_j} + |w_e|·M''[z_i][z_j]

so u and v are added to the costs of x[i,a] and x[j,b]. What remains is non-negative, zero somewhere
in every row and column, and often zero altogether: with no zoneboundcost file (ZBC ≡ 1), with a
locked neighbour, or whenever ZBC is a sum of zone potentials, the pair costs no variable at all.
Otherwise ("aggregated" linearization) ONE continuous column t_e ≥ 0 with cost |w_e| and,
for each group g of zones of i with equal, not-all-zero rows of M'' (m_g = max_b M''[g,b] > 0),

    t_e ≥ Σ_{b∈A_j} M''[g,b]·x[j,b] − m_g·(1 − Σ_{a∈g} x[i,a])

At an integer point with z_i ∈ g*, z_j = b*, the row of g* gives t_e ≥ M''[g*,b*] and every other row
gives t_e ≥ M''[g,b*] − m_g ≤ 0, so the minimization sets t_e = M''[z_i,z_j]: exact for ANY symmetric
ZBC (positive off-diagonal penalties for differing zones, rewards, nonzero diagonals, negative BLM)
without the Z² products per pair a pairwise linearization needs (y ≥ x_ia + x_jb − 1 for every zone
pair with a positive coefficient). Size: at most ONE variable per bound.dat pair and at most |A_i| rows
per pair (one per group). Grouping zones with equal rows keeps the rows tight: the Potts case
ZBC = c·(1 − I) gives t_e ≥ c·(x[i,a] − x[j,a]), and zones that behave alike (prioritizr's zone matrix
[[1,1,0],[1,1,0],[0,0,1]] plus an unselected zone) give t_e ≥ |y_i − y_j| for y the group's sum. On
prioritizr's management-zones problem p6 the LP relaxation is 10054.10, the same root bound Gurobi
reports for prioritizr's own 5-products-per-edge model.

``linearization="marginal"``: the local-marginal (transportation) form, for instances where the LP bound
matters more than size: for each such pair one column y_e,ab ≥ 0 per (a, b) ∈ A_i × A_j with cost
|w_e|·M''[a,b] and rows Σ_b y_e,ab = x[i,a] (a ∈ A_i), Σ_a y_e,ab = x[j,b] (b ∈ A_j). At an integer
point y is forced to x[i,a]·x[j,b], so it is exact; its LP relaxation is the tightest of the local
pairwise forms (≤ Z² variables and 2Z rows per pair).

``linearization="auto"`` (the default) chooses by the structure of M'': the aggregated rows when, for every
pair, their LP bound equals the marginal form's (:func:`aggregated_is_tight`), else the marginal form. The
aggregated rows are the marginal form's dual points α = (0 on g, −m_g off g), β = M''[g,·], plus t ≥ 0.
With the zones of i in at most two groups of equal rows, the marginal form's value is a concave piecewise
linear function of one dual variable with its breakpoints at M''[2,b] − M''[1,b] (each column has a 0 in
one of the two rows), and the aggregated rows cover exactly the breakpoints m_2, −m_1 and 0: the bounds are
equal iff every entry is 0 or its row's maximum (all-or-nothing). With three groups they differ even
then (Potts ZBC = c·(1 − I): aggregated c·max_a (x[i,a] − x[j,a]), marginal c·Σ_a (x[i,a] − x[j,a])⁺),
and where costs grow with zone distance (available–partial 1, partial–reserve 1, available–reserve 2)
an unrestricted pair has three groups with entries 1 and 2. Classic projects (two zones) and costs that
are all-or-nothing between two groups of zones keep the aggregated rows. The choice is one form for the
whole model, not per pair: on the distance-cost grids a model mixing the forms (aggregated rows for the
pairs where they are tight) had the marginal form's root bound but took 48–61 s to 0.5 % at 400 PUs
where the marginal form took 10–29 s (two HiGHS seeds), and was no faster at 10,000.
Measured (HiGHS 1.16, 1 thread, ``python -m benchmarks.marzone --linearization``, benchmarks/README.md):
the marginal form's root LP bound is 6.7 % / 3.9 % / 2.1 % higher on the 400 / 2,500 / 10,000-PU
grids (at 2,500 and 10,000 within 0.01 % of the final bound); the time to 0.5 % is shorter with it at 400 PUs
(10–29 s against 57–73 s) but longer at 10,000 (88–120 s against 61–77 s), where HiGHS's cuts close
most of the aggregated rows' gap and their smaller LPs find plans sooner. On prioritizr's management-zones
problem p6 (hard targets) 28 of its 180 boundary pairs have three groups, so ``auto`` builds the marginal
form; both forms have the root bound 10,054.10 there and the marginal form takes 5.7–7.0 s to optimality
against 3.0–4.3 s. The structure says where the aggregated bound *can* be weaker, not that it is:
``aggregated`` stays an explicit choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from optimizer.engine.model import CompiledModel, ModelBuilder
from optimizer.engine.scenario import SolverSettings
from optimizer.engine.solvers import get_adapter
from optimizer.engine.solvers.base import SolveResult
from optimizer.marxan.arrays import MarxanProject

TARGETS = ("hard", "soft")
LINEARIZATIONS = ("auto", "aggregated", "marginal")
_TOL = 1e-12


@dataclass(frozen=True, eq=False)
class MarxanModel:
    project: MarxanProject
    model: CompiledModel
    n_x: int
    x_pu: np.ndarray
    x_zone: np.ndarray
    xcol: np.ndarray          # (N, Z) column of x[i, z] or −1
    y: tuple | None           # marginal linearization: (PU i, PU j, zone a, zone b, column) of every y
    targets: str
    linearization: str
    """as requested: auto, aggregated or marginal (``stats["boundary_form"]`` says what was built)"""
    stats: dict = field(default_factory=dict)

    def zone_of(self, x: np.ndarray) -> np.ndarray:
        """Zone index per PU from a solution vector (exactly one x[i,·] per PU is 1)."""
        on = np.asarray(x[: self.n_x]) > 0.5
        zone = np.full(self.project.n_pu, -1, dtype=np.int64)
        zone[self.x_pu[on]] = self.x_zone[on]
        counts = np.bincount(self.x_pu[on], minlength=self.project.n_pu)
        if (counts != 1).any():
            raise ValueError(f"{int((counts != 1).sum())} PU(s) without exactly one zone in the solution")
        return zone

    @cached_property
    def _set_by_rows(self) -> tuple[np.ndarray, sp.coo_matrix]:
        """The auxiliary columns ``complete`` sets from their rows (all but the marginal form's y) and their
        entries: the same for every plan, so found once (``np.setdiff1d`` on every plan took 0.8 s of each
        ``complete`` at 40,000 units)."""
        m = self.model
        by_rows = np.zeros(m.n_cols, dtype=bool)
        by_rows[self.n_x:] = True
        if self.y is not None:
            by_rows[self.y[4]] = False
        aux = np.nonzero(by_rows)[0]
        return aux, m.A.tocsc()[:, aux].tocoo()

    def complete(self, zone: np.ndarray) -> np.ndarray:
        """The full column vector for a plan: x from ``zone``, every auxiliary column at the smallest value its
        rows allow (each auxiliary row holds one auxiliary column with coefficient 1 and a lower bound only).
        Raises if a PU's zone has no column (not allowed)."""
        m = self.model
        x = np.zeros(m.n_cols)
        cols = self.xcol[np.arange(self.project.n_pu), zone]
        if (cols < 0).any():
            bad = self.project.pu_ids[cols < 0][:5].tolist()
            raise ValueError(f"PU(s) {bad} are in a zone they may not take (pulock / puzone)")
        x[cols] = 1.0
        if self.y is not None:  # marginal linearization: y = x[i,a]·x[j,b]
            yi, yj, ya, yb, yc = self.y
            x[yc] = ((zone[yi] == ya) & (zone[yj] == yb)).astype(float)
        aux, A = self._set_by_rows
        if len(aux):
            act = m.A @ x
            need = (m.row_lo[A.row] - act[A.row]) / A.data
            val = np.full(len(aux), -np.inf)
            np.maximum.at(val, A.col, need)
            x[aux] = np.maximum(m.col_lo[aux], val)
        return x


def labels(*pieces) -> np.ndarray:
    """Column and row labels joined from id arrays and separator strings: ``labels(i, "-", j)`` → "3-4".
    Python's string formatting, not ``np.char`` (which took 3 of the 3.5 s of a 40,000-unit model's build)."""
    parts = [p if isinstance(p, str) else np.asarray(p).tolist() for p in pieces]
    fmt = "".join(p.replace("{", "{{").replace("}", "}}") if isinstance(p, str) else "{}" for p in parts)
    return np.array([fmt.format(*row) for row in zip(*(p for p in parts if not isinstance(p, str)))], dtype=object)


def _x_columns(p: MarxanProject, mb: ModelBuilder) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    allowed = p.allowed
    xi, xz = np.nonzero(allowed)                       # row-major: by PU, then zone order
    cost = p.zone_costs[xi, xz]
    keys = labels(p.pu_ids[xi], ":", p.zone_ids[xz])
    cols = mb.add_columns("x", keys, parcel=xi, use=np.array(p.zone_names, dtype=object)[xz], cost=cost,
                          lo=0.0, hi=1.0, integer=True)
    xcol = np.full((p.n_pu, p.n_zones), -1, dtype=np.int64)
    xcol[xi, xz] = cols
    mb.add_rows("one_zone", p.pu_ids.astype(str), 1.0, 1.0, row=xi, col=cols, coef=1.0, unit="PU")
    return xi, xz, cols, xcol


def _boundary(p: MarxanProject, mb: ModelBuilder, xcol: np.ndarray, linearization: str) -> tuple[dict, tuple | None]:
    counts = p.self_boundary_zones
    if counts.all():
        mb.offset += p.blm * float(p.fixed.sum())
    else:
        fi, fz = np.nonzero((p.fixed != 0)[:, None] & counts[None, :] & p.allowed)
        mb.add_objective(xcol[fi, fz], p.blm * p.fixed[fi])
    w = p.blm * p.bound_b
    keep = w != 0
    bi, bj, w = p.bound_i[keep], p.bound_j[keep], w[keep]
    stats = {"boundary_pairs": int(len(bi)), "boundary_vars": 0, "boundary_rows": 0, "boundary_linear_pairs": 0,
             "boundary_tight_pairs": None, "boundary_form": "none"}
    if not len(bi):
        return stats, None
    allowed = p.allowed
    Ai, Aj = allowed[bi], allowed[bj]
    mask = Ai[:, :, None] & Aj[:, None, :]
    aw = np.abs(w)
    M = np.sign(w)[:, None, None] * p.zone_bound_cost[None, :, :]
    u = np.where(mask, M, np.inf).min(axis=2)
    u = np.where(Ai, u, 0.0)
    M1 = M - u[:, :, None]
    v = np.where(mask, M1, np.inf).min(axis=1)
    v = np.where(Aj, v, 0.0)
    M2 = np.where(mask, M1 - v[:, None, :], 0.0)
    M2[np.abs(M2) < _TOL] = 0.0
    # potentials: |w|·u on x[i,a], |w|·v on x[j,b]; a constant part goes to the offset
    e_a, a_a = np.nonzero(Ai)
    mb.add_objective(xcol[bi[e_a], a_a], aw[e_a] * u[e_a, a_a])
    e_b, b_b = np.nonzero(Aj)
    mb.add_objective(xcol[bj[e_b], b_b], aw[e_b] * v[e_b, b_b])
    rowmax = M2.max(axis=2)                               # (E, Z) ≥ 0
    need = rowmax.max(axis=1) > 0
    stats["boundary_linear_pairs"] = int((~need).sum())
    if not need.any():
        return stats, None
    E = np.nonzero(need)[0]
    form = linearization
    if form == "auto":
        tight = aggregated_is_tight(M2[E], Ai[E])
        form = "aggregated" if tight.all() else "marginal"
        stats["boundary_tight_pairs"] = int(tight.sum())
    stats["boundary_form"] = form
    if form == "marginal":
        y, n_rows = _marginal(p, mb, xcol, E, bi, bj, Ai, Aj, M2, aw)
        stats.update(boundary_vars=int(len(y[4])), boundary_rows=int(n_rows))
        return stats, y
    tkeys = labels(p.pu_ids[bi[E]], "-", p.pu_ids[bj[E]])
    t = mb.add_columns("boundary", tkeys, cost=aw[E], lo=0.0, hi=np.inf, integer=False)
    stats.update(boundary_vars=int(len(t)), boundary_rows=int(_pair_rows(p, mb, xcol, E, bi, bj, Ai, M2, t)))
    return stats, None


def _row_groups(M2: np.ndarray, Ai: np.ndarray) -> np.ndarray:
    """(E, Z): for each allowed zone a of i, the first allowed zone with the same row of M'' (a itself if none)."""
    same = (M2[:, :, None, :] == M2[:, None, :, :]).all(axis=3) & Ai[:, :, None] & Ai[:, None, :]
    return same.argmax(axis=2)


def aggregated_is_tight(M2: np.ndarray, Ai: np.ndarray) -> np.ndarray:
    """(E,) bool: the aggregated rows give the marginal form's LP bound for the pair (module docstring): the
    allowed zones of i fall in at most two groups of equal rows of M'' (E, Z, Z) and every entry is 0 or its
    row's maximum."""
    Z = M2.shape[1]
    groups = ((_row_groups(M2, Ai) == np.arange(Z)[None, :]) & Ai).sum(axis=1)
    rowmax = M2.max(axis=2, keepdims=True)
    all_or_nothing = ((M2 == 0) | np.isclose(M2, rowmax, rtol=1e-9, atol=0.0) | ~Ai[:, :, None]).all(axis=(1, 2))
    return (groups <= 2) & all_or_nothing


def _marginal(p, mb, xcol, E, bi, bj, Ai, Aj, M2, aw) -> tuple[tuple, int]:
    """y[e,a,b] ≥ 0 for (a,b) ∈ A_i × A_j, cost |w_e|·M''[a,b]; Σ_b y = x[i,a], Σ_a y = x[j,b]."""
    Z = p.n_zones
    k, ya, yb = np.nonzero(Ai[E][:, :, None] & Aj[E][:, None, :])
    e = E[k]
    keys = labels(p.pu_ids[bi[e]], "-", p.pu_ids[bj[e]], "@", p.zone_ids[ya], "-", p.zone_ids[yb])
    y = mb.add_columns("boundary", keys, cost=aw[e] * M2[e, ya, yb], lo=0.0, hi=1.0, integer=False)
    n_rows = 0
    for side, zs, pu in (("i", ya, bi), ("j", yb, bj)):
        u, inv = np.unique(k * Z + zs, return_inverse=True)
        kk, zz = np.divmod(u, Z)
        mb.add_rows("boundary", labels(p.pu_ids[pu[E[kk]]], f":{side}@", p.zone_ids[zz]), 0.0, 0.0,
                    row=np.concatenate([inv, np.arange(len(u))]),
                    col=np.concatenate([y, xcol[pu[E[kk]], zz]]),
                    coef=np.concatenate([np.ones(len(y)), -np.ones(len(u))]), unit="boundary")
        n_rows += len(u)
    return (bi[e], bj[e], ya, yb, y), n_rows


def _pair_rows(p, mb, xcol, E, bi, bj, Ai, M2, t) -> int:
    """Rows t_e ≥ Σ_b M''[g,b]·x[j,b] − m_g·(1 − Σ_{a∈g} x[i,a]) for every pair e in E and every group g of
    zones of i with equal, nonzero rows of M'' (zones with equal rows share one row: fewer, tighter rows)."""
    Z = p.n_zones
    rowmax = M2.max(axis=2)
    rep = _row_groups(M2[E], Ai[E])
    lead = (rep == np.arange(Z)[None, :]) & Ai[E] & (rowmax[E] > 0)
    re, ra = np.nonzero(lead)
    ee = E[re]
    n_rows = len(re)
    row_labels = labels(p.pu_ids[bi[ee]], "-", p.pu_ids[bj[ee]], "@", p.zone_ids[ra])
    t_of_row = t[re]
    m_g = rowmax[ee, ra]
    r_idx = np.arange(n_rows)
    row_of = np.full((len(E), Z), -1)
    row_of[re, ra] = r_idx
    ge, ga = np.nonzero(Ai[E] & (row_of[np.arange(len(E))[:, None], rep] >= 0))
    grow = row_of[ge, rep[ge, ga]]
    rb, bb = np.nonzero(M2[ee, ra, :] > 0)
    mb.add_rows("boundary", row_labels, -m_g, np.nan,
                row=np.concatenate([r_idx, grow, rb]),
                col=np.concatenate([t_of_row, xcol[bi[E[ge]], ga], xcol[bj[ee[rb]], bb]]),
                coef=np.concatenate([np.ones(n_rows), -m_g[grow], -M2[ee[rb], ra[rb], bb]]), unit="boundary")
    return n_rows


def _target_rows(p: MarxanProject, mb: ModelBuilder, xcol: np.ndarray, targets: str) -> dict:
    """Rows for every positive target: overall amount/occurrence (with contributions), per-zone amount/occurrence."""
    S, Z = p.n_features, p.n_zones
    allowed = p.allowed
    e_idx, z_idx = np.nonzero(allowed[p.ent_pu])          # (entry, zone) pairs where the entry's PU may take z
    cols_ez = xcol[p.ent_pu[e_idx], z_idx]
    amt = p.ent_amount[e_idx]
    contrib_amt = amt * p.contrib[e_idx, z_idx]
    sp_e = p.ent_sp[e_idx]
    weight = p.penalty * p.spf
    if p.classic:  # Marxan averages the two fractions of a feature with both targets
        weight = weight * np.where((p.target > 0) & (p.target_occ > 0), 0.5, 1.0)
    fid = p.feature_ids
    zid = p.zone_ids

    def add(kind: str, keys, tgt, feat, sel_rows, sel_cols, sel_coef, occ: bool):
        """kind rows with targets tgt (len R); entries given as (row index into tgt, col, coef)."""
        if not len(tgt):
            return 0
        if targets == "hard":
            mb.add_rows("target", keys, tgt, np.nan, row=sel_rows, col=sel_cols, coef=sel_coef, soft=True,
                        unit="occurrences" if occ else "amount")
            return 0
        wt = weight[feat]
        live = wt > 0
        keep_row = np.nonzero(live)[0]
        remap = np.full(len(tgt), -1)
        remap[keep_row] = np.arange(len(keep_row))
        ent = remap[sel_rows] >= 0
        R = len(keep_row)
        if not R:
            return 0
        if occ and not p.classic:  # ⌊(O−N)/O⌋: charged only when nothing is held
            aux = mb.add_columns(f"shortfall_{kind}", np.asarray(keys, dtype=object)[keep_row], cost=wt[keep_row],
                                 lo=0.0, hi=1.0, integer=False)
            rhs = np.ones(R)
        else:
            aux = mb.add_columns(f"shortfall_{kind}", np.asarray(keys, dtype=object)[keep_row],
                                 cost=wt[keep_row] / tgt[keep_row], lo=0.0, hi=np.inf, integer=False)
            rhs = tgt[keep_row]
        mb.add_rows("target", np.asarray(keys, dtype=object)[keep_row], rhs, np.nan,
                    row=np.concatenate([remap[sel_rows][ent], np.arange(R)]),
                    col=np.concatenate([sel_cols[ent], aux]),
                    coef=np.concatenate([sel_coef[ent], np.ones(R)]), soft=True,
                    unit="occurrences" if occ else "amount")
        return R

    n_aux = 0
    # overall amount
    feats = np.nonzero(p.target > 0)[0]
    pos = np.full(S, -1)
    pos[feats] = np.arange(len(feats))
    sel = (pos[sp_e] >= 0) & (contrib_amt != 0)
    n_aux += add("amount", [f"{fid[s]}:amount" for s in feats], p.target[feats], feats,
                 pos[sp_e[sel]], cols_ez[sel], contrib_amt[sel], occ=False)
    # overall occurrences
    feats = np.nonzero(p.target_occ > 0)[0]
    pos = np.full(S, -1)
    pos[feats] = np.arange(len(feats))
    sel = (pos[sp_e] >= 0) & ((p.contrib[e_idx, z_idx] > 0) if p.classic else (contrib_amt > 0))
    tgt = p.target_occ[feats].astype(float) if targets == "hard" or p.classic else np.ones(len(feats))
    n_aux += add("occurrences", [f"{fid[s]}:occurrences" for s in feats], tgt, feats,
                 pos[sp_e[sel]], cols_ez[sel], np.ones(int(sel.sum())), occ=True)
    # per-zone amount (raw)
    fs, zs = np.nonzero(p.zone_target > 0)
    pos = np.full((S, Z), -1)
    pos[fs, zs] = np.arange(len(fs))
    sel = (pos[sp_e, z_idx] >= 0) & (amt != 0)
    n_aux += add("zone_amount", [f"{fid[s]}:zone {zid[z]}:amount" for s, z in zip(fs, zs)], p.zone_target[fs, zs], fs,
                 pos[sp_e[sel], z_idx[sel]], cols_ez[sel], amt[sel], occ=False)
    # per-zone occurrences
    fs, zs = np.nonzero(p.zone_target_occ > 0)
    pos = np.full((S, Z), -1)
    pos[fs, zs] = np.arange(len(fs))
    sel = (pos[sp_e, z_idx] >= 0) & (amt > 0)
    tgt = p.zone_target_occ[fs, zs].astype(float) if targets == "hard" else np.ones(len(fs))
    n_aux += add("zone_occurrences", [f"{fid[s]}:zone {zid[z]}:occurrences" for s, z in zip(fs, zs)], tgt, fs,
                 pos[sp_e[sel], z_idx[sel]], cols_ez[sel], np.ones(int(sel.sum())), occ=True)
    return {"target_aux_vars": int(n_aux)}


def build_model(p: MarxanProject, targets: str = "hard", linearization: str = "auto") -> MarxanModel:
    """The exact MIP: minimize Marxan's score (soft targets) or cost + boundary with every target met (hard)."""
    if targets not in TARGETS:
        raise ValueError(f"targets must be one of {TARGETS}")
    if linearization not in LINEARIZATIONS:
        raise ValueError(f"linearization must be one of {LINEARIZATIONS}")
    mb = ModelBuilder("min")
    xi, xz, cols, xcol = _x_columns(p, mb)
    stats = {"x_vars": int(len(cols))}
    bstats, y = _boundary(p, mb, xcol, linearization)
    stats.update(bstats)
    stats.update(_target_rows(p, mb, xcol, targets))
    model = mb.build(pd.DataFrame({"parcel": np.zeros(0, np.int64), "use": [], "family": [], "reason": []}))
    stats.update({"columns": model.n_cols, "rows": model.n_rows, "nonzeros": int(model.A.nnz)})
    return MarxanModel(project=p, model=model, n_x=len(cols), x_pu=xi, x_zone=xz, xcol=xcol, y=y, targets=targets,
                       linearization=linearization, stats=stats)


def objective_of_plan(mm: MarxanModel, zone: np.ndarray) -> float:
    """The MIP objective of a plan (auxiliaries at their optimal values for that plan)."""
    return mm.model.objective_value(mm.complete(zone))


def reachability(mm: MarxanModel) -> list[dict]:
    """Hard target rows no plan can meet: Σ_i max_{z∈A_i} max(0, coef) < target."""
    m = mm.model
    rows = np.nonzero((m.rows["family"] == "target").to_numpy())[0]
    if not len(rows) or mm.targets != "hard":
        return []
    sub = m.A[rows][:, : mm.n_x].tocoo()
    key = sub.row.astype(np.int64) * mm.project.n_pu + mm.x_pu[sub.col]
    best = pd.Series(np.maximum(sub.data, 0.0)).groupby(key).max()
    achievable = np.bincount((best.index.to_numpy() // mm.project.n_pu).astype(np.int64), best.to_numpy(), len(rows))
    out = []
    for k, r in enumerate(rows):
        lo = m.row_lo[r]
        out.append({"target": m.rows.at[r, "key"], "required": float(lo), "achievable": float(achievable[k]),
                    "reachable": bool(achievable[k] >= lo - 1e-9 * max(1.0, abs(lo)))})
    return out


def solve(mm: MarxanModel, settings: SolverSettings) -> SolveResult:
    return get_adapter(settings.name).solve(mm.model, settings)


def matrix_check(mm: MarxanModel, x: np.ndarray) -> pd.DataFrame:
    return mm.model.violations(x)


