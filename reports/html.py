"""HTML rendering of the report document: the print HTML that WeasyPrint turns into the PDF, and the
self-contained interactive HTML.

The interactive HTML references nothing outside itself: Leaflet's JS/CSS are inlined from
``reports/vendor/`` (its layer-switcher icons as data: URIs), maps are data: URIs, the plan is
embedded GeoJSON in EPSG:4326, there is no tile layer, and URL schemes in report text are dropped.
The only ``http(s)://`` strings left are in Leaflet's preserved licence header and the SVG namespace
name ``http://www.w3.org/2000/svg`` inside Leaflet's code (an XML namespace identifier, which no
browser ever fetches).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import jinja2
import numpy as np
import shapely
from markupsafe import Markup, escape

from optimizer.workflows.metrics import ordered_codes
from optimizer.workflows.plan_figures import plan_periods
from reports.blocks import TEMPLATES, Bullets, Document, Figure, Interactive, KeyValues, Para, Table, strip_scheme
from reports.data import COMMUNE_FIELD, RunData, dissolve_by
from reports.labels import reason_text, units_legend, zone_rule_label
from reports.mapkit import zone_kind

VENDOR = Path(__file__).resolve().parent / "vendor"
LEAFLET_VERSION = "1.9.4"
MAX_PARCEL_FEATURES = 6000
"""Above this many parcels the interactive map shows land use dissolved by code (plus each converted parcel)."""

# (old, new): each must occur exactly once in the vendored leaflet.js, or inlining refuses it.
_LEAFLET_JS_PATCHES = [
    ('<a href="https://leafletjs.com" title="A JavaScript library for interactive maps">',
     '<a title="Leaflet: a JavaScript library for interactive maps">'),
]


def _data_uri(png: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(png).decode("ascii")


def leaflet_assets() -> tuple[str, str, str]:
    """(css, js, licence) of the vendored Leaflet, ready to inline."""
    js = (VENDOR / "leaflet.js").read_text(encoding="utf-8")
    if f"Leaflet {LEAFLET_VERSION}" not in js[:200]:
        raise RuntimeError(f"{VENDOR / 'leaflet.js'} is not Leaflet {LEAFLET_VERSION}; update reports/html.py with it")
    for old, new in _LEAFLET_JS_PATCHES:
        if js.count(old) != 1:
            raise RuntimeError(f"vendored leaflet.js: expected one {old[:40]!r}…; re-check the patches in reports/html.py")
        js = js.replace(old, new)
    if "</script" in js.lower():
        raise RuntimeError("vendored leaflet.js contains '</script'; it cannot be inlined")
    css = re.sub(r"/\*.*?\*/", "", (VENDOR / "leaflet.css").read_text(encoding="utf-8"), flags=re.S)
    for img in ("layers-2x.png", "layers.png"):
        css = css.replace(f"url(images/{img})", f"url({_data_uri((VENDOR / img).read_bytes())})")
    css = css.replace("url(images/marker-icon.png)", "none")  # default markers are never used
    licence = (VENDOR / "LICENSE-leaflet.txt").read_text(encoding="utf-8").replace("--", "- -")
    return css, js, f"Leaflet {LEAFLET_VERSION} (npm package leaflet), inlined unmodified except as listed in reports/vendor/README.md.\n\n{licence}"


# --- the interactive map's data --------------------------------------------------------------------------

def _round_coords(geoms: np.ndarray, digits: int = 6) -> np.ndarray:
    return shapely.transform(geoms, lambda c: np.round(c, digits))


def _fc(gdf, props: dict) -> dict:
    """FeatureCollection of ``gdf`` (already EPSG:4326) with property name → column."""
    geoms = _round_coords(gdf.geometry.to_numpy())
    cols = {k: gdf[c].tolist() for k, c in props.items()}
    feats = []
    for i, g in enumerate(geoms):
        if g is None or g.is_empty:
            continue
        feats.append({"type": "Feature", "geometry": json.loads(shapely.to_geojson(g)),
                      "properties": {k: v[i] for k, v in cols.items()}})
    return {"type": "FeatureCollection", "features": feats}


def map_payload(block: Interactive, doc: Document) -> dict:
    data: RunData = block.data
    plan = plan_periods(data.plan)[-1][1]  # a phased plan: its final state
    T, lu = doc.T, doc.land_uses
    name_col = "name_vi" if doc.lang == "vi" else "name_en"
    codes = ordered_codes(set(plan["new_use"]) | set(plan["current_use"]), list(lu.index))
    payload = {
        "colours": {c: lu["colour"].get(c, "#999999") for c in codes},
        "names": {c: f"{c} – {lu[name_col].get(c, c)}" for c in codes},
        "legend": codes,
        "text": {k: v for k, v in T.items() if k.startswith(("pop_", "map_layer_")) or k in ("map_legend", "map_converted")},
    }
    wgs = plan.to_crs(4326)
    minx, miny, maxx, maxy = wgs.total_bounds
    payload["bounds"] = [[float(miny), float(minx)], [float(maxy), float(maxx)]]
    parcel_props = {"id": "parcel_id", "cu": "current_use", "nu": "new_use", "a": "_a", "c": COMMUNE_FIELD,
                    "d": "district", "ch": "_ch", "r": "_reason", "s": "site"}
    wgs = wgs.assign(_a=plan["area_ha"].round(2).to_numpy(), _ch=plan["changed"].astype(bool).astype(int).to_numpy())
    for c in ("reason", "site", "district", COMMUNE_FIELD):
        if c not in wgs.columns:
            wgs[c] = ""
        wgs[c] = wgs[c].fillna("").astype(str)
    wgs["_reason"] = [reason_text(r, doc.lang) for r in wgs["reason"]]
    if len(plan) <= MAX_PARCEL_FEATURES:
        payload["merged"] = False
        payload["plan"] = _fc(wgs, parcel_props)
    else:
        span = float(max(plan.total_bounds[2] - plan.total_bounds[0], plan.total_bounds[3] - plan.total_bounds[1]))
        tol = span / 3000
        payload["merged"] = True
        payload["plan"] = _fc(dissolve_by(plan, "new_use", tol).to_crs(4326), {"nu": "new_use", "a": "area"})
        payload["current"] = _fc(dissolve_by(plan, "current_use", tol).to_crs(4326), {"cu": "current_use", "a": "area"})
        payload["changed"] = _fc(wgs[wgs["_ch"] == 1], parcel_props)
    if block.units is not None:
        d = block.units.gdf.to_crs(4326)
        d = d.assign(_label=d[block.units.label].astype(str) if block.units.label else "")
        payload["units"] = _fc(d, {"label": "_label"})
        payload["text"]["map_layer_districts"] = units_legend(block.units, T)
    if block.zones is not None and len(block.zones.gdf):
        z = block.zones
        g = z.gdf.to_crs(4326)
        names = g[z.name_field].astype(str) if z.name_field in g.columns else g[z.class_field]
        g = g.assign(_kind=[zone_kind(z.rules[c]) for c in g[z.class_field]],
                     _label=[f"{zone_rule_label(c, z.rules[c], T, doc.lang)} — {n}" for c, n in zip(g[z.class_field], names)])
        payload["zones"] = _fc(g, {"kind": "_kind", "label": "_label"})
    if block.places is not None and len(block.places.gdf) and "_label" in block.places.gdf.columns:
        p = block.places.gdf
        p = p[(p.geometry.geom_type == "Point") & p["_label"].notna()].to_crs(4326)
        payload["places"] = _fc(p, {"label": "_label"})
    return payload


def _json_for_script(obj) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


# --- rendering --------------------------------------------------------------------------------------------

def _environment(scrub: bool) -> jinja2.Environment:
    clean = strip_scheme if scrub else (lambda s: s)

    def finalize(v):
        return clean(v) if isinstance(v, str) and not isinstance(v, Markup) else v

    def lines(text) -> Markup:
        return Markup("<br>").join(escape(clean(str(line))) for line in str(text).split("\n"))

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True, finalize=finalize,
                             trim_blocks=False, lstrip_blocks=False, undefined=jinja2.StrictUndefined)
    env.filters["lines"] = lines
    env.filters["data_uri"] = _data_uri
    for name, cls in (("para", Para), ("bullets", Bullets), ("keyvalues", KeyValues), ("table", Table),
                      ("figure", Figure), ("interactive", Interactive)):
        env.tests[name] = (lambda c: (lambda b: isinstance(b, c)))(cls)
    return env


def render_html(doc: Document, interactive: bool) -> str:
    """The report page. ``interactive``: the self-contained HTML with the Leaflet map; otherwise the
    print page WeasyPrint renders (static maps only)."""
    env = _environment(scrub=interactive)
    ctx = {"doc": doc, "T": doc.T, "interactive": interactive,
           "css": Markup((TEMPLATES / "report.css").read_text(encoding="utf-8"))}
    if interactive:
        css, js, licence = leaflet_assets()
        block = next((b for s in doc.sections for b in s.blocks if isinstance(b, Interactive)), None)
        payload = map_payload(block, doc) if block is not None else None
        ctx.update(leaflet_css=Markup(css), leaflet_js=Markup(js), leaflet_licence=licence,
                   map_js=Markup((TEMPLATES / "map.js").read_text(encoding="utf-8")),
                   payload=Markup(strip_scheme(_json_for_script(payload))))
        if block is None:
            ctx["interactive"] = False  # no plan, no map: nothing to script
    return env.get_template("report.html.j2").render(**ctx)


def write_pdf(doc: Document, path: Path) -> None:
    try:
        import weasyprint
    except OSError as e:  # the Python package is there but Pango is not
        raise RuntimeError(f"WeasyPrint cannot load its system libraries ({e}); install them: apt-get install "
                           "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-croscore fonts-dejavu-core") from None
    html = render_html(doc, interactive=False)
    weasyprint.HTML(string=html, base_url=str(TEMPLATES)).write_pdf(str(path))
