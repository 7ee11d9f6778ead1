"""Small MIPs around a point: the LP relaxation's integral part (relaxation-guided fixing) or an
incumbent (RINS), with the integer columns far from where the two disagree held fixed.

Both heuristics are one operation: choose the integer columns to free, hold every other integer
column at the centre's (rounded) value, and solve the rest with a work budget. Which columns to
free is read from the matrix, so it holds for every family without knowing any: start from the
columns in question (fractional in the LP, or where incumbent and LP differ) and grow through the
sparse rows that link them — a parcel's one-use row, a compactness edge's rows, a site's flow
arcs, a phased model's built-stays-built rows — until the neighbourhood holds ``size`` integer
columns. Dense rows (quotas, land balance) are not followed: they link everything, and the
sub-MIP still holds them as rows.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from optimizer.engine.model import CompiledModel, with_columns_held
from optimizer.engine.scenario import SolverSettings
from optimizer.engine.solvers.base import Adapter, SolveResult

SPARSE_ROW_NNZ = 64
"""rows with more entries than this link too much to define a neighbourhood (quotas, balances)"""
INTEGRAL_TOL = 1e-6


def relaxation(model: CompiledModel) -> CompiledModel:
    """The model with every integrality dropped: its optimum bounds the MIP's, its solution guides fixing."""
    return replace(model, integer=np.zeros(model.n_cols, dtype=bool))


def fractional(model: CompiledModel, x: np.ndarray) -> np.ndarray:
    """Integer columns whose value in ``x`` is not integral."""
    return model.integer & (np.abs(x - np.round(x)) > INTEGRAL_TOL)


class Neighbourhoods:
    """The model's sparse rows as a column–row incidence, built once per solve and grown from seeds."""

    def __init__(self, model: CompiledModel):
        A = model.A.tocsr()
        sparse_rows = np.diff(A.indptr) <= SPARSE_ROW_NNZ
        B = A[sparse_rows]
        B = sp.csr_matrix((np.ones(B.nnz), B.indices, B.indptr), shape=B.shape)
        self.rows_of_cols, self.cols_of_rows = B.T.tocsr(), B
        self.integer = model.integer

    def around(self, seeds: np.ndarray, size: int) -> np.ndarray:
        """The seed columns and those reached from them through sparse rows, hop by hop (a hop being
        column → row → column) until at least ``size`` integer columns are free or nothing new is
        reached. Every integer column of the last hop is taken, so the result does not depend on
        any order within a hop."""
        free = seeds.copy()
        while self.integer[free].sum() < size:
            grown = self.hop(free)
            if grown.sum() == free.sum():
                break
            free = grown
        return free

    def hop(self, cols: np.ndarray) -> np.ndarray:
        """``cols`` and every column sharing a sparse row with one of them."""
        rows = (self.cols_of_rows @ cols.astype(float)) > 0
        return cols | ((self.rows_of_cols @ rows.astype(float)) > 0)


def fixed_around(model: CompiledModel, centre: np.ndarray, free: np.ndarray) -> CompiledModel:
    """``model`` with every integer column outside ``free`` held at its rounded value in ``centre``."""
    return with_columns_held(model, model.integer & ~free, centre)


SUB_MIP_OPTIONS = {"mip_heuristic_effort": 0.0}
"""HiGHS's own root heuristics off in a sub-MIP: they are limited by time only (0 nodes after seconds
of them on a 500-column neighbourhood), so a node budget would never bind; the neighbourhoods are
the heuristic here"""


def budgeted(settings: SolverSettings, seconds: float, nodes: int) -> SolverSettings:
    """The settings for a sub-MIP: a node budget (the work limit that keeps runs deterministic) and a
    time cap (a safety that binds only on a machine far slower than the budget assumes)."""
    return settings.model_copy(update={"time_limit": max(seconds, 0.05),
                                       "options": {**settings.options, **SUB_MIP_OPTIONS, "mip_max_nodes": int(nodes)}})


def solve_around(adapter: Adapter, model: CompiledModel, settings: SolverSettings, centre: np.ndarray,
                 free: np.ndarray, start: np.ndarray | None, seconds: float, nodes: int) -> SolveResult:
    """The sub-MIP with ``free`` open and the rest at ``centre``; a feasible ``start`` is kept by the
    solver, so the result is never worse than it."""
    return adapter.solve(fixed_around(model, centre, free), budgeted(settings, seconds, nodes), start=start)


def blocks(model: CompiledModel, own: np.ndarray) -> np.ndarray:
    """A block label per column of ``own`` (−1 elsewhere): columns linked through rows that hold only
    ``own`` columns are one block — e.g. one site's selection, root, order and flow columns, which a
    family's linking rows to the parcels' assignment columns do not join to the next site."""
    A = model.A.tocsr()
    inside = np.asarray((sp.csr_matrix((np.ones(A.nnz), A.indices, A.indptr), shape=A.shape) @ (~own).astype(float)) == 0)
    inside &= np.diff(A.indptr) > 0
    B = A[inside][:, np.nonzero(own)[0]]
    n_own, n_rows = B.shape[1], B.shape[0]
    coo = B.tocoo()
    graph = sp.coo_matrix((np.ones(coo.nnz), (coo.col, n_own + coo.row)), shape=(n_own + n_rows,) * 2)
    _, labels = sp.csgraph.connected_components(graph, directed=False)
    out = np.full(model.n_cols, -1)
    out[own] = labels[:n_own]
    return out
