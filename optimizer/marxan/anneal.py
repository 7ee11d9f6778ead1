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
and never breaks a lock or an allowed-zone set (moves go only to allowed zones). Beyond Marxan's own search:
moves mostly propose a neighbour's zone, the improvement also tries two-unit moves, and a large budget is
shared among several runs, the best kept. Deterministic: the work is a number of moves, not a time, and the
random stream is the seed's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numba import njit

from optimizer.marxan.arrays import MarxanProject
from optimizer.marxan.score import Score, evaluate, held

MOVES_PER_SECOND, CACHED_UNITS = 3e6, 10_000
"""the nominal rate that turns a time budget into a number of moves on projects of up to ``CACHED_UNITS``
units (``nominal_rate``): the budget in moves, not seconds, keeps a run deterministic on any machine.
Measured on the 2-core EPYC at a load of 1.4–3.8 (benchmarks/README.md, "Annealing speed and search"):
2.7–5.0 million moves a second on 400 to 10,000 units, 1.1–2.4 million on 40,000 (whose arrays no longer
fit in the cache)"""
START_SCALE, COOLING = 0.3, 0.1
"""the schedule: the first temperature ``START_SCALE`` × the one that accepts a median worsening move half
the time, the last ``COOLING`` × the first — chosen by measurement on the benchmark's grid projects
(benchmarks/README.md, "Annealing start and polish"): among factors 0.1–1 and ranges 10–1,000 this pair gave
the lowest mean score at 2,500 moves per unit on 400 units, 400 on 2,500 units and 200 on 10,000 units (at
4,000 on 2,500 units the four pairs tried were within 0.4 % of each other); Marxan's own wide range (the
largest to the smallest change of a random walk) did worse on 2,500 units"""
NEIGHBOUR_ZONE_SHARE = 0.95
"""the share of moves that propose a random neighbour's zone (the rest a random allowed zone): most moves that
lower the score are at a zone's edge; 0.4–0.99 and uniform were measured on the benchmark's grids of 400, 2,500
and 10,000 units (benchmarks/README.md, "Annealing speed and search"), 0.95 giving the lowest mean scores"""
CHUNK = 200_000
"""moves per compiled call; between calls the safety time cap is checked"""


def nominal_rate(n_pu: int) -> float:
    """Moves a second assumed for a project of ``n_pu`` units: ``MOVES_PER_SECOND``, falling as the square root
    of the size beyond ``CACHED_UNITS`` (half at 40,000 units)."""
    return MOVES_PER_SECOND * min(1.0, (CACHED_UNITS / max(n_pu, 1)) ** 0.5)


@dataclass(frozen=True)
class AnnealResult:
    zone: np.ndarray
    score: Score | None
    """the plan's score by ``score.evaluate`` (totals and each feature's shortfall); None when not asked for"""
    moves: int
    """annealing moves tried"""
    improvement_sweeps: int
    time_s: float
    stopped_by_time: bool
    """the safety time cap ended the annealing before all its moves or runs"""
    initial_temperature: float
    runs: int = 1
    """annealing runs made (restarts share the moves; the safety cap may end them early)"""
    best_run: int = 0
    """the run whose plan was kept (0-based)"""
    run_scores: tuple[float, ...] = ()
    """each run's score as the kernel tracked it (the start's score plus its changes); empty without ``rescore``"""
    run_zones: tuple[np.ndarray, ...] = ()
    """each run's plan, in run order: where good runs agree is what a crossover of them holds"""


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

@njit(cache=True, inline="always", error_model="numpy")
def _fraction(t, a):
    return (t - a) / t if t > 0 and a < t else 0.0


@njit(cache=True, inline="always", error_model="numpy")
def _occ_floor(t, n):
    return (t - n) // t if t > 0 and n < t else 0


@njit(cache=True, inline="always", error_model="numpy")
def _classic_f(T, O, a, n):
    """Classic Marxan's F_s (score.classic_fraction) from the held amount and count."""
    f = (T - a) / T if T > a and T != 0 else 0.0
    if O > 0 and O > n:
        f += (O - n) / O
    if T != 0 and O > 0:
        f /= 2.0
    return f


@njit(cache=True, inline="always", error_model="numpy")
def _zone_part(t, t_occ, r, m):
    """One zone's share of F_s: its amount and occurrence shortfalls."""
    return _fraction(t, r) + _occ_floor(t_occ, m)


@njit(cache=True, inline="always", error_model="numpy")
def _counted(amount, c, classic):
    return c > 0 if classic else amount * c > 0


@njit(cache=True, inline="always", error_model="numpy")
def _feature_delta(e, s, a, b, A, Nocc, R, M, ent_amount, contrib, target, target_occ, zone_target, zone_target_occ,
                   classic):
    """The change of F_s when entry ``e`` (feature ``s``) moves from zone ``a`` to ``b``: the overall terms and
    the two zones' terms only, so a move costs the same whatever the number of zones."""
    amt, ca, cb = ent_amount[e], contrib[e, a], contrib[e, b]
    A0, N0 = A[s], Nocc[s]
    A1 = A0 + amt * (cb - ca)
    N1 = N0 + (1 if _counted(amt, cb, classic) else 0) - (1 if _counted(amt, ca, classic) else 0)
    T, O = target[s], target_occ[s]
    if classic:
        return _classic_f(T, O, A1, N1) - _classic_f(T, O, A0, N0)
    d = _fraction(T, A1) - _fraction(T, A0) + _occ_floor(O, N1) - _occ_floor(O, N0)
    m = 1 if amt > 0 else 0
    za, zb = zone_target[s, a], zone_target[s, b]
    oa, ob = zone_target_occ[s, a], zone_target_occ[s, b]
    if za > 0 or oa > 0:
        d += _zone_part(za, oa, R[s, a] - amt, M[s, a] - m) - _zone_part(za, oa, R[s, a], M[s, a])
    if zb > 0 or ob > 0:
        d += _zone_part(zb, ob, R[s, b] + amt, M[s, b] + m) - _zone_part(zb, ob, R[s, b], M[s, b])
    return d


@njit(cache=True, inline="always", error_model="numpy")
def _apply(i, b, zone, A, Nocc, R, M, ent_ptr, ent_sp, ent_amount, contrib, classic):
    """Unit ``i`` moved to zone ``b``: its entries' amounts and counts move with it."""
    a = zone[i]
    for e in range(ent_ptr[i], ent_ptr[i + 1]):
        s, amt = ent_sp[e], ent_amount[e]
        A[s] += amt * (contrib[e, b] - contrib[e, a])
        Nocc[s] += (1 if _counted(amt, contrib[e, b], classic) else 0) - \
            (1 if _counted(amt, contrib[e, a], classic) else 0)
        R[s, a] -= amt
        R[s, b] += amt
        if amt > 0:
            M[s, a] -= 1
            M[s, b] += 1
    zone[i] = b


@njit(cache=True, inline="always", error_model="numpy")
def _delta(i, b, zone, A, Nocc, R, M, zc, nb_ptr, nb_idx, nb_len, zbc, self_bound, fixed_i, blm, ent_ptr, ent_sp,
           ent_amount, contrib, target, target_occ, zone_target, zone_target_occ, weight, classic):
    """The change of score when unit ``i`` moves to zone ``b`` (the state is only read)."""
    a = zone[i]
    d = zc[i, b] - zc[i, a] + blm * fixed_i * (self_bound[b] - self_bound[a])
    for k in range(nb_ptr[i], nb_ptr[i + 1]):
        zj = zone[nb_idx[k]]
        d += blm * nb_len[k] * (zbc[b, zj] - zbc[a, zj])
    for e in range(ent_ptr[i], ent_ptr[i + 1]):
        s = ent_sp[e]
        if weight[s] != 0:
            d += weight[s] * _feature_delta(e, s, a, b, A, Nocc, R, M, ent_amount, contrib, target, target_occ,
                                            zone_target, zone_target_occ, classic)
    return d


@njit(cache=True, inline="always", error_model="numpy")
def _random_move(movable, allowed, zone, nb_ptr, nb_idx):
    """A random unit that may change zone and another zone allowed to it: a random neighbour's zone
    (``NEIGHBOUR_ZONE_SHARE`` of the time, when that is another allowed zone), else a random one. Uniform
    draws, no rejection loop (numba's ``randint`` and retries took a third of a move's time)."""
    i = movable[int(np.random.random() * len(movable))]
    a, n = zone[i], nb_ptr[i + 1] - nb_ptr[i]
    if n > 0 and np.random.random() < NEIGHBOUR_ZONE_SHARE:
        b = zone[nb_idx[nb_ptr[i] + int(np.random.random() * n)]]
        if b != a and allowed[i, b]:
            return i, b
    others = 0
    for b in range(allowed.shape[1]):
        if b != a and allowed[i, b]:
            others += 1
    j = int(np.random.random() * others)
    for b in range(allowed.shape[1]):
        if b != a and allowed[i, b]:
            if j == 0:
                return i, b
            j -= 1
    return i, a


@njit(cache=True, nogil=True, error_model="numpy")
def _anneal_chunk(seed, first, moves, total, t0, t1, zone, A, Nocc, R, M, zc, nb_ptr, nb_idx, nb_len, zbc,
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
        i, b = _random_move(movable, allowed, zone, nb_ptr, nb_idx)
        if b == zone[i]:
            continue
        d = _delta(i, b, zone, A, Nocc, R, M, zc, nb_ptr, nb_idx, nb_len, zbc, self_bound, fixed[i], blm, ent_ptr,
                   ent_sp, ent_amount, contrib, target, target_occ, zone_target, zone_target_occ, weight, classic)
        if d <= 0 or np.random.random() < np.exp(-d / temp):
            _apply(i, b, zone, A, Nocc, R, M, ent_ptr, ent_sp, ent_amount, contrib, classic)
            change += d
    return change


@njit(cache=True, inline="always", error_model="numpy")
def _pair_sweep(order, zone, A, Nocc, R, M, zc, nb_ptr, nb_idx, nb_len, zbc, self_bound, fixed, blm, ent_ptr, ent_sp,
                ent_amount, contrib, target, target_occ, zone_target, zone_target_occ, weight, classic, allowed):
    """Two neighbouring units changing zone together (to any allowed pair of new zones), kept when that lowers
    the score: the moves a single-unit local optimum cannot make because each half alone pays for a new
    boundary or a target shortfall. Returns the change of score."""
    change, Z = 0.0, allowed.shape[1]
    for i in order:
        for k in range(nb_ptr[i], nb_ptr[i + 1]):
            j = nb_idx[k]
            if j < i:  # each pair once
                continue
            a = zone[i]
            for bi in range(Z):
                if bi == a or not allowed[i, bi]:
                    continue
                di = _delta(i, bi, zone, A, Nocc, R, M, zc, nb_ptr, nb_idx, nb_len, zbc, self_bound, fixed[i], blm,
                            ent_ptr, ent_sp, ent_amount, contrib, target, target_occ, zone_target, zone_target_occ,
                            weight, classic)
                _apply(i, bi, zone, A, Nocc, R, M, ent_ptr, ent_sp, ent_amount, contrib, classic)
                best_d, best_b = -1e-9, -1
                for bj in range(Z):
                    if bj != zone[j] and allowed[j, bj]:
                        d = di + _delta(j, bj, zone, A, Nocc, R, M, zc, nb_ptr, nb_idx, nb_len, zbc, self_bound,
                                        fixed[j], blm, ent_ptr, ent_sp, ent_amount, contrib, target, target_occ,
                                        zone_target, zone_target_occ, weight, classic)
                        if d < best_d:
                            best_d, best_b = d, bj
                if best_b >= 0:
                    _apply(j, best_b, zone, A, Nocc, R, M, ent_ptr, ent_sp, ent_amount, contrib, classic)
                    change += best_d
                    break
                _apply(i, a, zone, A, Nocc, R, M, ent_ptr, ent_sp, ent_amount, contrib, classic)
    return change


@njit(cache=True, nogil=True, error_model="numpy")
def _sweep(seed, pairs, zone, A, Nocc, R, M, zc, nb_ptr, nb_idx, nb_len, zbc, self_bound, fixed, blm, ent_ptr, ent_sp,
           ent_amount, contrib, target, target_occ, zone_target, zone_target_occ, weight, classic, movable, allowed):
    """One sweep of iterative improvement: units in a random order, each moved to its best allowed zone when
    that lowers the score; with ``pairs``, when no unit moved, the two-unit moves (``_pair_sweep``).
    Returns the change of score."""
    np.random.seed(seed)
    change = 0.0
    order = movable.copy()
    np.random.shuffle(order)
    for i in order:
        best_d, best_b = -1e-9, -1
        for b in range(allowed.shape[1]):
            if b != zone[i] and allowed[i, b]:
                d = _delta(i, b, zone, A, Nocc, R, M, zc, nb_ptr, nb_idx, nb_len, zbc, self_bound, fixed[i], blm,
                           ent_ptr, ent_sp, ent_amount, contrib, target, target_occ, zone_target, zone_target_occ,
                           weight, classic)
                if d < best_d:
                    best_d, best_b = d, b
        if best_b >= 0:
            _apply(i, best_b, zone, A, Nocc, R, M, ent_ptr, ent_sp, ent_amount, contrib, classic)
            change += best_d
    if change == 0.0 and pairs:
        change = _pair_sweep(order, zone, A, Nocc, R, M, zc, nb_ptr, nb_idx, nb_len, zbc, self_bound, fixed, blm,
                             ent_ptr, ent_sp, ent_amount, contrib, target, target_occ, zone_target, zone_target_occ,
                             weight, classic, allowed)
    return change


# -- the driver ----------------------------------------------------------------------------------------------

class _State:
    """The plan and what the score needs of it: the held amounts and counts, overall and per zone."""

    def __init__(self, p: MarxanProject, zone: np.ndarray):
        self.zone = zone.astype(np.int64).copy()
        h = held(p, self.zone)
        self.A, self.N = h["A"].astype(float), h["N"].astype(np.int64)
        self.R, self.M = np.ascontiguousarray(h["R"], dtype=float), np.ascontiguousarray(h["M"], dtype=np.int64)

    def args(self) -> tuple:
        return self.zone, self.A, self.N, self.R, self.M


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


def _improve_until(k: _Arrays, state: _State, seed: int, max_sweeps: int, pairs: bool,
                   deadline: float | None) -> tuple[float, int]:
    """Iterative improvement one sweep at a time until a sweep changes nothing or ``max_sweeps``; past the
    safety ``deadline`` without the two-unit sweeps (a second on a loaded machine at 40,000 units; the
    single-unit ones take a tenth of that). Returns (change of score, sweeps)."""
    change, sweeps = 0.0, 0
    while len(k.movable) and sweeps < max_sweeps:
        pairs = pairs and (deadline is None or time.perf_counter() < deadline)
        swept = _sweep(seed + sweeps, pairs, *state.args(), *_project_args(k), k.movable, k.allowed)
        change, sweeps = change + swept, sweeps + 1
        if swept >= 0:
            break
    return change, sweeps


def restart_seed(seed: int, run: int) -> int:
    """The random stream of restart ``run``: the run's own seed for the first (so one run is the plain
    annealing), then streams derived from it."""
    return seed if run == 0 else int(np.random.SeedSequence([seed, run]).generate_state(1)[0] >> 1)


def anneal(p: MarxanProject, *, moves: int, seed: int = 0, time_cap_s: float | None = None,
           cooling: float = COOLING, max_sweeps: int = 100, start: np.ndarray | None = None,
           heat: float = 1.0, restarts: int = 1, pairs: bool = True, rescore: bool = True) -> AnnealResult:
    """``moves`` annealing moves from ``start`` (default: the cheapest allowed plan), the temperature
    ``heat`` × the adaptive first temperature falling geometrically by ``cooling`` overall, then iterative
    improvement; with ``restarts`` > 1 the moves are shared among that many runs from the same start, each
    with its own random stream (``restart_seed``), and the lowest-scoring plan is kept. ``time_cap_s`` is a
    safety stop checked between chunks of moves and sweeps of the improvement (it makes the run depend on the
    clock, so it is set well above the expected time). ``rescore=False`` leaves ``score`` None for callers
    that score the plan themselves."""
    t_start = time.perf_counter()
    k = _arrays(p)
    first = start_zones(p) if start is None else np.asarray(start, dtype=np.int64)
    t0 = heat * initial_temperature(p, k, _State(p, start_zones(p)), seed)
    runs = max(1, min(restarts, moves)) if len(k.movable) else 1
    done, stopped, sweeps, t_cap = 0, False, 0, None
    changes, zones = [], []
    for run in range(runs):
        state, run_moves, change = _State(p, first), moves // runs + (1 if run < moves % runs else 0), 0.0
        run_seed, run_done = restart_seed(seed, run), 0
        while len(k.movable) and run_done < run_moves and not stopped:
            n = min(CHUNK, run_moves - run_done)
            change += _anneal_chunk(run_seed, run_done, n, run_moves, t0, t0 * cooling, *state.args(),
                                    *_project_args(k), k.movable, k.allowed)
            run_done += n
            if t_cap is None:  # the first chunk may include the compile (once per installation): not counted
                t_cap = time.perf_counter()
            elif time_cap_s is not None and time.perf_counter() - t_cap > time_cap_s and run_done < run_moves:
                stopped = True
        done += run_done
        deadline = None if time_cap_s is None or t_cap is None else t_cap + time_cap_s
        improved, run_sweeps = _improve_until(k, state, run_seed + 1, max_sweeps, pairs, deadline)
        change, sweeps = change + improved, sweeps + run_sweeps
        stopped = stopped or (deadline is not None and time.perf_counter() > deadline and run < runs - 1)
        changes.append(change)
        zones.append(state.zone.copy())
        if stopped:
            break
    base = evaluate(p, first).total if rescore else None
    best = zones[int(np.argmin(changes))]
    return AnnealResult(zone=best, score=evaluate(p, best) if rescore else None, moves=done,
                        improvement_sweeps=int(sweeps), time_s=time.perf_counter() - t_start, stopped_by_time=stopped,
                        initial_temperature=t0, runs=len(changes), best_run=int(np.argmin(changes)),
                        run_scores=tuple(base + c for c in changes) if rescore else (), run_zones=tuple(zones))
