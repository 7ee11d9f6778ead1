"""The layers every map of one report draws, read once: the 2025 communes (or the districts when the
parcels carry no commune), the province outline, the zones, the places labelled in the report's
language, and the sites' anchors. The council report and ``landalloc compare`` both draw with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from reports.data import (COMMUNE_FIELD, Layer, RunData, Zones, anchors, communes_layer, districts_layer, outline,
                          parcels_once, places_layer, zones_layer)
from reports.labels import place_labels
from reports.mapkit import DPI


@dataclass
class MapContext:
    units: Layer | None
    """the 2025 communes, or the districts when the parcels carry no commune"""
    province: object
    zones: Zones | None
    places: Layer | None
    anchors: dict
    dpi: int

    @classmethod
    def of(cls, data: RunData, lang: str, T: dict, dpi: int = DPI) -> "MapContext":
        communes = communes_layer(data)
        units = communes if communes is not None else districts_layer(data)
        places = places_layer(data)
        if places is not None and data.plan is not None:
            names = places.gdf[places.label].tolist() if places.label else [None] * len(places.gdf)
            places.gdf["_label"] = place_labels(names, places.gdf.geometry, parcels_once(data.plan), COMMUNE_FIELD, lang, T)
        return cls(units, outline(units), zones_layer(data), places, anchors(data), dpi)
