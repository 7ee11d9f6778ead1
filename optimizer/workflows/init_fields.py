"""Which field of a land office's parcel layer holds what: found by the names Vietnamese cadastral and
current land-use layers use, or given by the planner (``--id-field`` …), and always said.

Names are compared without case, accents or punctuation (``Số_Thửa``, ``SOTHUA``, ``so thua`` are one
name), and a name cut short by a Shapefile's 10-character limit or GDAL's CP1258 reading (``MaLoaiDa``)
still matches its full form.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from optimizer.engine.errors import InputError
from optimizer.engine.text import fold

# role → names in order of preference (already folded: lower case, no accents, letters and digits only)
CANDIDATES: dict[str, tuple[str, ...]] = {
    "id": ("sothua", "mathua", "sothututhua", "sohieuthua", "shthua", "thua", "parcelid", "parcel", "maso"),
    "sheet": ("soto", "sohieutobando", "sohieuto", "tobando", "shbando", "mapsheet", "sheet"),
    "current_use": ("maloaidat", "loaidat", "kyhieu", "kyhieumdsd", "mdsd", "mucdichsudung", "madat",
                    "hientrang", "currentuse", "landuse", "loaidathientrang"),
    "commune": ("tenxa", "maxa", "xa", "tenphuongxa", "phuongxa", "tendvhc", "commune", "ward", "district"),
    "area_m2": ("dientich", "dientichm2", "dtich", "dtpl", "dientichpl", "area"),
}
ROLES_VI = {"id": "số thửa", "sheet": "số tờ", "current_use": "mã loại đất", "commune": "xã", "area_m2": "diện tích (m²)"}
FLAGS = {"id": "--id-field", "current_use": "--use-field", "commune": "--commune-field", "area_m2": "--area-field"}


def admin_level(field: str) -> str:
    """The unit the commune role's field holds, as the scenario's ``parcels.admin_level`` says it:
    ``district`` when it is named as a district's (Huyen, TenHuyen, district_name), else ``commune`` —
    since 1 July 2025 Vietnam has provinces and communes only, so a land office's layer carries communes."""
    folded = fold(field)
    return "district" if "huyen" in folded or "district" in folded else "commune"


@dataclass(frozen=True)
class FieldChoice:
    role: str
    field: str | None
    how: str
    """'flag' (the planner named it), 'name' (found by its name), or 'none'"""


def _find(columns: list[str], role: str, taken: set[str]) -> str | None:
    folded = {c: fold(c) for c in columns if c not in taken}
    for cand in CANDIDATES[role]:
        for col, f in folded.items():
            if f == cand:
                return col
    for cand in CANDIDATES[role]:  # a name cut short (MaLoaiDa) or a longer spelling (SoThuaMoi)
        for col, f in folded.items():
            if len(f) >= 4 and len(cand) >= 4 and (cand.startswith(f) or f.startswith(cand)):
                return col
    return None


def choose_fields(gdf: pd.DataFrame, flags: dict[str, str | None], label: str) -> dict[str, FieldChoice]:
    """Each role's field: the flag's (which must exist), else the first by name; id, current use and
    commune are required."""
    columns = [c for c in gdf.columns if c != getattr(gdf, "geometry", pd.Series()).name]
    chosen: dict[str, FieldChoice] = {}
    taken: set[str] = set()
    for role in ("current_use", "commune", "sheet", "id", "area_m2"):
        given = flags.get(role)
        if given:
            if given not in columns:
                matches = [c for c in columns if fold(c) == fold(given)]
                if not matches:
                    raise InputError(label, given, f"no such field (given as {FLAGS[role]})",
                                     f"name one of the layer's fields: {', '.join(map(str, columns[:20]))}")
                given = matches[0]
            chosen[role] = FieldChoice(role, given, "flag")
        else:
            found = _find(columns, role, taken)
            chosen[role] = FieldChoice(role, found, "name" if found else "none")
        if chosen[role].field:
            taken.add(chosen[role].field)
    for role in ("id", "current_use", "commune"):
        if chosen[role].field is None:
            raise InputError(label, None, f"no {role.replace('_', '-')} field found ({ROLES_VI[role]}; looked for names like "
                             f"{', '.join(CANDIDATES[role][:4])})",
                             f"name it with {FLAGS[role]} (the layer's fields: {', '.join(map(str, columns[:20]))})")
    return chosen


def parcel_id(gdf: pd.DataFrame, chosen: dict[str, FieldChoice], label: str) -> list[str] | None:
    """None when the id field alone is unique; else the fields whose values joined make it unique —
    a parcel number is unique only on its map sheet (SoTo, SoThua), and sheets only within a commune."""
    idf = chosen["id"].field
    if gdf[idf].isna().any():
        raise InputError(label, idf, f"{int(gdf[idf].isna().sum())} parcels without a number", "fill them in")
    if not gdf[idf].duplicated().any():
        return None
    sheet, commune = chosen["sheet"].field, chosen["commune"].field
    for combo in ([sheet, idf], [commune, sheet, idf]):
        if all(combo) and not gdf.duplicated(subset=combo).any():
            return combo
    dup = gdf[idf][gdf.duplicated(subset=[c for c in (commune, sheet, idf) if c], keep=False)]
    raise InputError(label, idf, f"parcel numbers repeat even with sheet and commune (e.g. {sorted(map(str, set(dup)))[:5]})",
                     "give a unique id field with --id-field")
