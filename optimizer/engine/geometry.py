"""Nearest distances between geometries, measured in their (projected) CRS by one STRtree query.

One definition for the proximity family (screening reasons and verify), the suitability criteria's
distances (with ``match``: each parcel to the features of its own group) and the dossier's exclusion
figures, so the three never measure "nearest" differently.
"""

from __future__ import annotations

import numpy as np
import shapely


def nearest_distance(origins, features, origin_keys=None, feature_keys=None, missing: float = np.nan) -> np.ndarray:
    """Distance from each of ``origins`` to the nearest of ``features`` (0 when they touch or overlap).

    With keys, each origin measures only to the features whose key equals its own (the parcel's commune
    to that commune's seat). ``missing`` stands where there is nothing to measure to: no feature (in the
    origin's group), or an origin without a geometry.
    """
    origins = np.asarray(origins, dtype=object)
    features = np.asarray(features, dtype=object)
    out = np.full(len(origins), missing, dtype=float)
    if origin_keys is None:
        groups = [(np.arange(len(origins)), features)]
    else:
        origin_keys, feature_keys = np.asarray(origin_keys, dtype=object), np.asarray(feature_keys, dtype=object)
        groups = [(np.flatnonzero(origin_keys == k), features[feature_keys == k])
                  for k in dict.fromkeys(origin_keys.tolist())]
    for at, feats in groups:
        if not len(at) or not len(feats):
            continue
        (i, _), dist = shapely.STRtree(feats).query_nearest(origins[at], return_distance=True, all_matches=False)
        out[at[i]] = dist
    return out
