"""Where each site of the sites family may lie: its candidate neighbourhood, and a greedy start.

Candidates (what keeps the model tractable). Exact single-region contiguity is hard: the flow
formulation's LP bound ignores most of the contiguity, so the solver must branch it out. Each site
therefore gets its own candidate neighbourhood, built vectorized, ring by ring:

  1. eligible: the parcels that may take the use (x[p, u] exists after screening; existing u parcels
     only with ``may_join``) and, when anchored, lie within the anchor distance;
  2. value: the objective coefficient of x[p, u] per hectare (best first for the scenario's sense);
     the rank order is by value, then distance to the anchor, then parcel order;
  3. start: the site's ``include`` parcels that may take the use, if any; otherwise a centre, the
     eligible parcel with the best value smoothed over its surroundings — the area-weighted mean
     over eligible parcels weighted by the walks of length ≤ h inside the eligible graph, (A + I)^h,
     where h is the hop radius of a diamond holding the site's parcel count (max_ha over the median
     eligible parcel area) — in a connected piece of eligible land outside every earlier site's room
     (below) holding min_ha, so sites listed later look elsewhere first (anywhere eligible when no
     such piece is left); sites are placed in the order they are listed;
  4. room: the parcels reachable from the start through eligible land outside earlier sites' rooms,
     ring by ring, until their area reaches max_ha (min_ha without max_ha); the last ring is cut by
     rank. Rooms do not overlap (except at a start already in one: included parcels, or no free
     piece left), so each site keeps land for its greedy core whatever the cores before it took;
  5. neighbourhood: its room and the eligible parcels reachable from the start through eligible
     parcels, ring by ring, until their area reaches ``neighbourhood`` × max_ha (min_ha when there
     is no max_ha) or ``max_candidates`` parcels (its room kept past that); the last ring is cut by
     rank. Neighbourhoods overlap, so the optimum may move land between sites; the rooms guarantee
     there is enough of it (without them, the five 40 ha sites of the synthetic 10,000-parcel model
     piled their neighbourhoods onto 193 ha for the 192 ha they need, and the model had no plan in
     300 s).

The optimum is exact over these neighbourhoods; a site lying outside its neighbourhood is not
considered (raise ``neighbourhood`` or ``max_candidates`` to widen the search, at a cost). If a
neighbourhood holds less area than min_ha the compile stops with an InputError naming the site.

The greedy start (``greedy_cores``): per site, in the order listed, a connected set of at least
min_ha grown from the front of its room on parcels no earlier site took (anywhere free in its
neighbourhood if the room has too little), interchangeable sites' cores sorted by root rank as the
symmetry rows require; the solver and the primal engine start from it (``Family.start``).
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
import shapely

from optimizer.engine.errors import InputError
from optimizer.engine.instance import Instance
from optimizer.engine.objective import objective_coefficients
from optimizer.engine.scenario import LoadedScenario

from constraints._api import tolerance
from constraints._site_config import Site, SitesConfig, anchor_label, site_field


class Neighbourhood(NamedTuple):
    """One site's candidate parcels (instance indices), in three orders."""

    parcels: np.ndarray
    """sorted by parcel: the order of the site's columns"""
    ranked: np.ndarray
    """best value first: the root order"""
    grown: np.ndarray
    """growth order: the site's own room first, then ring by ring from the start"""
    own: int = 0
    """how many parcels at the front of ``grown`` are the site's own room: connected land no earlier
    site's room took, holding max_ha where there is that much (its greedy core is grown there)"""


def farthest_m(geoms: np.ndarray, point: tuple[float, float]) -> np.ndarray:
    """Per geometry, the distance (m) from ``point`` to its farthest vertex = its farthest point."""
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    d = np.hypot(coords[:, 0] - point[0], coords[:, 1] - point[1])
    out = np.zeros(len(geoms))
    np.maximum.at(out, idx, d)
    return out


def smoothed_value(value: np.ndarray, area: np.ndarray, eligible: np.ndarray, adjacency: sp.csr_matrix,
                   hops: int) -> np.ndarray:
    """Area-weighted mean of ``value`` around each eligible parcel over eligible land, weighted by the
    number of walks of length ≤ hops inside the eligible graph, (A + I)^hops; -inf where not eligible."""
    e = eligible.astype(np.float64)
    E = sp.diags(e)
    B = (E @ (adjacency != 0).astype(np.float64) @ E + E).tocsr()
    num, den = area * np.where(eligible, value, 0.0), area * e
    for _ in range(hops):
        num, den = B @ num, B @ den
    safe = np.where(den > 0, den, 1.0)
    return np.where(eligible & (den > 0), num / safe, -np.inf)


def piece_area(eligible: np.ndarray, area: np.ndarray, adjacency: sp.csr_matrix) -> np.ndarray:
    """Per parcel, the area of the connected piece of eligible land it lies in (0 where not eligible),
    so a site is not centred on a sliver cut off from the land it would need."""
    e = eligible.astype(np.float64)
    B = sp.diags(e) @ (adjacency != 0).astype(np.float64) @ sp.diags(e)
    _, label = connected_components(B, directed=False)
    return np.where(eligible, np.bincount(label, weights=area * e)[label], 0.0)


def grow(start: np.ndarray, eligible: np.ndarray, rank: np.ndarray, area: np.ndarray, adjacency: sp.csr_matrix,
         max_count: int, max_area: float) -> np.ndarray:
    """The ``start`` parcels and the eligible parcels reachable from them through eligible parcels,
    ring by ring, until their area reaches ``max_area`` or their count ``max_count``; the last ring is
    cut by rank. Returned in growth order (start best-ranked first, then ring by ring, each ring
    best-ranked first)."""
    A = (adjacency != 0).astype(np.float64)
    start = np.atleast_1d(np.asarray(start, dtype=np.int64))
    inside = np.zeros(len(eligible), dtype=bool)
    inside[start] = True
    parts = [start[np.argsort(rank[start], kind="stable")]]
    count, total = len(start), float(area[start].sum())
    while count < max_count and total < max_area:
        ring = np.nonzero(eligible & ~inside & (A @ inside.astype(np.float64) > 0))[0]
        if len(ring) == 0:
            break
        ring = ring[np.argsort(rank[ring], kind="stable")][: max_count - count]
        cum = total + np.cumsum(area[ring])
        ring = ring[: int(np.searchsorted(cum, max_area, side="left")) + 1]
        inside[ring] = True
        parts.append(ring)
        count += len(ring)
        total += float(area[ring].sum())
    return np.concatenate(parts)


def greedy_core(grown: np.ndarray, ranked: np.ndarray, area: np.ndarray, adjacency: sp.csr_matrix,
                taken: np.ndarray, min_ha: float, max_ha: float | None) -> np.ndarray:
    """A connected starting site (local indices, its root first): from the first free parcel of the
    neighbourhood's growth order, repeatedly the best-ranked free neighbour that still fits within
    max_ha, until the site holds min_ha. Its root is its best-ranked parcel, as the model's root rows
    require. Empty when min_ha is 0 or cannot be reached."""
    free = ~taken
    if min_ha <= 0 or not free[grown].any():
        return np.zeros(0, dtype=np.int64)
    order = np.empty(len(ranked), dtype=np.int64)
    order[ranked] = np.arange(len(ranked))          # rank position of each local candidate
    seed = grown[free[grown]][0]
    A = (adjacency != 0).astype(np.float64).tocsr()
    inside = np.zeros(len(area), dtype=bool)
    inside[seed] = True
    total = float(area[seed])
    cap = np.inf if max_ha is None else max_ha + tolerance(max_ha)
    while total < min_ha - tolerance(min_ha):
        frontier = np.nonzero(((A @ inside.astype(np.float64)) > 0) & free & ~inside & (total + area <= cap))[0]
        if len(frontier) == 0:
            return np.zeros(0, dtype=np.int64)
        nxt = frontier[np.argmin(order[frontier])]
        inside[nxt] = True
        total += float(area[nxt])
    chosen = np.nonzero(inside)[0]
    return chosen[np.argsort(order[chosen], kind="stable")]


def neighbourhoods(config: SitesConfig, loaded: LoadedScenario, inst: Instance, has_column: dict[str, np.ndarray],
                   far: dict[int, np.ndarray]) -> dict[int, Neighbourhood]:
    """Per site (by position in ``config.sites``), its candidate neighbourhood; ``far`` holds, per
    anchored site, every parcel's farthest distance (m) from the anchor."""
    n, adj = inst.n, inst.adjacency()
    sense = 1.0 if loaded.scenario.objective.sense == "maximize" else -1.0
    values: dict[str, np.ndarray] = {}
    blocked = np.zeros(n, dtype=bool)
    out = {}
    for i, s in enumerate(config.sites):
        u = s.use
        eligible = has_column[u].copy()
        if config.existing == "outside":
            eligible &= inst.current_use != u
        if u not in values:
            keep = inst.current_use == u
            coef = objective_coefficients(inst, loaded, np.arange(n), np.full(n, u, dtype=object), keep)
            values[u] = sense * coef / inst.area_ha
        distance = np.zeros(n)
        if s.anchor is not None:
            distance = far[i]
            eligible &= distance <= s.anchor.max_km * 1000.0
        target = s.max_ha if s.max_ha is not None else s.min_ha
        if not eligible.any():
            _too_small(loaded, i, s, 0, 0.0)
        rank = np.empty(n, dtype=np.int64)
        rank[np.lexsort((np.arange(n), distance, -values[u]))] = np.arange(n)
        n_site = max(1.0, target / float(np.median(inst.area_ha[eligible])))
        hops = max(1, int(np.ceil((np.sqrt(2.0 * n_site - 1.0) - 1.0) / 2.0)))
        smooth = smoothed_value(values[u], inst.area_ha, eligible, adj, hops)
        start = _included(loaded, i, s, inst) if s.include else np.zeros(0, dtype=np.int64)
        start = start[eligible[start]]
        free = eligible & ~blocked
        if len(start) == 0:
            need = s.min_ha - tolerance(s.min_ha)
            pick = np.nonzero(free & (piece_area(free, inst.area_ha, adj) >= need))[0]
            if len(pick) == 0:
                roomy = eligible & (piece_area(eligible, inst.area_ha, adj) >= need)
                pick = np.nonzero(roomy if roomy.any() else eligible)[0]
            start = pick[np.lexsort((rank[pick], -smooth[pick]))[:1]]
        max_count = s.max_candidates or config.max_candidates
        grown = grow(start, eligible, rank, inst.area_ha, adj, max_count, (s.neighbourhood or config.neighbourhood) * target)
        own = grow(start, free, rank, inst.area_ha, adj, max_count, target)
        blocked[own] = True
        grown = np.concatenate([own, grown[~np.isin(grown, own)]])
        have = float(inst.area_ha[grown].sum())
        if have < s.min_ha - tolerance(s.min_ha):
            _too_small(loaded, i, s, len(grown), have)
        C = np.sort(grown)
        out[i] = Neighbourhood(C, C[np.argsort(rank[C], kind="stable")], grown, len(own))
    return out


def _included(loaded: LoadedScenario, i: int, s: Site, inst: Instance) -> np.ndarray:
    """Indices of the site's ``include`` parcel ids; an id not in the layer is an input error."""
    ids = pd.Index(inst.ids.astype(str))
    want = [str(v) for v in s.include]
    pos = ids.get_indexer(want)
    if (pos < 0).any():
        missing = [w for w, p in zip(want, pos) if p < 0][:5]
        raise InputError(loaded.label, site_field(i, "include"),
                         f"parcel id(s) {missing} of site {s.name!r} are not in the parcel layer",
                         "list ids from the parcel layer's id field")
    return np.unique(pos).astype(np.int64)


def _too_small(loaded: LoadedScenario, i: int, s: Site, count: int, have: float):
    where = f" within {s.anchor.max_km:g} km of {anchor_label(s)}" if s.anchor else ""
    raise InputError(loaded.label, site_field(i, "min_ha"),
                     f"site {s.name!r} needs {s.min_ha:g} ha of {s.use} but its neighbourhood of {count} connected "
                     f"parcels{where} that may take {s.use} holds only {have:.2f} ha",
                     "raise constraints.sites.neighbourhood or max_candidates, widen anchor.max_km, lower min_ha, "
                     "or check which zones exclude the use there")


def greedy_cores(config: SitesConfig, inst: Instance, hoods: dict[int, Neighbourhood]) -> dict[int, np.ndarray]:
    """Per site, its greedy core (local indices into its candidates, root first), sites placed in
    order on parcels no earlier core took, each first inside its own room (so a later site still has
    room of its own: cores grown anywhere free could cut off a later site's land and leave it none);
    interchangeable sites get their cores in root-rank order, as the symmetry rows require."""
    adj, used, cores = inst.adjacency(), np.zeros(inst.n, dtype=bool), {}
    for i, s in enumerate(config.sites):
        C, ranked, grown, own_count = hoods[i]
        local = np.searchsorted(C, ranked)
        grown = np.searchsorted(C, grown)
        area = inst.area_ha[C]
        outside_own = np.ones(len(C), dtype=bool)
        outside_own[grown[:own_count]] = False
        cores[i] = greedy_core(grown, local, area, adj[C][:, C], used[C] | outside_own, s.min_ha, s.max_ha)
        if len(cores[i]) == 0:
            cores[i] = greedy_core(grown, local, area, adj[C][:, C], used[C], s.min_ha, s.max_ha)
        used[C[cores[i]]] = True
    for group in interchangeable_groups(config, hoods):
        C, ranked = hoods[group[0]].parcels, hoods[group[0]].ranked
        pos = np.empty(len(C), dtype=np.int64)
        pos[np.searchsorted(C, ranked)] = np.arange(len(C))
        by_root = sorted((cores[i] for i in group), key=lambda core: pos[core[0]] if len(core) else len(C))
        cores.update(zip(group, by_root))
    return cores


def interchangeable_groups(config: SitesConfig, hoods: dict[int, Neighbourhood]) -> list[list[int]]:
    """Sites with the same use, window, anchor and candidate set, in the order listed (groups of two
    or more)."""
    groups: dict[tuple, list[int]] = {}
    for i, s in enumerate(config.sites):
        key = (s.use, s.min_ha, s.max_ha, None if s.anchor is None else s.anchor.model_dump_json(),
               hoods[i].ranked.tobytes())
        groups.setdefault(key, []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def interchangeable(config: SitesConfig, hoods: dict[int, Neighbourhood]) -> list[tuple[int, int]]:
    """Consecutive pairs of interchangeable sites: the symmetry rows order each pair by root."""
    return [pair for g in interchangeable_groups(config, hoods) for pair in itertools.pairwise(g)]
