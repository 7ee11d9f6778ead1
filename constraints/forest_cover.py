"""forest_cover — forest cover of at least a given share of the natural area after conversion.

Forest codes are those marked ``forest: true`` in the scenario's ``land_uses`` (e.g. RSX, RPH, RDD);
no code is hard-wired. Cao Bằng's plan keeps forest cover at ≥ 60 % of the natural area.

Formulation: with F the forest codes, N the natural area (``natural_area_ha``, default the area of
the parcel layer) and s the minimum share:

    Σ_p area_p · Σ_{u ∈ F} x[p, u] ≥ s · N                                   (key ``min_share``)

where x[p, u] includes the keep column, so forest that stays forest counts, and a conversion *to* a
forest code (afforestation, if it is in ``allocate``) counts too.

With ``max_loss_ha`` = L, the gross loss of existing forest is capped as well:

    Σ_{p : current_use(p) ∈ F} area_p · Σ_{u ∉ F} x[p, u] ≤ L                 (key ``max_loss``)

(gross, not net: afforestation elsewhere does not buy the right to clear more forest; turning one
forest code into another is not a loss). Both rows are soft-able (unit ha).

Caps on converting rice land live in ``land_balance.caps`` (one place for non-forest caps).

Verify recomputes the forest area after and before conversion from ``new_use``/``current_use`` and
the output geometry, and the natural area from the plan's geometry when it is not given.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from optimizer.engine.errors import InputError

from constraints._api import CompileContext, Family, FamilyConfig, Violation, VerifyContext, tolerance


class ForestCoverConfig(FamilyConfig):
    min_share: float = Field(ge=0, le=1, description="forest area after conversion ≥ min_share × natural area, "
                             "as a fraction (0.60 for 60 %)")
    natural_area_ha: float | None = Field(None, gt=0, description="the natural area the share refers to (ha); "
                                          "default: the total area of the parcel layer")
    max_loss_ha: float | None = Field(None, ge=0, description="largest area of existing forest converted to a non-forest "
                                      "use (ha); None: no cap")
    source: str | None = Field(None, description="the plan's wording this constraint encodes")


class ForestCover(Family):
    name = "forest_cover"
    Config = ForestCoverConfig
    soft_able = True

    def _forest_codes(self) -> list[str]:
        codes = [c for c, lu in self.loaded.scenario.land_uses.items() if lu.forest]
        if not codes:
            raise InputError(self.loaded.label, "land_uses", f"no land-use code is marked forest (needed by {self.name})",
                             "mark the forest codes with `forest: true` in land_uses, e.g. RSX, RPH, RDD")
        return codes

    def _natural_area(self, total_area: float) -> float:
        return self.config.natural_area_ha if self.config.natural_area_ha is not None else total_area

    def prepare(self, instance) -> None:
        self._forest_codes()

    def build(self, ctx: CompileContext, m) -> None:
        inst = ctx.instance
        cols = ctx.columns
        forest = self._forest_codes()
        parcel = cols["parcel"].to_numpy()
        use = cols["use"].to_numpy()
        keep = cols["keep"].to_numpy(dtype=bool)
        area = inst.area_ha[parcel]
        use_forest = np.isin(use, forest)
        keys, lo, hi, rows, colidx = ["min_share"], [self.config.min_share * self._natural_area(float(inst.area_ha.sum()))], [np.inf], [], []
        idx = np.nonzero(use_forest)[0]
        rows.append(np.zeros(len(idx), dtype=np.int64))
        colidx.append(idx)
        if self.config.max_loss_ha is not None:
            idx = np.nonzero(~keep & ~use_forest & np.isin(inst.current_use[parcel], forest))[0]
            rows.append(np.ones(len(idx), dtype=np.int64))
            colidx.append(idx)
            keys.append("max_loss")
            lo.append(-np.inf)
            hi.append(self.config.max_loss_ha)
        c = np.concatenate(colidx)
        m.add_rows(self.name, keys, lo, hi, row=np.concatenate(rows), col=c, coef=area[c], soft=True, unit="ha")

    def figures(self, ctx: VerifyContext) -> dict:
        forest = self._forest_codes()
        alloc = ctx.allocation
        after = alloc["new_use"].isin(forest).to_numpy()
        before = alloc["current_use"].isin(forest).to_numpy()
        natural = self._natural_area(float(ctx.area_ha.sum()))
        after_ha, before_ha = float(ctx.area_ha[after].sum()), float(ctx.area_ha[before].sum())
        return {"before_ha": before_ha, "after_ha": after_ha, "natural_area_ha": natural,
                "required_ha": self.config.min_share * natural, "loss_ha": float(ctx.area_ha[before & ~after].sum()),
                "lost": before & ~after}

    def verify(self, ctx: VerifyContext) -> list[Violation]:
        f = self.figures(ctx)
        cfg = self.config
        out = []
        if f["after_ha"] < f["required_ha"] - tolerance(f["required_ha"]):
            out.append(Violation(self.name, "min_share",
                                 f"forest after conversion {f['after_ha']:.4f} ha = {f['after_ha'] / f['natural_area_ha']:.4%} "
                                 f"of {f['natural_area_ha']} ha, below min_share {cfg.min_share:.2%} ({f['required_ha']:.4f} ha)"))
        if cfg.max_loss_ha is not None and f["loss_ha"] > cfg.max_loss_ha + tolerance(cfg.max_loss_ha):
            out.append(Violation(self.name, "max_loss", f"{f['loss_ha']:.4f} ha of forest converted to non-forest uses, "
                                 f"above max_loss_ha = {cfg.max_loss_ha} ha",
                                 tuple(ctx.allocation.loc[f["lost"], "parcel_id"].tolist())))
        return out

    def report(self, ctx: VerifyContext) -> dict[str, list[dict]]:
        f = self.figures(ctx)
        cfg = self.config
        nat = f["natural_area_ha"]
        return {"forest_cover": [{
            "before_ha": round(f["before_ha"], 6), "after_ha": round(f["after_ha"], 6),
            "share_before": round(f["before_ha"] / nat, 8), "share_after": round(f["after_ha"] / nat, 8),
            "min_share": cfg.min_share, "natural_area_ha": nat,
            "natural_area_source": "config" if cfg.natural_area_ha is not None else "parcel layer",
            "required_ha": round(f["required_ha"], 6), "loss_ha": round(f["loss_ha"], 6), "max_loss_ha": cfg.max_loss_ha,
            "at_min": abs(f["after_ha"] - f["required_ha"]) <= tolerance(f["required_ha"]),
            "ok": f["after_ha"] >= f["required_ha"] - tolerance(f["required_ha"])
            and (cfg.max_loss_ha is None or f["loss_ha"] <= cfg.max_loss_ha + tolerance(cfg.max_loss_ha)),
            "source": cfg.source}]}


FAMILY = ForestCover
