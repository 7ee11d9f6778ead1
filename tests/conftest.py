"""Shared fixtures: paths to bundled instances and a CLI runner that keeps stdout and stderr apart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny" / "tiny.yaml"
SHARED = ROOT.parent / "shared"


@pytest.fixture
def cli():
    from optimizer.cli import main

    def run(*args: str):
        runner = CliRunner()
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def synthetic_small(tmp_path_factory) -> Path:
    from instances.synthetic import write_instance

    return write_instance(tmp_path_factory.mktemp("syn300"), n=300, seed=3, gap=0.0)


@pytest.fixture(scope="session", autouse=True)
def _throwaway_run_store(tmp_path_factory):
    """Runs solved by the tests are recorded in a throwaway store, never in ~/.landalloc (optimizer/workflows/store/)."""
    old = os.environ.get("LANDALLOC_STORE")
    os.environ["LANDALLOC_STORE"] = str(tmp_path_factory.mktemp("run_store") / "runs.gpkg")
    yield
    if old is None:
        os.environ.pop("LANDALLOC_STORE", None)
    else:
        os.environ["LANDALLOC_STORE"] = old
