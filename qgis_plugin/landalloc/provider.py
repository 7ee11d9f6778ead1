"""The landalloc Processing provider: five algorithms and one setting, where the landalloc command is."""

from __future__ import annotations

import os

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from landalloc.base import EXE_SETTING
from landalloc.plans import SolveScenario, WhatIf
from landalloc.review import CompareRuns, CouncilReport, ExplainScenario

ALGORITHMS = (SolveScenario, WhatIf, CompareRuns, CouncilReport, ExplainScenario)
ICON = os.path.join(os.path.dirname(__file__), "icon.svg")


class LandallocProvider(QgsProcessingProvider):
    def id(self):
        return "landalloc"

    def name(self):
        return "landalloc"

    def longName(self):
        return "landalloc — exact land-use allocation"

    def icon(self):
        return QIcon(ICON)

    def load(self):
        """Adds the executable setting to Options → Processing → Providers (when Processing's settings exist)."""
        try:
            from processing.core.ProcessingConfig import ProcessingConfig, Setting
        except ImportError:
            return super().load()
        ProcessingConfig.settingIcons[self.name()] = self.icon()
        ProcessingConfig.addSetting(Setting(self.name(), EXE_SETTING,
                                            "landalloc executable (blank: $LANDALLOC_EXE, then landalloc on PATH)", "",
                                            valuetype=Setting.FILE))
        ProcessingConfig.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self):
        try:
            from processing.core.ProcessingConfig import ProcessingConfig
        except ImportError:
            return
        ProcessingConfig.removeSetting(EXE_SETTING)

    def loadAlgorithms(self):
        for algorithm in ALGORITHMS:
            self.addAlgorithm(algorithm())
