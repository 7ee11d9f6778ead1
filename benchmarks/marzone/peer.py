"""Marxan with Zones, the peer: built from ../shared/peers/marzone into a cache outside the repository, run in
a copy of a project with the work set in its input.dat.

The build line is the one in ../shared/peers/README.md (needs g++: Debian ``apt-get install -y g++``).
The binary is cached under ``$LANDALLOC_PEER_CACHE`` (default ``~/.cache/landalloc/peers``) in a folder
named by the sources' sha256 and the compiler's version, so a changed source or compiler rebuilds it;
the peer is never vendored into the repository or shipped.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT.parent / "shared" / "peers"
SOURCE = PEERS / "marzone"
CACHE = Path(os.environ.get("LANDALLOC_PEER_CACHE", Path.home() / ".cache" / "landalloc" / "peers"))
BUILD = ["g++", "-O3", "-std=c++17", "-fopenmp", "marzone.cpp", "-o"]


def peer_commit(readme: Path = PEERS / "README.md") -> str:
    """The upstream commit the sources were taken at, as ../shared/peers/README.md states it."""
    m = re.search(r"`marzone/`.*?commit ([0-9a-f]{7,40})", readme.read_text(encoding="utf-8"))
    return m.group(1) if m else "unknown"


def _compiler() -> str:
    if shutil.which("g++") is None:
        raise SystemExit("benchmarks.marzone: g++ is needed to build the peer (Debian: apt-get install -y g++)")
    return subprocess.run(["g++", "--version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]


def build(source: Path = SOURCE, cache: Path = CACHE) -> tuple[Path, dict]:
    """The MarZone binary (built once per source and compiler) and what it was built from."""
    compiler = _compiler()
    digest = hashlib.sha256(compiler.encode())
    for f in sorted(p for p in source.rglob("*") if p.suffix in (".cpp", ".hpp")):
        digest.update(f.relative_to(source).as_posix().encode() + f.read_bytes())
    key = digest.hexdigest()[:16]
    binary = cache / f"marzone-{key}" / "MarZone"
    info = {"name": "Marxan with Zones", "commit": peer_commit(), "source": str(source), "compiler": compiler,
            "build": " ".join(BUILD + ["MarZone"]), "binary": str(binary)}
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        tmp = binary.with_name(f"MarZone.{os.getpid()}.tmp")
        t = time.perf_counter()
        subprocess.run(BUILD + [str(tmp)], cwd=source, check=True)
        tmp.rename(binary)
        info["build_s"] = round(time.perf_counter() - t, 1)
    return binary, info


def _input_dat(text: str, **values) -> str:
    """input.dat with KEY lines replaced (Marxan takes the last match of a key anywhere in a line)."""
    for key, value in values.items():
        text, n = re.subn(rf"(?m)^{key} .*$", f"{key} {value}", text)
        if not n:
            text += f"\n{key} {value}\n"
    return text


_VALUE = re.compile(r"^Value (\S+) Cost (\S+) .*Connection (\S+) .*Penalty (\S+)", re.M)


def run(binary: Path, project: Path, workdir: Path, *, iterations: int, reps: int, seed: int) -> dict:
    """Run MarZone on one thread (OMP_NUM_THREADS=1: its repetitions run one after another) in a fresh
    ``workdir`` sharing the project's input/; returns its wall time, best plan file and printed best score."""
    if workdir.exists():
        shutil.rmtree(workdir)
    (workdir / "output").mkdir(parents=True)
    (workdir / "input").symlink_to((project / "input").resolve(), target_is_directory=True)
    text = (project / "input.dat").read_text(encoding="utf-8")
    numtemp = min(10000, iterations)
    (workdir / "input.dat").write_text(_input_dat(text, NUMITNS=iterations, NUMREPS=reps, RANDSEED=seed,
                                                  NUMTEMP=numtemp, SAVERUN=0), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t = time.perf_counter()
    res = subprocess.run([str(binary), "input.dat"], cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    log = res.stdout + res.stderr
    (workdir / "marzone.log").write_text(log, encoding="utf-8")
    if res.returncode != 0:
        raise RuntimeError(f"MarZone failed (exit {res.returncode}) in {workdir}; see marzone.log")
    after_best = log[log.rfind("Best solution is run"):]
    m = _VALUE.search(after_best)
    best = sorted((workdir / "output").glob("*_best.*"))
    if not m or not best:
        raise RuntimeError(f"MarZone printed no best plan in {workdir}; see marzone.log")
    return {"wall_s": wall, "best_file": str(best[0]), "iterations": iterations, "reps": reps, "seed": seed,
            "reported": {"score": float(m.group(1)), "cost": float(m.group(2)), "connection": float(m.group(3)),
                         "penalty": float(m.group(4))}}
