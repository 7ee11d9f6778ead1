"""adjacency_conflict — uses that must not (or should rather not) lie near zones, current uses or other planned uses.

Examples: no industrial park or cluster (SKK, SKN) within 500 m of a strict-protection zone or of
rural/urban housing (ONT, ODT); industry next to planned tourism (TMD) is penalized.

Each rule has uses A, a ``near`` target, a distance ``buffer_m`` and a mode. "Within buffer_m" means
distance(geometry, geometry) ≤ buffer_m in the scenario's projected CRS, measured between the
parcel's nearest points (0 when touching or overlapping), never between centroids.

Formulation. Only conversions are affected: a parcel that keeps its current use is never screened or
penalized, and a pair of parcels neither of which changes is an existing situation the plan does not
create.

- near a zone (``zone_layer`` + ``zone_class``) or a current use (``current_uses``; another parcel
  whose current use is listed, the parcel itself excluded), N = parcels within buffer_m of one:
  - ``forbid``: pairs (p, a), p ∈ N, a ∈ A are screened out with a reason such as
    ``conflict: SKK within 500 m of strict zone Phja Oắc – Phja Đén`` or
    ``conflict: SKK within 500 m of current ONT (parcel 17)`` (the nearest one). No rows.
  - ``penalty``: objective term −s · weight · area_p · x[p, a] on the conversion columns of p ∈ N
    (weight per hectare; s = +1 when maximizing, −1 when minimizing, so the term always worsens it).
- near planned uses (``uses``: B), pairs D = {(i, j): i ≠ j, distance ≤ buffer_m, i has a column in A,
  j one in B} (unordered when A = B). With y_A[i] = Σ_{a ∈ A} x[i, a] (keep columns included) and
  c_A[i] the same over conversion columns only, the conflict "i in A, j in B, not both unchanged" is
  cut by
      y_A[i] + y_B[j] ≤ 1                                         if cur_i ∉ A or cur_j ∉ B
      y_A[i] + c_B[j] ≤ 1  and  c_A[i] + y_B[j] ≤ 1               if cur_i ∈ A and cur_j ∈ B
  (each parcel has one use, so the sums over A and B aggregate all use pairs into one row per
  parcel pair). ``forbid`` adds these rows (``linearization: pairwise``) or, more compactly, the
  exact big-M aggregation per parcel i with M_i = |{j : (i, j) ∈ D}| (``aggregated``; weaker LP):
      M_i · c_A[i] + Σ_j y_B[j] ≤ M_i    and, if cur_i ∈ A,    M_i · y_A[i] + Σ_j c_B[j] ≤ M_i
  ``penalty`` adds one continuous column v_ij ∈ [0, 1] per pair with cost −s · weight (per pair) and
  the same rows with −v_ij on the left: row − v_ij ≤ 1. The penalty pushes v down, so at an optimum
  v_ij = 1 exactly when the pair conflicts. A plan returned at a time limit may still carry a v = 1
  without conflict (overstating the penalty), so ``exact_incumbents`` (default on) adds
  v_ij ≤ y_A[i], v_ij ≤ y_B[j] (and v_ij ≤ c_A[i] + c_B[j] for grandfathered pairs), which pin v to the
  conflict indicator at every integer point and are redundant for the LP optimum.

Scenario example::

    constraints:
      adjacency_conflict:
        rules:
          - {uses: ["SKK", "SKN"], near: {zone_layer: zones.gpkg, zone_class: ["strict"]}, buffer_m: 500}
          - {uses: ["SKK", "SKN"], near: {current_uses: ["ONT", "ODT"]}, buffer_m: 300}
          - {uses: ["SKK"], near: {uses: ["TMD"]}, buffer_m: 200, mode: penalty, weight: 5}

Verify re-reads the zone layer and recomputes distances from the output geometry: a parcel converted
into A within buffer_m of a forbidden zone or current use, or a conflicting planned pair, is a
violation (1 mm tolerance in the plan's favour). ``objective_terms`` recounts the penalized
parcels and pairs from the output geometry, with the same distance test as the model.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pydantic import Field, StrictStr, model_validator

from optimizer.engine.errors import InputError
from optimizer.engine.scenario import Code
from optimizer.engine.text import nfc_array, nfc_str

from constraints._api import CompileContext, Family, FamilyConfig, Screen, Violation, VerifyContext

TOL_M = 1e-3


class Near(FamilyConfig):
    zone_layer: str | None = Field(None, description="polygon layer of zones, path relative to the scenario")
    layer_name: str | None = Field(None, description="layer inside a multi-layer zone file")
    class_field: str = Field("zone_class", description="zone layer field holding the class")
    name_field: str = Field("zone_name", description="zone layer field holding the name used in reasons")
    zone_class: list[StrictStr] | None = Field(None, description="zone classes that count (none: every zone of the layer)")
    uses: list[Code] | None = Field(None, description="planned uses of other parcels (after the plan)")
    current_uses: list[Code] | None = Field(None, description="current uses of other parcels (before the plan)")

    @model_validator(mode="after")
    def _one(self) -> "Near":
        given = [k for k in ("zone_layer", "uses", "current_uses") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of zone_layer, uses or current_uses")
        if self.zone_layer is None and (self.zone_class is not None or self.layer_name is not None):
            raise ValueError("zone_class and layer_name need zone_layer")
        if (self.uses is not None and not self.uses) or (self.current_uses is not None and not self.current_uses):
            raise ValueError("the list of uses is empty")
        return self


class ConflictRule(FamilyConfig):
    name: str | None = Field(None, description="key of the rule in rows, violations and run.json (default derived)")
    uses: list[Code] = Field(min_length=1, description="uses A restricted by this rule")
    near: Near = Field(description="what A must keep away from")
    buffer_m: float = Field(ge=0, description="distance (m) between nearest points within which A conflicts")
    mode: Literal["forbid", "penalty"] = Field("forbid", description="forbid: hard; penalty: objective term")
    weight: float | None = Field(None, gt=0, description="penalty: per hectare of parcel converted near a zone or "
                                                         "current use; per conflicting pair of planned parcels")
    linearization: Literal["pairwise", "aggregated"] = Field(
        "pairwise", description="forbid between planned uses: one row per pair (tight) or per parcel (big-M, compact)")
    exact_incumbents: bool = Field(True, description="penalty between planned uses: also v ≤ y_A[i], v ≤ y_B[j], so every "
                                                     "integer plan (also one returned at a time limit) carries its true penalty")

    @model_validator(mode="after")
    def _weight(self) -> "ConflictRule":
        if (self.mode == "penalty") != (self.weight is not None):
            raise ValueError("weight is required with mode: penalty and not allowed with mode: forbid")
        if self.linearization == "aggregated" and (self.near.uses is None or self.mode != "forbid"):
            raise ValueError("linearization: aggregated applies only to mode: forbid near planned uses")
        return self

    def key(self, k: int) -> str:
        if self.name:
            return self.name
        n = self.near
        what = (f"zone:{'+'.join(n.zone_class or ['*'])}" if n.zone_layer else
                f"current:{'+'.join(n.current_uses)}" if n.current_uses else "+".join(n.uses))
        return f"{k}:{'+'.join(self.uses)}~{what}@{self.buffer_m:g}m"


class AdjacencyConflictConfig(FamilyConfig):
    rules: list[ConflictRule] = Field(min_length=1, description="conflict rules")


def _pairs_within(left: np.ndarray, right: np.ndarray, d: float) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) with distance(left[i], right[j]) ≤ d."""
    if len(left) == 0 or len(right) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    i, j = shapely.STRtree(right).query(left, predicate="dwithin", distance=d)
    return i, j


def _planned_pairs(geoms: np.ndarray, in_a: np.ndarray, in_b: np.ndarray, d: float, symmetric: bool):
    """(i, j) parcel indices, i ≠ j, i in A, j in B, within d (i < j when A = B)."""
    ia, ib = np.nonzero(in_a)[0], np.nonzero(in_b)[0]
    i, j = _pairs_within(geoms[ia], geoms[ib], d)
    i, j = ia[i], ib[j]
    keep = (i < j) if symmetric else (i != j)
    i, j = i[keep], j[keep]
    order = np.lexsort((j, i))
    return i[order], j[order]


class AdjacencyConflict(Family):
    name = "adjacency_conflict"
    Config = AdjacencyConflictConfig

    def _where(self, k: int, attr: str) -> str:
        return f"constraints.{self.name}.rules.{k}.{attr}"

    def _sign(self) -> float:
        return 1.0 if self.loaded.scenario.objective.sense == "maximize" else -1.0

    def _check_codes(self) -> None:
        known = self.loaded.scenario.land_uses
        for k, r in enumerate(self.config.rules):
            for attr, codes in (("uses", r.uses), ("near.uses", r.near.uses or []), ("near.current_uses", r.near.current_uses or [])):
                for c in codes:
                    if c not in known:
                        raise InputError(self.loaded.label, self._where(k, attr), f"unknown use {c!r}",
                                         f"use codes from land_uses ({', '.join(sorted(known))})")

    def _zones(self, k: int, crs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(geometries, classes, names) of rule k's zones in ``crs``."""
        n = self.config.rules[k].near
        zones = self.read_config_layer(n.zone_layer, self._where(k, "near.zone_layer"), n.layer_name, "zone layer",
                                       {getattr(n, a): self._where(k, "near." + a) for a in ("class_field", "name_field")},
                                       geometry="polygon")
        path = self.loaded.resolve(n.zone_layer, self._where(k, "near.zone_layer"))
        cls = nfc_array(map(str, zones[n.class_field]))
        names = nfc_array(map(str, zones[n.name_field]))
        keep = zones.geometry.notna().to_numpy() & ~zones.geometry.is_empty.to_numpy()
        if n.zone_class is not None:
            want = [nfc_str(c) for c in n.zone_class]
            missing = [c for c in want if c not in set(cls)]
            if missing:
                raise InputError(str(path), n.class_field, f"zone class(es) {missing} never occur (needed by "
                                 f"{self._where(k, 'near.zone_class')})", f"use classes that occur: {sorted(set(cls))}")
            keep &= np.isin(cls, want)
        geoms = zones.geometry[keep].to_crs(crs).to_numpy()
        return geoms, cls[keep], names[keep]

    def input_paths(self) -> list:
        return [self.loaded.resolve(r.near.zone_layer, self._where(k, "near.zone_layer"))
                for k, r in enumerate(self.config.rules) if r.near.zone_layer]

    def prepare(self, instance) -> None:
        self._check_codes()
        self._zone_cache = {k: self._zones(k, instance.crs) for k, r in enumerate(self.config.rules) if r.near.zone_layer}

    # -- parcels near a static target (zone or current use), with the reason of the nearest one ------------------------

    def _near_static(self, k: int, geoms: np.ndarray, current: np.ndarray, ids: np.ndarray, d: float,
                     zones=None) -> tuple[np.ndarray, np.ndarray]:
        """(parcel indices within d of rule k's target, label of the nearest target for each)."""
        r = self.config.rules[k]
        if r.near.zone_layer:
            zg, zc, zn = zones
            p, t = _pairs_within(geoms, zg, d)
            labels = np.array([f"{c} zone {n}" for c, n in zip(zc, zn)], dtype=object)
        else:
            tgt = np.nonzero(np.isin(current, r.near.current_uses))[0]
            p, t = _pairs_within(geoms, geoms[tgt], d)
            t = tgt[t]
            keep = p != t
            p, t = p[keep], t[keep]
            labels = ("current " + pd.Series(current, dtype=object) + " (parcel " + pd.Series(ids).astype(str) + ")").to_numpy(dtype=object)
            zg = geoms
        if len(p) == 0:
            return np.zeros(0, np.int64), np.zeros(0, dtype=object)
        dist = shapely.distance(geoms[p], zg[t])
        order = np.lexsort((t, dist, p))
        p, t = p[order], t[order]
        uniq, first = np.unique(p, return_index=True)
        return uniq, labels[t[first]]

    def screen(self, instance) -> list[Screen]:
        geoms = instance.geometry.to_numpy()
        allocate = set(self.loaded.scenario.allocate)
        out = []
        for k, r in enumerate(self.config.rules):
            if r.mode != "forbid" or r.near.uses is not None:
                continue
            p, label = self._near_static(k, geoms, instance.current_use, np.asarray(instance.ids), r.buffer_m,
                                         self._zone_cache.get(k))
            for u in r.uses:
                if u not in allocate:
                    continue
                keep = instance.current_use[p] != u
                reason = (f"conflict: {u} within {r.buffer_m:g} m of " + pd.Series(label[keep], dtype=object)).to_numpy(dtype=object)
                out.append(Screen(p[keep], u, reason))
        return out

    # -- rows and penalty columns ------------------------------------------------------------------------------------------

    def build(self, ctx: CompileContext, m) -> None:
        inst = ctx.instance
        geoms = inst.geometry.to_numpy()
        cols = ctx.columns
        parcel, use, keep = cols["parcel"].to_numpy(), cols["use"].to_numpy(), cols["keep"].to_numpy()
        n, nc = inst.n, len(cols)
        ids = np.asarray(inst.ids).astype(str)

        def indicator(uses, conversions_only: bool) -> sp.csr_matrix:
            sel = np.isin(use, uses) & (~keep if conversions_only else True)
            idx = np.nonzero(sel)[0]
            return sp.csr_matrix((np.ones(len(idx)), (parcel[idx], idx)), shape=(n, nc))

        for k, r in enumerate(self.config.rules):
            key = r.key(k)
            if r.near.uses is None:
                if r.mode == "penalty":
                    p, _ = self._near_static(k, geoms, inst.current_use, np.asarray(inst.ids), r.buffer_m, self._zone_cache.get(k))
                    near = np.zeros(n, bool)
                    near[p] = True
                    c = np.nonzero(np.isin(use, r.uses) & ~keep & near[parcel])[0]
                    m.add_objective(c, -self._sign() * r.weight * inst.area_ha[parcel[c]])
                continue
            A, B = r.uses, r.near.uses
            yA, yB, cA, cB = indicator(A, False), indicator(B, False), indicator(A, True), indicator(B, True)
            symmetric = set(A) == set(B)
            i, j = _planned_pairs(geoms, np.diff(yA.indptr) > 0, np.diff(yB.indptr) > 0, r.buffer_m, symmetric)
            curA, curB = np.isin(inst.current_use, A), np.isin(inst.current_use, B)
            if len(i) == 0:
                continue
            if r.linearization == "aggregated":
                self._aggregated_rows(m, key, i, j, yA, yB, cA, cB, curA, ids)
                continue
            both = curA[i] & curB[j]
            # one row per pair: y_A[i] + y_B[j] ≤ 1, or for a pair in conflict already today (both grandfathered)
            # y_A[i] + c_B[j] ≤ 1 plus a second row c_A[i] + y_B[j] ≤ 1
            pi = np.concatenate([i, i[both]])
            pj = np.concatenate([j, j[both]])
            pair = np.concatenate([np.arange(len(i)), np.nonzero(both)[0]])
            suffix = np.concatenate([np.full(len(i), ""), np.full(both.sum(), "(conv)")]).astype(object)
            L = sp.vstack([yA[i], cA[i[both]]]).tocsr()
            R = sp.vstack([sp.vstack([yB, cB]).tocsr()[j + n * both], yB[j[both]]]).tocsr()
            ok = (np.diff(L.indptr) > 0) & (np.diff(R.indptr) > 0)  # a side without columns: the row is void
            L, R, pi, pj, pair, suffix = L[ok], R[ok], pi[ok], pj[ok], pair[ok], suffix[ok]
            rowkey = (key + ":" + pd.Series(ids[pi]) + "~" + pd.Series(ids[pj]) + suffix).to_numpy(dtype=object)
            nr = len(pi)
            Lc, Rc = L.tocoo(), R.tocoo()
            row = np.concatenate([Lc.row, Rc.row])
            col = np.concatenate([Lc.col, Rc.col])
            coef = np.ones(len(row))
            if r.mode == "penalty":
                used = np.unique(pair)
                vkey = (key + ":" + pd.Series(ids[i[used]]) + "~" + pd.Series(ids[j[used]])).to_numpy(dtype=object)
                v = m.add_columns(self.name, vkey, cost=-self._sign() * r.weight, lo=0.0, hi=1.0, integer=False)
                vcol = np.full(len(i), -1, dtype=np.int64)
                vcol[used] = v
                row = np.concatenate([row, np.arange(nr)])
                col = np.concatenate([col, vcol[pair]])
                coef = np.concatenate([coef, -np.ones(nr)])
            m.add_rows(self.name, rowkey, np.nan, 1.0, row=row, col=col, coef=coef, unit="pair")
            if r.mode == "penalty" and r.exact_incumbents:
                self._pin_rows(m, v, vkey, i[used], j[used], both[used], yA, yB, cA, cB)

    def _pin_rows(self, m, v, vkey, i, j, both, yA, yB, cA, cB) -> None:
        """v ≤ y_A[i], v ≤ y_B[j] (and v ≤ c_A[i] + c_B[j] for grandfathered pairs): v is then the conflict
        indicator at every integer point, not only at an optimum."""
        g = np.nonzero(both)[0]
        blocks = [(yA[i], np.arange(len(i)), "≤A"), (yB[j], np.arange(len(i)), "≤B"),
                  (cA[i[g]] + cB[j[g]], g, "≤conv")]
        for side, which, tag in blocks:
            if not len(which):
                continue
            S = side.tocoo()
            nr = len(which)
            m.add_rows(self.name, (pd.Series(vkey[which]) + tag).to_numpy(dtype=object), np.nan, 0.0,
                       row=np.concatenate([np.arange(nr), S.row]), col=np.concatenate([v[which], S.col]),
                       coef=np.concatenate([np.ones(nr), -S.data]), unit="v≤y")

    def _aggregated_rows(self, m, key, i, j, yA, yB, cA, cB, curA, ids) -> None:
        """M_i·c_A[i] + Σ_j y_B[j] ≤ M_i, and M_i·y_A[i] + Σ_j c_B[j] ≤ M_i where i has A today."""
        if len(i) == 0:
            return
        uniq, r = np.unique(i, return_inverse=True)
        M = np.bincount(r, minlength=len(uniq)).astype(float)
        N = sp.csr_matrix((np.ones(len(i)), (r, j)), shape=(len(uniq), yB.shape[0]))  # parcel i → its neighbours j
        blocks = [(cA, yB, np.ones(len(uniq), bool), "c"), (yA, cB, curA[uniq], "y")]
        for own, other, sel, tag in blocks:
            if not sel.any():
                continue
            rows = (sp.diags(M[sel]) @ own[uniq[sel]] + N[sel] @ other).tocoo()
            keys = (key + ":" + pd.Series(ids[uniq[sel]]) + f"({tag})").to_numpy(dtype=object)
            m.add_rows(self.name, keys, np.nan, M[sel], row=rows.row, col=rows.col, coef=rows.data, unit="Σpairs")

    # -- verify and objective ----------------------------------------------------------------------------------------------

    def _conflicts(self, ctx: VerifyContext, k: int, d: float):
        """Parcels (static targets) or pairs (planned uses) in conflict under rule k, from the output layer alone."""
        r = self.config.rules[k]
        alloc = ctx.allocation
        geoms = alloc.geometry.to_numpy()
        new_use, current = alloc["new_use"].to_numpy(), alloc["current_use"].to_numpy()
        changed = alloc["changed"].to_numpy(dtype=bool)
        if r.near.uses is None:
            zones = self._zones(k, alloc.crs) if r.near.zone_layer else None
            cand = np.nonzero(changed & np.isin(new_use, r.uses))[0]
            # distances only from the converted parcels, targets from the whole layer
            if r.near.zone_layer:
                p, _ = _pairs_within(geoms[cand], zones[0], d)
                p = np.unique(cand[p])
            else:
                tgt = np.nonzero(np.isin(current, r.near.current_uses))[0]
                a, b = _pairs_within(geoms[cand], geoms[tgt], d)
                keep = cand[a] != tgt[b]
                p = np.unique(cand[a][keep])
            return p, None
        symmetric = set(r.uses) == set(r.near.uses)
        i, j = _planned_pairs(geoms, np.isin(new_use, r.uses), np.isin(new_use, r.near.uses), d, symmetric)
        keep = changed[i] | changed[j]
        return i[keep], j[keep]

    def verify(self, ctx: VerifyContext) -> list[Violation]:
        self._check_codes()
        ids = ctx.allocation["parcel_id"].to_numpy()
        new_use = ctx.allocation["new_use"].to_numpy()
        out = []
        for k, r in enumerate(self.config.rules):
            if r.mode != "forbid":
                continue
            p, q = self._conflicts(ctx, k, max(r.buffer_m - TOL_M, 0.0))
            if not len(p):
                continue
            if q is None:
                msg = f"{len(p)} parcel(s) converted to {sorted(set(new_use[p]))} within {r.buffer_m:g} m of the rule's target"
                out.append(Violation(self.name, r.key(k), msg, tuple(ids[p].tolist())))
            else:
                pairs = [f"{a}~{b}" for a, b in zip(ids[p], ids[q])]
                msg = f"{len(p)} conflicting pair(s) within {r.buffer_m:g} m, e.g. {pairs[:5]}"
                out.append(Violation(self.name, r.key(k), msg, tuple(sorted(set(ids[p].tolist()) | set(ids[q].tolist())))))
        return out

    def _penalties(self, ctx: VerifyContext) -> list[tuple[int, int, float]]:
        """(rule, count, penalty) for every penalty rule, recounted from the output geometry."""
        out = []
        for k, r in enumerate(self.config.rules):
            if r.mode != "penalty":
                continue
            p, q = self._conflicts(ctx, k, r.buffer_m)
            pen = r.weight * (float(ctx.area_ha[p].sum()) if q is None else float(len(p)))
            out.append((k, len(p), pen))
        return out

    def objective_terms(self, ctx: VerifyContext) -> list[dict]:
        rules = self.config.rules
        return [{"name": f"{self.name} {rules[k].key(k)}", "weight": -self._sign() * rules[k].weight,
                 "quantity": pen / rules[k].weight if rules[k].weight else float(count),
                 "unit": "ha" if rules[k].near.uses is None else "pairs", "contribution": -self._sign() * pen}
                for k, count, pen in self._penalties(ctx)]

    def report(self, ctx: VerifyContext) -> dict[str, list[dict]]:
        rows = []
        pens = {k: (c, pen) for k, c, pen in self._penalties(ctx)}
        for k, r in enumerate(self.config.rules):
            if r.mode == "penalty":
                c, pen = pens[k]
                rows.append({"family": self.name, "key": r.key(k), "mode": "penalty", "buffer_m": r.buffer_m,
                             "conflicts": c, "unit": "ha" if r.near.uses is None else "pairs", "penalty": round(pen, 9)})
        return {"conflicts": rows} if rows else {}


FAMILY = AdjacencyConflict
