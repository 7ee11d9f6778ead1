"""Pre-solve reachability: can each family's rows be met at all, given what screening left eligible?

Checked before any solver runs, so a quota asking for more land than exists is named with both
numbers (asked, achievable) instead of a bare "infeasible". The families own the checks (e.g.
``quota_area``); this module only gathers them, in family order.
"""

from __future__ import annotations

from constraints._api import ReachabilityContext

from optimizer.engine.compile import CompiledScenario
from optimizer.engine.instance import Instance


def reachability(compiled: CompiledScenario, instance: Instance) -> list[dict]:
    """Every family's reachability items for one compiled period."""
    ctx = ReachabilityContext.of(compiled.model, compiled.n_assign, instance.n)
    return [item for fam in compiled.families for item in fam.reachability(ctx)]
