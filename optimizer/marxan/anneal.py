"""A first plan for a Marxan project in a fraction of a second: simulated annealing on Marxan's own score,
then iterative improvement to a local optimum — the two steps Marxan itself runs, so the exact solve starts
from a plan at least as good as an annealing peer's and spends its time on improving and proving it.

Why here and compiled: the LP relaxation of a 10,000-unit zones project takes longer than Marxan with Zones'
whole run at 10⁶ iterations, so the MIP side alone has no plan in that time; a move's change of score
touches only the unit's neighbours and its own features, which a loop computes in nanoseconds and numpy
cannot vectorize (each move changes the state the next one is priced on). The loop is numba-compiled
(cached on disk, so the compile is paid once per installation).

The score is ``score.py``'s exactly (cost, BLM × zone boundary costs, penalty × spf × shortfall fraction,
occurrence targets, classic Marxan's averaged fractions); the plan returned is rescored by ``score.evaluate``
and never breaks a lock or an allowed-zone set (moves go only to allowed zones). Deterministic: the work is
a number of moves, not a time, and the random stream is the seed's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numba import njit

from optimizer.marxan.arrays import MarxanProject
from optimizer.marxan.score import Score, evaluate, held

MOVES_PER_SECOND = 3e6
"""the nominal rate that turns a time budget into a number of moves (measured 1.0–3.3 million a second on the
2-core EPYC: fewer on 10,000+ units and under load): the budget in moves, not seconds, keeps a run
deterministic on any machine"""
START_SCALE, COOLING = 0.3, 0.1
"""the schedule: the first temperature ``START_SCALE`` × the one that accepts a median worsening move half
the time, the last ``COOLING`` × the first — chosen by measurement on the benchmark's grid projects
(benchmarks/README.md, "Annealing start and polish"): among factors 0.1–1 and ranges 10–1,000 this pair gave
the lowest mean score at 2,500 moves per unit on 400 units, 400 on 2,500 units and 200 on 10,000 units (at
4,000 on 2,500 units the four pairs tried were within 0.4 % of each other); Marxan's own wide range (the
largest to the smallest change of a random walk) did worse on 2,500 units"""
CHUNK = 200_000
"""moves per compiled call; between calls the safety time cap is checked"""


@dataclass(frozen=True)
class AnnealResult:
    zone: np.ndarray
    score: Score
    """the plan's score by ``score.evaluate`` (totals and each feature's shortfall)"""
    moves: int
    """annealing moves tried"""
    improvement_sweeps: int
    time_s: float
    stopped_by_time: bool
    """the safety time cap ended the annealing before its number of moves"""
    initial_temperature: float


@dataclass(frozen=True)
class _Arrays:
    """The project as the compiled kernel reads it: CSR neighbours and entries, dense targets."""
    zc: np.ndarray
    nb_ptr: np.ndarray
    nb_idx: np.ndarray
    nb_len: np.ndarray
    zbc: np.ndarray
    self_bound: np.ndarray
    fixed: np.ndarray
    ent_ptr: np.ndarray
    ent_sp: np.ndarray
    ent_amount: np.ndarray
    contrib: np.ndarray
    target: np.ndarray
    target_occ: np.ndarray
    zone_target: np.ndarray
    zone_target_occ: np.ndarray
    weight: np.ndarray
    allowed: np.ndarray
    movable: np.ndarray
    blm: float
    classic: bool


def _arrays(p: MarxanProject) -> _Arrays:
    N = p.n_pu
    i = np.concatenate([p.bound_i, p.bound_j])
    j = np.concatenate([p.bound_j, p.bound_i])
    b = np.concatenate([p.bound_b, p.bound_b]).astype(float)
    keep = i != j
    order = np.argsort(i[keep], kind="stable")
    i, j, b = i[keep][order], j[keep][order], b[keep][order]
    nb_ptr = np.concatenate([[0], np.cumsum(np.bincount(i, minlength=N))]).astype(np.int64)
    order = np.argsort(p.ent_pu, kind="stable")
    ent_ptr = np.concatenate([[0], np.cumsum(np.bincount(p.ent_pu, minlength=N))]).astype(np.int64)
    allowed = p.allowed
    return _Arrays(
        zc=np.ascontiguousarray(p.zone_costs, dtype=float), nb_ptr=nb_ptr, nb_idx=j.astype(np.int64), nb_len=b,
        zbc=np.ascontiguousarray(p.zone_bound_cost, dtype=float),
        self_bound=np.where(p.self_boundary_zones, 1.0, 0.0), fixed=np.asarray(p.fixed, dtype=float), ent_ptr=ent_ptr,
        ent_sp=p.ent_sp[order].astype(np.int64), ent_amount=p.ent_amount[order].astype(float),
        contrib=np.ascontiguousarray(p.contrib[order], dtype=float), target=p.target.astype(float),
        target_occ=p.target_occ.astype(np.int64), zone_target=np.ascontiguousarray(p.zone_target, dtype=float),
        zone_target_occ=np.ascontiguousarray(p.zone_target_occ, dtype=np.int64),
        weight=(p.penalty * p.spf).astype(float), allowed=np.ascontiguousarray(allowed),
        movable=np.nonzero(allowed.sum(axis=1) > 1)[0].astype(np.int64), blm=float(p.blm), classic=bool(p.classic))


# -- the compiled kernel -------------------------------------------------------------------------------------

@njit(cache=True)
def _fraction(t, a):
    return (t - a) / t if t > 0 and a < t else 0.0


@njit(cache=True)
def _occ_floor(t, n):
    return (t - n) // t if t > 0 and n < t else 0


@njit(cache=True)
def _feature_f(s, A, Nocc, R, M, target, target_occ, zone_target, zone_target_occ, classic):
    """F_s from the held amounts and counts (score.py's formulas)."""
    T, O = target[s], target_occ[s]
    if classic:
        f = (T - A[s]) / T if T > A[s] and T != 0 else 0.0
        if O > 0 and O > Nocc[s]:
            f += (O - Nocc[s]) / O
        if T != 0 and O > 0:
            f /= 2.0
        return f
    f = _fraction(T, A[s]) + _occ_floor(O, Nocc[s])
    for z in range(R.shape[1]):
        f += _fraction(zone_target[s, z], R[s, z]) + _occ_floor(zone_target_occ[s, z], M[s, z])
    return f


@njit(cache=True)
def _counted(amount, c, classic):
    return c > 0 if classic else amount * c > 0


@njit(cache=True)
def _shift(e, s, amt, a, b, A, Nocc, R, M, contrib, classic):
    """Entry ``e`` (feature ``s``, amount ``amt``) moved from zone ``a`` to ``b`` in the held amounts and counts."""
    A[s] += amt * (contrib[e, b] - contrib[e, a])
    Nocc[s] += (1 if _counted(amt, contrib[e, b], classic) else 0) - (1 if _counted(amt, contrib[e, a], classic) else 0)
    R[s, a] -= amt
    R[s, b] += amt
    if amt > 0:
        M[s, a] -= 1
        M[s, b] += 1


@njit(cache=True)
def _apply(i, b, zone, A, Nocc, R, M, ent_ptr, ent_sp, ent_amount, contrib, classic):
    for e in range(ent_ptr[i], ent_ptr[i + 1]):
        _shift(e, ent_sp[e], ent_amount[e], zone[i], b, A, Nocc, R, M, contrib, classic)
    zone[i] = b


@njit(cache=True)
def _delta(i, b, zone, A, Nocc, R, M, F, zc, nb_ptr, nb_idx, nb_len, zbc, self_bound, fixed_i, blm, ent_ptr, ent_sp,
           ent_amount, contrib, target, target_occ, zone_target, zone_target_occ, weight, classic):
    """The change of score when unit ``i`` moves to zone ``b`` (the state is left as it was)."""
    a = zone[i]
    d = zc[i, b] - zc[i, a] + blm * fixed_i * (self_bound[b] - self_bound[a])
    for k in range(nb_ptr[i], nb_ptr[i + 1]):
        zj = zone[nb_idx[k]]
        d += blm * nb_len[k] * (zbc[b, zj] - zbc[a, zj])
    for e in range(ent_ptr[i], ent_ptr[i + 1]):
        s = ent_sp[e]
        if weight[s] == 0:
            continue
        amt = ent_amount[e]
        A0, N0 = A[s], Nocc[s]
        Ra, Rb, Ma, Mb = R[s, a], R[s, b], M[s, a], M[s, b]
        _shift(e, s, amt, a, b, A, Nocc, R, M, contrib, classic)
        d += weight[s] * (_feature_f(s, A, Nocc, R, M, target, target_occ, zone_target, zone_target_occ, classic) - F[s])
        A[s], Nocc[s] = A0, N0
        R[s, a], R[s, b], M[s, a], M[s, b] = Ra, Rb, Ma, Mb
    return d


@njit(cache=True)
def _refresh(i, F, A, Nocc, R, M, ent_ptr, ent_sp, target, target_occ, zone_target, zone_target_occ, classic):
    for e in range(ent_ptr[i], ent_ptr[i + 1]):
        s = ent_sp[e]
        F[s] = _feature_f(s, A, Nocc, R, M, target, target_occ, zone_target, zone_target_occ, classic)


@njit(cache=True)
def _random_move(movable, allowed, zone):
    """A random unit that may change zone and a random other zone allowed to it."""
    i = movable[np.random.randint(len(movable))]
    Z = allowed.shape[1]
    while True:
        b = np.random.randint(Z)
        if b != zone[i] and allowed[i, b]:
            return i, b


@njit(cache=True, nogil=True)
def _anneal_chunk(seed, first, moves, total, t0, t1, zone, A, Nocc, R, M, F, zc, nb_ptr, nb_idx, nb_len, zbc,
                  self_bound, fixed, blm, ent_ptr, ent_sp, ent_amount, contrib, target, target_occ, zone_target,
                  zone_target_occ, weight, classic, movable, allowed):
    """Moves ``first`` … ``first + moves − 1`` of ``total``, the temperature falling geometrically from ``t0``
    to ``t1``; the random stream is seeded per chunk from (seed, first), so chunking does not change it.
    Returns the change of score."""
    np.random.seed(seed * 1_000_003 + first)
    change = 0.0
    step = (t1 / t0) ** (1.0 / total)
    temp = t0 * (t1 / t0) ** (first / total)
    for _ in range(moves):
        temp *= step
        i, b = _random_move(movable, allowed, zone)
        d = _delta(i, b, zone, A, Nocc, R, M, F, zc, nb_ptr, nb_idx, nb_len, zbc, self_bound, fixed[i], blm, ent_ptr,
                   ent_sp, ent_amount, contrib, target, target_occ, zone_target, zone_target_occ, weight, classic)
        if d <= 0 or np.random.random() < np.exp(-d / temp):
            _apply(i, b, zone, A, Nocc, R, M, ent_ptr, ent_sp, ent_amount, contrib, classic)
            _refresh(i, F, A, Nocc, R, M, ent_ptr, ent_sp, target, target_occ, zone_target, zone_target_occ, classic)
            change += d
    return change


@njit(cache=True, nogil=True)
def _improve(seed, max_sweeps, zone, A, Nocc, R, M, F, zc, nb_ptr, nb_idx, nb_len, zbc, self_bound, fixed, blm,
             ent_ptr, ent_sp, ent_amount, contrib, target, target_occ, zone_target, zone_target_occ, weight, classic,
             movable, allowed):
    """Iterative improvement: units in a random order, each moved to its best allowed zone when that lowers
    the score, until a sweep changes nothing. Returns (change of score, sweeps)."""
    np.random.seed(seed)
    change, sweeps = 0.0, 0
    order = movable.copy()
    for sweeps in range(1, max_sweeps + 1):
        np.random.shuffle(order)
        improved = False
        for i in order:
            best_d, best_b = -1e-9, -1
            for b in range(allowed.shape[1]):
                if b == zone[i] or not allowed[i, b]:
                    continue
                d = _delta(i, b, zone, A, Nocc, R, M, F, zc, nb_ptr, nb_idx, nb_len, zbc, self_bound, fixed[i], blm,
                           ent_ptr, ent_sp, ent_amount, contrib, target, target_occ, zone_target, zone_target_occ,
                           weight, classic)
                if d < best_d:
                    best_d, best_b = d, b
            if best_b >= 0:
                _apply(i, best_b, zone, A, Nocc, R, M, ent_ptr, ent_sp, ent_amount, contrib, classic)
                _refresh(i, F, A, Nocc, R, M, ent_ptr, ent_sp, target, target_occ, zone_target, zone_target_occ,
                         classic)
                change += best_d
                improved = True
        if not improved:
            break
    return change, sweeps


# -- the driver ----------------------------------------------------------------------------------------------

class _State:
    """The plan and what the score needs of it (held amounts and counts, each feature's F)."""

    def __init__(self, p: MarxanProject, k: _Arrays, zone: np.ndarray):
        self.zone = zone.astype(np.int64).copy()
        h = held(p, self.zone)
        self.A, self.N = h["A"].astype(float), h["N"].astype(np.int64)
        self.R, self.M = np.ascontiguousarray(h["R"], dtype=float), np.ascontiguousarray(h["M"], dtype=np.int64)
        self.F = np.array([_feature_f(s, self.A, self.N, self.R, self.M, k.target, k.target_occ, k.zone_target,
                                      k.zone_target_occ, k.classic) for s in range(p.n_features)], dtype=float)

    def args(self) -> tuple:
        return self.zone, self.A, self.N, self.R, self.M, self.F


def _project_args(k: _Arrays) -> tuple:
    return (k.zc, k.nb_ptr, k.nb_idx, k.nb_len, k.zbc, k.self_bound, k.fixed, k.blm, k.ent_ptr, k.ent_sp, k.ent_amount,
            k.contrib, k.target, k.target_occ, k.zone_target, k.zone_target_occ, k.weight, k.classic)


def price(k: _Arrays, state: _State, i: int, b: int) -> float:
    """The change of score if unit ``i`` moved to zone ``b`` (the compiled kernel, called once)."""
    return _delta(i, b, *state.args(), k.zc, k.nb_ptr, k.nb_idx, k.nb_len, k.zbc, k.self_bound, k.fixed[i], k.blm,
                  k.ent_ptr, k.ent_sp, k.ent_amount, k.contrib, k.target, k.target_occ, k.zone_target,
                  k.zone_target_occ, k.weight, k.classic)


def start_zones(p: MarxanProject) -> np.ndarray:
    """Each unit in its cheapest allowed zone (its locked zone when locked)."""
    cost = np.where(p.allowed, p.zone_costs, np.inf)
    return np.argmin(cost, axis=1).astype(np.int64)


def initial_temperature(p: MarxanProject, k: _Arrays, state: _State, seed: int, samples: int = 2000) -> float:
    """Marxan's adaptive schedule in spirit: from the score changes of random moves at the start, a share
    (``START_SCALE``) of the temperature at which a typical worsening move (the median of the worsening ones)
    is accepted half the time."""
    rng = np.random.default_rng(seed)
    if not len(k.movable):
        return 1.0
    deltas = []
    for _ in range(samples):
        i = int(k.movable[rng.integers(len(k.movable))])
        choices = [b for b in range(p.n_zones) if b != state.zone[i] and k.allowed[i, b]]
        deltas.append(price(k, state, i, choices[rng.integers(len(choices))]))
    worse = np.array([d for d in deltas if d > 1e-12])
    return float(START_SCALE * np.median(worse) / np.log(2)) if len(worse) else 1.0


def anneal(p: MarxanProject, *, moves: int, seed: int = 0, time_cap_s: float | None = None,
           cooling: float = COOLING, max_sweeps: int = 100, start: np.ndarray | None = None,
           heat: float = 1.0) -> AnnealResult:
    """``moves`` annealing moves from ``start`` (default: the cheapest allowed plan), the temperature
    ``heat`` × the adaptive first temperature falling geometrically by ``cooling`` overall, then iterative
    improvement. ``time_cap_s`` is a safety stop checked between chunks of moves (it makes the run depend
    on the clock, so it is set well above the expected time)."""
    t_start = time.perf_counter()
    k = _arrays(p)
    state = _State(p, k, start_zones(p) if start is None else start)
    t0 = heat * initial_temperature(p, k, _State(p, k, start_zones(p)), seed)
    done, stopped = 0, False
    if len(k.movable) and moves > 0:
        t1, t_cap = t0 * cooling, None
        while done < moves:
            n = min(CHUNK, moves - done)
            _anneal_chunk(seed, done, n, moves, t0, t1, *state.args(), *_project_args(k), k.movable, k.allowed)
            done += n
            if t_cap is None:  # the first chunk may include the compile (once per installation): not counted
                t_cap = time.perf_counter()
            elif time_cap_s is not None and time.perf_counter() - t_cap > time_cap_s and done < moves:
                stopped = True
                break
    sweeps = 0
    if len(k.movable):
        _, sweeps = _improve(seed + 1, max_sweeps, *state.args(), *_project_args(k), k.movable, k.allowed)
    zone = state.zone.copy()
    return AnnealResult(zone=zone, score=evaluate(p, zone), moves=done, improvement_sweeps=int(sweeps),
                        time_s=time.perf_counter() - t_start, stopped_by_time=stopped, initial_temperature=t0)
