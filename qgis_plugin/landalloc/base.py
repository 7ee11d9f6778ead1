"""What every landalloc algorithm shares: running the CLI verb with Processing's feedback, turning its
exit code into a result or a clear error, and loading result layers with their embedded style."""

from __future__ import annotations

import json
import os

from qgis.core import (QgsProcessingAlgorithm, QgsProcessingContext, QgsProcessingException,
                       QgsProcessingLayerPostProcessorInterface)

from landalloc import runner

EXE_SETTING = "LANDALLOC_EXE"

# the CLI's exit codes that change what an algorithm does (README "Exit codes")
BAD_INPUT, INFEASIBLE = 2, 3


def configured_executable() -> str | None:
    """The provider's "landalloc executable" setting (Options → Processing → Providers), if Processing has it."""
    try:
        from processing.core.ProcessingConfig import ProcessingConfig
    except ImportError:  # Processing plugin not loaded (e.g. a bare qgis_process): $LANDALLOC_EXE or PATH
        return None
    return ProcessingConfig.getSetting(EXE_SETTING)


class StyleFromGeoPackage(QgsProcessingLayerPostProcessorInterface):
    """Gives a loaded result layer the default style stored in its GeoPackage (``layer_styles``, written by
    ``optimizer/engine/qgis_style.py``): Processing loads result layers without their default style."""

    def postProcessLayer(self, layer, context, feedback):
        message, ok = layer.loadDefaultStyle()
        if not ok:
            feedback.pushInfo(f"{layer.name()}: no style stored with the layer ({message}); default symbols used")


class LandallocAlgorithm(QgsProcessingAlgorithm):
    """One CLI verb. Subclasses name themselves in class attributes, declare parameters and turn the
    verb's ``--json`` result into outputs."""

    ID = TITLE = GROUP = HELP = ""
    _post_processors: list = []
    """kept alive until QGIS has run them (ownership passes to C++, the Python side must not be collected)"""

    def createInstance(self):
        return type(self)()

    def name(self):
        return self.ID

    def displayName(self):
        return self.TITLE

    def group(self):
        return self.GROUP

    def groupId(self):
        return self.GROUP.lower()

    def shortHelpString(self):
        return self.HELP

    def run_cli(self, args: list[str], feedback) -> tuple[int, dict | None]:
        """Run ``landalloc ARGS --json``; return the exit code and the JSON result (None after a Cancel that
        left none). Bad input (exit 2), a run that printed no result, and a missing executable raise, with
        the CLI's own message."""
        try:
            exe = runner.find_executable(configured_executable())
        except runner.ExecutableNotFound as e:
            raise QgsProcessingException(str(e))
        command = [*args, "--json"]
        feedback.pushCommandInfo(" ".join(_quote(a) for a in [exe, *command]))
        done = runner.run(exe, command, on_line=lambda line: _show(feedback, line),
                          on_progress=feedback.setProgress, is_canceled=feedback.isCanceled)
        if done.cancelled:
            feedback.pushWarning("cancelled: landalloc was stopped as by Ctrl-C (a plan found so far is checked and written)")
        result = None
        if done.stdout.strip():
            try:
                result = json.loads(done.stdout)
            except ValueError:
                feedback.reportError("landalloc printed no JSON result:\n" + done.stdout[-2000:], False)
        if done.exit_code == BAD_INPUT or (result is None and not done.cancelled):  # every verb prints JSON unless it failed
            errors = [line[len("error:"):].strip() for line in done.stderr if line.startswith("error:")] or done.stderr[-5:]
            raise QgsProcessingException(f"landalloc stopped (exit code {done.exit_code}): " + "\n".join(errors))
        return done.exit_code, result

    def load_layer(self, context, gpkg: str, layer: str, display_name: str, output_name: str) -> str:
        """Have ``gpkg``'s ``layer`` loaded into the project when the algorithm completes, with its stored style."""
        uri = f"{gpkg}|layername={layer}"
        details = QgsProcessingContext.LayerDetails(display_name, context.project(), output_name)
        processor = StyleFromGeoPackage()
        LandallocAlgorithm._post_processors[:] = LandallocAlgorithm._post_processors[-50:] + [processor]
        details.setPostProcessor(processor)
        context.addLayerToLoadOnCompletion(uri, details)
        return uri


def _show(feedback, line: str) -> None:
    """A CLI stderr line in the Processing log: the run's phase as the progress text (which the dialog
    also logs), errors as errors, anything else as a message."""
    if line.startswith("error:"):
        feedback.reportError(line, False)
    elif runner.PHASE_LINE.match(line):
        feedback.setProgressText(line.strip())
    else:
        feedback.pushInfo(line)


def _quote(arg: str) -> str:
    return f'"{arg}"' if (" " in arg or not arg) else arg


def absolute(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path)) if path else path
