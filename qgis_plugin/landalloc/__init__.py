"""landalloc in QGIS: a Processing provider that runs the ``landalloc`` command (README "landalloc in QGIS")."""


def classFactory(iface):  # noqa: N802 — the name QGIS looks for
    from landalloc.plugin import LandallocPlugin

    return LandallocPlugin(iface)
