"""landalloc in QGIS: the Processing provider (qgis_plugin/landalloc) in a real headless QGIS.

QGIS runs in its own Python (Debian's python3-qgis under /usr/bin/python3, Qt offscreen), as on a
planner's machine, and the plugin runs the landalloc command of this environment as a subprocess.
One QGIS session (qgis_plugin/headless.py) runs every algorithm through ``processing.run`` with
Processing's own result loading; the tests check what it reports against figures obtained without
QGIS: the hand-solved tiny plan (tests/test_tiny.py), the run's GeoPackage read with geopandas, the
scenario's colours, and pixel counts of the PNG QGIS drew.

QGIS is installed by .ci/run; where it is missing these tests fail in CI (``CI`` set) and skip elsewhere.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import yaml
from matplotlib.image import imread

from instances.synthetic import write_instance

from .conftest import ROOT, TINY
from .test_tiny import EXPECTED

QGIS_PYTHON = "/usr/bin/python3"
HEADLESS = ROOT / "qgis_plugin" / "headless.py"
ALGORITHMS = {"landalloc:solve": "Solve scenario", "landalloc:whatif": "What-if", "landalloc:compare": "Compare runs",
              "landalloc:report": "Council report", "landalloc:explain": "Explain scenario"}


def _qgis_missing() -> str | None:
    try:
        probe = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        return f"{QGIS_PYTHON}: {e}"
    return None if probe.returncode == 0 else f"{QGIS_PYTHON} cannot import qgis.core: {probe.stderr.strip()[-300:]}"


@pytest.fixture(scope="module")
def qgis(tmp_path_factory):
    """Every algorithm run once in one headless QGIS session; the report of headless.py, with the paths used."""
    missing = _qgis_missing()
    if missing:
        message = f"QGIS is not installed ({missing}); Debian: apt-get install qgis python3-qgis (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    tmp = tmp_path_factory.mktemp("qgis")
    broken = tmp / "broken.yaml"
    broken.write_text(TINY.read_text(encoding="utf-8").replace("path: parcels.geojson",
                                                               f"path: {TINY.parent / 'no_such_parcels.geojson'}"),
                      encoding="utf-8")
    unreachable = tmp / "skk7.yaml"  # 7 ha of industrial park asked, 6 ha eligible (tests/test_tiny.py)
    unreachable.write_text(TINY.read_text(encoding="utf-8").replace("path: parcels.geojson", f"path: {TINY.parent / 'parcels.geojson'}")
                           .replace("layer: zones.geojson", f"layer: {TINY.parent / 'zones.geojson'}")
                           .replace('"SKK": {lo: 3, hi: 3,', '"SKK": {lo: 7, hi: 7,'), encoding="utf-8")
    big = write_instance(tmp / "syn2000", n=2000, seed=1, gap=0.0)
    paths = {"tiny": tmp / "tiny", "whatif": tmp / "whatif", "compare": tmp / "compare", "report": tmp / "report",
             "explain": tmp / "explain.html", "png": tmp / "tiny.png", "broken": broken, "cancel": tmp / "cancelled"}
    steps = [
        {"algorithm": "landalloc:solve", "parameters": {"SCENARIO": str(TINY), "OUTPUT": str(paths["tiny"])},
         "render": str(paths["png"])},
        {"algorithm": "landalloc:whatif", "parameters": {"BASE": str(TINY), "SET": "quotas.TMD.hi=1.5",
                                                         "OUTPUT": str(paths["whatif"])}},
        {"algorithm": "landalloc:compare", "parameters": {"RUN_A": str(paths["tiny"]), "RUN_B": str(paths["whatif"]),
                                                          "LANG": 1, "OUTPUT": str(paths["compare"])}},
        {"algorithm": "landalloc:report", "parameters": {"RUN_DIR": str(paths["tiny"]), "LANG": 1, "FORMATS": [2],
                                                         "OUTPUT": str(paths["report"])}},
        {"algorithm": "landalloc:explain", "parameters": {"SCENARIO": str(TINY), "OUTPUT": str(paths["explain"])}},
        {"algorithm": "landalloc:solve", "parameters": {"SCENARIO": str(broken), "OUTPUT": str(tmp / "never")}},
        {"algorithm": "landalloc:solve", "parameters": {"SCENARIO": str(big), "OUTPUT": str(paths["cancel"]),
                                                        "NO_MARGINALS": True}, "cancel_on": "first plan found"},
        {"algorithm": "landalloc:explain", "parameters": {"SCENARIO": str(unreachable), "OUTPUT": str(tmp / "skk7.html")}},
    ]
    (tmp / "steps.json").write_text(json.dumps(steps), encoding="utf-8")
    runtime = tmp / "xdg-runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp / "home"), "XDG_RUNTIME_DIR": str(runtime),
           "LANDALLOC_EXE": str(Path(sys.executable).parent / "landalloc")}  # QGIS keeps its profile in the throwaway HOME
    done = subprocess.run([QGIS_PYTHON, str(HEADLESS), str(tmp / "steps.json")], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    return {"report": report, "runs": report["runs"], "paths": paths}


def test_provider_registers_the_five_algorithms(qgis):
    report = qgis["report"]
    assert report["plugin_started"] and report["provider"].startswith("landalloc")
    assert {alg_id: name for alg_id, name, _ in report["algorithms"]} == ALGORITHMS


def test_solve_scenario_on_tiny_loads_the_hand_optimum(qgis):
    """Solve through processing.run: the layer Processing loads is the run's plan — 6 parcels with the
    contract's fields, the hand-derived optimum 29 and each parcel's use as derived in tests/test_tiny.py."""
    run = qgis["runs"][0]
    assert "error" not in run, run["log"]
    results = run["results"]
    assert (results["STATUS"], results["EXIT_CODE"], results["OBJECTIVE"], results["GAP"]) == ("optimal", 0, 29.0, 0.0)
    [layer] = run["layers"]
    assert layer["features"] == len(gpd.read_file(TINY.parent / "parcels.geojson")) == 6
    assert {"parcel_id", "district", "current_use", "new_use", "changed", "reason", "site", "area_ha"} <= set(layer["fields"])
    assert layer["crs"] == "EPSG:9210"
    plan = gpd.read_file(Path(results["OUTPUT"]) / "allocation.gpkg", layer="allocation")
    assert dict(zip(plan["parcel_id"], plan["new_use"])) == EXPECTED
    # the Processing dialog's log and progress bar were fed from the CLI as it ran
    assert any(line.startswith("solving 15 columns × 8 rows") for line in run["log"])
    assert run["progress"] == sorted(run["progress"]) and run["progress"][-1] == 100.0


def test_allocation_renders_colour_coded_from_its_embedded_style(qgis):
    """The loaded layer carries the GeoPackage's style: one category per land use with the scenario's colour.
    In the PNG QGIS drew, every parcel's interior has its planned use's colour, each use present has
    pixels in proportion to its area, and a use absent from the plan (LUA) has none."""
    run = qgis["runs"][0]
    [layer] = run["layers"]
    land_uses = yaml.safe_load(TINY.read_text(encoding="utf-8"))["land_uses"]
    colours = {code: tuple(int(use["colour"][i:i + 2], 16) for i in (1, 3, 5)) for code, use in land_uses.items()}
    assert layer["renderer"] == "categorizedSymbol" and layer["category_field"] == "new_use"
    assert {c["value"]: tuple(c["rgb"]) for c in layer["categories"]} == colours

    render = run["render"]
    assert render["errors"] == 0
    image = np.rint(imread(render["png"])[..., :3] * 255).astype(int)  # PNG → floats in [0, 1] → 8-bit RGB
    assert image.shape == (render["height"], render["width"], 3)
    pixels = {code: int((image == rgb).all(axis=-1).sum()) for code, rgb in colours.items()}
    plan = gpd.read_file(Path(run["results"]["OUTPUT"]) / "allocation.gpkg", layer="allocation")
    area = plan.geometry.area.groupby(plan["new_use"]).sum()
    assert set(area.index) == {"SKK", "TMD", "RSX", "HNK"}  # LUA: both rice parcels were converted
    assert pixels["LUA"] == 0
    filled = sum(pixels.values())
    for code, a in area.items():
        assert pixels[code] / filled == pytest.approx(a / area.sum(), abs=0.02), (code, pixels)

    xmin, ymin, xmax, ymax = render["extent"]
    for parcel_id, point in zip(plan["parcel_id"], plan.geometry.representative_point()):
        col = int((point.x - xmin) / (xmax - xmin) * render["width"])
        row = int((ymax - point.y) / (ymax - ymin) * render["height"])
        assert tuple(image[row, col]) == colours[EXPECTED[parcel_id]], parcel_id


def test_whatif_compare_report_and_explain(qgis):
    """What-if TMD ≤ 1.5 ha: SKK keeps p5 + p1 = 17 and TMD takes one 1 ha parcel worth 6 (p4 or p6, a tie) → 23;
    Compare finds the one parcel that went back to its use; the report and the explanation are written."""
    whatif, compare, report, explain = qgis["runs"][1:5]
    for run in (whatif, compare, report, explain):
        assert "error" not in run, run["log"]
    assert (whatif["results"]["STATUS"], whatif["results"]["OBJECTIVE"]) == ("optimal", 23.0)
    assert json.loads(Path(whatif["results"]["RUN_JSON"]).read_text())["overrides"] == {"quotas.TMD.hi": 1.5}
    assert [layer["renderer"] for layer in whatif["layers"]] == ["categorizedSymbol"]

    [changed] = compare["layers"]
    assert changed["features"] == 1 and {"use_a", "use_b"} <= set(changed["fields"])
    kpis = Path(compare["results"]["KPIS"]).read_text(encoding="utf-8")
    assert "objective,,29.0,23.0,-6.0" in kpis.replace(" ", "")

    html = Path(report["results"]["REPORT_HTML"])
    assert html.parent == qgis["paths"]["report"] and html.suffix == ".html" and html.stat().st_size > 10_000

    assert explain["results"]["REACHABLE"] is True
    text = qgis["paths"]["explain"].read_text(encoding="utf-8")
    assert "<td>SKK</td><td>3.0</td><td>3.0</td><td>6.0</td>" in text and "strict: Khu bảo tồn thử nghiệm" in text


def test_explain_flags_an_unreachable_quota(qgis):
    """SKK asks 7 ha where 6 ha are eligible (p1, p2, p4, p5): the CLI's exit 3 is a result, REACHABLE false."""
    run = qgis["runs"][7]
    assert "error" not in run and run["results"]["REACHABLE"] is False
    assert "error: quota_area SKK: asks 7.0–7.0, at most 6.0 eligible, 0.0 forced: UNREACHABLE" in run["log"]


def test_bad_scenario_fails_with_the_cli_message(qgis):
    """A scenario naming a missing parcel layer: the algorithm fails with landalloc's own message (file, fix)."""
    run = qgis["runs"][5]
    assert run["error"].startswith("landalloc stopped (exit code 2): ")
    assert "no_such_parcels.geojson: parcel layer not found (fix: check `parcels.path` in " in run["error"]
    assert "results" not in run and run["layers"] == []
    assert not (qgis["paths"]["broken"].parent / "never" / "run.json").exists()


def test_cancel_stops_the_solver_and_keeps_its_plan(qgis):
    """Cancel at the first plan on a 2,000-parcel instance: the CLI gets Ctrl-C (not a kill), stops the
    search, and writes the best plan so far (exit 4, status feasible); Processing loads nothing after a
    Cancel, so the log says where the plan is."""
    run = qgis["runs"][6]
    assert run["canceled"] and "[headless] Cancel pressed" in run["log"]
    results = run["results"]
    assert (results["EXIT_CODE"], results["STATUS"]) == (4, "feasible")
    saved = json.loads(Path(results["RUN_JSON"]).read_text(encoding="utf-8"))
    assert saved["termination"] == "interrupted" and saved["gap"] > 0
    gpkg = Path(results["OUTPUT"]) / "allocation.gpkg"
    assert len(gpd.read_file(gpkg, layer="allocation")) == 2000
    assert run["layers"] == [] and any(str(gpkg) in line for line in run["log"] if line.startswith("warning: "))


def _runner():
    """The plugin's runner module (standard library only), loaded by path as QGIS would find it."""
    spec = importlib.util.spec_from_file_location("landalloc_qgis_runner", ROOT / "qgis_plugin" / "landalloc" / "runner.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve the module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_executable_is_the_setting_then_the_environment_then_path(tmp_path, monkeypatch):
    runner = _runner()
    on_path, in_env, configured = (tmp_path / d / "landalloc" for d in ("path", "env", "setting"))
    for exe in (on_path, in_env, configured):
        exe.parent.mkdir()
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(on_path.parent))
    monkeypatch.delenv(runner.ENV_VAR, raising=False)
    assert runner.find_executable(None) == str(on_path)
    monkeypatch.setenv(runner.ENV_VAR, str(in_env))
    assert runner.find_executable("") == str(in_env)
    assert runner.find_executable(str(configured)) == str(configured)
    with pytest.raises(runner.ExecutableNotFound, match="the landalloc provider setting names .*/nowhere/landalloc"):
        runner.find_executable(str(tmp_path / "nowhere" / "landalloc"))
    monkeypatch.setenv(runner.ENV_VAR, "")
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(runner.ExecutableNotFound, match=r"no landalloc command on PATH.*LANDALLOC_EXE"):
        runner.find_executable(None)
    # QGIS's own Python, PROJ and GDAL settings stay with QGIS
    monkeypatch.setenv("PYTHONPATH", "/usr/share/qgis/python")
    monkeypatch.setenv("PROJ_LIB", "/qgis/share/proj")
    env = runner.child_environment()
    assert "PYTHONPATH" not in env and "PROJ_LIB" not in env and env["PYTHONIOENCODING"] == "utf-8"
