"""Appraisal-council reports of a run directory (``landalloc report``).

``metrics`` (pure functions → pandas tables, one definition per figure) → ``document`` (a
format-neutral report: sections, formatted tables, maps from ``maps``) → renderers: ``html``
(WeasyPrint PDF and the self-contained offline HTML) and ``docx_writer``. ``qgis`` stores the QGIS
style in the allocation GeoPackage (standard library only). Entry point: ``reports.build.build_report``.
"""
