"""Free-format MPS writer for a CompiledModel (always as a minimization; see base.to_minimization)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optimizer.engine.model import CompiledModel
from optimizer.engine.solvers.base import to_minimization


def _num(v: float) -> str:
    return repr(float(v))


def write_mps(model: CompiledModel, path: Path) -> None:
    c, _ = to_minimization(model)
    A = model.A.tocsc()
    n_rows, n_cols = model.n_rows, model.n_cols
    rlo, rhi = model.row_lo, model.row_hi
    lines = ["NAME landalloc", "ROWS", " N OBJ"]
    kinds = []
    for i in range(n_rows):
        lo, hi = rlo[i], rhi[i]
        if lo == hi:
            k = "E"
        elif np.isfinite(lo) and not np.isfinite(hi):
            k = "G"
        elif np.isfinite(hi):
            k = "L"
        else:
            k = "N"  # free row: kept as a second objective-free row; harmless
        kinds.append(k)
        lines.append(f" {k} R{i}")
    lines.append("COLUMNS")
    in_int = False
    for j in range(n_cols):
        integer = bool(model.integer[j])
        if integer and not in_int:
            lines.append(" MARKER 'MARKER' 'INTORG'")
            in_int = True
        elif not integer and in_int:
            lines.append(" MARKER 'MARKER' 'INTEND'")
            in_int = False
        if c[j] != 0:
            lines.append(f" C{j} OBJ {_num(c[j])}")
        start, end = A.indptr[j], A.indptr[j + 1]
        for i, v in zip(A.indices[start:end], A.data[start:end]):
            lines.append(f" C{j} R{i} {_num(v)}")
        if c[j] == 0 and start == end:
            lines.append(f" C{j} OBJ 0")
    if in_int:
        lines.append(" MARKER 'MARKER' 'INTEND'")
    lines.append("RHS")
    ranges = []
    for i, k in enumerate(kinds):
        lo, hi = rlo[i], rhi[i]
        rhs = lo if k in ("E", "G") else hi if k == "L" else 0.0
        if rhs != 0:
            lines.append(f" RHS R{i} {_num(rhs)}")
        if k == "L" and np.isfinite(lo):
            ranges.append(f" RNG R{i} {_num(hi - lo)}")
    if ranges:
        lines.append("RANGES")
        lines.extend(ranges)
    lines.append("BOUNDS")
    for j in range(n_cols):
        lo, hi = model.col_lo[j], model.col_hi[j]
        if model.integer[j] and lo == 0 and hi == 1:
            lines.append(f" BV BND C{j}")
            continue
        if lo == hi:
            lines.append(f" FX BND C{j} {_num(lo)}")
            continue
        if not np.isfinite(lo):
            lines.append(f" MI BND C{j}")
        elif lo != 0:
            lines.append(f" LO BND C{j} {_num(lo)}")
        lines.append(f" UP BND C{j} {_num(hi)}" if np.isfinite(hi) else f" PL BND C{j}")
    lines.append("ENDATA")
    Path(path).write_text("\n".join(lines) + "\n")
