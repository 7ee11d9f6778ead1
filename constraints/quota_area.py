"""quota_area — area bands per use, optionally per region.

Formulation: for quota q with use u_q, region R_q and band [lo_q, hi_q] (ha):

    lo_q ≤ Σ_{p ∈ R_q} area_p · x[p, u_q] ≤ hi_q

where x[p, u] counts both conversions to u and parcels that keep u as their current use, so a quota
is the planned total, as the plan's figures are. The rows are soft-able: the infeasibility diagnosis
may relax them with penalized slacks to say which quotas conflict and by how many hectares.

Reachability (before solving): per quota, the largest area its columns can reach (every eligible
parcel converted) and the smallest they must (parcels whose only column counts towards it); a band
outside [smallest, largest] is unreachable, named with both numbers.
"""

from __future__ import annotations

import numpy as np

from optimizer.engine.errors import InputError
from optimizer.engine.scenario import LoadedScenario, Quota

from constraints._api import (CompileContext, Family, FamilyConfig, ReachabilityContext, Violation, VerifyContext,
                             tolerance)


class QuotaAreaConfig(FamilyConfig):
    quotas: dict[str, Quota]


class QuotaArea(Family):
    name = "quota_area"
    Config = QuotaAreaConfig
    soft_able = True

    @classmethod
    def raw_config(cls, loaded: LoadedScenario):
        quotas = loaded.scenario.quotas
        return {"quotas": {k: q.model_dump() for k, q in quotas.items()}} if quotas else None

    def _use(self, key: str, q: Quota) -> str:
        return q.use or key

    def _region_mask(self, q: Quota, values: np.ndarray) -> np.ndarray:
        return np.isin(values, q.region.values)

    def prepare(self, instance) -> None:
        total = float(instance.area_ha.sum())
        for key, q in self.config.quotas.items():
            if q.lo is not None and q.lo > total * (1 + 1e-9):
                raise InputError(self.loaded.label, f"quotas.{key}.lo",
                                 f"{q.lo:,.2f} ha is more than the whole parcel layer ({total:,.2f} ha)",
                                 "check the units (ha) and the figure")
            if q.region is not None:
                present = set(instance.text(q.region.field, f"quota_area (quotas.{key}.region)"))
                missing = [v for v in q.region.values if v not in present]
                if missing:
                    raise InputError(self.loaded.label, f"quotas.{key}.region.values",
                                     f"{missing} never occur in field {q.region.field!r} of the parcel layer",
                                     f"use values that occur, e.g. {sorted(present)[:5]}")

    def build(self, ctx: CompileContext, m) -> None:
        cols = ctx.columns
        inst = ctx.instance
        parcel = cols["parcel"].to_numpy()
        use = cols["use"].to_numpy()
        keys, lo, hi, rows, colidx, coef = [], [], [], [], [], []
        for i, (key, q) in enumerate(self.config.quotas.items()):
            sel = use == self._use(key, q)
            if q.region is not None:
                sel = sel & self._region_mask(q, inst.text(q.region.field, "quota_area")[parcel])
            idx = np.nonzero(sel)[0]
            keys.append(key)
            lo.append(np.nan if q.lo is None else q.lo)
            hi.append(np.nan if q.hi is None else q.hi)
            rows.append(np.full(len(idx), i))
            colidx.append(idx)
            coef.append(inst.area_ha[parcel[idx]])
        m.add_rows(self.name, keys, lo, hi, row=np.concatenate(rows), col=np.concatenate(colidx),
                   coef=np.concatenate(coef), soft=True, unit="ha")

    def reachability(self, ctx: ReachabilityContext) -> list[dict]:
        rows = ctx.model.rows
        out = []
        for i in np.nonzero((rows["family"] == self.name).to_numpy())[0]:
            idx, coef = ctx.assignment_terms(i)
            max_area = float(coef.sum())
            min_area = float(coef[ctx.forced[idx]].sum())
            lo, hi = rows["lo"].iat[i], rows["hi"].iat[i]
            item = {"family": self.name, "key": rows["key"].iat[i], "lo": None if not np.isfinite(lo) else float(lo),
                    "hi": None if not np.isfinite(hi) else float(hi), "max_achievable": max_area,
                    "min_forced": min_area, "reachable": True, "shortfall": 0.0}
            if np.isfinite(lo) and max_area < lo - 1e-9:
                item.update(reachable=False, required=float(lo), achievable=max_area, shortfall=float(lo - max_area))
            elif np.isfinite(hi) and min_area > hi + 1e-9:
                item.update(reachable=False, required=float(hi), achievable=min_area, shortfall=float(min_area - hi))
            out.append(item)
        return out

    def achieved(self, ctx: VerifyContext) -> dict[str, float]:
        alloc = ctx.allocation
        out = {}
        for key, q in self.config.quotas.items():
            sel = (alloc["new_use"] == self._use(key, q)).to_numpy()
            if q.region is not None:
                sel = sel & self._region_mask(q, alloc[q.region.field].astype(str).to_numpy())
            out[key] = float(ctx.area_ha[sel].sum())
        return out

    def verify(self, ctx: VerifyContext) -> list[Violation]:
        out = []
        for key, area in self.achieved(ctx).items():
            q = self.config.quotas[key]
            if q.lo is not None and area < q.lo - tolerance(q.lo):
                out.append(Violation(self.name, key, f"{area:.4f} ha is below lo = {q.lo} ha"))
            if q.hi is not None and area > q.hi + tolerance(q.hi):
                out.append(Violation(self.name, key, f"{area:.4f} ha is above hi = {q.hi} ha"))
        return out

    def report(self, ctx: VerifyContext) -> dict[str, list[dict]]:
        rows = []
        for key, area in self.achieved(ctx).items():
            q = self.config.quotas[key]
            rows.append({"family": self.name, "key": key, "use": self._use(key, q),
                         "region": q.region.model_dump() if q.region else None,
                         "lo": q.lo, "hi": q.hi, "achieved": round(area, 6),
                         "at_lo": q.lo is not None and abs(area - q.lo) <= tolerance(q.lo),
                         "at_hi": q.hi is not None and abs(area - q.hi) <= tolerance(q.hi),
                         "source": q.source})
        return {"quotas": rows}


FAMILY = QuotaArea
