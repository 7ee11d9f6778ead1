"""Algorithms that read scenarios and runs: *Compare runs* (``landalloc compare``), *Council report*
(``landalloc report``) and *Explain scenario* (``landalloc explain``)."""

from __future__ import annotations

import html
import json
import os

from qgis.core import (QgsProcessingOutputBoolean, QgsProcessingOutputFile,
                       QgsProcessingOutputHtml, QgsProcessingOutputVectorLayer, QgsProcessingParameterEnum,
                       QgsProcessingParameterFile, QgsProcessingParameterFileDestination,
                       QgsProcessingParameterFolderDestination)

from landalloc.base import INFEASIBLE, LandallocAlgorithm, absolute
from landalloc.plans import SCENARIO_FILTER

LANGUAGES = ["vi", "en"]
FORMATS = ["pdf", "docx", "html", "xlsx"]


def _run_dir(name: str, label: str, optional: bool = False) -> QgsProcessingParameterFile:
    return QgsProcessingParameterFile(name, label, behavior=QgsProcessingParameterFile.Folder, optional=optional)


class _Review(LandallocAlgorithm):
    GROUP = "Review"


class CompareRuns(_Review):
    ID, TITLE = "compare", "Compare runs"
    HELP = ("Compares two run directories: KPIs side by side (objective, quotas, area and converted area per use "
            "and district, rice and forest land converted, displaced households, sites) in kpis.csv, the parcels "
            "whose planned use differs (layer changed: use_a, use_b, loaded) and a difference map (PNG, SVG).")

    def initAlgorithm(self, config=None):
        self.addParameter(_run_dir("RUN_A", "Run A (directory)"))
        self.addParameter(_run_dir("RUN_B", "Run B (directory)"))
        self.addParameter(QgsProcessingParameterEnum("LANG", "Language of the difference map", options=LANGUAGES,
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT", "Comparison directory"))
        self.addOutput(QgsProcessingOutputVectorLayer("CHANGED", "Parcels whose use changed"))
        self.addOutput(QgsProcessingOutputFile("KPIS", "KPIs (CSV)"))
        self.addOutput(QgsProcessingOutputFile("DIFFERENCE_MAP", "Difference map (PNG)"))

    def processAlgorithm(self, parameters, context, feedback):
        out = absolute(self.parameterAsFileOutput(parameters, "OUTPUT", context))
        args = ["compare", absolute(self.parameterAsFile(parameters, "RUN_A", context)),
                absolute(self.parameterAsFile(parameters, "RUN_B", context)), "--out", out,
                "--lang", LANGUAGES[self.parameterAsEnum(parameters, "LANG", context)]]
        _, comparison = self.run_cli(args, feedback)
        for k in (comparison or {}).get("kpis", []):
            if k["kind"] in ("objective", "changed_area_ha", "quota"):
                feedback.pushInfo(f"{k['kind']} {k['key']}: A {k['a']}, B {k['b']}, B − A {k['diff']}".replace("  ", " "))
        results = {"OUTPUT": out, "KPIS": os.path.join(out, "kpis.csv"),
                   "DIFFERENCE_MAP": os.path.join(out, "difference.png")}
        changed = os.path.join(out, "changed.gpkg")
        if os.path.isfile(changed):
            results["CHANGED"] = self.load_layer(context, changed, "changed", "changed use (A → B)", "CHANGED")
        return results


class CouncilReport(_Review):
    ID, TITLE = "report", "Council report"
    HELP = ("Writes the appraisal-council dossier of a run (Vietnamese by default): every plan figure checked "
            "with its source, the land-use table by code in the official layout, conversions by commune, works "
            "and projects, maps, the optimality certificate — as PDF, Word, offline HTML and an Excel workbook. "
            "The HTML report opens in the Results Viewer.")

    def initAlgorithm(self, config=None):
        self.addParameter(_run_dir("RUN_DIR", "Run (directory)"))
        self.addParameter(QgsProcessingParameterEnum("LANG", "Language", options=LANGUAGES, defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum("FORMATS", "Formats", options=FORMATS, allowMultiple=True,
                                                     defaultValue=[0, 1, 2]))
        self.addParameter(_run_dir("COMPARE", "A second run to compare with (optional)", optional=True))
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT", "Report directory (blank: RUN/report)",
                                                                  optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputHtml("REPORT_HTML", "Report (HTML)"))
        for fmt in ("pdf", "docx", "xlsx"):
            self.addOutput(QgsProcessingOutputFile(f"REPORT_{fmt.upper()}", f"Report ({fmt.upper()})"))

    def processAlgorithm(self, parameters, context, feedback):
        run_dir = absolute(self.parameterAsFile(parameters, "RUN_DIR", context))
        formats = [FORMATS[i] for i in self.parameterAsEnums(parameters, "FORMATS", context)] or FORMATS[:3]
        args = ["report", run_dir, "--lang", LANGUAGES[self.parameterAsEnum(parameters, "LANG", context)],
                "--format", ",".join(formats)]
        other = self.parameterAsFile(parameters, "COMPARE", context)
        if other:
            args += ["--compare", absolute(other)]
        out = self.parameterAsFileOutput(parameters, "OUTPUT", context) if parameters.get("OUTPUT") else ""
        if out:
            args += ["--out", absolute(out)]
        _, written = self.run_cli(args, feedback)
        written = written or {}
        results = {"OUTPUT": os.path.dirname(written[formats[0]]) if formats[0] in written else out}
        for fmt in FORMATS:
            if fmt in written:
                results["REPORT_HTML" if fmt == "html" else f"REPORT_{fmt.upper()}"] = absolute(written[fmt])
                feedback.pushInfo(f"written {fmt}: {absolute(written[fmt])}")
        return results


class ExplainScenario(_Review):
    ID, TITLE = "explain", "Explain scenario"
    HELP = ("Before solving: for each quota, the area the scenario's rules leave eligible against what it asks "
            "(a quota that cannot be reached whatever the solver does is flagged), and the (parcel, use) pairs "
            "excluded, by reason (protected zones, buffers, …). Written as an HTML table for the Results Viewer.")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFile("SCENARIO", "Scenario", fileFilter=SCENARIO_FILTER))
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT", "Explanation (HTML)", "HTML files (*.html)"))
        self.addOutput(QgsProcessingOutputBoolean("REACHABLE", "Every quota reachable"))
        self.addOutput(QgsProcessingOutputFile("JSON", "Explanation (JSON)"))

    def processAlgorithm(self, parameters, context, feedback):
        out = absolute(self.parameterAsFileOutput(parameters, "OUTPUT", context))
        code, explanation = self.run_cli(["explain", absolute(self.parameterAsFile(parameters, "SCENARIO", context))],
                                            feedback)
        explanation = explanation or {}
        for r in explanation.get("reachability", []):
            line = (f"{r['family']} {r['key']}: asks {r['lo']}–{r['hi']}, at most {r['max_achievable']} eligible, "
                    f"{r['min_forced']} forced: {'ok' if r['reachable'] else 'UNREACHABLE'}")
            (feedback.pushInfo(line) if r["reachable"] else feedback.reportError(line, False))
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        with open(out, "w", encoding="utf-8") as f:
            f.write(explanation_html(explanation))
        json_path = os.path.splitext(out)[0] + ".json"
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(explanation, f, ensure_ascii=False, indent=2)
        return {"OUTPUT": out, "JSON": json_path, "REACHABLE": code != INFEASIBLE}


def explanation_html(explanation: dict) -> str:
    """``landalloc explain --json`` as two HTML tables: reachability per quota (unreachable rows in red),
    exclusions by reason."""

    def table(title: str, rows: list[dict], columns: list[tuple[str, str]]) -> str:
        head = "".join(f"<th>{html.escape(label)}</th>" for _, label in columns)
        body = "".join(("<tr>" if row.get("reachable", True) else "<tr style='background:#f4cccc'>")
                       + "".join(f"<td>{html.escape(str(row.get(key, '')))}</td>" for key, _ in columns) + "</tr>"
                       for row in rows)
        return (f"<h3>{html.escape(title)}</h3><table border='1' cellspacing='0' cellpadding='4'>"
                f"<tr>{head}</tr>{body}</table>")

    quotas = [{**r, "status": "ok" if r.get("reachable") else "unreachable"} for r in explanation.get("reachability", [])]
    name = html.escape(str(explanation.get("scenario", "")))
    return ("<html><head><meta charset='utf-8'></head><body style='font-family:sans-serif'>"
            f"<h2>{name}: {explanation.get('parcels')} parcels, {explanation.get('total_area_ha')} ha</h2>"
            + table("Quotas: eligible area against what is asked (ha)", quotas,
                    [("family", "family"), ("key", "quota"), ("lo", "lo"), ("hi", "hi"),
                     ("max_achievable", "eligible at most"), ("min_forced", "forced at least"), ("status", "status"),
                     ("shortfall", "shortfall")])
            + table("Excluded (parcel, use) pairs, by reason", explanation.get("exclusions", []),
                    [("family", "family"), ("reason", "reason"), ("use", "use"), ("parcels", "parcels"),
                     ("area_ha", "ha")])
            + "</body></html>")
