"""Appraisal-council reports of a run directory (``landalloc report``) and the files of ``landalloc compare``.

Layer 3: imports the core and the workflows, never ``optimizer.cli``. The figures are
``optimizer.workflows.metrics`` (pure functions → pandas tables, one definition per figure) →
``document`` (a format-neutral report: sections, formatted tables, maps from ``maps``) → renderers:
``html`` (WeasyPrint PDF and the self-contained offline HTML) and ``docx_writer``. Entry points:
``reports.build.build_report`` and ``reports.comparison.write_comparison``.
"""
