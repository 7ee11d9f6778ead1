"""Algorithms that produce a plan: *Solve scenario* (``landalloc solve``) and *What-if* (``landalloc whatif``).

Both write a run directory (``allocation.gpkg`` + ``run.json``), load its allocation layer coloured by
planned use, and return the run's status, objective and gap. An infeasible run (exit 3) or one stopped
without a proven plan (exit 4: time limit, or Cancel) is a result, not a failure: its status says so, and
its layer is loaded when it has a plan (after Cancel QGIS loads nothing; the log says where the plan is).
"""

from __future__ import annotations

import os

from qgis.core import (QgsProcessingOutputFile, QgsProcessingOutputNumber,
                       QgsProcessingOutputString, QgsProcessingOutputVectorLayer, QgsProcessingParameterBoolean,
                       QgsProcessingParameterDefinition, QgsProcessingParameterEnum, QgsProcessingParameterFile,
                       QgsProcessingParameterFolderDestination, QgsProcessingParameterNumber,
                       QgsProcessingParameterString)

from landalloc.base import INFEASIBLE, LandallocAlgorithm, absolute

SOLVERS = ["from the scenario", "highs", "cbc", "cpsat", "scip"]
SCENARIO_FILTER = "landalloc scenarios (*.yaml *.yml)"


class _PlanAlgorithm(LandallocAlgorithm):
    """Shared by the verbs that write a run directory: their common options, outputs and result."""

    GROUP = "Plans"

    def add_run_options(self) -> None:
        self.addParameter(QgsProcessingParameterBoolean("NO_MARGINALS", "Skip marginal values of binding quotas (faster)",
                                                        defaultValue=False))
        self.addParameter(QgsProcessingParameterBoolean("OVERWRITE", "Overwrite: a run without a plan may replace one "
                                                        "with a plan", defaultValue=False))
        store = QgsProcessingParameterString("STORE", "Run store (GeoPackage path, postgresql:// URL or 'none'; blank: "
                                             "$LANDALLOC_STORE or ~/.landalloc/runs.gpkg)", optional=True)
        store.setFlags(store.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(store)
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT", "Run directory"))
        self.addOutput(QgsProcessingOutputVectorLayer("ALLOCATION", "Allocation"))
        self.addOutput(QgsProcessingOutputString("STATUS", "Status (optimal, feasible, infeasible, no_solution)"))
        self.addOutput(QgsProcessingOutputNumber("OBJECTIVE", "Objective"))
        self.addOutput(QgsProcessingOutputNumber("GAP", "Gap (relative)"))
        self.addOutput(QgsProcessingOutputNumber("EXIT_CODE", "landalloc exit code"))
        self.addOutput(QgsProcessingOutputFile("RUN_JSON", "run.json"))

    def run_args(self, parameters, context, out: str) -> list[str]:
        args = ["--out", out]
        if self.parameterAsBoolean(parameters, "NO_MARGINALS", context):
            args.append("--no-marginals")
        if self.parameterAsBoolean(parameters, "OVERWRITE", context):
            args.append("--overwrite")
        store = (self.parameterAsString(parameters, "STORE", context) or "").strip()
        if store:
            args += ["--store", store]
        return args

    def plan_results(self, code: int, run: dict | None, out: str, context, feedback, name: str) -> dict:
        """Outputs from the run's JSON. A run without a plan that was kept beside ``out`` (which holds an
        earlier run with one) is not the run in ``out``: nothing is loaded then, the CLI said where it went."""
        run = run or {}
        run_dir = run.get("run_dir") or ("" if run.get("kept_beside") or not run else out)
        results = {"OUTPUT": run_dir, "STATUS": run.get("status") or "", "OBJECTIVE": run.get("objective"),
                   "GAP": run.get("gap"), "EXIT_CODE": code,
                   "RUN_JSON": os.path.join(run_dir, "run.json") if run_dir else ""}
        gpkg = os.path.join(run_dir, "allocation.gpkg") if run_dir else ""
        if gpkg and os.path.isfile(gpkg):
            results["ALLOCATION"] = self.load_layer(context, gpkg, "allocation", f"{name} ({run.get('status')})",
                                                    "ALLOCATION")
            if feedback.isCanceled():
                feedback.pushWarning(f"the best plan found before Cancel is in {gpkg}; QGIS does not load the results "
                                     "of a cancelled algorithm: add it from there (it opens with its colours)")
        if code == INFEASIBLE:  # the CLI's diagnosis lines (above in the log) name the conflicting requirements
            feedback.reportError("infeasible: no plan meets every requirement; the diagnosis above names the conflicting "
                                 "ones (run.json: diagnosis)", False)
        if run.get("kept_beside"):
            feedback.pushWarning(f"no plan in this run: it was written beside {run['kept_beside']['kept']}, which "
                                 "keeps its earlier plan (see the messages above; Overwrite replaces it)")
        return results


class SolveScenario(_PlanAlgorithm):
    ID, TITLE = "solve", "Solve scenario"
    HELP = ("Solves a landalloc scenario (YAML) with the landalloc command and loads the plan: the allocation "
            "layer (parcel_id, current_use, new_use, changed, reason, site, …) coloured by planned use. The run "
            "directory holds allocation.gpkg and run.json (status, objective, bound, gap, quotas, binding rows). "
            "Cancel stops the solver as Ctrl-C does: the best plan found so far is checked and written.")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFile("SCENARIO", "Scenario", fileFilter=SCENARIO_FILTER))
        self.addParameter(QgsProcessingParameterEnum("SOLVER", "Solver", options=SOLVERS, defaultValue=0))
        for name, label, kind, minimum in (("TIME_LIMIT", "Time limit (s)", QgsProcessingParameterNumber.Double, 0.0),
                                           ("GAP", "Relative gap (e.g. 0.001)", QgsProcessingParameterNumber.Double, 0.0),
                                           ("THREADS", "Solver threads", QgsProcessingParameterNumber.Integer, 1),
                                           ("SEED", "Random seed", QgsProcessingParameterNumber.Integer, 0)):
            self.addParameter(QgsProcessingParameterNumber(name, f"{label} (blank: the scenario's)", kind,
                                                           optional=True, minValue=minimum))
        self.add_run_options()

    def processAlgorithm(self, parameters, context, feedback):
        scenario = absolute(self.parameterAsFile(parameters, "SCENARIO", context))
        out = absolute(self.parameterAsFileOutput(parameters, "OUTPUT", context))
        args = ["solve", scenario, *self.run_args(parameters, context, out)]
        solver = self.parameterAsEnum(parameters, "SOLVER", context)
        if solver:
            args += ["--solver", SOLVERS[solver]]
        for name, flag in (("TIME_LIMIT", "--time-limit"), ("GAP", "--gap"), ("THREADS", "--threads"), ("SEED", "--seed")):
            if parameters.get(name) is not None:
                value = self.parameterAsDouble(parameters, name, context)
                args += [flag, str(int(value)) if name in ("THREADS", "SEED") else repr(value)]
        code, run = self.run_cli(args, feedback)
        return self.plan_results(code, run, out, context, feedback, os.path.splitext(os.path.basename(scenario))[0])


class WhatIf(_PlanAlgorithm):
    ID, TITLE = "whatif", "What-if"
    HELP = ("Solves a variant of a scenario without writing a scenario file: one change per line as "
            "PATH=VALUE, e.g. quotas.SKK.hi=250 or objective.terms.forest_loss.weight=2 (values are YAML: "
            "'\"01234\"' is a string, null removes the key). Every path is checked against the scenario schema; "
            "run.json records the changes under overrides. Loads the variant's allocation layer.")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFile("BASE", "Base scenario", fileFilter=SCENARIO_FILTER))
        self.addParameter(QgsProcessingParameterString("SET", "Changes, one PATH=VALUE per line", multiLine=True))
        self.add_run_options()

    def processAlgorithm(self, parameters, context, feedback):
        base = absolute(self.parameterAsFile(parameters, "BASE", context))
        changes = [line.strip() for line in self.parameterAsString(parameters, "SET", context).splitlines() if line.strip()]
        out = absolute(self.parameterAsFileOutput(parameters, "OUTPUT", context))
        args = ["whatif", base, *self.run_args(parameters, context, out)]
        for change in changes:
            args += ["--set", change]
        code, run = self.run_cli(args, feedback)
        return self.plan_results(code, run, out, context, feedback, "what-if " + ", ".join(changes)[:60])
