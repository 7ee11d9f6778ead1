"""run.json and the allocation layer as users' scripts and reports rely on them.

``tests/data/contract/run_*.json`` were recorded from runs made before the architecture was
reorganised (``contract_of`` on a run directory of ``landalloc solve``: tiny with marginal values,
the quick Cao Bằng scenario with ``--no-marginals``); a run made today must have the same keys, the
same inner keys of every fixed block and the same layer schema.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyogrio

CONTRACTS = Path(__file__).resolve().parent / "data" / "contract"


def _shape(value, depth=0):
    if isinstance(value, dict):
        return {k: _shape(v, depth + 1) for k, v in value.items()} if depth < 2 else sorted(value)
    if isinstance(value, list):
        return [_shape(value[0], depth + 1)] if value and isinstance(value[0], dict) else []
    return None


def contract_of(run_dir: Path) -> dict:
    """What tests/data/contract/*.json recorded from runs made before the architecture changed."""
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    info = pyogrio.read_info(run_dir / "allocation.gpkg", layer="allocation")
    return {"run_keys": list(run), "run_shape": {k: _shape(v, 1) for k, v in run.items() if k != "scenario"},
            "layer_fields": list(info["fields"]), "layer_dtypes": [str(d) for d in info["dtypes"]],
            "geometry_type": info["geometry_type"]}


# blocks whose inner keys vary with the machine or the run's length, not with the contract
_VARYING = {"timings", "versions", "progress", "solver_extra"}


def assert_same_contract(run_dir: Path, recorded: Path) -> None:
    got, want = contract_of(run_dir), json.loads(recorded.read_text(encoding="utf-8"))
    assert set(got["run_keys"]) == set(want["run_keys"]) and got["run_keys"][-1] == "scenario"
    for key, shape in want["run_shape"].items():
        if key not in _VARYING:
            assert got["run_shape"][key] == shape, key
    for k in ("layer_fields", "layer_dtypes", "geometry_type"):
        assert got[k] == want[k], k
