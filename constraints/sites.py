"""sites — named sites per use: how many, how large each, contiguous, optionally near a point.

The plan names its sites: "2 industrial parks (SKK) totalling 197 ha" are two named KCN sites,
"4 industrial clusters" are four CCN sites, "a dry port at Tà Lùng, 15–25 ha" is one TMD site within
a few km of the Tà Lùng border gate. Each configured site gets its own block of columns, so its size
window, its contiguity and its anchor hold per site, and the output layer's ``site`` column names the
site each parcel belongs to.

Formulation. For every site s (use u_s, window [lo_s, hi_s] ha, candidate parcels C_s, k_s = |C_s|,
the candidates in rank order π_s(0), π_s(1), … — see "Candidates" — and the directed arcs
a = (i → j) between rook-/queen-adjacent candidates from ``instance.adjacency()``):

    y[p, s] ∈ {0, 1}               parcel p ∈ C_s belongs to site s
    r[p, s] ∈ {0, 1}               p is the root of site s, the parcel its flow starts from
    z[t, s] ∈ [0, 1]               the root is among the first t+1 candidates in rank order
    f[a, s] ∈ [0, M_s]             flow on arc a

    lo_s ≤ Σ_p area_p · y[p, s] ≤ hi_s                          window (soft-able, unit ha)
    z[t, s] − z[t−1, s] − r[π_s(t), s] = 0                       z is the running count of roots (z[−1] = 0),
                                                                 so z ≤ 1 allows one root at most
    y[π_s(t), s] − z[t, s] ≤ 0                                   no parcel ranks before the root
    r[p, s] − y[p, s] ≤ 0                                        the root is in the site
    Σ_{a into p} f[a, s] − Σ_{a out of p} f[a, s] − y[p, s] + (M_s + 1)·r[p, s] ≥ 0
                                                                 every selected non-root parcel absorbs
                                                                 one unit of flow
    f[(i → j), s] − M_s · y[j, s] ≤ 0                            flow only enters selected parcels
    y[p, s] − r[p, s] − Σ_{q adjacent to p} y[q, s] ≤ 0          a selected non-root parcel has a selected
                                                                 neighbour (implied; tightens the LP)

A parcel outside the site receives no flow (its in-arcs are bounded by y = 0) and is no root, so it
sends none either: flow travels only inside the site, and every selected parcel must be reached from
the single root, i.e. the site is connected (the tail bound f(i→j) ≤ M·y[i] is implied and not
added). Summing the balance rows gives Σ y ≤ (M_s+1)·Σ r, so a site without a root is empty; lo_s > 0
forces the root to exist. M_s = (largest number of candidates whose areas fit in hi_s) − 1, the most
flow an arc can carry (k_s − 1 without hi_s). The root is the best-ranked parcel of the site (z rows):
this removes the k-fold choice of root, and in the LP relaxation it concentrates the root on the best
parcels instead of letting every parcel supply itself, which is what makes flow formulations weak.
The neighbour rows are implied by the flow rows for integer y but not in the LP, where they stop an
isolated good parcel from joining a site through a thin fractional path; on the synthetic benchmark
they cut the time to a 1 % gap by about a third.

Linking to the assignment columns, for every use u that has sites (S_u):

    Σ_{s ∈ S_u : p ∈ C_s} y[p, s] − x[p, u] = 0    every parcel converted to u in some C_s

and conversion to u outside every neighbourhood is screened out before columns exist (``narrow``,
reason ``sites: outside every SKK site's candidate neighbourhood``),

so every parcel converted to u lies in exactly one site of u, and no parcel is in two sites. Existing
land of u (``existing``): ``outside`` (default) — sites cover conversions only; parcels that already
have use u keep it outside every site and do not count towards a window. ``may_join`` — existing u
parcels are candidates too, linked to their keep column by Σ_s y[p, s] − x[p, u] ≤ 0, so a site may
grow out of an existing park and its window counts the existing hectares; an existing parcel that
joins no site simply keeps its use.

Sites may touch one another; two sites of the same use that share an edge stay two named sites.

Symmetry: interchangeable sites (same use, window, anchor and candidate set, which happens when the
neighbourhoods cover all eligible land) are ordered by their roots, z[t, a] − z[t, b] ≥ 0 for every t:
site a's root ranks no later than site b's; otherwise the solver would explore every permutation.

Anchor: a site with ``anchor`` lies entirely within ``max_km`` of the anchor point: every point of
every parcel of the site (its farthest vertex) is within that distance. This is exact and linear:
conversion to the use is screened out beyond the distance when every site of the use is anchored
(reason ``sites: > 3 km from Tà Lùng``); otherwise such parcels are left out of the anchored site's
candidates. The anchor is ``{x, y}`` in the scenario CRS or one feature of a point layer
(``{layer, field, value}``), read relative to the scenario.

Candidates (what keeps the model tractable). Exact single-region contiguity is hard: the flow
formulation's LP bound ignores most of the contiguity, so the solver must branch it out. Each site
therefore gets its own candidate neighbourhood, built vectorized, ring by ring:

  1. eligible: the parcels that may take the use (x[p, u] exists after screening; existing u parcels
     only with ``may_join``) and, when anchored, lie within the anchor distance;
  2. value: the objective coefficient of x[p, u] per hectare (best first for the scenario's sense);
     the rank order is by value, then distance to the anchor, then parcel order;
  3. start: the site's ``include`` parcels that may take the use, if any; otherwise a centre, the
     eligible parcel, in a connected piece of eligible land holding at least min_ha, with the best value smoothed over its surroundings — the
     area-weighted mean over eligible parcels weighted by the walks of length ≤ h inside the eligible
     graph, (A + I)^h, where h is the hop radius of a diamond holding the site's parcel count
     (max_ha over the median eligible parcel area) — that is not in the core of an earlier site (the
     first parcels of that site's neighbourhood whose area reaches its max_ha), so sites listed
     later look elsewhere first; sites are placed in the order they are listed;
  4. neighbourhood: the eligible parcels reachable from the start through eligible parcels, ring by
     ring, until their area reaches ``neighbourhood`` × max_ha (min_ha when there is no max_ha) or
     ``max_candidates`` parcels; the last ring is cut by rank.

The optimum is exact over these neighbourhoods; a site lying outside its neighbourhood is not
considered (raise ``neighbourhood`` or ``max_candidates`` to widen the search, at a cost). If a
neighbourhood holds less area than min_ha the compile stops with an InputError naming the site.

Size and tractability (HiGHS 1.16, one thread, this project's 2-core machine; benchmarks/README.md):
per site 2·k binaries, k + 2E continuous columns and about 5·k + 2·E rows (E ≈ 2–3·k on a
cadastre). With the default neighbourhood (2 × max_ha, i.e. k ≈ 2 × the site's parcel count) the
Cao Bằng scenarios stay small and fast: ``cao_bang_2030`` (8 sites of 2–14 parcels on 10 ha parcels,
~15–30 candidates each) reaches 0.5 % in about 2 s of solving, ``bez_2030`` (5 sites of 15–60 ha on
1 ha parcels, up to 120 candidates) in about 20 s, the phased 2030–2050 model (28 sites) in about
40 s. Neighbourhoods of a few hundred parcels per site still compile in well under a second but the
flow LP bound is weak there: expect no plan within a minute on 10,000+ parcel synthetic instances
with ~50 ha sites of 1 ha parcels. Widen ``neighbourhood`` or ``max_candidates`` with care, and give
the solver a gap (e.g. 1 %) and time.

Verify (from the output layer only): every configured site's area recomputed from the geometry lies
in its window; the site's parcels dissolve into a single polygon (shapely ``union_all`` of the
parcels each grown by 1 cm to absorb snapping gaps; parcels touching only at a corner count as
connected in this check, so it is slightly looser than rook adjacency); every parcel of the site has
the site's use; an anchored site's farthest point is within max_km of the anchor (the anchor layer is
read again); every parcel converted to a use that has sites names one of that use's sites; a ``site``
value that is not a configured name (e.g. two names) is a violation, so no parcel is in two sites; with
``existing: outside`` a parcel that kept its use is in no site. ``report`` gives run.json ``sites``:
``{use, name, area_ha, parcels, connected, anchor_distance_km, min_ha, max_ha, anchor_max_km}``, with
anchor_distance_km the distance from the anchor to the site's farthest point and connected None for
an empty (optional) site.
"""

from __future__ import annotations

import itertools
import unicodedata
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
import shapely
from pydantic import Field, StrictStr, field_validator, model_validator

from optimizer.engine.errors import InputError
from optimizer.engine.scenario import Code

from constraints._api import CompileContext, Family, FamilyConfig, Screen, VerifyContext, Violation

CONNECT_TOL_M = 0.01
"""parcels are grown by this much (metres) before dissolving, to absorb snapping gaps"""


def _tol(bound: float) -> float:
    return 1e-6 * max(1.0, abs(bound))


class Anchor(FamilyConfig):
    """A point a site must stay near: ``{x, y}`` in the scenario CRS, or one feature of a point layer."""

    x: float | None = Field(None, description="easting in the scenario CRS (with y)")
    y: float | None = Field(None, description="northing in the scenario CRS (with x)")
    layer: str | None = Field(None, description="point layer (path relative to the scenario) holding the anchor")
    layer_name: str | None = Field(None, description="layer inside a multi-layer file (GeoPackage)")
    field: str | None = Field(None, description="attribute of the point layer that identifies the anchor")
    value: StrictStr | int | None = Field(None, description="the anchor feature's value in `field` (compared as text)")
    label: str | None = Field(None, description="name used in reasons and messages, e.g. 'Tà Lùng'; default: value")
    max_km: float = Field(gt=0, description="every point of the site lies within this distance (km) of the anchor")

    @model_validator(mode="after")
    def _one_way(self) -> "Anchor":
        xy = (self.x is not None, self.y is not None)
        lyr = (self.layer is not None, self.field is not None, self.value is not None)
        if any(xy) and any(lyr):
            raise ValueError("give the anchor either as x, y or as layer, field, value — not both")
        if any(xy) and not all(xy):
            raise ValueError("give both x and y (coordinates in the scenario CRS)")
        if any(lyr) and not all(lyr):
            raise ValueError("a layer anchor needs layer, field and value")
        if not any(xy) and not any(lyr):
            raise ValueError("give x, y (scenario CRS) or layer, field, value")
        return self


class Site(FamilyConfig):
    """One named site: its use, its size window and optionally its anchor."""

    name: str = Field(min_length=1, description="the site's name, written into the output layer's `site` column")
    use: Code = Field(description="land-use code the site's parcels are converted to (must be in `allocate`)")
    min_ha: float = Field(0.0, ge=0, description="smallest area (ha); 0 makes the site optional")
    max_ha: float | None = Field(None, gt=0, description="largest area (ha); none = unbounded")
    anchor: Anchor | None = Field(None, description="keep the whole site within anchor.max_km of a point")
    max_candidates: int | None = Field(None, ge=1, description="overrides the family's max_candidates for this site")
    neighbourhood: float | None = Field(None, gt=0, description="overrides the family's neighbourhood for this site")
    include: list[StrictStr | int] = Field(default_factory=list, description=(
        "parcel ids the candidate neighbourhood grows from and always holds (those that may take the use), "
        "e.g. an existing park to expand; phasing fills it with the earlier site's candidates"))

    @model_validator(mode="after")
    def _window(self) -> "Site":
        if self.max_ha is not None and self.min_ha > self.max_ha:
            raise ValueError(f"min_ha ({self.min_ha}) is greater than max_ha ({self.max_ha}); swap them or widen the window")
        if self.max_ha is None and self.min_ha == 0:
            raise ValueError("give min_ha, max_ha or both: the window sizes the site and its candidate neighbourhood")
        return self


class SitesConfig(FamilyConfig):
    max_candidates: int = Field(400, ge=1, description="most candidate parcels per site; see the docstring for "
                                                       "which sizes stay tractable")
    neighbourhood: float = Field(2.0, gt=0, description="a site's candidate neighbourhood holds this many times its "
                                                        "max_ha (min_ha without max_ha), capped by max_candidates")
    existing: Literal["outside", "may_join"] = Field(
        "outside", description="parcels already of a site's use: 'outside' = sites cover conversions only; "
                               "'may_join' = they may belong to a site and count towards its window")
    sites: list[Site] = Field(min_length=1, description="the named sites, placed in this order")

    @field_validator("sites")
    @classmethod
    def _unique(cls, v: list[Site]) -> list[Site]:
        names = [unicodedata.normalize("NFC", s.name) for s in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"site names must be unique: {dup} given twice")
        return v


def _nfc(s) -> str:
    return unicodedata.normalize("NFC", str(s))


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
    cap = np.inf if max_ha is None else max_ha + _tol(max_ha)
    while total < min_ha - _tol(min_ha):
        frontier = np.nonzero(((A @ inside.astype(np.float64)) > 0) & free & ~inside & (total + area <= cap))[0]
        if len(frontier) == 0:
            return np.zeros(0, dtype=np.int64)
        nxt = frontier[np.argmin(order[frontier])]
        inside[nxt] = True
        total += float(area[nxt])
    chosen = np.nonzero(inside)[0]
    return chosen[np.argsort(order[chosen], kind="stable")]


def max_parcels(area: np.ndarray, max_ha: float | None) -> int:
    """Most of these parcels whose total area fits within max_ha (all of them without max_ha)."""
    if max_ha is None:
        return len(area)
    return int(max(1, np.searchsorted(np.cumsum(np.sort(area)), max_ha + _tol(max_ha), side="right")))


class Sites(Family):
    name = "sites"
    Config = SitesConfig
    soft_able = True

    # ---------------------------------------------------------------- inputs
    def _field(self, i: int, what: str) -> str:
        return f"constraints.{self.name}.sites.{i}.{what}"

    def _anchor_path(self, i: int, a: Anchor):
        return self.loaded.resolve(a.layer, self._field(i, "anchor.layer"))

    def _anchor_point(self, i: int, site: Site, crs) -> tuple[float, float]:
        a = site.anchor
        if a.layer is None:
            return float(a.x), float(a.y)
        path = self._anchor_path(i, a)
        pts = self.read_config_layer(a.layer, self._field(i, "anchor.layer"), a.layer_name,
                                     f"anchor layer of site {site.name!r}", {a.field: self._field(i, "anchor.field")})
        values = np.array([_nfc(v) for v in pts[a.field].astype(object).where(pts[a.field].notna(), "")], dtype=object)
        hit = np.nonzero(values == _nfc(a.value))[0]
        if len(hit) != 1:
            what = "no feature has" if len(hit) == 0 else f"{len(hit)} features have"
            raise InputError(str(path), a.field, f"{what} {a.field} = {a.value!r} (anchor of site {site.name!r})",
                             f"set {self._field(i, 'anchor.value')} to a unique value, e.g. {sorted(set(values))[:5]}")
        geom = pts.geometry.iloc[hit[0]]
        if geom is None or geom.geom_type != "Point":
            raise InputError(str(path), a.field, f"feature {a.value!r} is a {getattr(geom, 'geom_type', 'missing geometry')}, "
                                                 "not a point", "use a point layer for anchors")
        p = pts.geometry.iloc[hit[:1]].to_crs(crs).iloc[0]
        return float(p.x), float(p.y)

    def _anchor_label(self, site: Site) -> str:
        a = site.anchor
        if a.label:
            return a.label
        return str(a.value) if a.layer is not None else f"({a.x:.0f}, {a.y:.0f})"

    def input_paths(self) -> list:
        out = []
        for i, s in enumerate(self.config.sites):
            if s.anchor is not None and s.anchor.layer is not None:
                p = self._anchor_path(i, s.anchor)
                if p not in out:
                    out.append(p)
        return out

    def prepare(self, instance) -> None:
        allocate = self.loaded.scenario.allocate
        for i, s in enumerate(self.config.sites):
            if s.use not in allocate:
                raise InputError(self.loaded.label, self._field(i, "use"),
                                 f"site {s.name!r} has use {s.use!r}, which is not in `allocate`",
                                 f"use one of {allocate} or add {s.use!r} to allocate")
        geoms = instance.geometry.to_numpy()
        self._far = {i: farthest_m(geoms, self._anchor_point(i, s, instance.crs))
                     for i, s in enumerate(self.config.sites) if s.anchor is not None}

    # ---------------------------------------------------------------- screening
    def _uses(self) -> list[str]:
        return list(dict.fromkeys(s.use for s in self.config.sites))

    def screen(self, instance) -> list[Screen]:
        """Conversion to a use whose sites are all anchored is ruled out beyond every anchor distance."""
        out = []
        for u in self._uses():
            members = [i for i, s in enumerate(self.config.sites) if s.use == u]
            if any(self.config.sites[i].anchor is None for i in members):
                continue
            inside = np.zeros(instance.n, dtype=bool)
            for i in members:
                inside |= self._far[i] <= self.config.sites[i].anchor.max_km * 1000.0
            beyond = np.nonzero(~inside & (instance.current_use != u))[0]
            if len(beyond) == 0:
                continue
            if len(members) == 1:
                s = self.config.sites[members[0]]
                reason = f"sites: > {s.anchor.max_km:g} km from {self._anchor_label(s)}"
            else:
                reason = f"sites: beyond the anchor distance of every {u} site"
            out.append(Screen(beyond, u, reason))
        return out

    # ---------------------------------------------------------------- candidates
    def narrow(self, instance, has_column: dict[str, np.ndarray]) -> list[Screen]:
        """Place every site's candidate neighbourhood; conversion to a sited use outside all of them is
        closed here, before its column exists (a 10 ha province has ~60,000 such pairs per use)."""
        self._hoods = self.neighbourhoods(instance, has_column)
        out = []
        for u in self._uses():
            inside = np.zeros(instance.n, dtype=bool)
            for i, s in enumerate(self.config.sites):
                if s.use == u:
                    inside[self._hoods[i][0]] = True
            closed = np.nonzero(has_column[u] & (instance.current_use != u) & ~inside)[0]
            if len(closed):
                out.append(Screen(closed, u, f"sites: outside every {u} site's candidate neighbourhood"))
        return out

    def neighbourhoods(self, inst, has_column: dict[str, np.ndarray]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Per site: (candidate parcel indices sorted by parcel, the same parcels in rank order, the same
        parcels in growth order — the greedy start grows from its front)."""
        from optimizer.engine.compile import objective_coefficients  # compile imports the registry: import lazily

        cfg = self.config
        n, adj = inst.n, inst.adjacency()
        sense = 1.0 if self.loaded.scenario.objective.sense == "maximize" else -1.0
        values: dict[str, np.ndarray] = {}
        blocked = np.zeros(n, dtype=bool)
        out = {}
        for i, s in enumerate(cfg.sites):
            u = s.use
            eligible = has_column[u].copy()
            if cfg.existing == "outside":
                eligible &= inst.current_use != u
            if u not in values:
                keep = inst.current_use == u
                coef = objective_coefficients(inst, self.loaded, np.arange(n), np.full(n, u, dtype=object), keep)
                values[u] = sense * coef / inst.area_ha
            far = np.zeros(n)
            if s.anchor is not None:
                far = self._far[i]
                eligible &= far <= s.anchor.max_km * 1000.0
            target = s.max_ha if s.max_ha is not None else s.min_ha
            if not eligible.any():
                self._too_small(i, s, 0, 0.0)
            rank = np.empty(n, dtype=np.int64)
            rank[np.lexsort((np.arange(n), far, -values[u]))] = np.arange(n)
            n_site = max(1.0, target / float(np.median(inst.area_ha[eligible])))
            hops = max(1, int(np.ceil((np.sqrt(2.0 * n_site - 1.0) - 1.0) / 2.0)))
            smooth = smoothed_value(values[u], inst.area_ha, eligible, adj, hops)
            start = self._included(i, s, inst) if s.include else np.zeros(0, dtype=np.int64)
            start = start[eligible[start]]
            if len(start) == 0:
                roomy = eligible & (piece_area(eligible, inst.area_ha, adj) >= s.min_ha - _tol(s.min_ha))
                pick = np.nonzero(roomy & ~blocked)[0]
                if len(pick) == 0:
                    pick = np.nonzero(roomy if roomy.any() else eligible)[0]
                start = pick[np.lexsort((rank[pick], -smooth[pick]))[:1]]
            grown = grow(start, eligible, rank, inst.area_ha, adj, s.max_candidates or cfg.max_candidates,
                         (s.neighbourhood or cfg.neighbourhood) * target)
            core = grown[: int(np.searchsorted(np.cumsum(inst.area_ha[grown]), target, side="left")) + 1]
            blocked[core] = True
            have = float(inst.area_ha[grown].sum())
            if have < s.min_ha - _tol(s.min_ha):
                self._too_small(i, s, len(grown), have)
            C = np.sort(grown)
            out[i] = (C, C[np.argsort(rank[C], kind="stable")], grown)
        return out

    def _included(self, i: int, s: Site, inst) -> np.ndarray:
        """Indices of the site's ``include`` parcel ids; an id not in the layer is an input error."""
        ids = pd.Index(inst.ids.astype(str))
        want = [str(v) for v in s.include]
        pos = ids.get_indexer(want)
        if (pos < 0).any():
            missing = [w for w, p in zip(want, pos) if p < 0][:5]
            raise InputError(self.loaded.label, self._field(i, "include"),
                             f"parcel id(s) {missing} of site {s.name!r} are not in the parcel layer",
                             "list ids from the parcel layer's id field")
        return np.unique(pos).astype(np.int64)

    def _too_small(self, i: int, s: Site, count: int, have: float):
        where = f" within {s.anchor.max_km:g} km of {self._anchor_label(s)}" if s.anchor else ""
        raise InputError(self.loaded.label, self._field(i, "min_ha"),
                         f"site {s.name!r} needs {s.min_ha:g} ha of {s.use} but its neighbourhood of {count} connected "
                         f"parcels{where} that may take {s.use} holds only {have:.2f} ha",
                         "raise constraints.sites.neighbourhood or max_candidates, widen anchor.max_km, lower min_ha, "
                         "or check which zones exclude the use there")

    # ---------------------------------------------------------------- model
    def build(self, ctx: CompileContext, m) -> None:
        inst, cfg = ctx.instance, self.config
        ids = pd.Series(inst.ids.astype(str), dtype=object)
        adj = inst.adjacency()
        hoods = self._hoods
        self._y_blocks: list[tuple[str, np.ndarray, np.ndarray]] = []
        by_use: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        zcols: dict[int, np.ndarray] = {}
        cores = self._greedy_cores(inst)
        start_cols = []
        for i, s in enumerate(cfg.sites):
            C, ranked, _ = hoods[i]
            k = len(C)
            local = np.searchsorted(C, ranked)            # local index of the t-th ranked candidate
            area = inst.area_ha[C]
            M = float(min(k, max_parcels(area, s.max_ha)) - 1)
            pid = ids.iloc[C].reset_index(drop=True)
            sub = adj[C][:, C].tocoo()
            core = cores[i]
            tail, head = sub.row.astype(np.int64), sub.col.astype(np.int64)
            E = len(tail)
            tail_id, head_id = pid.iloc[tail].reset_index(drop=True), pid.iloc[head].reset_index(drop=True)
            pos = pd.Series(np.arange(k).astype(str), dtype=object)

            Y = m.add_columns(self.name, (s.name + ": " + pid).to_numpy(), parcel=C, use=s.use, integer=True)
            R = m.add_columns(self.name, (s.name + ": root " + pid).to_numpy(), parcel=C, use="", integer=True)
            Z = m.add_columns(self.name, (s.name + ": root within rank " + pos).to_numpy(), use="", integer=False)
            F = m.add_columns(self.name, (s.name + ": flow " + tail_id + "→" + head_id).to_numpy(), use="",
                              hi=M, integer=False, count=E)
            self._y_blocks.append((s.name, Y, C))
            by_use.setdefault(s.use, []).append((Y, C))
            zcols[i] = Z
            if len(core):
                start_cols.append(np.concatenate([Y[core], R[core[:1]], ctx.x_index(s.use)[C[core]]]))

            t, ar, ae = np.arange(k), np.arange(k), np.arange(E)
            m.add_rows(self.name, [s.name], s.min_ha if s.min_ha > 0 else np.nan,
                       np.nan if s.max_ha is None else s.max_ha,
                       row=np.zeros(k), col=Y, coef=area, soft=True, unit="ha")
            m.add_rows(self.name, (s.name + ": roots counted to rank " + pos).to_numpy(), 0.0, 0.0,
                       row=np.concatenate([t, t[1:], t]), col=np.concatenate([Z, Z[:-1], R[local]]),
                       coef=np.concatenate([np.ones(k), -np.ones(k - 1), -np.ones(k)]), unit="parcel")
            m.add_rows(self.name, (s.name + ": root ranks first " + pid.iloc[local].reset_index(drop=True)).to_numpy(),
                       np.nan, 0.0, row=np.concatenate([t, t]), col=np.concatenate([Y[local], Z]),
                       coef=np.concatenate([np.ones(k), -np.ones(k)]), unit="parcel")
            m.add_rows(self.name, (s.name + ": root in site " + pid).to_numpy(), np.nan, 0.0,
                       row=np.concatenate([ar, ar]), col=np.concatenate([R, Y]),
                       coef=np.concatenate([np.ones(k), -np.ones(k)]), unit="parcel")
            m.add_rows(self.name, (s.name + ": flow balance " + pid).to_numpy(), 0.0, np.nan,
                       row=np.concatenate([head, tail, ar, ar]), col=np.concatenate([F, F, Y, R]),
                       coef=np.concatenate([np.ones(E), -np.ones(E), -np.ones(k), np.full(k, M + 1.0)]), unit="parcel")
            m.add_rows(self.name, (s.name + ": has a neighbour in the site " + pid).to_numpy(), np.nan, 0.0,
                       row=np.concatenate([ar, ar, head]), col=np.concatenate([Y, R, Y[tail]]),
                       coef=np.concatenate([np.ones(k), -np.ones(k), -np.ones(E)]), unit="parcel")
            m.add_rows(self.name, (s.name + ": flow into " + head_id + " from " + tail_id).to_numpy(), np.nan, 0.0,
                       row=np.concatenate([ae, ae]), col=np.concatenate([F, Y[head]]),
                       coef=np.concatenate([np.ones(E), np.full(E, -M)]), unit="parcel")

        cols = np.concatenate(start_cols) if start_cols else np.zeros(0, dtype=np.int64)
        self._start = (cols, np.ones(len(cols)))

        for u, blocks in by_use.items():
            x_idx = ctx.x_index(u)
            ycols = np.concatenate([b[0] for b in blocks])
            yparc = np.concatenate([b[1] for b in blocks])
            P = np.unique(yparc)
            row_of = np.full(inst.n, -1, dtype=np.int64)
            row_of[P] = np.arange(len(P))
            lo = np.where(inst.current_use[P] == u, np.nan, 0.0)   # existing land of u (may_join): ≤ its keep column
            m.add_rows(self.name, (u + ": in one site " + ids.iloc[P]).to_numpy(), lo, 0.0,
                       row=np.concatenate([row_of[yparc], np.arange(len(P))]),
                       col=np.concatenate([ycols, x_idx[P]]),
                       coef=np.concatenate([np.ones(len(ycols)), -np.ones(len(P))]), unit="parcel")

        for a, b in self._interchangeable(hoods):
            k = len(zcols[a])
            t = np.arange(k)
            keys = (f"{cfg.sites[a].name}: root ranks before {cfg.sites[b].name}'s, to rank "
                    + pd.Series(t.astype(str), dtype=object)).to_numpy()
            m.add_rows(self.name, keys, 0.0, np.nan, row=np.concatenate([t, t]), col=np.concatenate([zcols[a], zcols[b]]),
                       coef=np.concatenate([np.ones(k), -np.ones(k)]), unit="parcel")

    def _greedy_cores(self, inst) -> dict[int, np.ndarray]:
        """Per site, its greedy core (local indices into its candidates, root first), sites placed in
        order on parcels no earlier core took; interchangeable sites get their cores in root-rank order,
        as the symmetry rows require."""
        adj, used, cores = inst.adjacency(), np.zeros(inst.n, dtype=bool), {}
        for i, s in enumerate(self.config.sites):
            C, ranked, grown = self._hoods[i]
            local = np.searchsorted(C, ranked)
            grown = np.searchsorted(C, grown)
            area = inst.area_ha[C]
            own = np.ones(len(C), dtype=bool)               # first try the site's own core region only
            own[grown[: int(np.searchsorted(np.cumsum(area[grown]), s.max_ha or s.min_ha, side="left")) + 1]] = False
            cores[i] = greedy_core(grown, local, area, adj[C][:, C], used[C] | own, s.min_ha, s.max_ha)
            if len(cores[i]) == 0:
                cores[i] = greedy_core(grown, local, area, adj[C][:, C], used[C], s.min_ha, s.max_ha)
            used[C[cores[i]]] = True
        for a, b in self._interchangeable(self._hoods):
            C, ranked, _ = self._hoods[a]
            pos = np.empty(len(C), dtype=np.int64)
            pos[np.searchsorted(C, ranked)] = np.arange(len(C))
            ra = pos[cores[a][0]] if len(cores[a]) else np.inf
            rb = pos[cores[b][0]] if len(cores[b]) else np.inf
            if rb < ra:
                cores[a], cores[b] = cores[b], cores[a]
        return cores

    def _interchangeable(self, hoods) -> list[tuple[int, int]]:
        """Consecutive pairs of sites with the same use, window, anchor and candidate set."""
        groups: dict[tuple, list[int]] = {}
        for i, s in enumerate(self.config.sites):
            key = (s.use, s.min_ha, s.max_ha, None if s.anchor is None else s.anchor.model_dump_json(),
                   hoods[i][1].tobytes())
            groups.setdefault(key, []).append(i)
        return [pair for g in groups.values() for pair in itertools.pairwise(g)]

    def start(self) -> tuple[np.ndarray, np.ndarray]:
        """Each site's greedy core (see greedy_core) as a partial plan: its root, its parcels, their
        conversion columns. Without it HiGHS often finds no plan at all on large flow models; with the
        roots fixed, completing the plan is an easy sub-problem."""
        return self._start

    def candidates(self) -> dict[str, np.ndarray]:
        """Per site name, the candidate parcel indices of the last build (phasing seeds expansions with them)."""
        return {name: C for name, _, C in self._y_blocks}

    def annotate(self, columns: pd.DataFrame, x: np.ndarray, plan) -> None:
        site = plan["site"].to_numpy(dtype=object).copy()
        x = np.asarray(x)
        for name, Y, C in self._y_blocks:
            site[C[x[Y] > 0.5]] = name
        plan["site"] = site

    # ---------------------------------------------------------------- checking
    def _figures(self, ctx: VerifyContext) -> tuple[list[dict], np.ndarray]:
        """Per configured site, figures recomputed from the output layer; and the normalized site column."""
        alloc = ctx.allocation
        if "site" in alloc.columns:
            site_col = np.array([_nfc(v) if isinstance(v, str) else "" for v in alloc["site"]], dtype=object)
        else:
            site_col = np.full(len(alloc), "", dtype=object)
        geoms = alloc.geometry.to_numpy()
        new_use = alloc["new_use"].to_numpy()
        rows = []
        for i, s in enumerate(self.config.sites):
            sel = site_col == _nfc(s.name)
            connected = dist = None
            if sel.any():
                union = shapely.union_all(shapely.buffer(geoms[sel], CONNECT_TOL_M))
                connected = union.geom_type == "Polygon"
                if s.anchor is not None:
                    dist = float(farthest_m(geoms[sel], self._anchor_point(i, s, alloc.crs)).max() / 1000.0)
            rows.append({"use": s.use, "name": s.name, "area_ha": round(float(ctx.area_ha[sel].sum()), 6),
                         "parcels": int(sel.sum()), "connected": connected,
                         "anchor_distance_km": None if dist is None else round(dist, 6),
                         "min_ha": s.min_ha, "max_ha": s.max_ha,
                         "anchor_max_km": None if s.anchor is None else s.anchor.max_km,
                         "_sel": sel, "_new_use": new_use[sel]})
        return rows, site_col

    def verify(self, ctx: VerifyContext) -> list[Violation]:
        out: list[Violation] = []
        alloc = ctx.allocation
        pid = alloc["parcel_id"].to_numpy()
        figures, site_col = self._figures(ctx)
        for s, f in zip(self.config.sites, figures):
            area = f["area_ha"]
            if area < s.min_ha - _tol(s.min_ha):
                out.append(Violation(self.name, s.name, f"{area:.4f} ha is below min_ha = {s.min_ha} ha",
                                     tuple(pid[f["_sel"]].tolist())))
            if s.max_ha is not None and area > s.max_ha + _tol(s.max_ha):
                out.append(Violation(self.name, s.name, f"{area:.4f} ha is above max_ha = {s.max_ha} ha",
                                     tuple(pid[f["_sel"]].tolist())))
            if f["connected"] is False:
                out.append(Violation(self.name, s.name, f"the site's {f['parcels']} parcels do not dissolve into "
                                     "one polygon", tuple(pid[f["_sel"]].tolist())))
            wrong = f["_new_use"] != s.use
            if wrong.any():
                out.append(Violation(self.name, s.name, f"{int(wrong.sum())} parcel(s) of the site do not have its "
                                     f"use {s.use}", tuple(pid[f["_sel"]][wrong].tolist())))
            if f["anchor_distance_km"] is not None and f["anchor_distance_km"] > s.anchor.max_km + _tol(s.anchor.max_km):
                out.append(Violation(self.name, s.name, f"reaches {f['anchor_distance_km']:.3f} km from "
                                     f"{self._anchor_label(s)}, more than max_km = {s.anchor.max_km}",
                                     tuple(pid[f["_sel"]].tolist())))
        names = [_nfc(s.name) for s in self.config.sites]
        unknown = (site_col != "") & ~np.isin(site_col, names)
        if unknown.any():
            out.append(Violation(self.name, "site", f"{int(unknown.sum())} parcel(s) name a site that is not "
                                 f"configured (e.g. {site_col[unknown][0]!r}); a parcel is in at most one configured site",
                                 tuple(pid[unknown].tolist())))
        changed = alloc["changed"].to_numpy(dtype=bool)
        new_use = alloc["new_use"].to_numpy()
        for u in self._uses():
            of_u = [_nfc(s.name) for s in self.config.sites if s.use == u]
            bad = changed & (new_use == u) & ~np.isin(site_col, of_u)
            if bad.any():
                out.append(Violation(self.name, u, f"{int(bad.sum())} parcel(s) converted to {u} outside every "
                                     f"{u} site", tuple(pid[bad].tolist())))
        if self.config.existing == "outside":
            bad = ~changed & (site_col != "")
            if bad.any():
                out.append(Violation(self.name, "existing", f"{int(bad.sum())} parcel(s) that kept their use are in a "
                                     "site, but existing: outside lets sites cover conversions only",
                                     tuple(pid[bad].tolist())))
        return out

    def report(self, ctx: VerifyContext) -> dict[str, list[dict]]:
        return {"sites": [{k: v for k, v in f.items() if not k.startswith("_")} for f in self._figures(ctx)[0]]}


FAMILY = Sites
