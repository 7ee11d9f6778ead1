"""The plugin object QGIS starts: it only registers the Processing provider (no toolbar or menu of its own —
the algorithms are in the Processing Toolbox under landalloc)."""

from __future__ import annotations

from qgis.core import QgsApplication

from landalloc.provider import LandallocProvider


class LandallocPlugin:
    def __init__(self, iface):
        self.iface, self.provider = iface, None

    def initProcessing(self):
        """Called by QGIS (and qgis_process) for plugins with hasProcessingProvider=yes, and by initGui."""
        if self.provider is None:
            self.provider = LandallocProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):
        self.initProcessing()

    def unload(self):
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
