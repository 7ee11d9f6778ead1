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


def test_ctrl_c_keeps_incumbent(syn3k, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "optimizer", "solve", str(syn3k), "--out", str(out),
                             "--time-limit", "120", "--gap", "0", "--no-marginals", "--json"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr.readline().startswith("solving")
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


def test_solver_garbage_is_refused(cli, monkeypatch, tmp_path):
    import optimizer.engine.run as run_mod
    from optimizer.engine.solvers import get_adapter
    from optimizer.engine.solvers.base import Adapter, SolveResult

    class Garbage(Adapter):
        name = "highs"

        def version(self):
            return "garbage"

        def solve(self, model, settings, on_progress=None, start=None):
            x = np.zeros(model.n_cols)  # no use at all for any parcel
            return SolveResult("optimal", True, x, 0.0, 0.0, "highs", "garbage", 0.0, 0, 1)

    monkeypatch.setattr(run_mod, "get_adapter", lambda name: Garbage())
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
