"""The one nearest-distance helper (optimizer/engine/geometry.py) that proximity, suitability criteria
and the dossier's exclusion figures measure with: against distances worked by hand and against a
brute-force minimum of shapely.distance over every feature, with and without groups (``match``)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from optimizer.engine.geometry import nearest_distance

# A hand-made layer (metres): a road along y = 0 from x = 0 to 100, a seat point at (50, 80) and a
# square zone [200, 220] × [0, 20]; the features' keys name the commune each belongs to.
ROAD = shapely.LineString([(0, 0), (100, 0)])
SEAT = shapely.Point(50, 80)
ZONE = shapely.box(200, 0, 220, 20)
FEATURES = np.array([ROAD, SEAT, ZONE], dtype=object)
FEATURE_KEYS = np.array(["A", "B", "B"], dtype=object)


def test_distances_worked_by_hand():
    """(50, 30): 30 m above the road, 50 m below the seat → 30. (150, 10): 50 m to the road's end
    (100, 0) is √(50² + 10²) = 50.99, 50 m to the zone's edge x = 200 → 50. A parcel overlapping the
    zone → 0. A 10 m square [40, 50] × [60, 70]: its corner (50, 70) is 10 m below the seat → 10
    (measured from the parcel's nearest point, not its centroid (45, 65), which is 15.8 m away)."""
    origins = np.array([shapely.Point(50, 30), shapely.Point(150, 10), shapely.box(210, 10, 230, 30),
                        shapely.box(40, 60, 50, 70)], dtype=object)
    assert nearest_distance(origins, FEATURES) == pytest.approx([30.0, 50.0, 0.0, 10.0])


def test_grouped_distances_worked_by_hand():
    """With keys each origin sees only its own commune's features: (50, 30) in B measures to the seat
    (50 m) and the zone (√(150² + 10²) = 150.33), not to the 30 m road of A; (150, 10) in A measures to
    the road's end only: √(50² + 10²) = 50.99. A key no feature has gets ``missing``."""
    origins = np.array([shapely.Point(50, 30), shapely.Point(150, 10), shapely.Point(0, 0)], dtype=object)
    got = nearest_distance(origins, FEATURES, np.array(["B", "A", "C"], dtype=object), FEATURE_KEYS)
    assert got[:2] == pytest.approx([50.0, np.hypot(50, 10)])
    assert np.isnan(got[2])
    assert nearest_distance(origins, FEATURES, np.array(["B", "A", "C"], dtype=object), FEATURE_KEYS,
                            missing=np.inf)[2] == np.inf


def test_matches_brute_force_on_a_random_layer():
    """120 parcels (small squares) against 25 mixed features in 3 groups: every distance equals the
    minimum of shapely.distance over all (or the group's) features."""
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 1000, (120, 2))
    origins = shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + 15, xy[:, 1] + 10)
    pts = shapely.points(rng.uniform(0, 1000, (10, 2)))
    lines = np.array([shapely.LineString(rng.uniform(0, 1000, (3, 2))) for _ in range(8)], dtype=object)
    polys = shapely.buffer(shapely.points(rng.uniform(0, 1000, (7, 2))), 40)
    features = np.concatenate([pts, lines, polys])
    brute = shapely.distance(origins[:, None], features[None, :])
    assert nearest_distance(origins, features) == pytest.approx(brute.min(axis=1), abs=1e-9)
    origin_keys = rng.choice(["x", "y", "z"], len(origins)).astype(object)
    feature_keys = np.resize(np.array(["x", "y", "z"], dtype=object), len(features))
    same = origin_keys[:, None] == feature_keys[None, :]
    expected = np.where(same, brute, np.inf).min(axis=1)
    assert nearest_distance(origins, features, origin_keys, feature_keys) == pytest.approx(expected, abs=1e-9)


def test_nothing_to_measure_to():
    """No origins → empty; no features, or an origin without a geometry → ``missing``."""
    assert nearest_distance(np.array([], dtype=object), FEATURES).shape == (0,)
    assert np.isnan(nearest_distance(np.array([shapely.Point(0, 0)], dtype=object), np.array([], dtype=object))).all()
    got = nearest_distance(np.array([None, shapely.Point(0, 5)], dtype=object), FEATURES, missing=np.inf)
    assert got[0] == np.inf and got[1] == pytest.approx(5.0)
