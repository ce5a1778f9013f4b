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
"""

import contextlib
import fcntl
import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep, Override, RangeSweep, Transformer
from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.plugins.sweeper import Sweeper
from omegaconf import DictConfig, OmegaConf

from biaslab.run.files import RunDir

log = logging.getLogger(__name__)
RESULTS = "optimization_results.yaml"


def distribution(override: Override):
    """Hydra's sweep syntax -> an Optuna distribution (the old plugin's mapping)."""
    import optuna.distributions as D

    value = override.value()
    if isinstance(value, IntervalSweep | RangeSweep):
        low, high = (
            (value.start, value.end)
            if isinstance(value, IntervalSweep)
            else (value.start, value.stop)
        )
        if low is not None and high is not None and low > high:
            _refuse(
                f"{override.get_key_element()}={override.input_line.split('=', 1)[1]} has its "
                f"bounds the wrong way round; pass them low first ({high}, {low})."
            )
    if isinstance(value, IntervalSweep):
        log_scale = "log" in (value.tags or set())
        if isinstance(value.start, int) and isinstance(value.end, int):
            return D.IntDistribution(value.start, value.end, log=log_scale)
        return D.FloatDistribution(float(value.start), float(value.end), log=log_scale)
    if isinstance(value, RangeSweep):
        start, stop, step = value.start, value.stop, value.step
        if all(isinstance(v, int) for v in (start, stop, step)):
            return D.IntDistribution(start, stop - step, step=step)
        return D.FloatDistribution(float(start), float(stop - step), step=float(step))
    choices = list(override.sweep_iterator(transformer=Transformer.encode))
    return D.CategoricalDistribution(choices)


def search_space(
    params: dict[str, Any] | None, arguments: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """({key: distribution}, fixed overrides) from the config's params and the command line
    (the command line wins for a key given in both)."""
    parser = OverridesParser.create()
    pairs = [f"{k}={v}" for k, v in (params or {}).items()]
    overrides = {o.get_key_element(): o for o in parser.parse_overrides([*pairs, *arguments])}
    space = {k: distribution(o) for k, o in overrides.items() if o.is_sweep_override()}
    fixed = [o.input_line for o in overrides.values() if not o.is_sweep_override()]
    return space, fixed


def _refuse(sentence: str, code: int = 2) -> None:
    """One sentence on stderr and an exit code, as the lab's commands do (HYDRA_FULL_ERROR=1:
    raise, for the whole stack)."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise ValueError(sentence)
    print(f"Error: {sentence}", file=sys.stderr, flush=True)
    sys.exit(code)


def _hydra_value(value: Any) -> str:
    """A Python value as Hydra override syntax (dicts, lists, quoted strings, numbers, null)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_hydra_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_hydra_value(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)


@contextlib.contextmanager
def _study_lock(storage: str) -> Iterator[None]:
    """Hold `<db>.lock` (an advisory flock) for a SQLite study, so workers sharing it count the
    begun trials and ask for new ones one at a time. A server database (postgresql://, mysql://)
    gets no lock: there, workers starting together may begin up to n_jobs trials more each."""
    prefix = "sqlite:///"
    if not storage.startswith(prefix):
        yield
        return
    with open(storage[len(prefix) :] + ".lock", "a") as fd:  # closing it releases the lock
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield


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
        from optuna.trial import TrialState

        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        study, storage = self._study(sweep_dir)
        space, fixed = search_space(self.params, arguments)
        job_idx = 0
        while True:
            with _study_lock(storage):  # count and ask as one step, or two workers overshoot
                begun = sum(t.state != TrialState.WAITING for t in study.trials)
                left = self.n_trials - begun
                if left <= 0:
                    break
                log.info("Study %s: %d of %d trials begun.", self.study_name, begun, self.n_trials)
                trials = [study.ask(space) for _ in range(min(self.n_jobs, left))]
            batch = [
                [*fixed, *[f"{k}={v}" for k, v in t.params.items()], self._pruning(storage, t)]
                for t in trials
            ]
            returns = self.launcher.launch(batch, initial_job_idx=job_idx)
            job_idx += len(batch)
            for trial, ret in zip(trials, returns, strict=True):
                self._tell(study, trial, ret)
        self._write_best(study, sweep_dir)

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
