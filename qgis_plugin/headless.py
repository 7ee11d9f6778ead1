"""Run landalloc's Processing algorithms in QGIS without a display, as the Processing dialog would, and
say what QGIS made of them — for CI and for checking an installation.

    QT_QPA_PLATFORM=offscreen python3 qgis_plugin/headless.py STEPS.json > report.json

STEPS.json is a list of runs, each ``{"algorithm": "landalloc:solve", "parameters": {...}}`` with
optional ``"cancel_on": TEXT`` (press Cancel when a progress line contains TEXT) and ``"render": PNG``
(draw the layers the run loaded, with their styles, to PNG). The plugin is loaded from this folder
the way QGIS loads an installed plugin (``qgis.utils``); results are loaded into the project by
Processing's own post-processing, so the styles seen are the ones a planner gets. The report (JSON
on stdout) lists the provider's algorithms and, per run, the results or the error, the log, the
progress values, the time taken, and each loaded layer (fields, feature count, renderer and its categories, render).
Runs with QGIS's own Python (Debian: python3-qgis), not landalloc's; the landalloc command is found
as the plugin finds it ($LANDALLOC_EXE or PATH).
"""

from __future__ import annotations

import json
import os
import sys
import time

PLUGINS = os.path.dirname(os.path.abspath(__file__))


def main(steps_path: str) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    try:
        return _session(json.load(open(steps_path, encoding="utf-8")))
    finally:
        app.exitQgis()


def _session(steps: list[dict]) -> dict:
    from qgis.core import QgsApplication

    sys.path.append(os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))
    from processing.core.Processing import Processing

    Processing.initialize()
    import qgis.utils

    qgis.utils.plugin_paths = [PLUGINS]
    qgis.utils.updateAvailablePlugins()
    sys.path.insert(0, PLUGINS)
    started = qgis.utils.loadPlugin("landalloc") and qgis.utils.startProcessingPlugin("landalloc")
    provider = QgsApplication.processingRegistry().providerById("landalloc")
    report = {"plugin_started": bool(started), "provider": provider.longName() if provider else None,
              "algorithms": sorted((a.id(), a.displayName(), a.group()) for a in provider.algorithms()) if provider else [],
              "runs": []}
    for step in steps:
        report["runs"].append(_run(step))
    return report


def _run(step: dict) -> dict:
    import processing
    from processing.gui.Postprocessing import handleAlgorithmResults
    from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsProject

    project = QgsProject.instance()
    project.removeAllMapLayers()
    log, progress, cancel_on = [], [], step.get("cancel_on")

    class Feedback(QgsProcessingFeedback):
        def setProgressText(self, text):
            log.append(text)
            if cancel_on and cancel_on in text and not self.isCanceled():
                log.append("[headless] Cancel pressed")
                self.cancel()

        def pushInfo(self, text):
            log.append(text)

        def pushWarning(self, text):
            log.append("warning: " + text)

        def reportError(self, text, fatal=False):
            log.append("error: " + text)

        def pushCommandInfo(self, text):
            log.append("command: " + text)

    feedback = Feedback()
    feedback.progressChanged.connect(lambda value: progress.append(round(value, 1)))
    out = {"algorithm": step["algorithm"], "log": log, "progress": progress}
    started = time.monotonic()
    try:
        out["results"] = processing.run(step["algorithm"], step["parameters"], feedback=feedback,
                                        onFinish=handleAlgorithmResults)
    except QgsProcessingException as e:
        out["error"] = str(e)
    out["seconds"] = round(time.monotonic() - started, 2)
    out["canceled"] = feedback.isCanceled()
    out["layers"] = [_describe(layer) for layer in project.mapLayers().values()]
    if step.get("render") and project.mapLayers():
        out["render"] = _render(list(project.mapLayers().values()), step["render"])
    return out


def _describe(layer) -> dict:
    renderer = layer.renderer()
    categories = []
    if renderer is not None and renderer.type() == "categorizedSymbol":
        categories = [{"value": c.value(), "label": c.label(), "rgb": list(c.symbol().color().getRgb()[:3])}
                      for c in renderer.categories()]
    return {"name": layer.name(), "source": layer.source(), "features": layer.featureCount(),
            "fields": [f.name() for f in layer.fields()], "crs": layer.crs().authid(),
            "renderer": renderer.type() if renderer is not None else None,
            "category_field": renderer.classAttribute() if categories else None, "categories": categories}


def _render(layers: list, png: str, width: int = 800) -> dict:
    """The layers as QGIS draws them (no antialiasing, so fills keep their exact colours), on white."""
    from qgis.core import QgsMapRendererSequentialJob, QgsMapSettings
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    extent = layers[0].extent()
    for layer in layers[1:]:
        extent.combineExtentWith(layer.extent())
    extent.scale(1.1)
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(layers[0].crs())
    settings.setBackgroundColor(QColor(255, 255, 255))
    settings.setFlag(QgsMapSettings.Antialiasing, False)
    settings.setOutputSize(QSize(width, max(1, round(width * extent.height() / extent.width()))))
    settings.setExtent(extent)
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(png, "PNG")
    v = settings.visibleExtent()
    return {"png": png, "width": settings.outputSize().width(), "height": settings.outputSize().height(),
            "extent": [v.xMinimum(), v.yMinimum(), v.xMaximum(), v.yMaximum()], "errors": len(job.errors())}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(json.dumps(main(sys.argv[1]), ensure_ascii=False, indent=1, default=str))
