"""Hydra's Optuna sweeper with a resumable study: `n_trials` is the study's total.

With a persistent `storage` (sqlite URL), running the same command again loads the study and
runs only the trials still missing, so an interrupted search resumes where it stopped and
several workers can share one study.
"""

from __future__ import annotations

import logging
from typing import Any

from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper

log = logging.getLogger(__name__)


class ResumableOptunaSweeper(OptunaSweeper):
    def sweep(self, arguments: list[str]) -> Any:
        impl = self.sweeper
        if impl.storage:
            import optuna

            try:
                study = optuna.load_study(study_name=impl.study_name, storage=impl.storage)
                done = sum(t.state.is_finished() for t in study.trials)
            except KeyError:
                done = 0
            log.info(
                "Study %s holds %d finished trials of %d.", impl.study_name, done, impl.n_trials
            )
            impl.n_trials = max(0, impl.n_trials - done)
        return super().sweep(arguments)
