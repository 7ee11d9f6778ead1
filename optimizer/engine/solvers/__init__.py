"""Solver adapters: one module per solver, each returning a SolveResult. Never a silent fallback.

Adding a solver is one file here: a module named after the solver holding one ``base.Adapter``
subclass with its ``name``, ``requires`` (the Python module it needs) and ``features``. The
scenario schema, the CLI's ``--solver`` choices, warm starts and the availability checks all read
this registry, so nothing else lists solver names. Modules are found by file name without being
imported, so the schema can ask for the names before any solver library is loaded.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from optimizer.engine.errors import SolverUnavailable

DEFAULT = "highs"
_HELPERS = frozenset({"base", "mps"})  # shared code, not solvers


def solver_names() -> tuple[str, ...]:
    """Every registered solver, the default first, then alphabetical."""
    found = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                   if m.name not in _HELPERS and not m.name.startswith("_"))
    return tuple(sorted(found, key=lambda n: n != DEFAULT))


def adapter_class(name: str):
    """The adapter class of a registered solver (its features, without starting the solver): the class
    its module defines whose ``name`` is the module's."""
    if name not in solver_names():
        raise SolverUnavailable(f"unknown solver {name!r}; choose {', '.join(solver_names())}")
    module = importlib.import_module(f"{__name__}.{name}")
    classes = [v for v in vars(module).values()
               if isinstance(v, type) and v.__module__ == module.__name__ and getattr(v, "name", None) == name]
    if len(classes) != 1:
        raise RuntimeError(f"solver module {module.__name__} must define one adapter class with name = {name!r}")
    return classes[0]


def get_adapter(name: str):
    return adapter_class(name)()
