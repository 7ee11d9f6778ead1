"""Faults and interruptions: limits and Ctrl-C keep a verified incumbent, kills never corrupt a run,
solver garbage is refused, and hostile or broken inputs are named precisely."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import yaml

from .conftest import ROOT, TINY


@pytest.fixture(scope="module")
def syn3k(tmp_path_factory):
    from instances.synthetic import write_instance

    return write_instance(tmp_path_factory.mktemp("syn3k"), n=3000, seed=5, gap=0.0)


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "optimizer", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, **kw)


def test_time_limit_saves_verified_incumbent(syn3k, tmp_path):
    out = tmp_path / "run"
    res = _cli("solve", syn3k, "--out", out, "--time-limit", "6", "--gap", "0", "--no-marginals", "--json")
    run = json.loads(res.stdout)
    if run["termination"] == "optimal":  # the machine was fast enough to prove it: nothing to test
        pytest.skip("solved to proven optimality within 6 s")
    assert res.returncode == 4
    assert run["termination"] == "time_limit" and run["status"] == "feasible"
    assert run["bound"] is not None and run["gap"] > 0
    assert (out / "allocation.gpkg").exists()
    check = _cli("verify", out, "--json")
    assert check.returncode == 0, check.stdout + check.stderr


def _solve_until(scenario: Path, out: Path, line_starts: str, *args: str) -> subprocess.Popen:
    """A solve in a subprocess, returned once its stderr shows a line starting with ``line_starts``."""
    proc = subprocess.Popen([sys.executable, "-m", "optimizer", "solve", str(scenario), "--out", str(out),
                             "--store", "none", "--no-marginals", "--json", *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not (line := proc.stderr.readline()).lstrip().startswith(line_starts):
        assert line, f"the solve ended before printing {line_starts!r}"
    return proc


def test_ctrl_c_keeps_incumbent(syn3k, tmp_path):
    out = tmp_path / "run"
    proc = _solve_until(syn3k, out, "solving", "--time-limit", "120", "--gap", "0")
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    run = json.loads(stdout)
    assert proc.returncode == 4, stderr
    assert run["termination"] == "interrupted"
    assert run["timings"]["solve_s"] < 100
    if run["status"] == "feasible":
        assert _cli("verify", out).returncode == 0


def test_kill_during_write_keeps_previous_run(tmp_path):
    out = tmp_path / "run"
    assert _cli("solve", TINY, "--out", out).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    script = textwrap.dedent(f"""
        import time, optimizer.engine.rundir as rio
        from optimizer.engine.run import solve_scenario
        from optimizer.engine.scenario import load_scenario
        real = rio.write_layer
        def slow(*a, **k):
            real(*a, **k)
            print("writing", flush=True)
            time.sleep(60)
        rio.write_layer = slow
        solve_scenario(load_scenario({str(TINY)!r}), {str(out)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.kill()
    proc.wait()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _cli("verify", out).returncode == 0


def _stub_solver(monkeypatch, result) -> None:
    """The run's solver replaced by one that returns ``result(model)`` at once."""
    import optimizer.engine.run as run_mod
    from optimizer.engine.solvers.base import Adapter

    class Stub(Adapter):
        name = "highs"

        def version(self):
            return "stub"

        def solve(self, model, settings, on_progress=None, start=None):
            return result(model)

    monkeypatch.setattr(run_mod, "get_adapter", lambda name: Stub())


def test_solver_garbage_is_refused(cli, monkeypatch, tmp_path):
    from optimizer.engine.solvers import get_adapter
    from optimizer.engine.solvers.base import SolveResult

    # no use at all for any parcel
    _stub_solver(monkeypatch, lambda model: SolveResult("optimal", True, np.zeros(model.n_cols), 0.0, 0.0, "highs",
                                                        "stub", 0.0, 0, 1))
    res = cli("solve", TINY, "--out", tmp_path / "run")
    assert res.exit_code == 4
    assert "not trusting it" in res.stderr
    assert not (tmp_path / "run").exists()
    assert get_adapter("highs").available()[0]


# ---------------------------------------------------------------- input files

@pytest.fixture
def case(tmp_path):
    d = tmp_path / "case"
    shutil.copytree(TINY.parent, d, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    raw = yaml.safe_load(TINY.read_text())

    def write(layer: gpd.GeoDataFrame | None = None, name: str = "parcels.gpkg", **parcels) -> Path:
        if layer is not None:
            path = d / name
            layer.to_file(path, engine="pyogrio", **({"layer": "parcels"} if name.endswith(".gpkg") else {}))
            raw["parcels"]["path"] = name
            raw["parcels"].pop("layer", None)
        raw["parcels"].update(parcels)
        path = d / "scenario.yaml"
        path.write_text(yaml.safe_dump(raw, allow_unicode=True))
        return path

    return d, raw, write, gpd.read_file(d / "parcels.geojson")


def test_bowtie_repair_is_recorded(cli, case, tmp_path):
    d, raw, write, gdf = case
    i = gdf.index[gdf["parcel_id"] == 2][0]
    x0, y0, x1, y1 = gdf.geometry[i].bounds
    gdf.loc[i, "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    res = cli("solve", write(gdf), "--out", tmp_path / "r", "--repair", "--json")
    assert res.exit_code == 0, res.output
    assert any("parcel ids [2]" in n for n in json.loads(res.stdout)["notes"])


def test_overlapping_parcels_refused(cli, case, tmp_path):
    d, raw, write, gdf = case
    i = gdf.index[gdf["parcel_id"] == 1][0]
    gdf.loc[i, "geometry"] = gdf.geometry[i].buffer(20, join_style="mitre")
    res = cli("solve", write(gdf), "--out", tmp_path / "r")
    assert res.exit_code == 2
    assert "overlap by more than 1.0 m²" in res.stderr and "1/2" in res.stderr


def test_geographic_crs_is_reprojected_and_said(cli, case, tmp_path):
    d, raw, write, gdf = case
    res = cli("solve", write(gdf.to_crs("EPSG:4326")), "--out", tmp_path / "r", "--json")
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)
    assert any("reprojected from geographic EPSG:4326 to EPSG:9210" in n for n in run["notes"])
    assert run["objective"] == pytest.approx(29.0, rel=1e-3)


def test_cp1258_shapefile_decoded(cli, case, tmp_path):
    d, raw, write, gdf = case
    gdf["district"] = gdf["district"].str.replace("Huyện", "Huyện Hoà An ·", regex=False)
    # .dbf field names have at most 10 characters
    gdf = gdf.rename(columns={"current_use": "cur_use", "suit_industry": "suit_ind", "suit_tourism": "suit_tour"})
    raw["parcels"]["fields"]["current_use"] = "cur_use"
    raw["objective"]["terms"]["suitability"]["per_use"] = {"SKK": "suit_ind", "TMD": "suit_tour"}
    shp = d / "parcels_cp1258.shp"
    gdf.to_file(shp, engine="pyogrio", encoding="cp1258")
    (d / "parcels_cp1258.cpg").unlink(missing_ok=True)
    res = cli("solve", write(None, **{"path": "parcels_cp1258.shp", "encoding": "cp1258"}), "--out", tmp_path / "r")
    assert res.exit_code == 0, res.output
    plan = gpd.read_file(tmp_path / "r" / "allocation.gpkg", layer="allocation")
    # CP1258 stores "ệ" as "ê" + a combining dot; it must come back composed (NFC)
    assert sorted(set(plan["district"])) == ["Huyện Hoà An · A", "Huyện Hoà An · B"]
    assert json.loads((tmp_path / "r" / "run.json").read_text())["objective"] == pytest.approx(29.0)


def test_legacy_tcvn3_text_detected(cli, case, tmp_path):
    d, raw, write, gdf = case
    gdf["district"] = gdf["district"].str.replace("Huyện", "HuyÖn Hßa An", regex=False)  # TCVN3 bytes seen as Latin-1
    res = cli("solve", write(gdf), "--out", tmp_path / "r")
    assert res.exit_code == 2
    assert "district" in res.stderr and "TCVN3" in res.stderr


def test_special_file_refused(cli, case, tmp_path):
    d, raw, write, gdf = case
    res = cli("solve", write(None, path="/dev/null"), "--out", tmp_path / "r")
    assert res.exit_code == 2 and "not a regular file" in res.stderr


def test_quota_larger_than_province(cli, case, tmp_path):
    d, raw, write, gdf = case
    raw["quotas"]["SKK"] = {"lo": 50, "hi": 60}
    res = cli("solve", write(None), "--out", tmp_path / "r")
    assert res.exit_code == 2
    assert "quotas.SKK.lo" in res.stderr and "more than the whole parcel layer (8.00 ha)" in res.stderr


def test_yaml_object_construction_refused(cli, case, tmp_path):
    d, raw, write, gdf = case
    sc = d / "evil.yaml"
    sc.write_text("name: !!python/object/apply:os.system ['touch pwned']\n")
    res = cli("solve", sc)
    assert res.exit_code == 2 and "invalid YAML" in res.stderr
    assert not Path("pwned").exists()


# ---------------------------------------------------------------- repeated Ctrl-C, said truthfully

def test_double_ctrl_c_keeps_the_incumbent(syn3k, tmp_path):
    """Two presses 20 ms apart once a plan exists: the second used to escape highspy's handler, lose the
    incumbent and print "interrupted before a solver was running; nothing was written"."""
    out = tmp_path / "run"
    proc = _solve_until(syn3k, out, "solving", "--time-limit", "120", "--gap", "0")
    while "plan" not in (line := proc.stderr.readline()):
        assert line, "the solve ended before its first plan"
    proc.send_signal(signal.SIGINT)
    time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 4, stderr
    run = json.loads(stdout)
    assert run["termination"] == "interrupted" and run["status"] == "feasible"
    assert "nothing was written" not in stderr and "Traceback" not in stderr
    assert _cli("verify", out).returncode == 0


def test_ctrl_c_while_loading_says_nothing_was_written(syn3k, tmp_path):
    out = tmp_path / "run"
    proc = _solve_until(syn3k, out, "loading and compiling")
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 4
    assert stderr.strip().endswith("interrupted before a solver was running; nothing was written")
    assert not out.exists()


def test_ctrl_c_after_the_solve_still_writes_the_plan(tmp_path):
    """Presses during verify (here sent by the process to itself) are counted, not raised: the proven plan
    is written, and run.json says the run was interrupted."""
    out = tmp_path / "run"
    script = textwrap.dedent(f"""
        import os, signal, sys
        from optimizer.engine.problem import SinglePeriod
        real = SinglePeriod.verify
        def verify(self, plan):
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            return real(self, plan)
        SinglePeriod.verify = verify
        from optimizer.cli import main
        main(["solve", {str(TINY)!r}, "--out", {str(out)!r}, "--store", "none", "--no-marginals", "--json"])
    """)
    res = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    run = json.loads(res.stdout)
    assert run["status"] == "optimal" and run["interruptions"]["after_solve"] == 2
    assert f"interrupted: the plan found was written to {out}" in res.stderr
    assert _cli("verify", out).returncode == 0


# ---------------------------------------------------------------- a run without a plan never replaces one

BAD = ROOT / "tests" / "data" / "bad_input"


def _files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_run_without_a_plan_is_written_beside(cli, tmp_path):
    out = tmp_path / "run"
    assert cli("solve", TINY, "--out", out, "--store", "none", "--no-marginals").exit_code == 0
    before = _files(out)
    res = cli("solve", BAD / "infeasible.yaml", "--out", out, "--store", "none", "--json")
    assert res.exit_code == 3, res.output
    assert _files(out) == before
    [beside] = [p for p in tmp_path.iterdir() if p.name.startswith("run.infeasible-")]
    kept = json.loads((beside / "run.json").read_text())
    assert kept["status"] == "infeasible" and kept["kept_beside"]["kept"] == str(out)
    assert f"written to {beside}" in res.stderr
    res = cli("solve", BAD / "infeasible.yaml", "--out", out, "--store", "none", "--overwrite")
    assert res.exit_code == 3, res.output
    assert json.loads((out / "run.json").read_text())["status"] == "infeasible"
    assert not (out / "allocation.gpkg").exists()


def test_stopped_before_the_first_plan_is_written_beside(cli, monkeypatch, tmp_path):
    """A solve stopped by its time limit before any plan (a solver giving up at once, here) keeps the optimal run."""
    from optimizer.engine.solvers.base import TIME_LIMIT, SolveResult

    out = tmp_path / "run"
    assert cli("solve", TINY, "--out", out, "--store", "none", "--no-marginals").exit_code == 0
    before = _files(out)
    _stub_solver(monkeypatch, lambda model: SolveResult(TIME_LIMIT, False, None, None, None, "highs", "stub", 0.5, 0, 1))
    res = cli("solve", TINY, "--out", out, "--store", "none")
    assert res.exit_code == 4, res.output
    assert _files(out) == before
    [beside] = [p for p in tmp_path.iterdir() if p.name.startswith("run.incomplete-")]
    assert json.loads((beside / "run.json").read_text())["status"] == "no_solution"


# ---------------------------------------------------------------- verify re-checks exclusions itself

def test_verify_catches_a_family_that_ignores_its_zone_layer(cli, monkeypatch, tmp_path):
    """allowed_uses made to ignore its layer in screening and in its own verify: the plan puts SKK on
    parcel 3 inside the strict zone (objective 33 instead of the hand optimum 29), and both the solve's
    verification and `landalloc verify` still name the violation, from the zone geometry."""
    from constraints.allowed_uses import AllowedUses

    monkeypatch.setattr(AllowedUses, "screen", lambda self, instance: [])
    monkeypatch.setattr(AllowedUses, "verify", lambda self, ctx: [])
    out = tmp_path / "run"
    res = cli("solve", TINY, "--out", out, "--store", "none", "--no-marginals", "--json")
    run = json.loads(res.stdout)
    assert run["objective"] == pytest.approx(33.0)
    [v] = run["verify"]["violations"]
    assert v["family"] == "allowed_uses" and v["parcels"] == [3] and "strict zone" in v["message"]
    res = cli("verify", out, "--json")
    assert res.exit_code == 1
    assert [v["parcels"] for v in json.loads(res.stdout)["violations"]] == [[3]]


# ---------------------------------------------------------------- full disk: exit 2, nothing half-written

def _with_file_size_limit(limit: int):
    """A file size limit in the child: writes beyond ``limit`` bytes fail with EFBIG (SIGXFSZ ignored), as
    on a full disk, without needing a small file system."""
    import resource

    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return pre


def test_full_disk_while_writing_the_run(tmp_path):
    out = tmp_path / "run"
    assert _cli("solve", TINY, "--out", out, "--store", "none", "--no-marginals").returncode == 0
    before = _files(out)
    res = subprocess.run([sys.executable, "-m", "optimizer", "solve", str(TINY), "--out", str(out), "--store", "none",
                          "--no-marginals"], cwd=ROOT, capture_output=True, text=True,
                         preexec_fn=_with_file_size_limit(20_000))
    assert res.returncode == 2, res.stderr
    assert f"{out}: cannot write: File too large" in res.stderr and "Traceback" not in res.stderr
    assert _files(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_full_disk_when_creating_the_store_leaves_no_lock_file(tmp_path):
    store = tmp_path / "runs.gpkg"
    res = subprocess.run([sys.executable, "-m", "optimizer", "solve", str(TINY), "--out", str(tmp_path / "run"),
                          "--store", str(store), "--no-marginals"], cwd=ROOT, capture_output=True, text=True,
                         preexec_fn=_with_file_size_limit(20_000))
    assert res.returncode == 2, res.stderr
    assert str(store) in res.stderr and "File too large" in res.stderr and "Traceback" not in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# ---------------------------------------------------------------- the store: a row and its plan together

def _plan():
    return gpd.read_file(TINY.parent / "parcels.geojson").assign(new_use="SKK")


def test_store_row_and_plan_roll_back_together(monkeypatch, tmp_path):
    import optimizer.workflows.store.gpkg as gpkg_mod
    from optimizer.workflows.store import GpkgStore

    store = GpkgStore(tmp_path / "runs.gpkg")
    first = store.record({"status": "optimal", "objective": 1.0}, _plan(), kind="solve")
    real = gpkg_mod._copy_staged_layer

    def copy_then_fail(con, layer):
        real(con, layer)
        raise RuntimeError("stopped inside the transaction")

    monkeypatch.setattr(gpkg_mod, "_copy_staged_layer", copy_then_fail)
    with pytest.raises(RuntimeError):
        store.record({"status": "optimal", "objective": 2.0}, _plan(), kind="solve")
    assert [r["id"] for r in store.list()] == [first]
    assert {"allocation_1"} == {n for n in gpkg_mod.pyogrio.list_layers(store.path)[:, 0] if n.startswith("alloc")}
    assert store.integrity() == "ok"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.gpkg", "runs.gpkg.lock"]


def test_store_killed_inside_the_transaction_records_nothing(tmp_path):
    path = tmp_path / "runs.gpkg"
    script = textwrap.dedent(f"""
        import time, geopandas as gpd
        import optimizer.workflows.store.gpkg as g
        real = g._copy_staged_layer
        def slow(con, layer):
            real(con, layer)
            print("inside", flush=True)
            time.sleep(60)
        g._copy_staged_layer = slow
        plan = gpd.read_file({str(TINY.parent / "parcels.geojson")!r})
        g.GpkgStore({str(path)!r}).record({{"status": "optimal"}}, plan, kind="solve")
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "inside"
    proc.kill()
    proc.wait()
    from optimizer.workflows.store import GpkgStore

    store = GpkgStore(path)
    assert store.list() == [] and store.integrity() == "ok"
    assert any(p.name.endswith(".staged.gpkg") for p in tmp_path.iterdir())  # the killed writer's staging file
    run_id = store.record({"status": "optimal"}, _plan(), kind="solve")
    _, plan = store.get(run_id, allocation=True)
    assert len(plan) == 6
    assert not any(p.name.endswith(".staged.gpkg") for p in tmp_path.iterdir())
