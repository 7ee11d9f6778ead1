"""The stages of the Cao Bằng build (``python -m instances.cao_bang.build``), in the order they run.

- ``constants``    — every fixed choice: paths, CRS, seed, published figures, vocabulary, parameters;
- ``reading``      — source layers in (NFC, EPSG:9210) and the 0.1 m precision rule out;
- ``reference``    — province, districts reconciled to tile it, key places, strict zones and buffers;
- ``bez``          — the border-gate economic zone, a band calibrated to the published area;
- ``terrain``      — seeded synthetic elevation, slope and noise fields;
- ``context``      — the above built once from the sources and shared by every dataset;
- ``tessellation`` — hexagonal parcels cut along the district lines;
- ``land_use``     — synthetic current use and the suitabilities derived from it;
- ``parcels``      — one parcel dataset: geometry, distances, fields, use, households, suitability;
- ``metadata``     — ``metadata.json``: numbers, formulas, seeds, sources.
"""
