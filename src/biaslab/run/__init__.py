"""One run's lifecycle, and the only owner of a run directory's files.

- `files`: `RunDir`, every file name a run writes or reads, and the run dir's lock;
- `checks`: what no component checks itself, and the one-sentence exit (code 2);
- `build`: data, module, callbacks and loggers from the config, errors keyed to config paths;
- `resume`: which run dir and checkpoint a run continues; finished sweep jobs are skipped;
- `fit` / `evaluate`: training, then the best and last weights tested, per-example predictions;
- `train`: `train(cfg)`, the steps above as one flat list; `provenance`, `sweep`: the commit,
  the sweep summary and the DDP child-rank redirect.
"""
