"""Synthetic current land use (ordered, area-calibrated rules) and the suitability fields derived from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from instances.cao_bang.stages.constants import FOREST_CODES, FOREST_SHARE, RPH_SHARE_OF_FOREST, TARGET_HA


@dataclass(frozen=True)
class UseRule:
    code: str
    formula: str  # lower score = assigned first
    score: Callable[[pd.DataFrame], np.ndarray] | None
    built: bool = False  # built-up uses stay out of the nature strict zones


def _urban_dist(f):
    return np.minimum(f.d_city_km, f.d_seat_town_km / 0.35)


LAND_USE_RULES = [
    UseRule("ODT", "min(d_city, d_seat_or_town/0.35) + slope/40", lambda f: _urban_dist(f) + f.slope_pct / 40, True),
    UseRule("TMD", "min(d_city, d_gate/0.6, d_seat/0.4) + slope/40",
            lambda f: np.minimum.reduce([f.d_city_km, f.d_gate_km / 0.6, f.d_seat_km / 0.4]) + f.slope_pct / 40, True),
    UseRule("SKC", "d_seat_or_town + slope/30", lambda f: f.d_seat_town_km + f.slope_pct / 30, True),
    UseRule("ONT", "d_commune_seat + slope/20 + 0.3*n1",
            lambda f: f.d_commune_km + f.slope_pct / 20 + 0.3 * f.n1, True),
    UseRule("DGT", "d_road_skeleton + slope/100", lambda f: f.d_road_km + f.slope_pct / 100, True),
    UseRule("SON", "min(d_river_skeleton, |streams-0.5|/0.025)  (streams: the 0.5 contour of a smooth "
            "random field, i.e. meandering synthetic stream lines)",
            lambda f: np.minimum(f.d_river_km, np.abs(f.streams - 0.5) / 0.025), True),
    UseRule("RDD", "every remaining parcel whose centroid lies in a nature strict zone (not the river)", None),
    UseRule("RPH", "-(slope + 10*n2)", lambda f: -(f.slope_pct + 10 * f.n2)),
    UseRule("RSX", "-(slope + 15*n2)", lambda f: -(f.slope_pct + 15 * f.n2)),
    UseRule("DCS", "-(slope + 10*n3)", lambda f: -(f.slope_pct + 10 * f.n3)),
    UseRule("BCS", "slope/5 - d_commune_seat", lambda f: f.slope_pct / 5 - f.d_commune_km),
    UseRule("LUA", "(elevation-150)/200 + slope/8", lambda f: (f.elevation_m - 150) / 200 + f.slope_pct / 8),
    UseRule("NTS", "(elevation-150)/200 + slope/8 + d_river_skeleton/5",
            lambda f: (f.elevation_m - 150) / 200 + f.slope_pct / 8 + f.d_river_km / 5),
    UseRule("CLN", "|slope-15|/5 + n1", lambda f: np.abs(f.slope_pct - 15) / 5 + f.n1),
    UseRule("HNK", "all remaining parcels", None),
]


def _target(code, total_ha, assigned):
    if code == "RPH":
        return RPH_SHARE_OF_FOREST * FOREST_SHARE * total_ha
    if code == "RSX":  # fill the forest up to FOREST_SHARE of the area
        return FOREST_SHARE * total_ha - assigned.get("RDD", 0.0) - assigned.get("RPH", 0.0)
    return TARGET_HA[code]


def assign_land_use(f: pd.DataFrame, area_ha: np.ndarray, thresholds: dict | None = None):
    """Current land use by ordered, area-calibrated rules (see LAND_USE_RULES).

    Each rule takes the still-unassigned eligible parcels whose score is ≤ a threshold. With
    ``thresholds=None`` each threshold is calibrated so the class area is as close as possible to
    its target (parcels taken in score order, cumulative area); otherwise the given thresholds are
    applied (the BEZ dataset reuses the province_10ha thresholds so both agree where they overlap).
    """
    n = len(f)
    codes = np.full(n, "", dtype=object)
    free = np.ones(n, bool)
    nature = f.in_nature_zone.to_numpy()
    used, assigned = {}, {}
    for rule in LAND_USE_RULES:
        if rule.code == "RDD":
            sel = free & nature
        elif rule.score is None:
            sel = free.copy()
        else:
            elig = free & ~nature if rule.built else free.copy()
            score = np.asarray(rule.score(f), dtype=float)
            if thresholds is None:
                target = _target(rule.code, area_ha.sum(), assigned)
                idx = np.flatnonzero(elig)
                order = idx[np.argsort(score[idx], kind="stable")]
                cum = np.cumsum(area_ha[order])
                if target <= 0 or len(order) == 0:
                    t = -np.inf
                else:
                    k = int(np.argmin(np.abs(cum - target)))
                    t = float(score[order[k]])
            else:
                t = thresholds[rule.code]
            used[rule.code] = t
            sel = elig & (score <= t)
        codes[sel] = rule.code
        free &= ~sel
        assigned[rule.code] = float(area_ha[sel].sum())
    return codes.astype(str), used


def _flat(slope, s0):
    return np.clip(1.0 - slope / s0, 0.0, 1.0)


def _near(d_km, scale_km):
    return np.exp(-d_km / scale_km)


# Use multipliers: how readily a parcel's current use gives way to the new use (0 = never).
U_DEVELOP = {"RDD": 0.0, "SON": 0.0, "RPH": 0.2, "DGT": 0.3, "ODT": 0.4, "ONT": 0.6, "LUA": 0.7}
U_RESETTLE = {"RDD": 0.0, "SON": 0.0, "RPH": 0.2, "DGT": 0.3, "ODT": 0.5, "LUA": 0.7, "SKC": 0.8, "TMD": 0.8,
              "ONT": 0.9}
U_TOURISM = {"SKC": 0.2, "DGT": 0.3, "SON": 0.6, "RDD": 0.8}

SUITABILITY_FORMULAS = {
    "suit_industry": "100 * flat(slope,25) * (0.55*near(dist_gate,25) + 0.45*near(dist_city,30)) * U_develop[use]",
    "suit_cluster": "100 * flat(slope,30) * (0.7*near(dist_seat,10) + 0.3*near(dist_city,40)) * U_develop[use]",
    "suit_logistics": "100 * flat(slope,15) * (0.8*near(dist_gate,8) + 0.2*near(dist_city,40)) * U_develop[use]",
    "suit_tourism": "100 * (0.55*near(dist_tourism,12) + 0.25*min(slope/40,1) + 0.2*is_forest) * U_tourism[use]",
    "suit_resettlement": "100 * flat(slope,20) * (0.5*near(dist_seat,8) + 0.5*near(dist_commune,3)) * U_resettle[use]",
    "_definitions": ("flat(s,s0) = clip(1 - s/s0, 0, 1); near(d,L) = exp(-d/L) with d, L in km; "
                     f"U_develop = {U_DEVELOP}; U_resettle = {U_RESETTLE}; U_tourism = {U_TOURISM}; "
                     "uses not listed have multiplier 1; results clipped to 0..100, rounded to 0.01"),
}


def suitability(f: pd.DataFrame, use: np.ndarray) -> dict[str, np.ndarray]:
    s = f.slope_pct.to_numpy()
    s_use = pd.Series(use)

    def mult(table):
        return s_use.map(table).fillna(1.0).to_numpy()

    dev, res, tour = mult(U_DEVELOP), mult(U_RESETTLE), mult(U_TOURISM)
    forest = np.isin(use, FOREST_CODES).astype(float)
    out = {
        "suit_industry": 100 * _flat(s, 25) * (0.55 * _near(f.d_gate_km, 25) + 0.45 * _near(f.d_city_km, 30)) * dev,
        "suit_cluster": 100 * _flat(s, 30) * (0.7 * _near(f.d_seat_km, 10) + 0.3 * _near(f.d_city_km, 40)) * dev,
        "suit_logistics": 100 * _flat(s, 15) * (0.8 * _near(f.d_gate_km, 8) + 0.2 * _near(f.d_city_km, 40)) * dev,
        "suit_tourism": 100 * (0.55 * _near(f.d_tourism_km, 12) + 0.25 * np.minimum(s / 40, 1) + 0.2 * forest) * tour,
        "suit_resettlement": 100 * _flat(s, 20) * (0.5 * _near(f.d_seat_km, 8) + 0.5 * _near(f.d_commune_km, 3)) * res,
    }
    return {k: np.round(np.clip(np.asarray(v, dtype=float), 0, 100), 2) for k, v in out.items()}
