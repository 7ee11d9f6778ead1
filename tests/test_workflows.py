"""Scenario workflows: overlays, what-if runs, comparisons, sweeps (process pool and Dask) and the
GeoPackage run store (provenance, concurrent writers, the default location being unwritable).

One 100-parcel synthetic instance (solves in well under a second) is shared by the module.
The PostGIS store is tested in tests/test_store_postgis.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import yaml

from optimizer.engine.errors import InputError
from tests.conftest import ROOT, TINY

GRID = {"quotas.SKK.hi": [2.0, 2.6], "objective.terms.forest_loss.weight": [-30, -5]}


@pytest.fixture(scope="module")
def inst(tmp_path_factory):
    """(scenario path, overlay path, work dir): the instance, and an overlay that extends it."""
    from instances.synthetic import write_instance

    d = tmp_path_factory.mktemp("workflows")
    scenario = write_instance(d / "instance", n=100, seed=2, gap=0.0)
    overlay = d / "overlays" / "more_industry.yaml"
    overlay.parent.mkdir()
    overlay.write_text(textwrap.dedent("""\
        # an overlay: the synthetic scenario with more industrial park and a cheaper forest loss
        extends: ../instance/scenario.yaml
        name: more_industry
        quotas:
          "SKK": {hi: 2.6}
        objective:
          terms:
            forest_loss: {weight: -5}
        """), encoding="utf-8")
    (d / "grid.yaml").write_text(yaml.safe_dump(GRID), encoding="utf-8")
    return scenario, overlay, d


@pytest.fixture(scope="module")
def store(inst):
    return inst[2] / "store" / "runs.gpkg"


@pytest.fixture(scope="module")
def base_run(inst, store):
    """The base scenario solved once (CLI, recorded in the module's store)."""
    from click.testing import CliRunner

    from optimizer.cli import main

    out = inst[2] / "runs" / "base"
    r = CliRunner().invoke(main, ["solve", str(inst[0]), "--out", str(out), "--no-marginals", "--store", str(store),
                                  "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    return out


WHATIF = {"quotas.SKK.hi": 2.6, "objective.terms.forest_loss.weight": -5, "title": "01234"}


@pytest.fixture(scope="module")
def whatif_run(inst, store, base_run):
    """``landalloc whatif`` once: (run directory, its --json output)."""
    from click.testing import CliRunner

    from optimizer.cli import main

    out = inst[2] / "runs" / "whatif"
    r = CliRunner().invoke(main, ["whatif", str(inst[0]), "--set", "quotas.SKK.hi=2.6", "--set",
                                  "objective.terms.forest_loss.weight=-5", "--set", 'title="01234"', "--out", str(out),
                                  "--no-marginals", "--store", str(store), "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    return out, _json(r)


def _json(result):
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)  # --json: stdout holds JSON only


# --- overlays and what-if --------------------------------------------------------------------------

def test_overlay_run_json_holds_the_merged_scenario(cli, inst, store, whatif_run):
    from optimizer.engine.scenario import load_scenario

    scenario, overlay, d = inst
    out = d / "runs" / "overlay"
    r = cli("solve", overlay, "--out", out, "--no-marginals", "--store", store, "--json")
    assert r.exit_code == 0, r.stderr
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    merged = load_scenario(overlay).raw
    assert run["scenario"] == merged
    sc = run["scenario"]
    base = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    assert sc["extends"] == "../instance/scenario.yaml" and sc["name"] == "more_industry"
    assert sc["quotas"]["SKK"]["hi"] == 2.6 and sc["quotas"]["SKK"]["lo"] == base["quotas"]["SKK"]["lo"]
    assert sc["quotas"]["SKK"]["source"] == base["quotas"]["SKK"]["source"]
    assert sc["objective"]["terms"]["forest_loss"] == {"weight": -5, "column": "is_forest"}
    assert sc["objective"]["terms"]["suitability"] == base["objective"]["terms"]["suitability"]
    assert sc["land_uses"] == base["land_uses"] and sc["solver"] == base["solver"]
    # the base's relative paths are rebased onto the overlay's directory, and the run read the base's layer
    assert sc["parcels"]["path"] == "../instance/parcels.gpkg"
    parcels = next(i for i in run["inputs"] if i["role"] == "parcels")
    assert Path(parcels["path"]) == (scenario.parent / "parcels.gpkg").resolve()
    # the overlay and the what-if with the same overrides are the same model: the same optimum
    assert run["objective"] == pytest.approx(whatif_run[1]["objective"], rel=1e-9)


def test_whatif_records_overrides_and_the_variant(inst, store, base_run, whatif_run):
    from optimizer.workflows.store import GpkgStore

    scenario, _, _ = inst
    out, data = whatif_run
    assert data["overrides"] == WHATIF
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["overrides"] == WHATIF
    assert run["scenario"]["quotas"]["SKK"]["hi"] == 2.6
    assert run["scenario"]["objective"]["terms"]["forest_loss"]["weight"] == -5
    assert run["scenario"]["title"] == "01234"  # quoted: a string, not the octal number 668
    assert sorted(p.name for p in scenario.parent.iterdir()) == ["parcels.gpkg", "scenario.yaml", "zones.gpkg"]
    base = json.loads((base_run / "run.json").read_text())
    assert run["objective"] > base["objective"]  # a wider industrial band and a cheaper forest loss
    rec, plan = GpkgStore(store).get(data["store_id"], allocation=True)
    assert rec["kind"] == "whatif" and rec["overrides"] == WHATIF and rec["run_dir"] == str(out.absolute())
    assert rec["scenario"] == run["scenario"] and len(plan) == 100


@pytest.mark.parametrize("item, needle", [
    ("quotas.SKX.hi=3", "quotas has no entry 'SKX'"),
    ("quotas.SKK.hi=abc", "valid number"),
    ("solver.thread=2", "solver has no field 'thread'"),
    ("objective.terms.forest_los.weight=2", "objective.terms has no entry 'forest_los'"),
    ("quotas.SKK.lo=99", "greater than hi"),
    ("allocate.0=SKK", "allocate is a list"),
    ("quotas.SKK.hi", "expected PATH=VALUE"),
    ("name=01234", "expected a string, got 668"),
])
def test_whatif_bad_set_item_exit_2_naming_it(cli, inst, item, needle):
    scenario, _, d = inst
    out = d / "runs" / "never"
    r = cli("whatif", scenario, "--set", "solver.seed=1", "--set", item, "--out", out, "--store", "none")
    assert r.exit_code == 2
    assert f"--set {item}" in r.stderr and needle in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


# --- compare ---------------------------------------------------------------------------------------

def test_compare_two_runs(cli, inst, base_run, whatif_run):
    scenario, _, d = inst
    wi = whatif_run[0]
    out = d / "compare"
    r = cli("compare", base_run, wi, "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    res = _json(r)
    # the changed-parcels layer: non-empty, and exactly the parcels whose new use differs
    changed = pyogrio.read_dataframe(out / "changed.gpkg", layer="changed")
    a = pyogrio.read_dataframe(base_run / "allocation.gpkg", layer="allocation").set_index("parcel_id")
    b = pyogrio.read_dataframe(wi / "allocation.gpkg", layer="allocation").set_index("parcel_id")
    differ = set(a.index[a["new_use"] != b.loc[a.index, "new_use"]])
    assert len(changed) > 0 and set(changed["parcel_id"]) == differ and res["changed_parcels"] == len(differ)
    assert (changed["use_a"] != changed["use_b"]).all()
    assert (changed["use_a"].to_numpy() == a.loc[changed["parcel_id"], "new_use"].to_numpy()).all()
    assert changed.crs.to_epsg() == 9210 and changed.geometry.notna().all()
    # the KPI table, side by side; figures recomputed here from the layers and the input attributes
    kpis = pd.read_csv(out / "kpis.csv", keep_default_na=False)
    for kind in ("objective", "area_by_use", "converted_by_use", "converted_by_district", "converted_rice_ha",
                 "converted_forest_ha", "displaced_households", "sites"):
        assert kind in set(kpis["kind"]), kind
    row = {(k, key): (float(x), float(y)) for k, key, x, y in kpis[["kind", "key", "a", "b"]].itertuples(index=False)
           if x != "" and y != ""}
    ra, rb = (json.loads((p / "run.json").read_text()) for p in (base_run, wi))
    assert row[("objective", "")] == pytest.approx((ra["objective"], rb["objective"]))
    attrs = pyogrio.read_dataframe(scenario.parent / "parcels.gpkg", layer="parcels").set_index("parcel_id")
    for plan, side in ((a, 0), (b, 1)):
        conv = plan[plan["changed"].astype(bool)]
        forest = conv["area_ha"][attrs.loc[conv.index, "is_forest"] > 0].sum()
        rice = conv["area_ha"][attrs.loc[conv.index, "is_rice"] > 0].sum()
        households = attrs.loc[conv.index, "households"].sum()
        assert row[("converted_forest_ha", "")][side] == pytest.approx(forest)
        assert row[("converted_rice_ha", "")][side] == pytest.approx(rice)
        assert row[("displaced_households", "")][side] == pytest.approx(households)
        for (district, use), ha in conv.groupby(["district", "new_use"])["area_ha"].sum().items():
            assert row[("converted_by_district", f"{district} / {use}")][side] == pytest.approx(ha)
    # the difference map, as PNG and SVG
    assert (out / "difference.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (out / "difference.svg").read_text(encoding="utf-8")[:500]
    assert json.loads((out / "compare.json").read_text())["changed_parcels"] == len(differ)


def test_compare_by_store_ids(cli, store, base_run, whatif_run):
    from optimizer.workflows.store import GpkgStore

    rows = GpkgStore(store).list()
    base_id = next(r["id"] for r in rows if r["kind"] == "solve" and r["run_dir"] == str(base_run.absolute()))
    whatif_id = whatif_run[1]["store_id"]
    r = cli("compare", base_id, whatif_id, "--store", store, "--json")
    assert r.exit_code == 0, r.stderr
    res = _json(r)
    assert res["a"].endswith(f"#{base_id}") and res["changed_parcels"] > 0 and res["files"] == {}
    r = cli("compare", base_run, "no-such-run", "--json")
    assert r.exit_code == 2 and "neither a run directory nor a run id" in r.stderr



def test_a_failing_write_keeps_the_old_file_and_leaves_no_temp_file(base_run, whatif_run, tmp_path, monkeypatch):
    """Outputs go through optimizer.engine.files: a writer that fails half-way leaves the previous file
    under its name and no temporary file beside it."""
    import reports.comparison
    from reports.comparison import write_comparison

    out = tmp_path / "compare"
    write_comparison(base_run, whatif_run[0], out)
    names = sorted(p.name for p in out.iterdir())
    png = (out / "difference.png").read_bytes()

    def half_then_fail(fig, target, fmt):
        Path(target).write_bytes(b"half a picture")
        raise OSError("disk full")

    monkeypatch.setattr(reports.comparison, "save_figure", half_then_fail)
    with pytest.raises(InputError, match="disk full"):  # a full disk is bad input (exit 2), never a traceback
        write_comparison(base_run, whatif_run[0], out)
    assert sorted(p.name for p in out.iterdir()) == names
    assert (out / "difference.png").read_bytes() == png

# --- sweep -----------------------------------------------------------------------------------------

def _sweep_checks(summary: dict, out: Path) -> dict[int, float]:
    assert summary["points"] == 4 and summary["exit_code"] == 0 and not summary["failed"]
    objectives = {}
    for row in summary["runs"]:
        assert row["status"] == "optimal", row
        run = json.loads((out / "runs" / str(row["index"]) / "run.json").read_text())
        expected = dict(zip(GRID, (row["quotas.SKK.hi"], row["objective.terms.forest_loss.weight"])))
        assert run["overrides"] == {**expected, "solver.threads": 1}
        assert run["scenario"]["solver"]["threads"] == 1 and run["sweep"]["index"] == row["index"]
        assert run["objective"] == row["objective"] and row["store_id"] is not None
        objectives[row["index"]] = row["objective"]
    combos = {(r["quotas.SKK.hi"], r["objective.terms.forest_loss.weight"]) for r in summary["runs"]}
    assert combos == {(h, w) for h in GRID["quotas.SKK.hi"] for w in GRID["objective.terms.forest_loss.weight"]}
    csv = pd.read_csv(out / "summary.csv")
    table = pyogrio.read_dataframe(out / "sweep.gpkg", layer="summary")
    assert len(csv) == 4 and len(table) == 4 and "geometry" not in table.columns
    assert np.allclose(table.sort_values("index")["objective"], csv.sort_values("index")["objective"])
    assert (out / "tradeoff.png").read_bytes()[:4] == b"\x89PNG"
    return objectives


def test_sweep_process_pool_and_dask_give_identical_objectives(cli, inst, store):
    from optimizer.workflows.store import GpkgStore

    scenario, _, d = inst
    t0 = time.perf_counter()
    r = cli("sweep", scenario, "--grid", d / "grid.yaml", "--out", d / "sweep_process", "--workers", "2",
            "--store", store, "--json")
    assert r.exit_code == 0, r.stderr
    process = _sweep_checks(_json(r), d / "sweep_process")
    assert "4/4" in r.stderr  # the progress bar, on stderr
    t1 = time.perf_counter()
    # the same sweep on a real Dask LocalCluster on loopback (2 workers, 1 thread each), started by landalloc
    r = cli("sweep", scenario, "--grid", d / "grid.yaml", "--out", d / "sweep_dask", "--executor", "dask",
            "--workers", "2", "--store", store, "--json")
    assert r.exit_code == 0, r.stderr
    dask = _sweep_checks(_json(r), d / "sweep_dask")
    t2 = time.perf_counter()
    assert process == dask  # exactly equal: HiGHS is deterministic with a fixed seed and one thread
    assert len(set(process.values())) == 4
    recorded = [x for x in GpkgStore(store).list() if x["kind"] == "sweep"]
    assert sorted((x["sweep_dir"], x["sweep_index"]) for x in recorded) == sorted(
        (str((d / s).absolute()), i) for s in ("sweep_process", "sweep_dask") for i in range(4))
    assert all(x["layer"] for x in recorded)
    print(f"sweep: process pool {t1 - t0:.1f} s, dask LocalCluster {t2 - t1:.1f} s")


def test_sweep_explicit_list_grid_and_bad_points(cli, inst, tmp_path):
    scenario, _, d = inst
    bad = tmp_path / "bad.yaml"
    bad.write_text("quotas.SKK.hi: [2.0, abc]\n")
    r = cli("sweep", scenario, "--grid", bad, "--out", tmp_path / "s", "--store", "none")
    assert r.exit_code == 2 and "point 1" in r.stderr and "quotas.SKK.hi=abc" in r.stderr and "valid number" in r.stderr
    typo = tmp_path / "typo.yaml"
    typo.write_text("- {quotas.SKK.hi: 2.0}\n- {solver.thread: 2}\n")
    r = cli("sweep", scenario, "--grid", typo, "--out", tmp_path / "s", "--store", "none")
    assert r.exit_code == 2 and "point 1" in r.stderr and "no field 'thread'" in r.stderr
    r = cli("sweep", scenario, "--grid", typo, "--scheduler", "tcp://127.0.0.1:8786")
    assert r.exit_code == 2 and "--executor dask" in r.stderr
    r = cli("sweep", scenario, "--grid", typo, "--executor", "dask", "--scheduler", "http://127.0.0.1:8786")
    assert r.exit_code == 2 and "not a Dask scheduler address" in r.stderr
    assert not (tmp_path / "s").exists()
    from optimizer.workflows.sweep import read_grid

    grid = tmp_path / "list.yaml"
    grid.write_text("- {quotas.SKK.hi: 2.0}\n- {quotas.SKK.hi: 2.6, solver.seed: 1}\n")
    assert read_grid(grid) == [{"quotas.SKK.hi": 2.0}, {"quotas.SKK.hi": 2.6, "solver.seed": 1}]
    assert len(read_grid(d / "grid.yaml")) == 4


# --- the run store ---------------------------------------------------------------------------------

def test_store_provenance_list_show_delete(cli, inst, store, base_run):
    from optimizer.engine.files import sha256_file

    scenario, _, _ = inst
    r = cli("runs", "list", "--store", store, "--json")
    assert r.exit_code == 0, r.stderr
    rows = _json(r)
    base = next(x for x in rows if x["kind"] == "solve" and x["run_dir"] == str(base_run.absolute()))
    rec = _json(cli("runs", "show", base["id"], "--store", store, "--json"))
    run = json.loads((base_run / "run.json").read_text())
    assert rec["scenario"] == run["scenario"]  # the merged scenario
    assert rec["status"] == "optimal" and rec["objective"] == run["objective"]
    assert rec["solver_settings"] == run["solver_settings"] and rec["versions"] == run["versions"]
    assert rec["timings"] == run["timings"] and rec["run"]["certificate"] == run["certificate"]
    inputs = {i["role"]: i for i in rec["inputs"]}
    assert inputs["parcels"]["sha256"] == sha256_file(scenario.parent / "parcels.gpkg")
    assert inputs["scenario"]["sha256"] == rec["scenario_sha256"]
    layers = dict(pyogrio.list_layers(store))
    assert layers["runs"] is None and f"allocation_{base['id']}" in layers  # the runs table and a layer per run
    plan = pyogrio.read_dataframe(store, layer=f"allocation_{base['id']}")
    assert plan.sort_values("parcel_id")["new_use"].tolist() == \
        pyogrio.read_dataframe(base_run / "allocation.gpkg", layer="allocation").sort_values("parcel_id")["new_use"].tolist()
    # delete: the row and its layer go; the run directory stays
    r = cli("solve", TINY, "--store", store, "--no-marginals")
    assert r.exit_code == 0, r.stderr
    tiny_id = max(x["id"] for x in _json(cli("runs", "list", "--store", store, "--json")))
    assert _json(cli("runs", "delete", tiny_id, "--store", store, "--json")) == {"deleted": tiny_id, "store": str(store)}
    assert f"allocation_{tiny_id}" not in dict(pyogrio.list_layers(store))
    r = cli("runs", "show", tiny_id, "--store", store)
    assert r.exit_code == 2 and "no such run" in r.stderr
    assert base_run.exists()
    r = cli("runs", "list", "--store", store)
    assert r.exit_code == 0 and "runs ·" in r.stdout


def test_default_store_unwritable_warns_explicit_store_fails(cli, tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    unwritable = blocker / "sub" / "runs.gpkg"  # its parent cannot be created, even by root
    monkeypatch.setenv("LANDALLOC_STORE", str(unwritable))
    r = cli("solve", TINY, "--out", tmp_path / "run", "--no-marginals")
    assert r.exit_code == 0, r.stderr
    assert "warning: run store not usable" in r.stderr and (tmp_path / "run" / "run.json").exists()
    r = cli("solve", TINY, "--out", tmp_path / "run2", "--no-marginals", "--store", unwritable)
    assert r.exit_code == 2 and "run store" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "run2").exists()  # refused before solving
    other = tmp_path / "notes.txt"
    other.write_text("someone else's file")
    r = cli("solve", TINY, "--out", tmp_path / "run3", "--no-marginals", "--store", other)  # not a GeoPackage
    assert r.exit_code == 2 and "not a GeoPackage" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "notes.txt", "run"]  # no lock file left beside it
    monkeypatch.setenv("LANDALLOC_STORE", "none")
    r = cli("solve", TINY, "--out", tmp_path / "run4", "--no-marginals")
    assert r.exit_code == 0 and "warning" not in r.stderr


_WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from optimizer.engine.rundir import read_run
from optimizer.workflows.store import GpkgStore
run, plan = read_run({run_dir!r})
store = GpkgStore({store!r})
while time.time() < {start}:
    time.sleep(0.005)
for i in range({n}):
    run["scenario_name"] = "writer-{tag}-%d" % i
    store.record(run, plan, kind="solve", run_dir=None)
print("done")
"""


def test_two_processes_write_one_store_concurrently(inst, base_run, tmp_path):
    from optimizer.workflows.store import GpkgStore

    store = tmp_path / "shared" / "runs.gpkg"
    n = 6
    start = time.time() + 4.0  # both interpreters are up (imports done) before either writes
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER.format(root=str(ROOT), run_dir=str(base_run), store=str(store),
                                                                  start=start, n=n, tag=tag)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for tag in "ab"]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and out.strip() == "done", err
    st = GpkgStore(store)
    assert st.integrity() == "ok"
    rows = st.list()
    assert len(rows) == 2 * n and len({r["id"] for r in rows}) == 2 * n
    names = {st.get(r["id"])[0]["scenario_name"] for r in rows}
    assert names == {f"writer-{t}-{i}" for t in "ab" for i in range(n)}
    layers = dict(pyogrio.list_layers(store))
    for r in rows:
        assert r["layer"] in layers
        assert len(pyogrio.read_dataframe(store, layer=r["layer"])) == 100


def test_help_shows_examples(cli):
    for verb in (["whatif"], ["compare"], ["sweep"], ["runs"], ["runs", "list"], ["runs", "show"], ["runs", "delete"]):
        r = cli(*verb, "--help")
        assert r.exit_code == 0 and "Example" in r.stdout and "landalloc " in r.stdout, verb
        if verb != ["runs"]:
            assert "--json" in r.stdout and "--store" in r.stdout
    assert "--store" in cli("solve", "--help").stdout


@pytest.mark.skipif(os.name != "posix", reason="flock is POSIX")
def test_lock_file_is_beside_the_store(store, base_run):
    assert Path(str(store) + ".lock").exists()
