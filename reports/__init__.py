"""Appraisal-council dossiers of a run directory (``landalloc report``) and the files of ``landalloc compare``.

Layer 3: imports the core and the workflows, never ``optimizer.cli``. The figures are
``optimizer.workflows.metrics`` and ``plan_figures`` (pure functions → pandas tables, one definition per
figure) → ``document`` and ``sections`` (a format-neutral dossier: sections, tables of values and their
printed cells, maps from ``maps`` and ``site_maps`` drawn with ``mapkit``, words from ``labels`` and
``templates/strings.<lang>.yaml``) → renderers: ``html`` (WeasyPrint PDF and the self-contained offline
HTML), ``docx_writer`` and ``xlsx_writer``. Entry points: ``reports.build.build_report`` and
``reports.comparison.write_comparison``.
"""
