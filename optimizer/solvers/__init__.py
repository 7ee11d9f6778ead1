"""Solver adapters, one per file, all returning a SolveResult. Never a silent fallback."""

from __future__ import annotations

from ..errors import SolverUnavailable
from .base import Adapter, SolveResult  # noqa: F401


def get_adapter(name: str) -> Adapter:
    if name == "highs":
        from .highs import HighsAdapter as cls
    elif name == "cbc":
        from .cbc import CbcAdapter as cls
    elif name == "scip":
        from .scip import ScipAdapter as cls
    elif name == "cpsat":
        from .cpsat import CpSatAdapter as cls
    else:
        raise SolverUnavailable(f"unknown solver {name!r}; choose highs, cbc, scip or cpsat")
    return cls()


SOLVERS = ("highs", "cbc", "scip", "cpsat")
