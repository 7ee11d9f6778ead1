"""Seeded synthetic terrain, the same functions for every resolution (evaluated at parcel centroids)."""

from __future__ import annotations

import numpy as np
import shapely
from scipy.special import ndtr


class SyntheticTerrain:
    """Seeded smooth fields: elevation (m), slope (%), and [0, 1] noise fields (n1, n2, n3, hh, streams).

    Elevation = regional west-high trend + 60 random Gaussian hills/basins + a 900 m bump on Phja Oắc
    − valley basins around the city, district seats and towns and along the Bằng skeleton; floored
    at 150 m. Slope mixes normalized elevation with a rugged noise (wavelengths 2–9 km) and is damped
    in the valleys. Only fixed constants enter (no data-dependent rescaling), so a field value at a
    point does not depend on which parcels are evaluated.
    """

    def __init__(self, seed: int, bounds, peak, valleys: np.ndarray, river):
        rng = np.random.default_rng(seed)
        x0, y0, x1, y1 = bounds
        self.x_mid = 0.5 * (x0 + x1)
        n = 60
        self.hx, self.hy = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
        self.hs, self.ha = rng.uniform(3e3, 10e3, n), rng.uniform(-250.0, 450.0, n)
        self.waves = {name: self._waves(rng, k, lmin, lmax)
                      for name, k, lmin, lmax in (("rugged", 24, 2e3, 9e3), ("n1", 16, 3e3, 12e3),
                                                  ("n2", 16, 3e3, 12e3), ("n3", 16, 3e3, 12e3),
                                                  ("hh", 12, 2e3, 8e3), ("streams", 8, 15e3, 45e3))}
        self.peak = np.asarray(peak.coords[0])
        self.valleys = np.asarray(valleys, dtype=float)
        self.river = river

    @staticmethod
    def _waves(rng, k, lmin, lmax):
        theta = rng.uniform(0, np.pi, k)
        lam = np.exp(rng.uniform(np.log(lmin), np.log(lmax), k))
        return (np.cos(theta) / lam, np.sin(theta) / lam, rng.uniform(0, 2 * np.pi, k), rng.uniform(0.5, 1.0, k))

    def noise(self, name, x, y):
        """Sum of random plane waves, ~N(0,1), mapped through the normal CDF to [0, 1]."""
        kx, ky, ph, amp = self.waves[name]
        z = np.cos(2 * np.pi * (np.outer(x, kx) + np.outer(y, ky)) + ph) @ amp
        return ndtr(z / np.sqrt(0.5 * np.sum(amp ** 2)))

    def valley(self, x, y):
        """1 at settlements and on the river skeleton, decaying over ~3 km (2 km for the river)."""
        d2 = (x[:, None] - self.valleys[None, :, 0]) ** 2 + (y[:, None] - self.valleys[None, :, 1]) ** 2
        v_pts = np.exp(-d2.min(axis=1) / (2 * 3_000.0 ** 2))
        d_riv = shapely.distance(shapely.points(x, y), self.river)
        return np.maximum(v_pts, np.exp(-d_riv ** 2 / (2 * 2_000.0 ** 2)))

    def elevation(self, x, y):
        trend = 450.0 + 550.0 / (1.0 + np.exp((x - self.x_mid + 15_000.0) / 20_000.0))
        d2 = (x[:, None] - self.hx[None]) ** 2 + (y[:, None] - self.hy[None]) ** 2
        hills = (self.ha[None] * np.exp(-d2 / (2 * self.hs[None] ** 2))).sum(axis=1)
        peak = 900.0 * np.exp(-((x - self.peak[0]) ** 2 + (y - self.peak[1]) ** 2) / (2 * 5_000.0 ** 2))
        e = trend + hills + peak - 350.0 * self.valley(x, y) + 120.0 * (self.noise("n3", x, y) - 0.5)
        return np.maximum(e, 150.0)

    def slope(self, x, y, elevation=None):
        e = self.elevation(x, y) if elevation is None else elevation
        r = 0.5 * np.clip((e - 200.0) / 1_200.0, 0.0, 1.0) + 0.5 * self.noise("rugged", x, y)
        r = r * (1.0 - 0.75 * self.valley(x, y))
        return 60.0 * np.clip(r / 0.8, 0.0, 1.0) ** 1.2
