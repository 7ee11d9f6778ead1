"""The PostgreSQL/PostGIS run store, against a real server: a private cluster started on loopback.

The fixture runs ``initdb`` into a temporary directory (as the ``postgres`` user when the tests run as
root: PostgreSQL refuses to run as root), starts it on a free port on 127.0.0.1, creates the postgis
extension and inserts EPSG:9210 into ``spatial_ref_sys`` (PostGIS 3.3 lacks EPSG:9205–9218).
Debian packages: ``postgresql postgis postgresql-postgis`` (``.ci/run`` installs them).

If the server cannot be started the tests FAIL, so CI never skips them silently; set
``LANDALLOC_SKIP_POSTGIS=1`` to skip them on a machine without PostgreSQL/PostGIS.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

SKIP_ENV = "LANDALLOC_SKIP_POSTGIS"
GRID = {"quotas.SKK.hi": [2.0, 2.6], "objective.terms.forest_loss.weight": [-30, -5]}


def _bindir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if not dirs:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found; "
                           "install Debian's postgresql postgis postgresql-postgis")
    return Path(dirs[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateCluster:
    def __init__(self):
        self.bindir = _bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="landalloc-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # the server refuses to run as root: run it as the postgres user
            import pwd

            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no `postgres` user to run the server") from None
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            runuser = shutil.which("runuser")
            self.prefix = [runuser, "-u", "postgres", "--"] if runuser else None
            if self.prefix is None:
                raise RuntimeError("running as root without runuser(1) to drop to the postgres user")
        os.chmod(self.dir, 0o700)

    def _run(self, *args: str) -> None:
        r = subprocess.run(self.prefix + list(args), capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            log = (self.dir / "log").read_text(errors="replace")[-2000:] if (self.dir / "log").exists() else ""
            raise RuntimeError(f"{Path(args[0]).name} failed ({r.returncode}): {r.stderr.strip()}\n{log}")

    def start(self) -> str:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        opts = f"-k {self.dir} -p {self.port} -h 127.0.0.1 -c fsync=off -c synchronous_commit=off"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"),
                  "-w", "-t", "60", "start")
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except Exception:  # noqa: BLE001 - best effort
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def pg():
    """A base URL (no database) of a private PostGIS server, and a database with postgis and EPSG:9210."""
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: PostGIS store tests skipped")
    import psycopg

    from optimizer.workflows.store import spatial_ref_sys_row

    cluster = None
    try:
        cluster = PrivateCluster()
        base = cluster.start()
        with psycopg.connect(f"{base}/postgres", autocommit=True) as con:
            con.execute("CREATE DATABASE landalloc_test")
        url = f"{base}/landalloc_test"
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("CREATE EXTENSION postgis")
            if con.execute("SELECT 1 FROM spatial_ref_sys WHERE srid = 9210").fetchone() is None:
                con.execute("INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text) "
                            "VALUES (%s, %s, %s, %s, %s)", spatial_ref_sys_row(9210))
    except Exception as e:  # noqa: BLE001
        if cluster is not None:
            cluster.stop()
        pytest.fail(f"could not start a private PostgreSQL/PostGIS server on loopback: {e}\n"
                    f"install Debian's postgresql postgis postgresql-postgis, or set {SKIP_ENV}=1 to skip these tests",
                    pytrace=False)
    yield url
    cluster.stop()


@pytest.fixture(scope="module")
def inst(tmp_path_factory):
    from instances.synthetic import write_instance

    d = tmp_path_factory.mktemp("pg_workflows")
    scenario = write_instance(d / "instance", n=100, seed=2, gap=0.0)
    (d / "grid.yaml").write_text(yaml.safe_dump(GRID), encoding="utf-8")
    return scenario, d


def _json(r):
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_postgis_store_holds_solve_whatif_sweep_and_compares(cli, pg, inst):
    import psycopg
    from pyproj import Transformer

    from optimizer.workflows.store import PostgisStore

    scenario, d = inst
    store = pg.replace("postgres@", "postgres:not-shown@")  # trust auth: the password is ignored, but never printed
    base = _json(cli("solve", scenario, "--out", d / "base", "--no-marginals", "--store", store, "--json"))
    wi = _json(cli("whatif", scenario, "--set", "quotas.SKK.hi=2.6", "--set", "objective.terms.forest_loss.weight=-5",
                   "--out", d / "whatif", "--no-marginals", "--store", store, "--json"))
    assert wi["store"] == pg and "not-shown" not in json.dumps(wi)
    t0 = time.perf_counter()
    sw = _json(cli("sweep", scenario, "--grid", d / "grid.yaml", "--out", d / "sweep", "--workers", "2",
                   "--store", store, "--json"))
    print(f"sweep into PostGIS: {time.perf_counter() - t0:.1f} s")
    assert sw["points"] == 4 and sw["exit_code"] == 0 and sw["store"] == pg

    rows = _json(cli("runs", "list", "--store", store, "--json"))
    kinds = sorted(r["kind"] for r in rows)
    assert kinds == ["solve", "sweep", "sweep", "sweep", "sweep", "whatif"]
    assert {r["id"] for r in rows if r["kind"] == "sweep"} == {r["store_id"] for r in sw["runs"]}
    assert sorted(r["objective"] for r in rows if r["kind"] == "sweep") == sorted(r["objective"] for r in sw["runs"])

    rec = _json(cli("runs", "show", wi["store_id"], "--store", store, "--json"))
    run = json.loads((d / "whatif" / "run.json").read_text())
    assert rec["kind"] == "whatif" and rec["overrides"] == {"quotas.SKK.hi": 2.6, "objective.terms.forest_loss.weight": -5}
    assert rec["scenario"] == run["scenario"] and rec["inputs"] == run["inputs"]
    assert rec["solver_settings"] == run["solver_settings"] and rec["versions"] == run["versions"]
    assert rec["timings"] == run["timings"] and rec["status"] == "optimal" and rec["objective"] == run["objective"]

    # compare two runs straight from the PostGIS store
    base_id = next(r["id"] for r in rows if r["kind"] == "solve")
    assert next(r for r in rows if r["kind"] == "solve")["objective"] == base["objective"]
    res = _json(cli("compare", base_id, wi["store_id"], "--store", store, "--out", d / "compare", "--json"))
    assert res["changed_parcels"] > 0 and (d / "compare" / "changed.gpkg").exists()

    # the plan tables: SRID 9210, areas as recorded, and ST_Transform agrees with pyproj (EPSG:9210 row in place)
    layer = rec["layer"]
    with psycopg.connect(pg) as con:
        gc = con.execute("SELECT srid, type FROM geometry_columns WHERE f_table_schema = 'landalloc' AND "
                         "f_table_name = %s", (layer,)).fetchone()
        assert gc == (9210, "POLYGON")
        pts = con.execute(f"SELECT parcel_id, area_ha, ST_Area(geom) / 1e4, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)), "
                          f"ST_X(ST_Transform(ST_Centroid(geom), 4326)), ST_Y(ST_Transform(ST_Centroid(geom), 4326)) "
                          f"FROM landalloc.{layer} ORDER BY parcel_id").fetchall()
    assert len(pts) == 100
    tr = Transformer.from_crs("EPSG:9210", "EPSG:4326", always_xy=True)
    for _, area_ha, st_area, x, y, lon, lat in pts:
        assert st_area == pytest.approx(area_ha, rel=1e-9)
        plon, plat = tr.transform(x, y)
        assert abs(plon - lon) < 1e-7 and abs(plat - lat) < 1e-7  # < 1 cm
    st = PostgisStore(pg)
    _, plan = st.get(wi["store_id"], allocation=True)
    assert plan.crs.to_epsg() == 9210 and len(plan) == 100 and plan["changed"].dtype == bool

    # delete: the row and its table go
    assert _json(cli("runs", "delete", wi["store_id"], "--store", store, "--json"))["deleted"] == wi["store_id"]
    with psycopg.connect(pg) as con:
        assert con.execute("SELECT to_regclass(%s)", (f"landalloc.{layer}",)).fetchone()[0] is None
    r = cli("runs", "show", wi["store_id"], "--store", store)
    assert r.exit_code == 2 and "no such run" in r.stderr


def test_postgis_store_adds_a_missing_srid_and_uses_its_schema(pg, inst, tmp_path):
    import psycopg

    from optimizer.engine.rundir import read_run
    from optimizer.workflows.store import PostgisStore

    scenario, d = inst
    if not (d / "base" / "run.json").exists():
        from optimizer.engine.run import solve_scenario
        from optimizer.engine.scenario import load_scenario

        solve_scenario(load_scenario(scenario), d / "base", marginals=False)
    run, plan = read_run(d / "base")
    with psycopg.connect(pg, autocommit=True) as con:
        con.execute("DELETE FROM spatial_ref_sys WHERE srid = 9210")
    st = PostgisStore(f"{pg}?schema=other_schema")
    rid = st.record(run, plan, kind="solve", run_dir=d / "base")
    with psycopg.connect(pg) as con:
        assert con.execute("SELECT auth_name, auth_srid FROM spatial_ref_sys WHERE srid = 9210").fetchone() == ("EPSG", 9210)
        assert con.execute(f"SELECT count(*) FROM other_schema.allocation_{rid}").fetchone()[0] == 100
    assert [r["id"] for r in st.list()] == [rid]


def test_postgis_store_unreachable_is_exit_2(cli, inst):
    scenario, d = inst
    port = _free_port()  # nothing listens there
    r = cli("solve", scenario, "--out", d / "never", "--store", f"postgresql://postgres@127.0.0.1:{port}/x")
    assert r.exit_code == 2 and "cannot connect" in r.stderr and "Traceback" not in r.stderr
    assert not (d / "never").exists()
