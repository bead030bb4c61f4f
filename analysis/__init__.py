"""From the live study database to publishable estimates, without hand-made spreadsheets.

- :func:`analysis.data.load_frames` — tidy frames and derived variables (ITT and
  per-protocol groups, outcome composites, time to loss to follow-up);
- :func:`analysis.retention.retention_analysis` — completion, Kaplan–Meier, log-rank, Cox,
  Aalen–Johansen with death as a competing event, CONSORT flow;
- :func:`analysis.models.outcome_analysis` — GEE logistic group × time models (ITT,
  per-protocol, IPTW, IPCW) and a mixed-effects sensitivity model
  (:mod:`analysis.mixed`);
- :func:`analysis.table1.table1` — baseline characteristics with standardised differences;
- :func:`analysis.report.write_report` and :func:`analysis.export.export` — what
  ``cohort analyse`` and ``cohort export`` write.

Modules import pandas, statsmodels and lifelines; import them only where they are needed.
"""
