"""Marxan's score of a plan — Marxan with Zones' or classic Marxan's — from the project arrays alone
(no matrix, no solver).

Marxan with Zones:

    score = cost + connection + penalty                                          (reserve.hpp:896)
    cost       = Σ_i Σ_k c_ik · ZC[k][z_i]
    connection = BLM · ( Σ_i fixed_i + Σ_{(i,j) ∈ bound.dat, i<j} b_ij · ZBC[z_i][z_j] )
    penalty    = Σ_s penalty_s · spf_s · F_s
    F_s = [T>0 ∧ A<T]·(T−A)/T + [O>0 ∧ N<O]·⌊(O−N)/O⌋
          + Σ_z ( [ZT>0 ∧ R<ZT]·(ZT−R)/ZT + [ZO>0 ∧ M<ZO]·⌊(ZO−M)/ZO⌋ )

with A_s = Σ_i a_is·contrib(s, z_i) and N_s its count of positive terms (overall), R_sz = Σ_{i: z_i=z} a_is
and M_sz = #{i: z_i = z, a_is > 0} (per zone, raw amounts). The floors are Marxan's integer division:
an occurrence target is penalized only when nothing is held.

Classic Marxan (Marxan v4 computeReserveValue; ``classic.py`` describes the project):

    score      = cost + connection + penalty
    cost       = Σ_{i reserved} cost_i
    connection = BLM · Σ_{i reserved} ( fixed_i + Σ_{j ~ i, j not reserved} b_ij )   (ConnectionCost2)
               = BLM · ( Σ_{i reserved} fixed_i + Σ_{(i,j)} b_ij · [z_i ≠ z_j] )
                 (CONNECTIVITYIN 1: BLM · (Σ_{i reserved} fixed_i + 2 Σ_{(i,j) both reserved} b_ij))
    penalty    = Σ_s penalty_s · spf_s · F_s
    F_s = [T > A]·(T−A)/T + [O > N]·(O−N)/O, halved when T > 0 and O > 0

with A_s the amount in reserved units and N_s the puvspr rows of reserved units (every row counts,
whatever its amount: SpeciesAmounts). The occurrence fraction is a real division here.

The score says nothing about locks or allowed zones; :func:`plan_violations` checks those separately.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.marxan.arrays import RESERVED, MarxanProject


@dataclass
class Score:
    total: float
    cost: float
    connection: float
    penalty: float
    shortfall: float
    """Σ of amount shortfalls (overall and per zone), in the features' units — informational"""
    features: pd.DataFrame

    def as_dict(self) -> dict:
        out = {"score": self.total, "cost": self.cost, "connection": self.connection, "penalty": self.penalty,
               "shortfall": self.shortfall,
               "targets_missed": int((~self.features["met"]).sum()) if len(self.features) else 0}
        if "misslevel_met" in self.features:
            out["missing_values"] = int((~self.features["misslevel_met"]).sum())
        return out


def cost_of(p: MarxanProject, zone: np.ndarray) -> float:
    return float(p.zone_costs[np.arange(p.n_pu), zone].sum())


def connection_of(p: MarxanProject, zone: np.ndarray) -> float:
    zb = p.zone_bound_cost[zone[p.bound_i], zone[p.bound_j]]
    fixed = p.fixed[p.self_boundary_zones[zone]].sum()
    return float(p.blm * (fixed + (p.bound_b * zb).sum()))


def held(p: MarxanProject, zone: np.ndarray) -> dict[str, np.ndarray]:
    """A and N overall, R and M per zone. Classic occurrences count every puvspr row of a reserved unit."""
    S, Z = p.n_features, p.n_zones
    ez = zone[p.ent_pu]
    contrib = p.contrib[np.arange(len(ez)), ez]
    contrib_amt = p.ent_amount * contrib
    A = np.bincount(p.ent_sp, contrib_amt, S)
    counted = contrib > 0 if p.classic else contrib_amt > 0
    Nocc = np.bincount(p.ent_sp, counted.astype(float), S).astype(np.int64)
    flat = p.ent_sp * Z + ez
    R = np.bincount(flat, p.ent_amount, S * Z).reshape(S, Z)
    M = np.bincount(flat, (p.ent_amount > 0).astype(float), S * Z).reshape(S, Z).astype(np.int64)
    return {"A": A, "N": Nocc, "R": R, "M": M}


def _frac(target, amount):
    return np.where((target > 0) & (amount < target), (target - amount) / np.where(target > 0, target, 1.0), 0.0)


def _occ(target, count):
    return np.where((target > 0) & (count < target), (target - count) // np.where(target > 0, target, 1), 0)


def classic_fraction(p: MarxanProject, A: np.ndarray, N: np.ndarray) -> np.ndarray:
    """Classic F_s: amount and occurrence shortfall fractions, averaged when a feature has both targets."""
    T, O = p.target, p.target_occ
    f = np.where((T > A) & (T != 0), (T - A) / np.where(T != 0, T, 1.0), 0.0)
    f = f + np.where((O > 0) & (O > N), (O - N) / np.where(O > 0, O, 1), 0.0)
    return np.where((T != 0) & (O > 0), f / 2, f)


def evaluate(p: MarxanProject, zone: np.ndarray) -> Score:
    """The score of the plan ``zone`` (zone index per PU)."""
    zone = np.asarray(zone, dtype=np.int64)
    h = held(p, zone)
    if p.classic:
        return _classic_score(p, zone, h)
    f_amount = _frac(p.target, h["A"])
    f_occ = _occ(p.target_occ, h["N"]).astype(float)
    fz_amount = _frac(p.zone_target, h["R"]).sum(axis=1)
    fz_occ = _occ(p.zone_target_occ, h["M"]).astype(float).sum(axis=1)
    F = f_amount + f_occ + fz_amount + fz_occ
    pen = p.penalty * p.spf * F
    short = (np.maximum(p.target - h["A"], 0.0) * (p.target > 0)).sum() + \
        (np.maximum(p.zone_target - h["R"], 0.0) * (p.zone_target > 0)).sum()
    met = ((p.target <= 0) | (h["A"] >= p.target)) & ((p.target_occ <= 0) | (h["N"] >= p.target_occ)) \
        & ((p.zone_target <= 0) | (h["R"] >= p.zone_target)).all(axis=1) \
        & ((p.zone_target_occ <= 0) | (h["M"] >= p.zone_target_occ)).all(axis=1)
    features = pd.DataFrame({
        "feature": p.feature_ids, "name": p.feature_names, "target": p.target, "held": h["A"],
        "target_occ": p.target_occ, "occurrences": h["N"],
        "zone_target_total": p.zone_target.sum(axis=1), "zone_shortfall": (np.maximum(p.zone_target - h["R"], 0) * (p.zone_target > 0)).sum(axis=1),
        "F": F, "penalty_factor": p.penalty, "spf": p.spf, "penalty": pen, "met": met,
    })
    cost, conn = cost_of(p, zone), connection_of(p, zone)
    penalty = float(pen.sum())
    return Score(total=cost + conn + penalty, cost=cost, connection=conn, penalty=penalty, shortfall=float(short),
                 features=features)


def _classic_score(p: MarxanProject, zone: np.ndarray, h: dict) -> Score:
    A, N = h["A"], h["N"]
    F = classic_fraction(p, A, N)
    pen = F * p.penalty * p.spf
    T, O = p.target, p.target_occ
    met = ((T <= 0) | (A >= T)) & ((O <= 0) | (N >= O))
    with np.errstate(divide="ignore", invalid="ignore"):
        misslevel_met = ((T == 0) | (A / T >= p.misslevel)) & ((O == 0) | (N / np.maximum(O, 1) >= p.misslevel))
    features = pd.DataFrame({
        "feature": p.feature_ids, "name": p.feature_names, "target": T, "held": A, "target_occ": O, "occurrences": N,
        "zone_target_total": 0.0, "zone_shortfall": 0.0, "F": F, "penalty_factor": p.penalty, "spf": p.spf,
        "penalty": pen, "met": met, "misslevel_met": misslevel_met})
    cost, conn = cost_of(p, zone), connection_of(p, zone)
    penalty = float(pen.sum())
    short = float(np.where(T > A, T - A, 0.0).sum() + np.where((O > 0) & (O > N), O - N, 0).sum())
    return Score(total=cost + conn + penalty, cost=cost, connection=conn, penalty=penalty, shortfall=short,
                 features=features)


def plan_violations(p: MarxanProject, zone: np.ndarray) -> list[dict]:
    """Locks and allowed-zone sets the plan breaks (the score ignores them; Marxan's solvers never break them).
    A classic project's locks are its status 2 (locked in) and 3 (locked out) units."""
    out = []
    zone = np.asarray(zone, dtype=np.int64)
    if p.classic:
        for st, want, what in ((2, RESERVED, "locked in (status 2) but not reserved"),
                               (3, 1 - RESERVED, "locked out (status 3) but reserved")):
            bad = np.nonzero((p.status == st) & (zone != want))[0]
            if len(bad):
                out.append({"kind": "status", "message": f"{len(bad)} PU(s) {what}",
                            "planning_units": p.pu_ids[bad].tolist()[:20],
                            "detail": [f"PU {p.pu_ids[i]}: {what}" for i in bad[:20]]})
        return out
    locked = p.lock >= 0
    bad = np.nonzero(locked & (zone != p.lock))[0]
    if len(bad):
        out.append({"kind": "pulock", "message": f"{len(bad)} locked PU(s) not in their locked zone",
                    "planning_units": p.pu_ids[bad].tolist()[:20],
                    "detail": [f"PU {p.pu_ids[i]}: zone {p.zone_ids[zone[i]]}, locked to {p.zone_ids[p.lock[i]]}" for i in bad[:20]]})
    notallowed = ~p.puzone[np.arange(p.n_pu), zone] & ~locked
    bad = np.nonzero(notallowed)[0]
    if len(bad):
        out.append({"kind": "puzone", "message": f"{len(bad)} PU(s) in a zone puzone.dat does not allow",
                    "planning_units": p.pu_ids[bad].tolist()[:20],
                    "detail": [f"PU {p.pu_ids[i]}: zone {p.zone_ids[zone[i]]}, allowed {p.zone_ids[p.puzone[i]].tolist()}" for i in bad[:20]]})
    return out


def missed_targets(score: Score) -> list[dict]:
    f = score.features
    return [{"feature": int(r.feature), "name": r.name, "target": float(r.target), "held": float(r.held),
             "target_occ": int(r.target_occ), "occurrences": int(r.occurrences),
             "zone_shortfall": float(r.zone_shortfall)} for r in f.loc[~f["met"]].itertuples()]
