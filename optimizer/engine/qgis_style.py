"""A QGIS style stored inside the allocation GeoPackage, so the layer opens colour-coded in QGIS.

QGIS reads a default style from the GeoPackage's ``layer_styles`` table (one QML document per layer,
``useAsDefault = 1``); the table is registered in ``gpkg_contents`` as ``attributes``, as QGIS itself
does when it saves a style. The style is a categorized renderer on ``new_use`` with the scenario's
land-use colours and "CODE – Vietnamese name" labels: the same colours as the report's maps.

Standard library only (sqlite3, xml): every run directory writes it (``rundir.write_run_dir``).
Checked against Debian's QGIS 3.22 conventions (see CONVENTIONS.md).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Mapping
from xml.sax.saxutils import quoteattr

STYLE_NAME = "landalloc new_use"
CATEGORY_FIELD = "new_use"

_CREATE = """
CREATE TABLE IF NOT EXISTS layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  f_table_catalog TEXT(256),
  f_table_schema TEXT(256),
  f_table_name TEXT(256),
  f_geometry_column TEXT(256),
  styleName TEXT(30),
  styleQML TEXT,
  styleSLD TEXT,
  useAsDefault BOOLEAN,
  description TEXT,
  owner TEXT(30),
  ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
)"""


def _field(use: Any, name: str, default: Any = None) -> Any:
    """A land use given as a pydantic model (scenario) or a plain dict (run.json)."""
    if isinstance(use, Mapping):
        return use.get(name, default)
    return getattr(use, name, default)


def rgb(colour: str) -> tuple[int, int, int]:
    """'#d94a8c' or '#d4c' → (217, 74, 140); anything else is an error naming the value."""
    c = colour.strip().lstrip("#")
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    if len(c) not in (6, 8):
        raise ValueError(f"colour {colour!r} is not #rrggbb")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _fill_symbol(name: str, colour: str) -> str:
    r, g, b = rgb(colour)
    props = {"color": f"{r},{g},{b},255", "outline_color": "35,35,35,255", "outline_style": "solid",
             "outline_width": "0.1", "outline_width_unit": "MM", "style": "solid", "joinstyle": "bevel"}
    option = "".join(f'<Option type="QString" name="{k}" value="{v}"/>' for k, v in props.items())
    legacy = "".join(f'<prop k="{k}" v="{v}"/>' for k, v in props.items())
    return (f'<symbol type="fill" name={quoteattr(name)} alpha="1" clip_to_extent="1" force_rhr="0">'
            f'<layer class="SimpleFill" enabled="1" pass="0" locked="0">'
            f'<Option type="Map">{option}</Option>{legacy}</layer></symbol>')


def qml(land_uses: Mapping[str, Any], field: str = CATEGORY_FIELD) -> str:
    """QML document: categorized renderer on ``field``, one category per land-use code, in scenario order."""
    cats, syms = [], []
    for i, (code, use) in enumerate(land_uses.items()):
        label = f"{code} – {_field(use, 'name_vi', code)}"
        cats.append(f'<category render="true" symbol="{i}" value={quoteattr(code)} label={quoteattr(label)} type="string"/>')
        syms.append(_fill_symbol(str(i), _field(use, "colour", "#999999")))
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            '<qgis version="3.22.0" styleCategories="Symbology">\n'
            f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(field)} symbollevels="0" '
            'enableorderby="0" forceraster="0" referencescale="-1">\n'
            f"<categories>{''.join(cats)}</categories>\n"
            f"<symbols>{''.join(syms)}</symbols>\n"
            f"<source-symbol>{_fill_symbol('0', '#999999')}</source-symbol>\n"
            "<rotation/><sizescale/>\n"
            "</renderer-v2>\n"
            "<blendMode>0</blendMode><featureBlendMode>0</featureBlendMode><layerOpacity>1</layerOpacity>\n"
            "<layerGeometryType>2</layerGeometryType>\n"
            "</qgis>\n")


def add_style(gpkg_path: str | Path, land_uses: Mapping[str, Any], layer: str = "allocation",
              field: str = CATEGORY_FIELD) -> None:
    """Write (or replace) the default QGIS style of ``layer`` in the GeoPackage's ``layer_styles``.

    ``land_uses``: code → {name_vi, colour, …} (the scenario's ``land_uses``, as models or dicts).
    Idempotent: a second call replaces the row this function wrote.
    """
    path = Path(gpkg_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no GeoPackage to style")
    document = qml(land_uses, field)
    con = sqlite3.connect(path)
    try:
        with con:
            geom = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer,)).fetchone()
            if geom is None:
                raise ValueError(f"{path}: no feature table {layer!r} in gpkg_geometry_columns")
            con.execute(_CREATE)
            con.execute("INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
                        "VALUES ('layer_styles', 'attributes', 'layer_styles', '', strftime('%Y-%m-%dT%H:%M:%fZ','now'))")
            con.execute("DELETE FROM layer_styles WHERE f_table_name = ? AND styleName = ?", (layer, STYLE_NAME))
            # only one default style per layer
            con.execute("UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = ?", (layer,))
            con.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                        "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui) "
                        "VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', '')",
                        (layer, geom[0], STYLE_NAME, document, f"planned land use ({field}), landalloc colours"))
    finally:
        con.close()
