"""A naive reference build of the same model with pulp's expression API — for the compile-speed ratio only.

It loops over parcels and uses in Python exactly as classic pulp examples do; the engine never uses it.
Only the core model is built (assignment rows, quota rows, objective terms), which is what
`optimizer.compile` builds for a scenario whose families are allowed_uses and quota_area.
"""

from __future__ import annotations

import warnings

import pulp

from optimizer.engine.compile import screen
from optimizer.engine.instance import Instance
from optimizer.engine.scenario import LoadedScenario


def build(instance: Instance, loaded: LoadedScenario, families) -> tuple[pulp.LpProblem, int]:
    warnings.simplefilter("ignore", DeprecationWarning)
    sc = loaded.scenario
    eligible, _ = screen(instance, loaded, families)
    prob = pulp.LpProblem("naive", pulp.LpMaximize if sc.objective.sense == "maximize" else pulp.LpMinimize)
    x = {}
    objective = []
    for p in range(instance.n):
        cur = instance.current_use[p]
        x[p, cur] = pulp.LpVariable(f"x_{p}_{cur}", cat="Binary")
        for k, u in enumerate(sc.allocate):
            if u == cur or not eligible[p, k]:
                continue
            x[p, u] = pulp.LpVariable(f"x_{p}_{u}", cat="Binary")
            coef = 0.0
            for name, term in sc.objective.terms.items():
                uses = term.uses or (list(term.per_use) if term.per_use else sc.allocate)
                if u not in uses or (term.per_use is not None and u not in term.per_use):
                    continue
                col = term.per_use[u] if term.per_use is not None else term.column
                value = float(instance.attrs[col].iloc[p]) if col else 1.0
                coef += term.weight * value * (instance.area_ha[p] if term.per_ha else 1.0)
            objective.append(coef * x[p, u])
        prob += pulp.lpSum([x[p, u] for u in dict.fromkeys([cur, *sc.allocate]) if (p, u) in x]) == 1
    prob += pulp.lpSum(objective)
    for key, q in sc.quotas.items():
        use = q.use or key
        expr = pulp.lpSum([instance.area_ha[p] * x[p, use] for p in range(instance.n) if (p, use) in x])
        if q.lo is not None:
            prob += expr >= q.lo
        if q.hi is not None:
            prob += expr <= q.hi
    return prob, len(x)
