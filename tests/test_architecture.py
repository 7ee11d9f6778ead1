"""The architecture holds: imports go one way through the layers, no module imports itself back,
run.json and the allocation layer keep their contract, and a solver is one file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import ROOT, TINY
from .contract import CONTRACTS, assert_same_contract

PACKAGES = ("optimizer", "constraints", "reports", "instances")
# lower layers first; a module may import its own layer and the ones before it, never a later one
LAYERS = [
    ("core", ("optimizer", "optimizer.engine", "optimizer.marxan", "constraints")),
    ("workflows", ("optimizer.workflows", "instances")),
    ("reports", ("reports",)),
    ("cli", ("optimizer.cli", "optimizer.__main__")),
]


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _layer(module: str) -> int:
    best = None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and (best is None or len(p) > len(best[1])):
                best = (rank, p)
    assert best is not None, f"{module} belongs to no layer; add it to LAYERS"
    return best[0]


def _imports(module: str) -> set[str]:
    """Every project module ``module`` imports, at the top or inside a function."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


GRAPH = {m: _imports(m) for m in MODULES}


def test_layer_map_knows_every_module():
    assert {_layer(m) for m in MODULES} == set(range(len(LAYERS)))


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{m} ({LAYERS[_layer(m)][0]}) imports {i} ({LAYERS[_layer(i)][0]})"
                  for m, deps in graph.items() for i in deps if _layer(i) > _layer(m))


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_imports_go_one_way_through_the_layers():
    bad = upward_imports(GRAPH)
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    assert not import_cycles(GRAPH)


def test_the_checks_can_fail(tmp_path, monkeypatch):
    """A function-level upward import is seen, and a cycle through three modules is found."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from reports.build import build_report\n")
    monkeypatch.setitem(MODULES, "constraints.bad", bad)
    graph = {"constraints.bad": _imports("constraints.bad")}
    assert upward_imports(graph) == ["constraints.bad (core) imports reports.build (reports)"]
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_past_450_lines_except_data_tables():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450}
    assert not long, long


def test_a_solver_is_one_file():
    """The schema, the CLI choices and the adapters all come from the registry (one module per solver)."""
    import click

    from optimizer.cli import main
    from optimizer.engine.scenario import SolverSettings
    from optimizer.engine.solvers import adapter_class, solver_names

    names = solver_names()
    files = {p.stem for p in (ROOT / "optimizer" / "engine" / "solvers").glob("*.py")
             if not p.stem.startswith("_")} - {"base", "mps"}  # _private modules are helpers, not solvers
    assert set(names) == files and names[0] == "highs"
    assert all(adapter_class(n).name == n for n in names)
    assert SolverSettings(name=names[-1]).name == names[-1]
    with pytest.raises(ValueError):
        SolverSettings(name="gurobi")
    option = next(p for p in main.commands["solve"].params if p.name == "solver")
    assert isinstance(option.type, click.Choice) and tuple(option.type.choices) == names


# -- run.json and the allocation layer keep their contract ----------------------------------------

def test_tiny_run_keeps_its_contract(tmp_path):
    from optimizer.engine.run import solve_scenario
    from optimizer.engine.scenario import load_scenario

    solve_scenario(load_scenario(TINY), tmp_path / "run")
    assert_same_contract(tmp_path / "run", CONTRACTS / "run_tiny.json")


def test_a_family_figure_cannot_overwrite_the_runs_own_keys():
    from optimizer.engine.run import RunKeyConflict, add_extra, add_figures

    run = {"status": "optimal", "objective": 1.0, "quotas": [], "sites": []}
    add_figures(run, {"quotas": [{"key": "SKK"}], "forest_cover": [{"cover": 0.6}]})
    assert run["quotas"] == [{"key": "SKK"}] and run["forest_cover"] == [{"cover": 0.6}]
    for figures in ({"status": [{"x": 1}]}, {"objective": []}, {"quotas": [{"key": "again"}]}):
        with pytest.raises(RunKeyConflict):
            add_figures(run, figures)
    with pytest.raises(RunKeyConflict):
        add_extra(run, {"objective": 2.0})
    add_extra(run, {"overrides": {"quotas.SKK.hi": 250}})
    assert run["status"] == "optimal" and run["objective"] == 1.0 and run["overrides"] == {"quotas.SKK.hi": 250}


def test_a_missing_solver_library_says_how_to_install_it():
    from optimizer.engine.errors import SolverUnavailable
    from optimizer.engine.solvers.base import Adapter

    class Missing(Adapter):
        name, requires, install = "missing", "landalloc_no_such_solver", "'landalloc-no-such-solver>=1'"

    ok, why = Missing().available()
    assert not ok and "pip install 'landalloc-no-such-solver>=1'" in why and "'missing'" in why
    with pytest.raises(SolverUnavailable, match="needs landalloc_no_such_solver"):
        Missing().ensure_available()


def test_every_kind_of_run_is_a_problem():
    """The spine sees three kinds through one protocol, and says which kind a scenario or run is."""
    import inspect

    from optimizer.engine.problem import Phased, Problem, SinglePeriod
    from optimizer.engine.run import problem_class
    from optimizer.marxan.problem import MarxanProject

    members = {n for n, _ in inspect.getmembers(Problem) if not n.startswith("_")} | set(Problem.__annotations__)
    for kind in (SinglePeriod, Phased, MarxanProject):
        missing = {m for m in members if not hasattr(kind, m) and m not in ("loaded", "model", "settings", "timings")}
        assert not missing, (kind.__name__, missing)
    assert problem_class({"periods": None}) is SinglePeriod
    assert problem_class({"periods": {"2030": {}}}) is Phased
    assert problem_class({"metadata": {"marxan": {"project": "marxan/input.dat"}}}) is MarxanProject
    assert problem_class({"marxan": {"project": "p"}, "scenario": {}}) is MarxanProject
