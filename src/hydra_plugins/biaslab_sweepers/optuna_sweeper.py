"""A Hydra sweeper on Optuna's ask-and-tell API (Optuna >= 4), with pruning.

`hydra/sweeper=optuna` (conf/hparams_search/optuna.yaml) keeps the interface of Hydra's old
`hydra-optuna-sweeper`, whose newest release still needs optuna<3: the search space in
`hydra.sweeper.params` (or on the command line) in Hydra's sweep syntax — `choice(a, b)` or
`a,b` (categorical), `range(1, 9, 2)` (integers with a step), `interval(0.1, 1)` (uniform),
`tag(log, interval(1e-4, 1e-1))` (log-uniform) — a seeded `sampler`, `direction`, `n_trials` as
the study's total (the same command with a persistent `storage` resumes the study; several
workers may share one), and the best parameters in `<sweep dir>/optimization_results.yaml`.

Pruning: each job gets `pruning={storage, study_name, trial_id}` and reports its validation
metric every epoch (`biaslab.callbacks.pruning.OptunaPruning`, rank 0); when the `pruner` says
so it stops early, and the trial is told PRUNED (not a failure).

Stopped and resumed: trial N runs in job dir N (`hydra.job.num` is the trial's number), so a
dir is only ever reused by its own trial. Each sweeper holds a lock file for its life and names
it in the trials it runs (user attr `biaslab_worker`); a RUNNING trial whose worker's lock is
free (killed, or stopped by SIGTERM: the preempted job's trial is left RUNNING) is an orphan,
and the next sweeper on the same machine adopts it: runs it again in its own dir, where the job
resumes from its `last.ckpt` (or reports its finished run), and tells its result. A job
preempted by SIGTERM / SIGUSR1 ends the sweep cleanly (exit 0); the same command resumes it.
A seeded sampler is reseeded with the study's trial count before each ask, so a resumed
search proposes new values, not the first run's again.
"""

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.plugins.sweeper import Sweeper
from omegaconf import DictConfig, OmegaConf

from biaslab.run.files import RunDir
from hydra_plugins.biaslab_sweepers.space import (  # noqa: F401  (tests import them here)
    _hydra_value,
    _refuse,
    distribution,
    search_space,
)
from hydra_plugins.biaslab_sweepers.workers import (
    _runs,
    _study_lock,
    _worker_dead,
    _worker_lock,
)

log = logging.getLogger(__name__)
RESULTS = "optimization_results.yaml"
WORKER = "biaslab_worker"  # a trial's user attr: "<host>:<lock file>" of the sweeper running it


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.biaslab_sweepers.optuna_sweeper.OptunaSweeper"
    sampler: Any = field(
        default_factory=lambda: {"_target_": "optuna.samplers.TPESampler", "seed": 1234}
    )
    pruner: Any = None
    direction: str = "maximize"
    storage: Any = None
    study_name: str = "biaslab"
    n_trials: int = 20
    n_jobs: int = 1
    params: Any = None


ConfigStore.instance().store(
    group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="biaslab"
)


class OptunaSweeper(Sweeper):
    def __init__(
        self,
        sampler: Any,
        pruner: Any,
        direction: str,
        storage: str | None,
        study_name: str,
        n_trials: int,
        n_jobs: int,
        params: Any,
    ) -> None:
        self.sampler_cfg, self.pruner_cfg = sampler, pruner
        self.direction, self.storage, self.study_name = direction, storage, study_name
        self.n_trials, self.n_jobs = n_trials, n_jobs
        self._first_error = ""  # a failed trial's last error line, for the all-failed sentence
        self.params = (
            OmegaConf.to_container(params, resolve=True)
            if isinstance(params, DictConfig)
            else params
        )

    def setup(self, *, hydra_context, task_function, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def _study(self, sweep_dir: Path):
        import optuna
        from hydra.utils import instantiate

        storage = self.storage or f"sqlite:///{sweep_dir / 'optuna.db'}"  # jobs report to it

        def build(node):  # Hydra has usually built the objects already (recursive instantiate)
            return instantiate(node) if isinstance(node, dict | DictConfig) else node

        sampler = build(self.sampler_cfg) if self.sampler_cfg else None
        pruner = build(self.pruner_cfg) if self.pruner_cfg else optuna.pruners.NopPruner()
        for attempt in range(10):  # workers starting together race to create the schema
            try:
                study = optuna.create_study(
                    study_name=self.study_name,
                    storage=storage,
                    sampler=sampler,
                    pruner=pruner,
                    direction=self.direction,
                    load_if_exists=True,
                )
                return study, storage
            except Exception as err:  # sqlalchemy: the schema half-made by the other worker
                if attempt == 9 or not type(err).__module__.startswith("sqlalchemy"):
                    raise
                time.sleep(0.2 + 0.3 * attempt)
        raise AssertionError("unreachable")

    def sweep(self, arguments: list[str]) -> Any:
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        study, storage = self._study(sweep_dir)
        space, fixed = search_space(self.params, arguments)
        with _worker_lock(sweep_dir / ".optuna_workers") as me:
            while trials := self._next_trials(study, storage, space, me):
                for run in _runs(trials):
                    if self._launch(study, storage, fixed, run, sweep_dir):
                        log.warning("Preempted: the same command resumes the study.")
                        return
        self._write_best(study, sweep_dir)

    def _next_trials(self, study, storage: str, space: dict[str, Any], me: str) -> list:
        """Up to n_jobs trials to run now: orphans first (RUNNING, their sweeper gone: adopted,
        so they run again in their own job dirs), then new ones asked until the study has
        n_trials begun. Counted and asked under the study lock, or two workers overshoot."""
        from optuna.trial import TrialState

        with _study_lock(storage):
            locked = storage.startswith("sqlite:///")
            orphans = [
                t
                for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                if _worker_dead(t.user_attrs.get(WORKER), locked)
            ][: self.n_jobs]
            for trial in orphans:
                log.warning(
                    "Trial %d was left running by a stopped sweeper: resumed.", trial.number
                )
                study._storage.set_trial_user_attr(trial._trial_id, WORKER, me)
            begun = sum(t.state != TrialState.WAITING for t in study.trials)
            left = min(self.n_jobs - len(orphans), self.n_trials - begun)
            if left > 0:
                log.info("Study %s: %d of %d trials begun.", self.study_name, begun, self.n_trials)
                self._reseed(study)
            asked = [study.ask(space) for _ in range(max(left, 0))]
            for trial in asked:
                trial.set_user_attr(WORKER, me)
        return [*orphans, *asked]

    def _reseed(self, study) -> None:
        """A sampler seeded `seed` proposes the same values in every process, so a resumed
        search (or a second worker) asked again what the study already holds: before each ask
        the sampler is rebuilt with `seed + <trials in the study>` (deterministic, and the
        first batch of a new study keeps `seed`)."""
        from hydra.utils import instantiate

        node = OmegaConf.select(self.config, "hydra.sweeper.sampler")
        if not isinstance(node, DictConfig) or node.get("seed") is None or "_target_" not in node:
            return
        study.sampler = instantiate(node, seed=int(node.seed) + len(study.trials))

    def _launch(self, study, storage: str, fixed: list[str], run: list, sweep_dir: Path) -> bool:
        """Launch trials of consecutive numbers as jobs of those numbers and tell their results;
        True when a job was preempted (its trial is left RUNNING, for the next sweeper)."""
        for trial in run:
            self._check_job_dir(sweep_dir / str(trial.number), trial, storage)
        batch = [
            [*fixed, *[f"{k}={v}" for k, v in t.params.items()], self._pruning(storage, t)]
            for t in run
        ]
        returns = self.launcher.launch(batch, initial_job_idx=run[0].number)
        preempted = False
        for trial, ret in zip(run, returns, strict=True):
            out = OmegaConf.select(ret.hydra_cfg, "hydra.runtime.output_dir") if ret else None
            if out and RunDir(out).preempted.exists() and not RunDir(out).finished:
                preempted = True  # left RUNNING: its job resumes from its own last.ckpt
            else:
                self._tell(study, trial, ret)
        return preempted

    def _check_job_dir(self, job_dir: Path, trial, storage: str) -> None:
        """Job dir N may hold only trial N's own run of this study (resumed, or reported as
        finished); a run of another study or trial there is refused, never taken as this
        trial's result."""
        stored = RunDir(job_dir).read_config().get("pruning") or {}
        if not stored:
            return
        ours = (storage, self.study_name, trial._trial_id)
        theirs = (stored.get("storage"), stored.get("study_name"), stored.get("trial_id"))
        if theirs != ours:
            _refuse(
                f"hydra.sweep.dir={job_dir.parent} holds in {job_dir.name}/ a run of another "
                f"study or trial (study {theirs[1]}, trial id {theirs[2]}); pass another "
                "hydra.sweep.dir for this study."
            )

    def _pruning(self, storage: str, trial) -> str:
        """The job's `pruning=` override: where to report, which trial, and the pruner's config
        (a pruner is not stored with the study, so the job builds the same one)."""
        pruner = OmegaConf.select(self.config, "hydra.sweeper.pruner")
        pruner = OmegaConf.to_container(pruner, resolve=True) if pruner is not None else None
        node = {
            "storage": storage,
            "study_name": self.study_name,
            "trial_id": trial._trial_id,
            "pruner": pruner,
        }
        return f"pruning={_hydra_value(node)}"

    def _tell(self, study, trial, ret) -> None:
        from optuna.trial import TrialState

        trial = trial.number  # an adopted trial is a FrozenTrial: tell by number
        if ret.status != JobStatus.COMPLETED:
            study.tell(trial, state=TrialState.FAIL)
            error = str(getattr(ret, "_return_value", "") or "").strip().splitlines()
            self._first_error = self._first_error or (error[-1] if error else "")
        elif (RunDir(OmegaConf.select(ret.hydra_cfg, "hydra.runtime.output_dir")).pruned).exists():
            study.tell(trial, state=TrialState.PRUNED)
        else:
            value = ret.return_value
            if value is None or (isinstance(value, float) and math.isnan(value)):
                study.tell(trial, state=TrialState.FAIL)
            else:
                study.tell(trial, float(value))

    def _write_best(self, study, sweep_dir: Path) -> None:
        from optuna.trial import TrialState

        done = [t for t in study.trials if t.state == TrialState.COMPLETE]
        states = {s.name.lower(): sum(t.state == s for t in study.trials) for s in TrialState}
        if not done:
            failed = [t for t in study.trials if t.state == TrialState.FAIL]
            why = (
                f"; the first failure: {self._first_error.rstrip('.')}" if self._first_error else ""
            )
            _refuse(
                f"study {self.study_name} has no completed trial ({len(failed)} of "
                f"{len(study.trials)} failed){why}; fix the search space or the failing setting.",
                code=1,
            )
        best = study.best_trial
        results = {
            "name": "optuna",
            "best_params": best.params,
            "best_value": best.value,
            "best_trial": best.number,
            "trials": states,
        }
        OmegaConf.save(OmegaConf.create(results), sweep_dir / RESULTS)
        log.info("Best %s = %s at %s", self.direction, best.value, best.params)
