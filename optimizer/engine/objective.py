"""The objective's coefficient per assignment column, from the scenario's objective terms.

Below the families, not in compile: the sites family ranks its candidates by the same per-hectare
value the objective gives a conversion, so both read it from here.
"""

from __future__ import annotations

import numpy as np

from optimizer.engine.instance import Instance
from optimizer.engine.scenario import LoadedScenario


def objective_coefficients(instance: Instance, loaded: LoadedScenario, parcel: np.ndarray, use: np.ndarray,
                           keep: np.ndarray) -> np.ndarray:
    """Σ_terms weight · value · area over conversion columns; keep columns cost nothing."""
    sc = loaded.scenario
    coef = np.zeros(len(parcel))
    for name, term in sc.objective.terms.items():
        who = f"objective.terms.{name}"
        uses = term.uses or (list(term.per_use) if term.per_use else sc.allocate)
        for u in uses:
            sel = (use == u) & ~keep
            if term.per_use is not None:
                if u not in term.per_use:
                    continue
                value = instance.column(term.per_use[u], who)[parcel[sel]]
            elif term.column is not None:
                value = instance.column(term.column, who)[parcel[sel]]
            else:
                value = np.ones(sel.sum())
            if term.per_ha:
                value = value * instance.area_ha[parcel[sel]]
            coef[sel] += term.weight * value
    return coef
