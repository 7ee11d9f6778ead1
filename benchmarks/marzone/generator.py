"""Seeded Marxan with Zones grid projects with the features real projects use, written as files both tools read.

A side × side grid of unit squares (PU ids row by row), three zones in order of protection —
1 ``available`` (no cost, no contribution), 2 ``partial`` (sustainable use), 3 ``reserve``:

- two cost columns from smooth random fields: ``acquisition`` 1–10 and ``opportunity`` 0.5–5; zonecost
  partial = 0.4·acquisition + 0.3·opportunity, reserve = acquisition + opportunity, available 0;
- FEATURES features, each present where its own smooth field is in its top 35 % (amount 1–10); overall
  target 25 % of the total (spec.dat, spf 2), contributions (zonecontrib) reserve 1, partial 0.5 — 1 for
  the last two features (uses the partial zone supports) — available 0; zone targets (zonetarget, type
  0, raw amounts): the last two features 10 % of their total in ``partial``, the first 10 % in ``reserve``;
- locks (pulock): an existing reserve (a disc of ~2 % of the PUs) in ``reserve``, a town (~2 %) in
  ``available``; allowed zones (puzone): private land (~15 %, a smooth-field region) may be
  ``available`` or ``partial`` only;
- bound.dat: every shared grid edge, length 1; zoneboundcost grows with zone distance: available–partial
  1, partial–reserve 1, available–reserve 2 (same zone 0); BLM 1;
- penalties: Marxan with Zones' start-up estimate (``optimizer.marxan.reader.estimate_penalties``),
  fixed in penalty.dat so both tools score with the same figures.

No occurrence targets: their integer-division rule is modelled but not what these projects test.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from optimizer.marxan.arrays import MarxanProject
from optimizer.marxan.reader import estimate_penalties
from optimizer.marxan.writer import write_project_files

FEATURES = 8
ZONES = ("available", "partial", "reserve")
ZONE_BOUND_COST = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.0], [2.0, 1.0, 0.0]])
BLM = 1.0


def _field(rng: np.random.Generator, side: int, sigma: float) -> np.ndarray:
    """A smooth random field on the grid, rescaled to [0, 1]."""
    f = gaussian_filter(rng.standard_normal((side, side)), sigma, mode="wrap")
    return ((f - f.min()) / (np.ptp(f) or 1.0)).ravel()


def _disc(side: int, centre: np.ndarray, share: float) -> np.ndarray:
    r, c = np.divmod(np.arange(side * side), side)
    d = np.hypot(r - centre[0], c - centre[1])
    return d <= np.quantile(d, share)


def grid_project(side: int, seed: int = 1) -> MarxanProject:
    """The project's arrays (module docstring); ``side`` 20, 50, 100, 200 give 400 … 40,000 PUs."""
    rng = np.random.default_rng(seed)
    n = side * side
    sigma = max(1.5, side / 12)
    costs = np.round(np.column_stack([1 + 9 * _field(rng, side, sigma), 0.5 + 4.5 * _field(rng, side, sigma)]), 2)
    amounts = np.column_stack([_field(rng, side, sigma) for _ in range(FEATURES)])
    present = amounts >= np.quantile(amounts, 0.65, axis=0)
    ent_pu, ent_sp = np.nonzero(present)
    ent_amount = np.round(1 + 9 * (amounts[ent_pu, ent_sp] - 0.65) / 0.35, 2)
    total = np.bincount(ent_sp, ent_amount, FEATURES)
    contrib_table = np.tile([0.0, 0.5, 1.0], (FEATURES, 1))
    contrib_table[-2:, 1] = 1.0
    zone_target = np.zeros((FEATURES, 3))
    zone_target[-2:, 1] = np.round(0.10 * total[-2:], 2)
    zone_target[0, 2] = np.round(0.10 * total[0], 2)
    lock = np.full(n, -1)
    lock[_disc(side, rng.uniform(0.2, 0.8, 2) * side, 0.02)] = 2
    lock[_disc(side, rng.uniform(0.2, 0.8, 2) * side, 0.02) & (lock < 0)] = 0
    puzone = np.ones((n, 3), dtype=bool)
    land = _field(rng, side, sigma)
    private = land >= np.quantile(land, 0.85)
    puzone[private & (lock < 0), 2] = False
    ids = np.arange(n).reshape(side, side)
    bi = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    bj = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    order = np.lexsort((bj, bi))
    p = MarxanProject(
        input_dat=Path("input.dat"), input_dir=Path("input"), files={"ZONECOSTNAME": Path("input/zonecost.dat")},
        name=f"grid{n}", blm=BLM, pu_ids=np.arange(1, n + 1), cost_ids=np.array([1, 2]),
        cost_names=("acquisition", "opportunity"), costs=costs, zone_ids=np.array([1, 2, 3]), zone_names=ZONES,
        zone_cost=np.array([[0.0, 0.4, 1.0], [0.0, 0.3, 1.0]]), feature_ids=np.arange(1, FEATURES + 1),
        feature_names=tuple(f"feature{k + 1}" for k in range(FEATURES)), target=np.round(0.25 * total, 2),
        target_occ=np.zeros(FEATURES, dtype=np.int64), spf=np.full(FEATURES, 2.0), ent_pu=ent_pu, ent_sp=ent_sp,
        ent_amount=ent_amount, contrib=contrib_table[ent_sp], contrib_kind="zonecontrib", contrib_table=contrib_table,
        zone_target=zone_target, zone_target_occ=np.zeros((FEATURES, 3), dtype=np.int64), bound_i=bi[order],
        bound_j=bj[order], bound_b=np.ones(len(bi)), fixed=np.zeros(n), zone_bound_cost=ZONE_BOUND_COST,
        zone_bound_given=True, lock=lock, puzone=puzone, penalty=np.zeros(FEATURES), penalty_source="file")
    return replace(p, penalty=np.round(estimate_penalties(p), 4))


def write_grid_project(out: Path, side: int, seed: int = 1) -> Path:
    """Write the project into ``out`` (input.dat, input/*.dat, output/); returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    write_project_files(grid_project(side, seed), out, comment=f"benchmarks/marzone grid {side}x{side}, seed {seed}")
    return out
