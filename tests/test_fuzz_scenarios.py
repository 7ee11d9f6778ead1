"""Fuzzed scenarios: whatever is changed in tiny.yaml, `landalloc solve` ends with exit code 0, 2, 3 or 4 and a
message, never a traceback (exit 1 is verify's "violations found", which a solve never means).

Mutations of the scenario, one to three per example: a key dropped, duplicated or renamed to random
Unicode, a value replaced by another type, by NaN, ±infinity or a huge number, by random Unicode text or
by a random CRS string. Hypothesis is derandomized, so CI runs the same few dozen examples every time.
``solver.threads`` and ``solver.time_limit`` keep their values: HiGHS's thread pool is per process and the
examples share the test process, and a time limit only changes how long the tiny case may take.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import TINY

BASE = yaml.safe_load(TINY.read_text())
KEEP = {("solver", "threads"), ("solver", "time_limit")}


def _paths(node, prefix=()) -> list[tuple]:
    """Every key path of the scenario, mappings and leaves alike."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(prefix + (k,))
            out += _paths(v, prefix + (k,))
    return out


PATHS = [p for p in _paths(BASE) if p not in KEEP]
CRS_STRINGS = ["EPSG:9210", "EPSG:4326", "EPSG:3857", "EPSG:99999", "EPSG:", "epsg:32648", "+proj=longlat",
               "+proj=tmerc +lon_0=105.75 +k=0.9999 +x_0=500000 +units=ft", "PROJCS[", "garbage", "", "9210", "ESRI:102100"]
values = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([float("nan"), float("inf"), -1e300, 1e300, 2**63]),
    st.text(max_size=12), st.lists(st.integers(min_value=-5, max_value=5), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(min_value=-5, max_value=5), max_size=2),
)
mutation = st.one_of(
    st.tuples(st.just("drop"), st.sampled_from(PATHS)),
    st.tuples(st.just("set"), st.sampled_from(PATHS), values),
    st.tuples(st.just("rename"), st.sampled_from(PATHS), st.text(min_size=1, max_size=8)),
    st.tuples(st.just("crs"), st.one_of(st.sampled_from(CRS_STRINGS), st.text(max_size=30))),
    st.tuples(st.just("duplicate"), st.integers(min_value=0, max_value=200)),
)


def _parent(raw: dict, path: tuple):
    node = raw
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) and path[-1] in node else None


def mutate(raw: dict, mutations: list[tuple]) -> str:
    """The scenario text after the mutations (a duplicated line acts on the text, the rest on the mapping)."""
    duplicates = []
    for m in mutations:
        if m[0] == "crs":
            raw["crs"] = m[1]
        elif m[0] == "duplicate":
            duplicates.append(m[1])
        elif (parent := _parent(raw, m[1])) is not None:
            key = m[1][-1]
            if m[0] == "drop":
                del parent[key]
            elif m[0] == "set":
                parent[key] = m[2]
            else:
                parent[m[2]] = parent.pop(key)
    lines = yaml.safe_dump(raw, allow_unicode=True, sort_keys=False).splitlines()
    for i in duplicates:
        if lines:
            lines.insert(i % len(lines) + 1, lines[i % len(lines)])
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def case_dir():
    d = Path(tempfile.mkdtemp(prefix="landalloc-fuzz-"))
    shutil.copytree(TINY.parent, d / "case", ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    yield d / "case"
    shutil.rmtree(d, ignore_errors=True)


@settings(max_examples=40, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutations=st.lists(mutation, min_size=1, max_size=3))
def test_mutated_scenario_ends_with_a_contract_exit_code(cli, case_dir, mutations):
    import copy

    scenario = case_dir / "fuzzed.yaml"
    scenario.write_text(mutate(copy.deepcopy(BASE), mutations), encoding="utf-8")
    out = case_dir / "out"
    shutil.rmtree(out, ignore_errors=True)
    res = cli("solve", scenario, "--out", out, "--store", "none", "--no-marginals")
    assert res.exit_code in (0, 2, 3, 4), (mutations, res.output)
    assert "Traceback" not in res.output, (mutations, res.output)
    if res.exit_code == 2:
        assert res.stderr.startswith("error: ") or "\nerror: " in res.stderr, (mutations, res.stderr)
