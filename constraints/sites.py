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

Candidates (what keeps the model tractable): exact contiguity over all eligible land is hard for the
flow formulation's LP bound, so each site gets its own candidate neighbourhood C_s, grown ring by
ring from a start with good surroundings (or from its ``include`` parcels) around a room of land no
earlier site's room holds, so that the greedy start has a core for every site, as
``constraints/_site_neighbourhoods.py`` states. The optimum is exact over these neighbourhoods; a
neighbourhood holding less than min_ha stops the compile with an InputError naming the site.

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

Phasing: a period's ``site_expansions`` (site of this period → the site of the previous period it
expands) is interpreted here only. Before the later period compiles, an expanded site's ``include``
gets its earlier site's candidates (``seed_period``), so the expansion can hold every parcel the
earlier site may take; the periods are linked by y[p, s, t] ≤ y[p, s', t+1] for every candidate p of
the earlier site (``link_periods``), matched on the columns table's ``site`` field; and verify checks
from the two plans that every parcel of the earlier site is in its expansion (``verify_periods``).

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

import copy

import numpy as np
import pandas as pd
import shapely

from optimizer.engine.errors import InputError
from optimizer.engine.model import CompiledModel
from optimizer.engine.scenario import LoadedScenario, Period
from optimizer.engine.text import nfc, nfc_array, nfc_str

from constraints._api import (NO_LINKS, CompileContext, Family, PeriodLink, Screen, VerifyContext, Violation,
                              match_columns, tolerance)
from constraints._site_config import FAMILY_NAME, Anchor, Site, SitesConfig, anchor_label, site_field
from constraints._site_model import add_sites
from constraints._site_neighbourhoods import Neighbourhood, farthest_m, greedy_cores, neighbourhoods

CONNECT_TOL_M = 0.01
"""parcels are grown by this much (metres) before dissolving, to absorb snapping gaps"""


def site_members(columns: pd.DataFrame) -> pd.DataFrame:
    """The y[p, s] columns of a model's columns table: their site, parcel and model column index."""
    if "site" not in columns:
        return pd.DataFrame({"site": pd.Series(dtype=object), "parcel": pd.Series(dtype=np.int64),
                             "col": pd.Series(dtype=np.int64)})
    sel = ((columns["family"] == FAMILY_NAME) & columns["site"].notna()).to_numpy()
    return pd.DataFrame({"site": columns["site"].to_numpy()[sel], "parcel": columns["parcel"].to_numpy()[sel],
                         "col": np.nonzero(sel)[0]})


class Sites(Family):
    name = FAMILY_NAME
    Config = SitesConfig
    soft_able = True

    # ---------------------------------------------------------------- inputs
    def _anchor_path(self, i: int, a: Anchor):
        return self.loaded.resolve(a.layer, site_field(i, "anchor.layer"))

    def _anchor_point(self, i: int, site: Site, crs) -> tuple[float, float]:
        a = site.anchor
        if a.layer is None:
            return float(a.x), float(a.y)
        path = self._anchor_path(i, a)
        pts = self.read_config_layer(a.layer, site_field(i, "anchor.layer"), a.layer_name,
                                     f"anchor layer of site {site.name!r}", {a.field: site_field(i, "anchor.field")},
                                     geometry="point")
        values = nfc_array(map(str, pts[a.field].astype(object).where(pts[a.field].notna(), "")))
        hit = np.nonzero(values == nfc_str(a.value))[0]
        if len(hit) != 1:
            what = "no feature has" if len(hit) == 0 else f"{len(hit)} features have"
            raise InputError(str(path), a.field, f"{what} {a.field} = {a.value!r} (anchor of site {site.name!r})",
                             f"set {site_field(i, 'anchor.value')} to a unique value, e.g. {sorted(set(values))[:5]}")
        geom = pts.geometry.iloc[hit[0]]
        if geom is None or geom.geom_type != "Point":
            raise InputError(str(path), a.field, f"feature {a.value!r} is a {getattr(geom, 'geom_type', 'missing geometry')}, "
                                                 "not a point", "use a point layer for anchors")
        p = pts.geometry.iloc[hit[:1]].to_crs(crs).iloc[0]
        return float(p.x), float(p.y)

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
                raise InputError(self.loaded.label, site_field(i, "use"),
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
                reason = f"sites: > {s.anchor.max_km:g} km from {anchor_label(s)}"
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
                    inside[self._hoods[i].parcels] = True
            closed = np.nonzero(has_column[u] & (instance.current_use != u) & ~inside)[0]
            if len(closed):
                out.append(Screen(closed, u, f"sites: outside every {u} site's candidate neighbourhood"))
        return out

    def neighbourhoods(self, inst, has_column: dict[str, np.ndarray]) -> dict[int, Neighbourhood]:
        """Per site (by position in the config), its candidate neighbourhood: the candidate parcels
        sorted by parcel, in rank order and in growth order (the greedy start grows from its front)."""
        return neighbourhoods(self.config, self.loaded, inst, has_column, self._far)

    # ---------------------------------------------------------------- model
    def build(self, ctx: CompileContext, m) -> None:
        cores = greedy_cores(self.config, ctx.instance, self._hoods)
        cols = add_sites(ctx, m, self.name, self.config, self._hoods, cores)
        self._start = (cols, np.ones(len(cols)))

    def start(self) -> tuple[np.ndarray, np.ndarray]:
        """Each site's greedy core (see greedy_core) as a partial plan: its root, its parcels, their
        conversion columns. Without it HiGHS often finds no plan at all on large flow models; with the
        roots fixed, completing the plan is an easy sub-problem."""
        return self._start

    def candidates(self) -> dict[str, np.ndarray]:
        """Per site name, the candidate parcel indices of this compile (sorted by parcel)."""
        return {s.name: self._hoods[i].parcels for i, s in enumerate(self.config.sites)}

    def annotate(self, columns: pd.DataFrame, x: np.ndarray, plan) -> None:
        members = site_members(columns)
        chosen = members[np.asarray(x)[members["col"].to_numpy()] > 0.5]
        site = plan["site"].to_numpy(dtype=object).copy()
        site[chosen["parcel"].to_numpy()] = chosen["site"].to_numpy()
        plan["site"] = site

    # ---------------------------------------------------------------- periods
    @classmethod
    def seed_period(cls, link: PeriodLink, later: LoadedScenario) -> dict:
        """Each expanded site's ``include`` extended by its earlier site's candidates."""
        expansions = link.period.site_expansions
        raw = cls.raw_config(later) or {}
        earlier = site_members(link.earlier.columns)
        if not expansions or earlier.empty or not raw.get("sites"):
            return {}
        earlier_candidates = {name: g.to_numpy() for name, g in earlier.groupby("site", sort=False)["parcel"]}
        sites = copy.deepcopy(raw["sites"])
        for site in sites:
            old = expansions.get(site.get("name"))
            if old in earlier_candidates:
                seeds = list(site.get("include", [])) + link.instance.ids[earlier_candidates[old]].tolist()
                site["include"] = list(dict.fromkeys(seeds))
        return {"constraints": {cls.name: {"sites": sites}}}

    @classmethod
    def link_periods(cls, link: PeriodLink, later: CompiledModel) -> tuple[np.ndarray, np.ndarray]:
        """y[p, s] of every earlier site that is expanded, paired with y[p, s'] of its expansion."""
        expansions = link.period.site_expansions
        if not expansions:
            return NO_LINKS
        earlier, nxt = site_members(link.earlier.columns), site_members(later.columns)
        # site_expansions maps each later site to the earlier one it expands: name the later y columns
        # by their earlier site, then pair columns of one site and parcel
        nxt = nxt.assign(site=nxt["site"].map(expansions)).dropna(subset=["site"])
        return match_columns(earlier[earlier["site"].isin(expansions.values())], nxt, ["site", "parcel"])

    @classmethod
    def verify_periods(cls, period: Period, names: tuple[str, str], earlier: pd.DataFrame,
                       later: pd.DataFrame) -> list[Violation]:
        """Every parcel of an expanded site is in its expansion."""
        ta, tb = names
        out = []
        for new, old in period.site_expansions.items():
            in_old = earlier["site"].to_numpy() == old
            moved = in_old & (later["site"].to_numpy() != new)
            if moved.any():
                out.append(Violation(cls.name, f"{old}→{new}", f"{moved.sum()} parcel(s) of {old} ({ta}) are not in "
                                     f"its expansion {new} ({tb})", tuple(earlier.index[moved].tolist())))
        return out

    # ---------------------------------------------------------------- checking
    def _figures(self, ctx: VerifyContext) -> tuple[list[dict], np.ndarray]:
        """Per configured site, figures recomputed from the output layer; and the normalized site column."""
        alloc = ctx.allocation
        if "site" in alloc.columns:
            site_col = np.array([nfc(v) if isinstance(v, str) else "" for v in alloc["site"]], dtype=object)
        else:
            site_col = np.full(len(alloc), "", dtype=object)
        geoms = alloc.geometry.to_numpy()
        new_use = alloc["new_use"].to_numpy()
        rows = []
        for i, s in enumerate(self.config.sites):
            sel = site_col == nfc_str(s.name)
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
            if area < s.min_ha - tolerance(s.min_ha):
                out.append(Violation(self.name, s.name, f"{area:.4f} ha is below min_ha = {s.min_ha} ha",
                                     tuple(pid[f["_sel"]].tolist())))
            if s.max_ha is not None and area > s.max_ha + tolerance(s.max_ha):
                out.append(Violation(self.name, s.name, f"{area:.4f} ha is above max_ha = {s.max_ha} ha",
                                     tuple(pid[f["_sel"]].tolist())))
            if f["connected"] is False:
                out.append(Violation(self.name, s.name, f"the site's {f['parcels']} parcels do not dissolve into "
                                     "one polygon", tuple(pid[f["_sel"]].tolist())))
            wrong = f["_new_use"] != s.use
            if wrong.any():
                out.append(Violation(self.name, s.name, f"{int(wrong.sum())} parcel(s) of the site do not have its "
                                     f"use {s.use}", tuple(pid[f["_sel"]][wrong].tolist())))
            if f["anchor_distance_km"] is not None and f["anchor_distance_km"] > s.anchor.max_km + tolerance(s.anchor.max_km):
                out.append(Violation(self.name, s.name, f"reaches {f['anchor_distance_km']:.3f} km from "
                                     f"{anchor_label(s)}, more than max_km = {s.anchor.max_km}",
                                     tuple(pid[f["_sel"]].tolist())))
        names = [nfc_str(s.name) for s in self.config.sites]
        unknown = (site_col != "") & ~np.isin(site_col, names)
        if unknown.any():
            out.append(Violation(self.name, "site", f"{int(unknown.sum())} parcel(s) name a site that is not "
                                 f"configured (e.g. {site_col[unknown][0]!r}); a parcel is in at most one configured site",
                                 tuple(pid[unknown].tolist())))
        changed = alloc["changed"].to_numpy(dtype=bool)
        new_use = alloc["new_use"].to_numpy()
        for u in self._uses():
            of_u = [nfc_str(s.name) for s in self.config.sites if s.use == u]
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
