"""prioritizr's management-zones problem p6, built through ModelBuilder with the compactness linearization.

Source and published answers: ``../shared/cases/prioritizr_zones_sim`` (README.md, expected.json).
p6 minimizes cost plus a boundary penalty over a 10×10 grid with three zones (few traps, many traps,
baiting), cells 1–80 locked out of baiting, per-feature targets summed over zones:

    min Σ_iz cost_iz x_iz
        + p Σ_z W_zz Σ_i [(B_ii − e_i) + E_z e_i] x_iz
        − 2p Σ_{i<j} B_ij [Σ_z W_zz x_iz x_jz + Σ_{z<y} W_zy (x_iz x_jy + x_iy x_jz)]
    s.t. Σ_z x_iz ≤ 1;  Σ_z Σ_i m_z F_if x_iz ≥ 8 ∀f;  x_i3 = 0 for i ≤ 80

with p = 640, E_z = 0.5, W = [[1,1,0],[1,1,0],[0,0,1]], B_ii = 0.4 (perimeter), e_i = B_ii − Σ_j B_ij.
Each product is a continuous z ≤ both factors with a negative cost (``add_pair_min``): ``"zones"``
builds one per (edge, zone pair) as prioritizr does (5 per edge); ``"groups"`` uses the block
structure of W (one per edge for {few, many} and one for {baiting}), as ``compactness`` groups do.
The z ≥ x_a + x_b − 1 rows are left out, as prioritizr does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from constraints.compactness import add_pair_min
from optimizer.engine.model import ModelBuilder

PENALTY = 640.0
EDGE_FACTOR = 0.5
PERIMETER = 0.4
W = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=float)
ZONE_COST = np.array([100.0, 300.0, 200.0])
MULTIPLIER = np.array([0.1, 0.5, 0.8])
TARGET = 8.0


def build_p6(case_dir, products: str = "zones", linearization: str = "pairwise"):
    cells = pd.read_csv(case_dir / "cells.csv").sort_values("cell")
    adj = pd.read_csv(case_dir / "adjacency.csv")
    n, Z = len(cells), 3
    feats = cells[[f"feature_{k}" for k in range(1, 6)]].to_numpy(dtype=float)
    present = cells["sim_pu_cost"].notna().to_numpy()
    i = adj["cell1"].to_numpy() - 1
    j = adj["cell2"].to_numpy() - 1
    b = adj["shared_length"].to_numpy(dtype=float)
    shared = np.bincount(i, b, n) + np.bincount(j, b, n)
    exposed = PERIMETER - shared

    mb = ModelBuilder("min")
    p_idx, z_idx = (a.ravel() for a in np.meshgrid(np.arange(n), np.arange(Z), indexing="ij"))
    cost = np.where(present[p_idx], ZONE_COST[z_idx], 0.0)
    cost = cost + PENALTY * W[z_idx, z_idx] * (shared[p_idx] + EDGE_FACTOR * exposed[p_idx])
    hi = np.where((z_idx == 2) & (p_idx < 80), 0.0, 1.0)  # manual locked-out constraints l5
    x = mb.add_columns("x", [f"{a + 1}:{c + 1}" for a, c in zip(p_idx, z_idx)], parcel=p_idx, use=z_idx.astype(str),
                       cost=cost, lo=0.0, hi=hi, integer=True)
    mb.add_rows("one_zone", [str(k + 1) for k in range(n)], np.nan, 1.0, row=p_idx, col=x, coef=1.0)
    coef = (MULTIPLIER[z_idx][:, None] * feats[p_idx]).T  # 5 × 300
    f_row, f_col = np.nonzero(coef)
    mb.add_rows("target", [f"feature_{k}" for k in range(1, 6)], TARGET, np.nan, row=f_row, col=x[f_col],
                coef=coef[f_row, f_col])

    def zone_sel(zones):
        sel = np.isin(z_idx, zones)
        return sp.csr_matrix((np.ones(sel.sum()), (p_idx[sel], x[sel])), shape=(n, mb.n_cols))

    labels = np.arange(1, n + 1)
    if products == "zones":
        for z in range(Z):
            for y in range(z, Z):
                if W[z, y] == 0:
                    continue
                c = -2 * PENALTY * W[z, y] * b
                if z == y:
                    add_pair_min(mb, "boundary", f"{z + 1}{z + 1}", i, j, zone_sel([z]), None, c, labels, linearization)
                else:
                    add_pair_min(mb, "boundary", f"{z + 1}{y + 1}", i, j, zone_sel([z]), zone_sel([y]), c, labels, linearization)
                    add_pair_min(mb, "boundary", f"{y + 1}{z + 1}", i, j, zone_sel([y]), zone_sel([z]), c, labels, linearization)
    elif products == "groups":
        for key, zones in (("traps", [0, 1]), ("baiting", [2])):
            add_pair_min(mb, "boundary", key, i, j, zone_sel(zones), None, -2 * PENALTY * b, labels, linearization)
    else:
        raise ValueError(products)
    return mb.build(pd.DataFrame())


def p6_objective(case_dir, zone_of_cell: np.ndarray) -> float:
    """The p6 objective of a plan (zone index 0..2 per cell, −1 = none), evaluated from the formula directly."""
    cells = pd.read_csv(case_dir / "cells.csv").sort_values("cell")
    adj = pd.read_csv(case_dir / "adjacency.csv")
    present = cells["sim_pu_cost"].notna().to_numpy()
    n = len(cells)
    i, j = adj["cell1"].to_numpy() - 1, adj["cell2"].to_numpy() - 1
    b = adj["shared_length"].to_numpy(dtype=float)
    shared = np.bincount(i, b, n) + np.bincount(j, b, n)
    exposed = PERIMETER - shared
    on = zone_of_cell >= 0
    zc = np.where(on, zone_of_cell, 0)
    total = float(np.sum(np.where(on, np.where(present, ZONE_COST[zc], 0.0) + PENALTY * W[zc, zc] * (shared + EDGE_FACTOR * exposed), 0.0)))
    both = on[i] & on[j]
    total -= float(np.sum(np.where(both, 2 * PENALTY * b * W[zc[i], zc[j]], 0.0)))
    return total
