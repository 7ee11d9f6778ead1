"""The tiny hand-drawn instance, solved by every adapter.

Hand derivation (instances/tiny/tiny.yaml; areas 1 ha except p2, p5 = 2 ha):
objective per conversion = suitability·area − 2·is_forest·area.

    SKK values: p1 5·1=5, p2 (4−2)·2=4, p4 3·1=3, p5 6·2=12; p3 strict, p6 buffer: excluded
    TMD values: p1 1, p2 (2−2)·2=0, p4 6, p5 1·2=2, p6 (8−2)·1=6; p3 strict: excluded

SKK must be exactly 3 ha: a 2 ha parcel plus a 1 ha parcel (only p1, p4 are 1 ha and SKK-eligible,
and p1+p4 = 2 ha). Best: p5+p1 = 17 (p5+p4 = 15, p2+p1 = 9, p2+p4 = 7).
TMD 1–2 ha from the rest {p2:0 (2 ha), p4:6, p6:6}: best p4+p6 = 12.
Optimum 17 + 12 = 29, unique: p1→SKK, p5→SKK, p4→TMD, p6→TMD; p2, p3 keep their use.
(Next best: SKK p5+p4 = 15 with TMD p1+p6 = 7 → 22.)
"""

from __future__ import annotations

import pytest

from optimizer.engine.compile import compile_model
from optimizer.engine.decode import decode
from optimizer.engine.instance import load_instance
from optimizer.engine.scenario import load_scenario
from optimizer.engine.solvers import get_adapter, solver_names
from optimizer.engine.verify import verify_allocation

from .conftest import TINY

EXPECTED = {1: "SKK", 2: "RSX", 3: "HNK", 4: "TMD", 5: "SKK", 6: "TMD"}


@pytest.mark.parametrize("solver", solver_names())
def test_every_solver_finds_the_hand_optimum(solver):
    loaded = load_scenario(TINY)
    inst = load_instance(loaded)
    compiled = compile_model(inst, loaded)
    result = get_adapter(solver).solve(compiled.model, loaded.scenario.solver)
    assert result.termination == "optimal"
    assert result.objective == pytest.approx(29.0, abs=1e-6)
    assert result.bound == pytest.approx(29.0, abs=1e-4)
    plan = decode(compiled, inst, result.x)
    assert dict(zip(plan["parcel_id"], plan["new_use"])) == EXPECTED
    assert verify_allocation(loaded, inst, plan).ok


def test_compile_shape_and_reasons():
    """6 keep columns + SKK on p1,p2,p4,p5 + TMD on p1,p2,p4,p5,p6 = 15 columns; 6 one-use rows + 2 quotas."""
    loaded = load_scenario(TINY)
    inst = load_instance(loaded)
    compiled = compile_model(inst, loaded)
    m = compiled.model
    assert m.n_cols == 15 and compiled.n_assign == 15
    assert list(m.rows["family"].value_counts().sort_index().items()) == [("one_use", 6), ("quota_area", 2)]
    inel = m.ineligible
    assert sorted(zip(inst.ids[inel["parcel"]], inel["use"])) == [(3, "SKK"), (3, "TMD"), (6, "SKK")]
    assert set(inel["reason"]) == {"strict: Khu bảo tồn thử nghiệm", "buffer: vùng đệm thử nghiệm"}
    # quota row for SKK holds exactly the SKK columns with their areas
    skk = m.rows.index[m.rows["key"] == "SKK"][0]
    row = m.A.getrow(skk)
    cols = m.columns.iloc[row.indices]
    assert sorted(inst.ids[cols["parcel"]]) == [1, 2, 4, 5]
    assert sorted(row.data) == pytest.approx([1.0, 1.0, 2.0, 2.0])


def test_parcels_sorted_by_id_regardless_of_file_order():
    loaded = load_scenario(TINY)
    inst = load_instance(loaded)
    assert list(inst.ids) == [1, 2, 3, 4, 5, 6]
    assert list(inst.area_ha) == pytest.approx([1, 2, 1, 1, 2, 1])


def test_adjacency_shared_lengths():
    inst = load_instance(load_scenario(TINY))
    adj = inst.adjacency().toarray()
    idx = {pid: i for i, pid in enumerate(inst.ids)}
    assert adj[idx[1], idx[2]] == pytest.approx(100.0)
    assert adj[idx[2], idx[5]] == pytest.approx(200.0)   # p2 and p5 share their 200 m long side
    assert adj[idx[1], idx[5]] == 0.0                     # diagonal contact only: not rook-adjacent
    assert (adj == adj.T).all()
