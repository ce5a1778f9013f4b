"""Analysis of sweeps, from the runs' own files: `load` (one row per run), `derived` (metrics
computed from each run's files), `stats` (the tests), `tables` (per-arm summaries and the
verdicts), `plots` (charts), `report` (a sweep's report.md) and `page` (docs/results.md)."""
