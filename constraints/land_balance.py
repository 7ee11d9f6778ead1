"""land_balance — the province's land balance after conversion, by land-use group.

Every land-use code belongs to one group (``agricultural``, ``non_agricultural``, ``unused``), read
from the scenario's ``land_uses[code].group``; no code is hard-wired. The plan states its land
balance per group (Cao Bằng 2030: agricultural ≥ 630,316 ha, non-agricultural ≤ 38,346 ha,
unused 1,377 ha), and this family holds the allocation to those bands.

Formulation: for every group g with a band [lo_g, hi_g] (ha) and the tolerance t (ha):

    lo_g − t ≤ Σ_p area_p · Σ_{u : group(u) = g} x[p, u] ≤ hi_g + t

where x[p, u] includes the keep column (a parcel that keeps its current use counts in that use's
group), so the row is the group's total area after conversion, as the plan's figures are. One row
per configured group; the rows are soft-able (unit ha).

Conversion caps (``caps``) limit how much land of given current uses may be converted away — the
plan's protection of rice land lives here (``caps: {rice: {codes: [LUA], max_converted_ha: 50}}``);
forest loss is capped by ``forest_cover.max_loss_ha``. For cap c with codes C_c:

    Σ_{p : current_use(p) ∈ C_c} area_p · Σ_{u ≠ current_use(p)} x[p, u] ≤ max_c

(conversion columns only, so rice land turned into any other use, agricultural or not, counts).

The plan's group figures need not add up to the natural area: Cao Bằng's 630,316 + 38,346 + 1,377 =
670,039 ha against a natural area of 670,030 ha, 9 ha apart. When ``natural_area_ha`` is given, the
report states the sum of the groups' reference figures, the natural area and the difference
(``reference_total``, ``natural_area_ha``, ``difference_ha``), together with the area of the parcel
layer, so the mismatch is visible and never silently absorbed; ``tolerance_ha`` is the explicit
place to absorb it. A group's figure may be given without a band (``unused: {figure: 1377}``): it
adds no row but completes the balance; with a group missing, ``difference_ha`` is null and a note
says which figure to add, rather than reporting a partial sum as a discrepancy.

Verify recomputes each group's area from the output geometry and the group of each parcel's
``new_use``, and each cap from ``current_use``/``changed``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from optimizer.engine.errors import InputError
from optimizer.engine.scenario import Code

from constraints._api import CompileContext, Family, FamilyConfig, Violation, VerifyContext, tolerance

GROUPS = ("agricultural", "non_agricultural", "unused")
Group = Literal["agricultural", "non_agricultural", "unused"]


class GroupBand(FamilyConfig):
    """The area band of one land-use group after conversion (ha)."""

    lo: float | None = Field(None, ge=0, description="the group's area after conversion is at least this (ha)")
    hi: float | None = Field(None, ge=0, description="the group's area after conversion is at most this (ha)")
    figure: float | None = Field(None, ge=0, description="the plan's stated figure for this group (ha), used for the "
                                 "balance check against natural_area_ha; default: the single bound given, or the "
                                 "band's midpoint when both are given")
    source: str | None = Field(None, description="the plan's wording this band encodes")

    @model_validator(mode="after")
    def _band(self) -> "GroupBand":
        if self.lo is None and self.hi is None and self.figure is None:
            raise ValueError("a group needs lo, hi or both (a band), or figure alone (a reference figure, no row)")
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise ValueError(f"lo ({self.lo}) is greater than hi ({self.hi}); swap them or widen the band")
        return self

    @property
    def is_band(self) -> bool:
        return self.lo is not None or self.hi is not None

    @property
    def reference(self) -> float:
        if self.figure is not None:
            return self.figure
        if self.lo is not None and self.hi is not None:
            return (self.lo + self.hi) / 2
        return self.lo if self.lo is not None else self.hi


class ConversionCap(FamilyConfig):
    """At most ``max_converted_ha`` of land currently in one of ``codes`` may be converted to another use."""

    codes: list[Code] = Field(min_length=1, description="current land-use codes the cap protects, e.g. [LUA]")
    max_converted_ha: float = Field(ge=0, description="largest area of such land converted to any other use (ha)")
    source: str | None = Field(None, description="the plan's wording this cap encodes")


class LandBalanceConfig(FamilyConfig):
    groups: dict[Group, GroupBand] = Field(default_factory=dict, description="area band per land-use group")
    natural_area_ha: float | None = Field(None, gt=0, description="the province's natural area (ha) as the plan states it; "
                                          "when given, the report compares it with the sum of the groups' figures")
    tolerance_ha: float = Field(0.0, ge=0, description="every group band is widened by this much on both sides (ha), "
                                "e.g. to absorb the rounding mismatch between the plan's figures and its natural area")
    caps: dict[str, ConversionCap] = Field(default_factory=dict, description="caps on converting land of given current uses")

    @model_validator(mode="after")
    def _something(self) -> "LandBalanceConfig":
        if not self.groups and not self.caps:
            raise ValueError("give at least one group band (groups) or one conversion cap (caps)")
        return self


class LandBalance(Family):
    name = "land_balance"
    Config = LandBalanceConfig
    soft_able = True

    # -- helpers shared by build, verify and report (no state from prepare) -----------------------
    def _group_of(self) -> dict[str, str]:
        return {code: lu.group for code, lu in self.loaded.scenario.land_uses.items()}

    def _band(self, g: str) -> tuple[float, float]:
        b = self.config.groups[g]
        t = self.config.tolerance_ha
        return (-np.inf if b.lo is None else max(0.0, b.lo - t)), (np.inf if b.hi is None else b.hi + t)

    def _check_codes(self) -> None:
        known = self.loaded.scenario.land_uses
        for key, cap in self.config.caps.items():
            unknown = [c for c in cap.codes if c not in known]
            if unknown:
                raise InputError(self.loaded.label, f"constraints.{self.name}.caps.{key}.codes",
                                 f"unknown land-use code(s) {unknown}", f"use codes from land_uses ({', '.join(sorted(known))})")

    def prepare(self, instance) -> None:
        self._check_codes()

    def build(self, ctx: CompileContext, m) -> None:
        inst = ctx.instance
        cols = ctx.columns
        parcel = cols["parcel"].to_numpy()
        use = cols["use"].to_numpy()
        keep = cols["keep"].to_numpy(dtype=bool)
        area = inst.area_ha[parcel]
        group_of = self._group_of()
        col_group = pd.Series(use, dtype=object).map(group_of).to_numpy()
        keys, lo, hi, rows, colidx = [], [], [], [], []
        for g in GROUPS:
            if g not in self.config.groups or not self.config.groups[g].is_band:
                continue
            idx = np.nonzero(col_group == g)[0]
            a, b = self._band(g)
            rows.append(np.full(len(idx), len(keys)))
            colidx.append(idx)
            keys.append(g)
            lo.append(a)
            hi.append(b)
        for key, cap in self.config.caps.items():
            idx = np.nonzero(~keep & np.isin(inst.current_use[parcel], cap.codes))[0]
            rows.append(np.full(len(idx), len(keys)))
            colidx.append(idx)
            keys.append(f"cap:{key}")
            lo.append(-np.inf)
            hi.append(cap.max_converted_ha)
        if not keys:
            return
        colidx_all = np.concatenate(colidx)
        m.add_rows(self.name, keys, lo, hi, row=np.concatenate(rows), col=colidx_all, coef=area[colidx_all],
                   soft=True, unit="ha")

    # -- independent recomputation from the plan ------------------------------------------------
    def _areas(self, ctx: VerifyContext) -> tuple[dict[str, float], dict[str, float]]:
        """(after, before) area per group, from new_use / current_use and the output geometry."""
        group_of = self._group_of()
        alloc = ctx.allocation
        after = alloc["new_use"].map(group_of).to_numpy()
        before = alloc["current_use"].map(group_of).to_numpy()
        return ({g: float(ctx.area_ha[after == g].sum()) for g in GROUPS},
                {g: float(ctx.area_ha[before == g].sum()) for g in GROUPS})

    def _converted(self, ctx: VerifyContext) -> dict[str, float]:
        alloc = ctx.allocation
        changed = (alloc["new_use"].to_numpy() != alloc["current_use"].to_numpy())
        return {key: float(ctx.area_ha[changed & alloc["current_use"].isin(cap.codes).to_numpy()].sum())
                for key, cap in self.config.caps.items()}

    def verify(self, ctx: VerifyContext) -> list[Violation]:
        out = []
        after, _ = self._areas(ctx)
        for g, band in self.config.groups.items():
            if not band.is_band:
                continue
            lo, hi = self._band(g)
            area = after[g]
            if np.isfinite(lo) and area < lo - tolerance(lo):
                out.append(Violation(self.name, g, f"{area:.4f} ha of {g} land is below lo = {lo} ha"
                                     + (f" ({band.lo} − tolerance {self.config.tolerance_ha})" if self.config.tolerance_ha else "")))
            if np.isfinite(hi) and area > hi + tolerance(hi):
                out.append(Violation(self.name, g, f"{area:.4f} ha of {g} land is above hi = {hi} ha"
                                     + (f" ({band.hi} + tolerance {self.config.tolerance_ha})" if self.config.tolerance_ha else "")))
        alloc = ctx.allocation
        for key, conv in self._converted(ctx).items():
            cap = self.config.caps[key]
            if conv > cap.max_converted_ha + tolerance(cap.max_converted_ha):
                sel = (alloc["new_use"] != alloc["current_use"]) & alloc["current_use"].isin(cap.codes)
                out.append(Violation(self.name, f"cap:{key}",
                                     f"{conv:.4f} ha of {cap.codes} converted, above max_converted_ha = {cap.max_converted_ha} ha",
                                     tuple(alloc.loc[sel, "parcel_id"].tolist())))
        return out

    def report(self, ctx: VerifyContext) -> dict[str, list[dict]]:
        cfg = self.config
        after, before = self._areas(ctx)
        rows = []
        for g in GROUPS:
            band = cfg.groups.get(g)
            lo, hi = self._band(g) if band and band.is_band else (-np.inf, np.inf)
            rows.append({"group": g, "lo": band.lo if band else None, "hi": band.hi if band else None,
                         "tolerance_ha": cfg.tolerance_ha, "achieved": round(after[g], 6), "before": round(before[g], 6),
                         "reference": band.reference if band else None,
                         "at_lo": bool(np.isfinite(lo) and abs(after[g] - lo) <= tolerance(lo)),
                         "at_hi": bool(np.isfinite(hi) and abs(after[g] - hi) <= tolerance(hi)),
                         "source": band.source if band else None})
        parcel_total = float(ctx.area_ha.sum())
        total = {"group": "total", "lo": None, "hi": None, "tolerance_ha": cfg.tolerance_ha,
                 "achieved": round(sum(after.values()), 6), "before": round(sum(before.values()), 6),
                 "parcel_area_ha": round(parcel_total, 6)}
        if cfg.natural_area_ha is not None:
            have = [g for g in GROUPS if g in cfg.groups]
            missing = [g for g in GROUPS if g not in cfg.groups]
            reference_total = float(sum(cfg.groups[g].reference for g in have))
            total.update({
                "reference_total": round(reference_total, 6),
                "reference_groups": have,
                "natural_area_ha": cfg.natural_area_ha,
                # only a complete balance can be compared with the natural area
                "difference_ha": None if missing else round(reference_total - cfg.natural_area_ha, 6),
                "parcel_area_difference_ha": round(parcel_total - cfg.natural_area_ha, 6),
            })
            if missing:
                total["note"] = (f"no figure for {', '.join(missing)}: give groups.<group>.figure (a reference figure "
                                 "without a band) to compare the plan's balance with the natural area")
        rows.append(total)
        out = {"land_balance": rows}
        if cfg.caps:
            conv = self._converted(ctx)
            out["land_balance_caps"] = [{"key": key, "codes": list(cap.codes), "max_converted_ha": cap.max_converted_ha,
                                         "converted_ha": round(conv[key], 6),
                                         "ok": conv[key] <= cap.max_converted_ha + tolerance(cap.max_converted_ha),
                                         "source": cap.source} for key, cap in cfg.caps.items()]
        return out


FAMILY = LandBalance
