"""A Marxan project — Marxan with Zones or classic Marxan — as plain numpy arrays.

Kept apart from the readers so the zones reader (``reader``) and the classic reader (``classic``)
build the same object, and the score, the MIP and the writers read one definition.

A classic project (one "reserve" decision per planning unit) is held as two zones: index 0
"available" (not reserved) and index 1 "reserved", with zone ids 0 and 1 — the values of Marxan's
``solution`` column. Its cost counts in the reserved zone only, a boundary between units in different
zones costs its length (ZBC = 1 off the diagonal), each unit's self-boundary (bound.dat rows i,i)
counts only when the unit is reserved, and features are held only in the reserved zone
(contributions 0 and 1). What differs from Marxan with Zones' score beyond that (the classic
shortfall fractions, occurrences counted per puvspr row) is keyed on :attr:`MarxanProject.flavour`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from optimizer.marxan.tables import token

FLAVOURS = ("zones", "classic")
AVAILABLE, RESERVED = 0, 1
"""zone indices of a classic project"""


@dataclass(frozen=True, eq=False)
class MarxanProject:
    """A Marxan project as arrays. PU index i, zone index z, feature index s, cost index k
    follow the order of pu.dat, zones.dat, spec.dat and costs.dat."""

    input_dat: Path
    input_dir: Path
    files: dict[str, Path]
    name: str
    blm: float
    pu_ids: np.ndarray                 # (N,) int
    cost_ids: np.ndarray               # (K,) int, 1..K
    cost_names: tuple[str, ...]
    costs: np.ndarray                  # (N, K)
    zone_ids: np.ndarray               # (Z,) int
    zone_names: tuple[str, ...]
    zone_cost: np.ndarray              # (K, Z) multipliers ZC
    feature_ids: np.ndarray            # (S,) int
    feature_names: tuple[str, ...]
    target: np.ndarray                 # (S,) overall amount target (after prop)
    target_occ: np.ndarray             # (S,) int overall occurrence target
    spf: np.ndarray                    # (S,)
    ent_pu: np.ndarray                 # (E,) puvspr entries, sorted by (pu, feature)
    ent_sp: np.ndarray                 # (E,)
    ent_amount: np.ndarray             # (E,)
    contrib: np.ndarray                # (E, Z) contribution fraction of entry e in zone z
    contrib_kind: str                  # default | zonecontrib | zonecontrib2 | zonecontrib3 | classic
    contrib_table: np.ndarray | None   # (S, Z) for default / zonecontrib / zonecontrib2 / classic
    zone_target: np.ndarray            # (S, Z) amount targets per zone (raw amounts)
    zone_target_occ: np.ndarray        # (S, Z) int occurrence targets per zone
    bound_i: np.ndarray                # (B,) pairs i < j
    bound_j: np.ndarray
    bound_b: np.ndarray
    fixed: np.ndarray                  # (N,) self-boundary (bound.dat rows i,i)
    zone_bound_cost: np.ndarray        # (Z, Z) symmetric ZBC
    zone_bound_given: bool
    lock: np.ndarray                   # (N,) zone index or −1
    puzone: np.ndarray                 # (N, Z) bool: zones puzone.dat allows (all True if unlisted)
    penalty: np.ndarray                # (S,) feature penalties (PENALTYNAME or Marxan's estimate)
    penalty_source: str                # file | estimated
    warnings: tuple[str, ...] = field(default=())
    flavour: str = "zones"
    """zones (Marxan with Zones) or classic (one reserve decision per unit)"""
    status: np.ndarray | None = None
    """classic: pu.dat ``status`` per unit — 0 free, 1 initial reserve, 2 locked in, 3 locked out"""
    prop: np.ndarray | None = None
    """classic: spec.dat ``prop`` per feature (target = prop · total amount where prop > 0)"""
    misslevel: float = 1.0
    """classic: a target counts as missing in Marxan's summaries when held / target < MISSLEVEL"""
    options: dict = field(default_factory=dict)
    """classic input.dat settings a rewritten project keeps: RUNMODE, NUMREPS, COSTTHRESH, THRESHPEN1,
    THRESHPEN2, CONNECTIVITYIN, sporder (a MATRIXSPORDERNAME file was given)"""
    approximations: tuple[str, ...] = field(default=())
    """what the import could not honour exactly and how it reads it instead (stated, never dropped)"""

    @property
    def n_pu(self) -> int:
        return len(self.pu_ids)

    @property
    def n_zones(self) -> int:
        return len(self.zone_ids)

    @property
    def n_features(self) -> int:
        return len(self.feature_ids)

    @property
    def classic(self) -> bool:
        return self.flavour == "classic"

    @property
    def allowed(self) -> np.ndarray:
        """(N, Z) bool: a lock admits only its zone (locks take precedence over puzone)."""
        out = self.puzone.copy()
        locked = self.lock >= 0
        out[locked] = False
        out[np.nonzero(locked)[0], self.lock[locked]] = True
        return out

    @property
    def zone_costs(self) -> np.ndarray:
        """(N, Z): Σ_k c_ik · ZC[k, z], the cost of PU i in zone z."""
        return self.costs @ self.zone_cost

    @property
    def self_boundary_zones(self) -> np.ndarray:
        """(Z,) bool: zones in which a unit's self-boundary counts. Marxan with Zones adds it whatever the zone
        (a constant, zones.hpp:226-246); classic Marxan only for reserved units (ConnectionCost2's fixed cost
        times imode = 1, computation.cpp)."""
        if self.classic:
            return np.arange(self.n_zones) == RESERVED
        return np.ones(self.n_zones, dtype=bool)

    def zone_codes(self) -> list[str]:
        """Land-use codes for the zones: the zone names when they are distinct (as tokens), else Z<id>."""
        names = [token(n) for n in self.zone_names]
        return names if len(set(names)) == len(names) else [f"Z{int(z)}" for z in self.zone_ids]

    def total_amount(self) -> np.ndarray:
        return np.bincount(self.ent_sp, self.ent_amount, self.n_features)

    def total_occurrences(self) -> np.ndarray:
        """puvspr rows per feature (Marxan's total occurrence count: every row, whatever its amount)."""
        return np.bincount(self.ent_sp, minlength=self.n_features)


def classic_project(*, pu_ids: np.ndarray, cost: np.ndarray, status: np.ndarray, feature_ids: np.ndarray,
                    target: np.ndarray, prop: np.ndarray, target_occ: np.ndarray, spf: np.ndarray, ent_pu: np.ndarray,
                    ent_sp: np.ndarray, ent_amount: np.ndarray, connectivity_in: bool = False, **fields) -> MarxanProject:
    """A classic project's arrays in the two-zone form (this module's docstring): cost in the reserved zone only,
    status 2 / 3 as locks to reserved / available, features held in the reserved zone, ZBC 1 between the
    zones (CONNECTIVITYIN: 2 between two reserved units instead). ``fields`` are the remaining
    :class:`MarxanProject` fields (name, blm, bound arrays, penalty, …)."""
    N, S = len(pu_ids), len(feature_ids)
    lock = np.full(N, -1, dtype=np.int64)
    lock[status == 2], lock[status == 3] = RESERVED, AVAILABLE
    contrib_table = np.tile([0.0, 1.0], (S, 1))
    zbc = np.array([[0.0, 0.0], [0.0, 2.0]]) if connectivity_in else np.array([[0.0, 1.0], [1.0, 0.0]])
    return MarxanProject(
        pu_ids=pu_ids, cost_ids=np.array([1]), cost_names=("cost",), costs=np.asarray(cost, dtype=float).reshape(N, 1),
        zone_ids=np.array([AVAILABLE, RESERVED]), zone_names=("available", "reserved"), zone_cost=np.array([[0.0, 1.0]]),
        feature_ids=feature_ids, target=target, target_occ=target_occ, spf=spf, ent_pu=ent_pu, ent_sp=ent_sp,
        ent_amount=ent_amount, contrib=contrib_table[ent_sp], contrib_kind="classic", contrib_table=contrib_table,
        zone_target=np.zeros((S, 2)), zone_target_occ=np.zeros((S, 2), dtype=np.int64), zone_bound_cost=zbc,
        zone_bound_given=True, lock=lock, puzone=np.ones((N, 2), dtype=bool), flavour="classic", status=status,
        prop=prop, **fields)
