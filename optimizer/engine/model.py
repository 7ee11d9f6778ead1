"""The compiled model: one immutable sparse MIP with tables that explain every row and column.

Every solver adapter, the diagnostics and the MPS writer read this one object. Rows and columns are
tagged by (family, key) so a planner's question "which quota binds?" is a table lookup, never a
parse of constraint names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

INF = np.inf


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """max/min c·x + offset  s.t.  row_lo ≤ A x ≤ row_hi,  col_lo ≤ x ≤ col_hi,  x_j integer where integer[j].

    ``columns``: one row per column — family, key, parcel (index into the instance, -1 if none), use, keep.
    ``rows``: one row per constraint — family, key, lo, hi, soft (may be relaxed when diagnosing), unit.
    ``ineligible``: (parcel, use, family, reason) for every pair screened out before columns existed.
    """

    A: sp.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    c: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    integer: np.ndarray
    sense: str
    columns: pd.DataFrame
    rows: pd.DataFrame
    ineligible: pd.DataFrame
    offset: float = 0.0

    @property
    def n_cols(self) -> int:
        return self.A.shape[1]

    @property
    def n_rows(self) -> int:
        return self.A.shape[0]

    def objective_value(self, x: np.ndarray) -> float:
        return float(self.c @ x + self.offset)

    def dual_bound(self, y: np.ndarray) -> float | None:
        """A bound on every plan (and the LP relaxation) from any row multipliers ``y``: the Lagrangian dual
        function, min over the column bounds of (c − Aᵀy)·x plus each row's multiplier times the row bound
        its sign calls for. Weak duality makes it valid for every ``y`` — an LP stopped by its time limit
        still proves what its last duals give — so it is computed here, not taken from the solver. A
        multiplier whose row bound is infinite is dropped (still a valid ``y``); None when a column without
        a bound would make it infinite. Both signs of ``y`` are tried (solvers differ in the convention)."""
        sign = -1.0 if self.sense == "max" else 1.0  # as a minimization of sign·c
        y = np.asarray(y, dtype=float)
        if len(y) != self.n_rows or not np.isfinite(y).all():
            return None
        best = None
        for yy in (y, -y):
            yy = np.where(((yy > 0) & ~np.isfinite(self.row_lo)) | ((yy < 0) & ~np.isfinite(self.row_hi)), 0.0, yy)
            rows = yy * np.where(yy > 0, self.row_lo, np.where(yy < 0, self.row_hi, 0.0))
            d = sign * self.c - self.A.T @ yy
            with np.errstate(invalid="ignore"):
                cols = np.where(d > 0, d * self.col_lo, np.where(d < 0, d * self.col_hi, 0.0))
            if not np.isfinite(cols).all():
                continue
            value = float(rows.sum() + cols.sum())
            best = value if best is None else max(best, value)
        return None if best is None else sign * best + self.offset

    def row_activity(self, x: np.ndarray) -> np.ndarray:
        return self.A @ x

    def row_period(self, r: int) -> dict:
        """``{"period": …}`` for a row of a phased model, ``{}`` otherwise: merged into row reports."""
        return {"period": self.rows["period"].iat[r]} if "period" in self.rows else {}

    def violations(self, x: np.ndarray, tol: float = 1e-6) -> pd.DataFrame:
        """Rows and bounds that ``x`` breaks by more than tol (scaled by |bound|): a solver-garbage check."""
        act = self.row_activity(x)
        scale = 1.0 + np.maximum(np.abs(np.where(np.isfinite(self.row_lo), self.row_lo, 0)),
                                 np.abs(np.where(np.isfinite(self.row_hi), self.row_hi, 0)))
        bad = (act < self.row_lo - tol * scale) | (act > self.row_hi + tol * scale)
        out = self.rows.loc[bad, ["family", "key", "lo", "hi"]].copy()
        out["activity"] = act[bad]
        col_bad = (x < self.col_lo - tol) | (x > self.col_hi + tol)
        frac = self.integer & (np.abs(x - np.round(x)) > 1e-5)
        if col_bad.any() or frac.any():
            extra = self.columns.loc[col_bad | frac, ["family", "key"]].copy()
            extra["lo"], extra["hi"], extra["activity"] = self.col_lo[col_bad | frac], self.col_hi[col_bad | frac], x[col_bad | frac]
            out = pd.concat([out, extra], ignore_index=True)
        return out.reset_index(drop=True)


class ModelBuilder:
    """Collects column and row blocks from the core and from each constraint family, vectorized."""

    def __init__(self, sense: str):
        self.sense = sense
        self._col_blocks: list[pd.DataFrame] = []
        self._col_arrays: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._n_cols = 0
        self._row_blocks: list[pd.DataFrame] = []
        self._entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._n_rows = 0
        self._extra_cost: list[tuple[np.ndarray, np.ndarray]] = []
        self.offset = 0.0

    @property
    def n_cols(self) -> int:
        return self._n_cols

    def add_columns(self, family: str, key, *, parcel=-1, use="", keep=False, cost=0.0, lo=0.0, hi=1.0,
                    integer=True, count: int | None = None, **fields) -> np.ndarray:
        """Append a block of columns; returns their indices. Scalars broadcast over ``count``. ``fields``
        are a family's own fields in the columns table (e.g. the sites family's ``site``), so later stages
        match columns on data instead of parsing keys; columns of other blocks hold None there."""
        key = np.asarray(key, dtype=object)
        n = count if count is not None else len(key)
        table = pd.DataFrame({
            "family": family,
            "key": np.broadcast_to(key, (n,)),
            "parcel": np.broadcast_to(np.asarray(parcel, dtype=np.int64), (n,)),
            "use": np.broadcast_to(np.asarray(use, dtype=object), (n,)),
            "keep": np.broadcast_to(np.asarray(keep, dtype=bool), (n,)),
            **{k: np.broadcast_to(np.asarray(v, dtype=object), (n,)) for k, v in fields.items()},
        })
        arrays = tuple(np.broadcast_to(np.asarray(v, dtype=t), (n,)).copy()
                       for v, t in ((cost, float), (lo, float), (hi, float), (integer, bool)))
        self._col_blocks.append(table)
        self._col_arrays.append(arrays)
        idx = np.arange(self._n_cols, self._n_cols + n)
        self._n_cols += n
        return idx

    def add_objective(self, cols: np.ndarray, coef: np.ndarray) -> None:
        self._extra_cost.append((np.asarray(cols, dtype=np.int64), np.asarray(coef, dtype=float)))

    def add_rows(self, family: str, key, lo, hi, *, row, col, coef, soft: bool = False, unit: str = "") -> np.ndarray:
        """Append rows lo ≤ Σ coef·x[col] ≤ hi; ``row`` indexes the new block (0..len(key)-1)."""
        key = np.asarray(key, dtype=object).reshape(-1)
        r = len(key)
        lo = np.broadcast_to(np.asarray(lo, dtype=float), (r,)).copy()
        hi = np.broadcast_to(np.asarray(hi, dtype=float), (r,)).copy()
        lo[np.isnan(lo)], hi[np.isnan(hi)] = -INF, INF
        self._row_blocks.append(pd.DataFrame({"family": family, "key": key, "lo": lo, "hi": hi, "soft": soft, "unit": unit}))
        row = np.asarray(row, dtype=np.int64)
        self._entries.append((row + self._n_rows, np.asarray(col, dtype=np.int64),
                              np.broadcast_to(np.asarray(coef, dtype=float), row.shape)))
        idx = np.arange(self._n_rows, self._n_rows + r)
        self._n_rows += r
        return idx

    def build(self, ineligible: pd.DataFrame) -> CompiledModel:
        columns = pd.concat(self._col_blocks, ignore_index=True)
        for name in columns.columns[5:]:  # the families' own fields: None, not NaN, where a block has none
            columns[name] = columns[name].astype(object).where(columns[name].notna(), None)
        cost, lo, hi, integer = (np.concatenate([a[i] for a in self._col_arrays]) for i in range(4))
        for cols, coef in self._extra_cost:
            np.add.at(cost, cols, coef)
        rows = (pd.concat(self._row_blocks, ignore_index=True) if self._row_blocks
                else pd.DataFrame(columns=["family", "key", "lo", "hi", "soft", "unit"]))
        if self._entries:
            r = np.concatenate([e[0] for e in self._entries])
            c = np.concatenate([e[1] for e in self._entries])
            v = np.concatenate([e[2] for e in self._entries])
        else:
            r = c = np.zeros(0, dtype=np.int64)
            v = np.zeros(0)
        A = sp.csr_matrix((v, (r, c)), shape=(self._n_rows, self._n_cols))
        A.sum_duplicates()
        A.eliminate_zeros()
        row_lo, row_hi = rows["lo"].to_numpy(dtype=float), rows["hi"].to_numpy(dtype=float)
        for arr in (cost, lo, hi, integer, row_lo, row_hi):
            arr.setflags(write=False)
        return CompiledModel(A=A, row_lo=row_lo, row_hi=row_hi, c=cost, col_lo=lo, col_hi=hi, integer=integer,
                             sense=self.sense, columns=columns, rows=rows, ineligible=ineligible, offset=self.offset)


def extend(model: CompiledModel, *, rows: pd.DataFrame | None = None, A_rows: sp.spmatrix | None = None,
           cols: pd.DataFrame | None = None, A_cols: sp.spmatrix | None = None, c_cols: np.ndarray | None = None,
           col_lo: np.ndarray | None = None, col_hi: np.ndarray | None = None, integer: np.ndarray | None = None,
           c: np.ndarray | None = None, sense: str | None = None) -> CompiledModel:
    """A new model with extra columns (A_cols: existing rows × new columns) and then extra rows
    (A_rows: new rows × all columns), or a replaced objective. The original stays untouched; the
    diagnosis, marginal-value and alternative-plan re-solves are all built this way."""
    A = model.A
    columns, c_all = model.columns, (model.c if c is None else np.asarray(c, dtype=float))
    lo, hi, integ = model.col_lo, model.col_hi, model.integer
    if cols is not None:
        A = sp.hstack([A, A_cols]).tocsr()
        columns = pd.concat([columns, cols], ignore_index=True)
        c_all = np.concatenate([c_all, c_cols])
        lo, hi = np.concatenate([lo, col_lo]), np.concatenate([hi, col_hi])
        integ = np.concatenate([integ, integer])
    row_table, rlo, rhi = model.rows, model.row_lo, model.row_hi
    if rows is not None:
        A = sp.vstack([A, A_rows]).tocsr()
        row_table = pd.concat([row_table, rows], ignore_index=True)
        rlo = np.concatenate([rlo, rows["lo"].to_numpy(dtype=float)])
        rhi = np.concatenate([rhi, rows["hi"].to_numpy(dtype=float)])
    return CompiledModel(A=A, row_lo=rlo, row_hi=rhi, c=c_all, col_lo=lo, col_hi=hi, integer=integ,
                         sense=sense or model.sense, columns=columns, rows=row_table,
                         ineligible=model.ineligible, offset=model.offset if c is None else 0.0)


def with_row_bounds(model: CompiledModel, index: int, lo: float, hi: float) -> CompiledModel:
    row_lo, row_hi = model.row_lo.copy(), model.row_hi.copy()
    row_lo[index], row_hi[index] = lo, hi
    rows = model.rows.copy()
    rows.loc[index, ["lo", "hi"]] = [lo, hi]
    return CompiledModel(A=model.A, row_lo=row_lo, row_hi=row_hi, c=model.c, col_lo=model.col_lo,
                         col_hi=model.col_hi, integer=model.integer, sense=model.sense, columns=model.columns,
                         rows=rows, ineligible=model.ineligible, offset=model.offset)


def with_columns_held(model: CompiledModel, hold: np.ndarray, x: np.ndarray) -> CompiledModel:
    """``model`` with the columns ``hold`` (a mask) fixed at their rounded value in ``x``, within their
    bounds: the small models that re-solve around a plan (next-parcel prices, the primal engine's
    neighbourhoods)."""
    lo, hi = model.col_lo.copy(), model.col_hi.copy()
    lo[hold] = hi[hold] = np.clip(np.round(x[hold]), model.col_lo[hold], model.col_hi[hold])
    return replace(model, col_lo=lo, col_hi=hi)
