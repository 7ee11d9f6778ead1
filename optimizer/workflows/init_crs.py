"""The CRS `landalloc init` measures areas in, and why: the province's VN-2000 TM-3 plane unless the
planner chooses another (``--crs``, e.g. VN-2000 / UTM zone 48N, EPSG:3405, for 1:25,000–1:500,000 maps).

A layer already drawn in a VN-2000 TM-3 plane keeps it. A layer in another CRS (WGS 84 from a GPS or a
web map, UTM) is measured in the TM-3 plane of ``--province`` (``data/vn2000_provinces.yaml``), else of
the province meridian nearest the layer's centre — said, so the planner can correct it.

A VN-2000 "nội bộ" (local) CRS is the TM-3 projection written as a bare PROJ string on the WGS 84
ellipsoid without the 7-parameter shift (``+towgs84``): PROJ then takes the coordinates as WGS 84,
about 200 m away from every layer in a proper VN-2000 CRS. Areas are unaffected, overlays are not, so it
is a warning with the fix (assign the EPSG code in QGIS).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pyproj import CRS
from pyproj.crs import ProjectedCRS
from pyproj.crs.coordinate_operation import TransverseMercatorConversion

from optimizer.engine.errors import InputError
from optimizer.engine.text import fold

PROVINCES_FILE = Path(__file__).resolve().parents[1] / "engine" / "data" / "vn2000_provinces.yaml"
_TM3_EPSG = range(9205, 9219)  # VN-2000 / TM-3 zones EPSG publishes (103°00′ … 108°30′)
VN2000_DATUM = "Vietnam 2000"


@functools.lru_cache(maxsize=1)
def provinces() -> dict[str, dict]:
    return yaml.safe_load(PROVINCES_FILE.read_text(encoding="utf-8"))["provinces"]


@functools.lru_cache(maxsize=1)
def _tm3_by_meridian() -> dict[float, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyproj: "lose information converting to PROJ": we read lon_0 only
        return {round(CRS.from_epsg(c).to_dict()["lon_0"], 4): c for c in _TM3_EPSG}


def tm3(lon_0: float) -> tuple[CRS, str]:
    """The VN-2000 TM-3 CRS of a meridian and how a scenario names it: the EPSG code where EPSG has one,
    else the projection on the VN-2000 datum as WKT (so PROJ still applies the datum shift)."""
    epsg = _tm3_by_meridian().get(round(lon_0, 4))
    if epsg:
        return CRS.from_epsg(epsg), f"EPSG:{epsg}"
    crs = ProjectedCRS(TransverseMercatorConversion(latitude_natural_origin=0, longitude_natural_origin=lon_0,
                                                    false_easting=500000, false_northing=0, scale_factor_natural_origin=0.9999),
                       name=f"VN-2000 / TM-3 {int(lon_0)}-{round(lon_0 % 1 * 60):02d}", geodetic_crs=CRS.from_epsg(4756))
    return crs, crs.to_wkt()


def _tm3_params(crs: CRS) -> dict | None:
    """lon_0 etc. when ``crs`` is a TM-3-style plane on the WGS 84 ellipsoid (k 0.9999, false easting 500 km)."""
    if not crs.is_projected:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        d = crs.to_dict()
    if d.get("proj") != "tmerc" or abs(d.get("k", d.get("k_0", 1)) - 0.9999) > 1e-9 or d.get("x_0") != 500000:
        return None
    if crs.ellipsoid is None or abs(crs.ellipsoid.semi_major_metre - 6378137.0) > 0.01:
        return None
    return d


@dataclass
class MeasuringCrs:
    crs: CRS
    name: str
    """as the scenario's `crs:` (EPSG:9210, or WKT)"""
    why: str
    warnings: list[str] = field(default_factory=list)


def choose_crs(layer_crs: CRS, lonlat_centre: tuple[float, float], flag: str | None, province: str | None,
               label: str) -> MeasuringCrs:
    notes: list[str] = []
    params = _tm3_params(layer_crs)
    if params is not None and layer_crs.datum is not None and VN2000_DATUM not in layer_crs.datum.name \
            and "towgs84" not in params:
        crs, name = tm3(params["lon_0"])
        notes.append(f"the layer's CRS is VN-2000 TM-3 {params['lon_0']:g}° written as a local ('nội bộ') "
                        "projection without the 7-parameter shift (towgs84): PROJ reads it on the WGS 84 datum, about "
                        f"200 m off every layer in a proper VN-2000 CRS; areas are right, overlays are not (fix: assign "
                        f"{name if name.startswith('EPSG') else 'the VN-2000 TM-3 CRS'} in QGIS, Layer Properties → "
                        "Source → Assigned CRS, and save again)")
    if flag:
        try:
            crs = CRS.from_user_input(flag)
        except Exception as e:  # noqa: BLE001 - PROJ's CRSError and friends: all mean "not a CRS"
            raise InputError(label, "--crs", f"{flag!r} is not a CRS PROJ knows ({e})", "give e.g. EPSG:9210 or EPSG:3405") from None
        if not crs.is_projected or crs.axis_info[0].unit_name not in ("metre", "meter"):
            raise InputError(label, "--crs", f"{flag} is not a projected CRS in metres; areas cannot be measured in it",
                             "give a projected CRS, e.g. the province's VN-2000 TM-3 (EPSG:9210 for Cao Bằng) or EPSG:3405")
        return MeasuringCrs(crs, flag if flag.upper().startswith("EPSG:") else crs.to_wkt(),
                            f"{crs.name}, chosen with --crs", notes)
    if province:
        match = [p for p in provinces() if fold(p) == fold(province)]
        if not match:
            raise InputError(label, "--province", f"{province!r} is not in the table of VN-2000 central meridians",
                             f"name one of: {', '.join(provinces())}, or give --crs")
        row = provinces()[match[0]]
        crs, name = tm3(row["lon_0"])
        return MeasuringCrs(crs, name, f"VN-2000 TM-3 {row['meridian']} of {match[0]} (--province)", notes)
    if params is not None:
        crs, name = tm3(params["lon_0"])
        if VN2000_DATUM in (layer_crs.datum.name if layer_crs.datum else ""):
            crs, name = layer_crs, (f"EPSG:{layer_crs.to_epsg()}" if layer_crs.to_epsg() else name)
        users = [p for p, r in provinces().items() if abs(r["lon_0"] - params["lon_0"]) < 1e-6]
        return MeasuringCrs(crs, name, f"the layer's own VN-2000 TM-3 {params['lon_0']:g}° plane"
                            + (f" (the meridian of {', '.join(users)})" if users else ""), notes)
    lon = lonlat_centre[0]
    near = min(provinces().items(), key=lambda kv: (abs(kv[1]["lon_0"] - lon), kv[0]))
    lon_0 = near[1]["lon_0"]
    crs, name = tm3(lon_0)
    users = [p for p, r in provinces().items() if r["lon_0"] == lon_0]
    return MeasuringCrs(crs, name, f"VN-2000 TM-3 {near[1]['meridian']}, the province meridian nearest the layer's "
                        f"centre ({lon:.2f}°E; used by {', '.join(users)}); the layer is in {layer_crs.name} — give "
                        "--province or --crs to choose", notes)
