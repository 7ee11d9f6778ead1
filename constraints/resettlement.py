"""resettlement — households displaced by new industry, logistics or tourism need resettlement land.

A parcel converted to one of ``displacing_uses`` (e.g. SKK, SKN, TMD) displaces the households it
holds (``households_field``). They must be matched by resettlement capacity: land newly converted to
``resettlement_use`` (ONT, or a dedicated code such as TDC) houses ``households_per_ha`` households
per hectare. Only conversions count on both sides: a parcel that keeps its use displaces no one,
and existing residential land is already occupied, so it offers no capacity.

Formulation. Write D_p = Σ_{u ∈ displacing, u ≠ current(p)} x[p, u], R_q = x[q, resettlement_use]
(a conversion column), hh_p the households on p and k = households_per_ha.

Regional balance (always; per value of ``region_field``, e.g. a district or commune field, or one
province-wide row when it is not given) — one row per region r that holds a parcel able to displace:

    Σ_{p ∈ r} hh_p · D_p − k · Σ_{q ∈ r} area_q · R_q ≤ 0                     (key ``<field>: <value>``)

Distance-limited transport (``max_km``): continuous flows f[p, q] ≥ 0 from each parcel p that may
displace households to each parcel q that may become resettlement land, for the candidate pairs
whose centroids are at most ``max_km`` apart (one spatial-index query, vectorized; no self-pairs):

    Σ_q f[p, q] − hh_p · D_p ≥ 0          for every source p            (key ``demand:<id>``)
    Σ_p f[p, q] − k · area_q · R_q ≤ 0    for every site q some source reaches (key ``capacity:<id>``)
    0 ≤ f[p, q] ≤ min(hh_p, k · area_q)
    f[p, q] − min(hh_p, k · area_q) · R_q ≤ 0   for every pair (``link_pairs``; key ``link:<id>-><id>``)

The capacity rows alone give the weak facility-location relaxation (a site opened to 1/40 houses
one household); the per-pair link rows are the classic strong (disaggregated) form and cost one
row per pair.

A source with no candidate within max_km cannot be converted to a displacing use (its demand row
has no flow). The regional rows are the soft handle (unit households) the infeasibility diagnosis
may relax; the per-parcel demand and capacity rows are hard, so that diagnosis and marginal values
speak of regions, not of thousands of parcels whose rows sit trivially at 0 ≥ 0.

Trade-off. The regional rows are one row per region whatever the number of parcels (at 70,000
parcels they compile in a fraction of a second), but they bound no distance: a district can be
50 km across. The transport rows are exact for "within max_km" but grow with the number of candidate
pairs (≈ sources × sites within the radius): tens of thousands of parcels with a radius of several
km give millions of pairs. ``nearest_k`` keeps only the k nearest sites per source (a conservative
restriction: every plan the model returns is feasible, but a plan that needs a farther site within
max_km may be missed), and ``max_pairs`` refuses to build more pairs than that, naming the fix. For
a province of tens of thousands of parcels: regional rows per commune, plus transport with
``nearest_k`` when the distance matters.

Verify recomputes, from the plan's attributes and geometry, the displaced households and the capacity
per region, and for the transport variant solves a max-flow LP over *all* pairs within max_km
(centroid distances from the output geometry), so it checks the rule itself, not the restricted
model. Nothing here relies on the matrix. run.json ``resettlement`` holds one row per region
(displaced households and new capacity there), and with max_km one row per resettlement parcel
(``site:<id>``: the displaced households it receives in that max-flow — one feasible assignment,
not necessarily the only one — and its capacity) plus a ``within <max_km> km`` total with the
households that could not be placed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from pydantic import Field

from optimizer.engine.errors import InputError
from optimizer.engine.scenario import Code
from optimizer.engine.text import nfc_array

from constraints._api import CompileContext, Family, FamilyConfig, Violation, VerifyContext

PROVINCE = "province"


class ResettlementConfig(FamilyConfig):
    displacing_uses: list[Code] = Field(min_length=1, description="uses whose conversion displaces the parcel's "
                                        "households, e.g. [SKK, SKN, TMD]")
    households_field: str = Field("households", description="numeric field of the parcel layer: households living on the parcel")
    resettlement_use: Code = Field(description="use whose new land houses displaced households (ONT, or a dedicated "
                                   "code such as TDC); must be in allocate")
    households_per_ha: float = Field(gt=0, description="households one hectare of new resettlement land houses")
    region_field: str | None = Field(None, description="text field of the parcel layer (district, commune, …): displaced "
                                     "households are resettled within their region; None without max_km: one "
                                     "province-wide balance")
    max_km: float | None = Field(None, gt=0, description="households are resettled at most this far (km, centroid to "
                                 "centroid) from their parcel; None: no distance limit")
    nearest_k: int | None = Field(None, ge=1, description="with max_km: only the k nearest candidate sites per source "
                                  "parcel (conservative, keeps the model small); None: every site within max_km")
    max_pairs: int = Field(2_000_000, ge=1, description="with max_km: refuse to build more (source, site) flow "
                           "pairs than this")
    link_pairs: bool = Field(True, description="with max_km: add f[p, q] ≤ min(hh_p, k·area_q)·R_q for every pair "
                             "(one row per pair; a much tighter LP relaxation than the capacity rows alone)")
    source: str | None = Field(None, description="the plan's wording this constraint encodes")


def _region_names(values) -> np.ndarray:
    """Region names as NFC text; a missing value is the empty name."""
    s = pd.Series(values, dtype=object)
    return nfc_array(map(str, s.where(s.notna(), "")))


def _prefixed(prefix: str, values: np.ndarray) -> np.ndarray:
    return (prefix + pd.Series(values, dtype=object).astype(str)).to_numpy(dtype=object)


class Resettlement(Family):
    name = "resettlement"
    Config = ResettlementConfig
    soft_able = True

    # -- validation -------------------------------------------------------------------------------
    def _check_codes(self) -> None:
        cfg, sc, label = self.config, self.loaded.scenario, self.loaded.label
        known = sc.land_uses
        unknown = [c for c in cfg.displacing_uses if c not in known]
        if unknown:
            raise InputError(label, f"constraints.{self.name}.displacing_uses", f"unknown land-use code(s) {unknown}",
                             f"use codes from land_uses ({', '.join(sorted(known))})")
        if cfg.resettlement_use not in known:
            raise InputError(label, f"constraints.{self.name}.resettlement_use",
                             f"unknown land-use code {cfg.resettlement_use!r}", "add it to land_uses or use e.g. ONT")
        if cfg.resettlement_use not in sc.allocate:
            raise InputError(label, f"constraints.{self.name}.resettlement_use",
                             f"{cfg.resettlement_use!r} is not in allocate, so no parcel can become resettlement land",
                             f"add {cfg.resettlement_use!r} to allocate")
        if cfg.resettlement_use in cfg.displacing_uses:
            raise InputError(label, f"constraints.{self.name}.displacing_uses",
                             f"{cfg.resettlement_use!r} is both the resettlement use and a displacing use",
                             "remove it from displacing_uses")

    def prepare(self, instance) -> None:
        self._check_codes()
        instance.column(self.config.households_field, f"{self.name} (households_field)")
        if self.config.region_field is not None:
            instance.text(self.config.region_field, f"{self.name} (region_field)")

    # -- compile ------------------------------------------------------------------------------------
    def build(self, ctx: CompileContext, m) -> None:
        cfg = self.config
        inst = ctx.instance
        hh = inst.column(cfg.households_field, f"{self.name} (households_field)")
        cols = ctx.columns
        parcel = cols["parcel"].to_numpy()
        use = cols["use"].to_numpy()
        keep = cols["keep"].to_numpy(dtype=bool)
        d_col = np.nonzero(~keep & np.isin(use, cfg.displacing_uses) & (hh[parcel] > 0))[0]
        r_col = np.nonzero(~keep & (use == cfg.resettlement_use))[0]
        if len(d_col) == 0:
            return
        k = cfg.households_per_ha
        # regional (or province-wide) balance, always
        region = (inst.text(cfg.region_field, f"{self.name} (region_field)") if cfg.region_field is not None
                  else np.full(inst.n, PROVINCE, dtype=object))
        names, inv = np.unique(region.astype(str), return_inverse=True)
        with_d = np.unique(inv[parcel[d_col]])
        row_of = np.full(len(names), -1)
        row_of[with_d] = np.arange(len(with_d))
        r_sel = r_col[row_of[inv[parcel[r_col]]] >= 0]
        keys = [f"{cfg.region_field}: {v}" if cfg.region_field else PROVINCE for v in names[with_d]]
        m.add_rows(self.name, keys, -np.inf, 0.0,
                   row=np.concatenate([row_of[inv[parcel[d_col]]], row_of[inv[parcel[r_sel]]]]),
                   col=np.concatenate([d_col, r_sel]),
                   coef=np.concatenate([hh[parcel[d_col]], -k * inst.area_ha[parcel[r_sel]]]),
                   soft=True, unit="households")
        if cfg.max_km is not None:
            self._build_transport(ctx, m, hh, parcel, d_col, r_col)

    def _pairs(self, src_xy: np.ndarray, dst_xy: np.ndarray, src_pid: np.ndarray, dst_pid: np.ndarray):
        """Candidate (source i, site j) pairs with centroid distance ≤ max_km, nearest_k per source."""
        cfg = self.config
        d = cfg.max_km * 1000.0
        tree = shapely.STRtree(shapely.points(dst_xy))
        i, j = tree.query(shapely.points(src_xy), predicate="dwithin", distance=d)
        keep = src_pid[i] != dst_pid[j]
        i, j = i[keep], j[keep]
        dist = np.hypot(*(src_xy[i] - dst_xy[j]).T)
        order = np.lexsort((dist, i))
        i, j, dist = i[order], j[order], dist[order]
        if cfg.nearest_k is not None and len(i):
            start = np.searchsorted(i, i, side="left")
            rank = np.arange(len(i)) - start
            sel = rank < cfg.nearest_k
            i, j, dist = i[sel], j[sel], dist[sel]
        return i, j, dist

    def _build_transport(self, ctx: CompileContext, m, hh, parcel, d_col, r_col) -> None:
        cfg = self.config
        inst = ctx.instance
        k = cfg.households_per_ha
        src, d_src = np.unique(parcel[d_col], return_inverse=True)  # source parcels, row of each D column
        sites = parcel[r_col]  # one resettlement column per parcel
        cent = inst.geometry.centroid
        xy = np.column_stack([cent.x.to_numpy(), cent.y.to_numpy()])
        i, j, _ = self._pairs(xy[src], xy[sites], src, sites)
        if len(i) > cfg.max_pairs:
            raise InputError(self.loaded.label, f"constraints.{self.name}.max_km",
                             f"{len(i):,} (source, site) pairs within {cfg.max_km} km exceed max_pairs = {cfg.max_pairs:,}",
                             "set nearest_k (e.g. 20), lower max_km, or use region_field alone")
        ids = inst.ids.astype(str)
        cap = k * inst.area_ha[sites]
        fkeys = ("flow:" + pd.Series(ids[src[i]], dtype=object) + "->" + pd.Series(ids[sites[j]], dtype=object)).to_numpy(dtype=object)
        f = m.add_columns(self.name, fkeys, parcel=-1, use="", cost=0.0, lo=0.0,
                          hi=np.minimum(hh[src[i]], cap[j]), integer=False, count=len(i))
        # demand: Σ_q f[p, q] − hh_p · D_p ≥ 0
        m.add_rows(self.name, _prefixed("demand:", ids[src]), 0.0, np.inf,
                   row=np.concatenate([i, d_src]), col=np.concatenate([f, d_col]),
                   coef=np.concatenate([np.ones(len(i)), -hh[parcel[d_col]]]), soft=False, unit="households")
        if cfg.link_pairs and len(i):
            # link: f[p, q] − min(hh_p, k·area_q) · R_q ≤ 0
            u = np.minimum(hh[src[i]], cap[j])
            lkeys = pd.Series(fkeys, dtype=object).str.replace("flow:", "link:", regex=False).to_numpy(dtype=object)
            m.add_rows(self.name, lkeys, -np.inf, 0.0, row=np.concatenate([np.arange(len(i)), np.arange(len(i))]),
                       col=np.concatenate([f, r_col[j]]), coef=np.concatenate([np.ones(len(i)), -u]),
                       soft=False, unit="households")
        # capacity: Σ_p f[p, q] − k · area_q · R_q ≤ 0, only for sites some source can reach
        used, jr = np.unique(j, return_inverse=True)
        if len(used):
            m.add_rows(self.name, _prefixed("capacity:", ids[sites[used]]), -np.inf, 0.0,
                       row=np.concatenate([jr, np.arange(len(used))]), col=np.concatenate([f, r_col[used]]),
                       coef=np.concatenate([np.ones(len(i)), -cap[used]]), soft=False, unit="households")

    # -- independent recomputation from the plan -----------------------------------------------------
    def _plan(self, ctx: VerifyContext):
        cfg = self.config
        alloc = ctx.allocation
        if cfg.households_field not in alloc.columns:
            raise InputError("allocation", cfg.households_field, f"field missing (needed by {self.name})",
                             "verify against the parcel layer the plan was solved with")
        hh = pd.to_numeric(alloc[cfg.households_field], errors="coerce").fillna(0).to_numpy(dtype=float)
        new_use = alloc["new_use"].to_numpy()
        changed = new_use != alloc["current_use"].to_numpy()
        disp = changed & np.isin(new_use, cfg.displacing_uses) & (hh > 0)
        site = changed & (new_use == cfg.resettlement_use)
        return hh, disp, site, cfg.households_per_ha * ctx.area_ha

    def _regional(self, ctx: VerifyContext) -> list[dict]:
        cfg = self.config
        hh, disp, site, cap = self._plan(ctx)
        if cfg.region_field is not None:
            if cfg.region_field not in ctx.allocation.columns:
                raise InputError("allocation", cfg.region_field, f"field missing (needed by {self.name})",
                                 "verify against the parcel layer the plan was solved with")
            region = _region_names(ctx.allocation[cfg.region_field].to_numpy())
        else:
            region = np.full(len(hh), PROVINCE, dtype=object)
        df = pd.DataFrame({"region": region, "d": np.where(disp, hh, 0.0), "c": np.where(site, cap, 0.0)})
        g = df.groupby("region", sort=True)[["d", "c"]].sum()
        g = g[(g["d"] > 0) | (g["c"] > 0)]
        out = []
        for name, row in g.iterrows():
            key = f"{cfg.region_field}: {name}" if cfg.region_field else PROVINCE
            d, c = float(row["d"]), float(row["c"])
            out.append((name, {"key": key, "mode": "region", "displaced_households": round(d, 6),
                               "capacity_households": round(c, 6), "ok": d <= c + 1e-6 * max(1.0, c)}))
        return out

    def _transport(self, ctx: VerifyContext) -> tuple[list[dict], list[Violation]]:
        """Max-flow LP over every (displaced parcel, resettlement parcel) pair within max_km."""
        from scipy.optimize import linprog
        import scipy.sparse as sp

        cfg = self.config
        hh, disp, site, cap = self._plan(ctx)
        alloc = ctx.allocation
        src, dst = np.nonzero(disp)[0], np.nonzero(site)[0]
        cent = alloc.geometry.centroid
        xy = np.column_stack([cent.x.to_numpy(), cent.y.to_numpy()])
        pid = alloc["parcel_id"].to_numpy()
        d = cfg.max_km * 1000.0 * (1 + 1e-9)
        if len(src) and len(dst):
            i, j = shapely.STRtree(shapely.points(xy[dst])).query(shapely.points(xy[src]), predicate="dwithin", distance=d)
            keep = src[i] != dst[j]
            i, j = i[keep], j[keep]
        else:
            i = j = np.zeros(0, dtype=np.int64)
        demand, capacity = hh[src], cap[dst]
        flow = np.zeros(len(i))
        if len(i):
            npairs = len(i)
            A = sp.vstack([sp.csr_matrix((np.ones(npairs), (i, np.arange(npairs))), shape=(len(src), npairs)),
                           sp.csr_matrix((np.ones(npairs), (j, np.arange(npairs))), shape=(len(dst), npairs))]).tocsr()
            res = linprog(-np.ones(npairs), A_ub=A, b_ub=np.concatenate([demand, capacity]), bounds=(0, None), method="highs")
            if res.status != 0:
                raise RuntimeError(f"resettlement verify: max-flow LP failed: {res.message}")
            flow = res.x
        placed_src = np.bincount(i, weights=flow, minlength=len(src))
        recv = np.bincount(j, weights=flow, minlength=len(dst))
        short = demand - placed_src
        bad = short > 1e-6 * np.maximum(1.0, demand)
        rows = [{"key": f"site:{pid[dst[t]]}", "mode": "transport", "displaced_households": round(float(recv[t]), 6),
                 "capacity_households": round(float(capacity[t]), 6), "ok": True} for t in range(len(dst))]
        total_d, unplaced = float(demand.sum()), float(short[bad].sum())
        rows.append({"key": f"within {cfg.max_km} km", "mode": "transport", "displaced_households": round(total_d, 6),
                     "capacity_households": round(float(capacity.sum()), 6), "unplaced_households": round(unplaced, 6),
                     "ok": not bad.any()})
        viol = []
        if bad.any():
            viol.append(Violation(self.name, f"within {cfg.max_km} km",
                                  f"{unplaced:.4f} of {total_d:.4f} displaced households cannot be resettled within "
                                  f"{cfg.max_km} km of their parcel", tuple(pid[src[bad]].tolist())))
        return rows, viol

    def verify(self, ctx: VerifyContext) -> list[Violation]:
        cfg = self.config
        out = []
        # regional (or province-wide) balance, always
        _, disp, *_ = self._plan(ctx)
        region = (_region_names(ctx.allocation[cfg.region_field].to_numpy()) if cfg.region_field is not None else None)
        pid = ctx.allocation["parcel_id"].to_numpy()
        for name, r in self._regional(ctx):
            if not r["ok"]:
                who = disp if region is None else disp & (region == name)
                out.append(Violation(self.name, r["key"],
                                     f"{r['displaced_households']:.4f} displaced households exceed the resettlement "
                                     f"capacity {r['capacity_households']:.4f} ({cfg.households_per_ha} per ha of "
                                     f"new {cfg.resettlement_use})", tuple(pid[who].tolist())))
        if cfg.max_km is not None:
            out.extend(self._transport(ctx)[1])
        return out

    def report(self, ctx: VerifyContext) -> dict[str, list[dict]]:
        cfg = self.config
        rows = [r for _, r in self._regional(ctx)]
        if cfg.max_km is not None:
            rows.extend(self._transport(ctx)[0])
        return {"resettlement": rows}


FAMILY = Resettlement
