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


def _covers(got, want) -> bool:
    """``got`` holds everything ``want`` recorded (``_shape``s): keys may be added, none lost or reshaped."""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and _covers(got[k], v) for k, v in want.items())
    if isinstance(want, list) and want and all(isinstance(w, str) for w in want):  # a block's inner keys
        return isinstance(got, list) and set(want) <= set(got)
    if isinstance(want, list) and want:  # a list of records: the first record's shape
        return isinstance(got, list) and len(got) == 1 and _covers(got[0], want[0])
    if isinstance(want, list):
        return isinstance(got, list)
    return got == want


def assert_same_contract(run_dir: Path, recorded: Path) -> None:
    """Every key, inner key and layer field recorded is still there with the same type; more are welcome."""
    got, want = contract_of(run_dir), json.loads(recorded.read_text(encoding="utf-8"))
    assert set(want["run_keys"]) <= set(got["run_keys"]) and got["run_keys"][-1] == "scenario"
    for key, shape in want["run_shape"].items():
        if key not in _VARYING:
            assert _covers(got["run_shape"][key], shape), (key, got["run_shape"][key], shape)
    fields = dict(zip(got["layer_fields"], got["layer_dtypes"]))
    assert all(fields.get(f) == d for f, d in zip(want["layer_fields"], want["layer_dtypes"])), fields
    assert got["geometry_type"] == want["geometry_type"]
