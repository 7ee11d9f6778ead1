"""The annealing kernel's moves per second on the peer benchmark's grids, and its scores over seeds.

    python -m benchmarks.marzone.anneal_speed --sizes 400 2500 10000 40000 --rounds 3
    git show HEAD:optimizer/marxan/anneal.py > /tmp/anneal_before.py
    python -m benchmarks.marzone.anneal_speed --baseline /tmp/anneal_before.py      # before / after, alternating
    python -m benchmarks.marzone.anneal_speed --sizes 400 --scores 6750 --restarts 1 4 6 --seeds 12

Speed: a fixed number of moves of ``_anneal_chunk`` from the cheapest plan, timed after a warm-up call (so
neither the compile nor the cache load counts), the variants alternating within each round so that they see
the same load (recorded before and after). Scores: ``anneal`` with a budget in moves per unit, each number of
runs on the same seeds, the mean / median / range of ``score.evaluate`` — the numbers the constants in
``optimizer/marxan/anneal.py`` and ``problem.py`` cite (benchmarks/README.md, "Annealing speed and search").
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np

from benchmarks.marzone.__main__ import WORK, project
from optimizer.marxan import anneal as current
from optimizer.marxan.reader import read_project

MOVES = 2_000_000


def _load(path: Path) -> ModuleType:
    """An older anneal.py as a module of its own (registered, as its dataclasses need)."""
    spec = importlib.util.spec_from_file_location("anneal_baseline", path)
    module = sys.modules["anneal_baseline"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _state(module: ModuleType, p, k):
    """The kernel's state in either version (the one before session 8 also took the arrays)."""
    try:
        return module._State(p, module.start_zones(p))
    except TypeError:
        return module._State(p, k, module.start_zones(p))


def moves_per_second(module: ModuleType, p, moves: int = MOVES) -> float:
    k = module._arrays(p)
    t0 = module.initial_temperature(p, k, _state(module, p, k), 0)

    def run(n: int) -> float:
        state = _state(module, p, k)
        t = time.perf_counter()
        module._anneal_chunk(0, 0, n, moves, t0, t0 * module.COOLING, *state.args(), *module._project_args(k),
                             k.movable, k.allowed)
        return time.perf_counter() - t

    run(1_000)
    return moves / run(moves)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.marzone.anneal_speed", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[400, 2500, 10000], help="planning units (square numbers)")
    ap.add_argument("--seed", type=int, default=1, help="the projects' generator seed")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds per size and variant")
    ap.add_argument("--baseline", type=Path, help="an older anneal.py to time against the current one")
    ap.add_argument("--scores", type=int, nargs="*", default=[], help="moves per unit: score the search instead")
    ap.add_argument("--restarts", type=int, nargs="*", default=[1], help="--scores: numbers of runs compared")
    ap.add_argument("--seeds", type=int, default=6, help="--scores: annealing seeds 0 … N−1")
    a = ap.parse_args(argv)
    print(uptime(), flush=True)
    for n in a.sizes:
        p = read_project(project(WORK, n, a.seed))  # the project both tools read, from its files
        if a.scores:
            current.anneal(p, moves=1_000, seed=0)
            for per_unit in a.scores:
                for runs in a.restarts:
                    x = np.array([current.anneal(p, moves=per_unit * p.n_pu, seed=s, restarts=runs).score.total
                                  for s in range(a.seeds)])
                    print(f"{n:>6} units, {per_unit:,} moves per unit, {runs} run(s), seeds 0–{a.seeds - 1}: mean "
                          f"{x.mean():,.2f}, median {np.median(x):,.2f}, {x.min():,.2f}–{x.max():,.2f}", flush=True)
            continue
        variants = {"current": current, **({"baseline": _load(a.baseline)} if a.baseline else {})}
        rates: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(a.rounds):
            for name, module in variants.items():
                rates[name].append(moves_per_second(module, p) / 1e6)
        print(f"{n:>6} units: " + "; ".join(f"{name} {', '.join(f'{r:.2f}' for r in rs)} million moves/s"
                                            for name, rs in rates.items()), flush=True)
    print(uptime(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
