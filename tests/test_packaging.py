"""The card's generic top-level names must resolve to this repository, not to another installed package."""

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["optimizer", "constraints", "instances", "reports"])
def test_top_level_package_is_ours(name):
    mod = importlib.import_module(name)
    assert Path(mod.__file__).resolve().parent == ROOT / name


def test_every_family_module_registers():
    from constraints import registry

    reg = registry()
    modules = sorted(p.stem for p in (ROOT / "constraints").glob("*.py") if not p.stem.startswith("_"))
    assert sorted(reg) == modules, "each module in constraints/ must define FAMILY with name == module name"
    from constraints._api import Family, FamilyConfig

    for name, fam in reg.items():
        module = importlib.import_module(f"constraints.{name}")
        assert module.__doc__ and "Formulation" in module.__doc__, f"{name}: docstring must state its formulation"
        assert issubclass(fam.Config, FamilyConfig), f"{name}: Config must be a FamilyConfig schema"
        assert fam.verify is not Family.verify, f"{name}: no verify()"
        tests = ROOT / "tests" / f"test_family_{name}.py"
        assert tests.exists(), f"{name}: needs tests/test_family_{name}.py"
        text = tests.read_text()
        for kind in ("def test_compile", "def test_verify", "def test_error"):
            assert kind in text, f"{tests.name}: missing a {kind[4:]}… test"


def test_every_package_is_listed_for_installation():
    """pyproject.toml lists packages explicitly (the card's generic names); a new subpackage missing
    from the list would be left out of a non-editable install."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("optimizer", "constraints", "instances", "reports")
             for p in (ROOT / top).rglob("__init__.py")}
    assert listed == found
