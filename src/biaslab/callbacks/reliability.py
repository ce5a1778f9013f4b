"""Nothing lost: stop on a non-finite loss before it reaches a checkpoint, and save a checkpoint
then stop cleanly on SIGTERM / SIGUSR1 (preemption), handing SIGUSR1 on to SLURM's requeue."""

from __future__ import annotations

import logging
import math
import signal
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException

from biaslab.errors import ConfigError

log = logging.getLogger(__name__)


class NonFiniteLossError(ConfigError, FloatingPointError):
    """Training produced a NaN or infinite loss: a setting (most often the learning rate) the
    run cannot train with, so it reaches the user as one sentence, exit 2."""


class FiniteLossGuard(L.Callback):
    """Raise at the first non-finite training loss, naming the step, the loss and the learning
    rate, before any checkpoint holding its weights is written, so the last good one stays.

    On the CPU every step is checked (reading a CPU scalar is free). On an accelerator reading
    the loss is a host sync that stalls the launch queue, so the first bad step is recorded on
    the device and read every `every_n_steps` steps and before every validation and every
    checkpoint save (`on_save_checkpoint` runs before the file is written). `every_n_steps=None`
    picks 1 on the CPU and 50 elsewhere.

    `stop=True` (`extras.on_nonfinite=stop`, for divergence studies) ends training instead, as a
    finished run: the step is recorded as `nonfinite/step`, the weights go back to the last
    finite ones (those at the start of the epoch it diverged in: no checkpoint ever holds a
    non-finite weight) and the run is tested as usual."""

    def __init__(self, every_n_steps: int | None = None, stop: bool = False) -> None:
        self.stop, self.trainer = stop, None
        self.every_n_steps = every_n_steps
        self._every = every_n_steps or 1
        self._bad_step: torch.Tensor | None = None  # first non-finite step on the device, or -1
        self._bad_loss: torch.Tensor | None = None  # its loss
        self._lrs: dict[int, float] = {}  # learning rate per step since the last read
        self._finite: dict[str, torch.Tensor] | None = None  # stop=True: the epoch's start
        self.module: L.LightningModule | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.trainer, self.module = trainer, pl_module
        on_cpu = trainer.strategy.root_device.type == "cpu"
        self._every = self.every_n_steps or (1 if on_cpu else 50)

    def _raise(self, step: int, value: float, epoch: int, lr: float) -> None:
        if self.stop and self.trainer is not None:
            if "nonfinite/step" not in self.trainer.callback_metrics:
                log.warning(
                    "Non-finite training loss %s at step %d: stopping (diverged).", value, step
                )
                self.trainer.callback_metrics["nonfinite/step"] = torch.tensor(float(step))
            self.trainer.should_stop = True
            if self.module is not None and self._finite is not None:
                self.module.load_state_dict(self._finite)  # the last finite weights
            return
        raise NonFiniteLossError(
            f"non-finite training loss {value} at step {step} (epoch {epoch}) with learning "
            f"rate {lr:.3g}; lower optimizer.lr or set trainer.gradient_clip_val."
        )

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        step = trainer.global_step
        lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else float("nan")
        loss = loss.detach()
        if self._every == 1:
            value = float(loss)
            if not math.isfinite(value):
                self._raise(step, value, trainer.current_epoch, lr)
            return
        self._lrs[step] = lr
        if self._bad_step is None or self._bad_loss is None:
            self._bad_step = torch.full((), -1, dtype=torch.int64, device=loss.device)
            self._bad_loss = torch.zeros((), dtype=torch.float32, device=loss.device)
        first = (self._bad_step < 0) & ~torch.isfinite(loss)  # all on the device: no sync
        self._bad_step = torch.where(first, torch.full_like(self._bad_step, step), self._bad_step)
        self._bad_loss = torch.where(first, loss.float(), self._bad_loss)
        if step % self._every == 0:
            self._check(trainer)

    def _check(self, trainer: L.Trainer) -> None:
        """Read the device-side record (a host sync) and raise if a step went bad."""
        if self._bad_step is None or self._bad_loss is None:
            return
        step = int(self._bad_step)
        if step >= 0:
            lr = self._lrs.get(step, math.nan)
            self._raise(step, float(self._bad_loss), trainer.current_epoch, lr)
        self._lrs.clear()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.stop and "nonfinite/step" not in trainer.callback_metrics:
            self._finite = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer)

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        self._check(trainer)
        if self.stop and "nonfinite/step" in trainer.callback_metrics:  # built before the check
            checkpoint["state_dict"] = pl_module.state_dict()


class Preemption(L.Callback):
    """On SIGTERM or SIGUSR1: save the checkpoint `last` (atomically, via the trainer's checkpoint
    IO), write the text file `marker` and stop by raising Lightning's SIGTERMException, which the pipeline
    catches. A SIGUSR1 handler that was there before (submitit's requeue on SLURM) is called
    after the save; on SLURM without submitit that is Lightning's own, which also saves
    `hpc_ckpt_<n>.ckpt` and requeues (`biaslab.run.resume` removes that file on resume). A
    checkpoint saved inside an epoch holds the train loader's place in it (the datamodule's
    state), so the resumed epoch draws the batches it had not drawn, in the same order.

    - One process: SIGUSR1 is turned into Lightning's SIGTERM flag, so both take the same paths.
      In a train batch the flag is acted on at the batch's end; during validation or at an
      epoch's end Lightning's loops raise first, and the save happens in `on_exception`.
    - DDP: Lightning's own SIGTERM handling runs collectives inside the signal handler and
      raises on one rank while others train on, which deadlocks or breaks the process group
      (Lightning-AI/pytorch-lightning#20806). Here the handlers only note the signal; at each
      train batch's end the ranks agree (one all-reduce) and all save and stop together.

    Stopping by exception, not `should_stop`, matters: `should_stop` would run a validation
    whose `save_last` overwrites last.ckpt as if the epoch were complete, and the resumed run
    would skip the rest of it."""

    SIGNALS = (signal.SIGTERM, signal.SIGUSR1)

    def __init__(self, last: str | Path, marker: str | Path) -> None:
        self.last, self.marker = Path(last), Path(marker)
        self._signal: int | None = None
        self._saved = False
        self._previous: dict[int, Any] = {}
        self._trainer: L.Trainer | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._trainer = trainer
        for signum in self.SIGNALS if trainer.world_size > 1 else (signal.SIGUSR1,):
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._note)

    def _note(self, signum: int, frame: Any) -> None:
        self._signal = self._signal or signum
        if self._trainer is not None and self._trainer.world_size == 1:
            self._trainer._signal_connector.received_sigterm = True

    def _stop(self, trainer: L.Trainer) -> None:
        """Save once, write the marker, hand SIGUSR1 on (e.g. submitit: requeue, then exit)."""
        if self._saved:
            return
        self._saved = True
        trainer.save_checkpoint(str(self.last), weights_only=False)  # full state
        if trainer.is_global_zero:
            name = signal.Signals(self._signal or signal.SIGTERM).name
            self.marker.write_text(
                f"{name} at step {trainer.global_step}; rerun the same command to resume.\n"
            )
        previous = self._previous.get(signal.SIGUSR1)
        if self._signal == signal.SIGUSR1 and callable(previous):
            previous(self._signal, None)

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.world_size > 1:
            stop = trainer.strategy.reduce_boolean_decision(self._signal is not None, all=False)
        else:
            stop = trainer._signal_connector.received_sigterm
        if stop:
            self._stop(trainer)
            raise SIGTERMException

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if isinstance(exception, SIGTERMException) and trainer.state.fn == "fit":
            self._stop(trainer)
        self.on_train_end(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()
        self._trainer = None


def rng_states() -> dict[str, Any]:
    """CPU (and CUDA) RNG states, so a resumed run draws the same random numbers."""
    states: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    if "torch" in states:
        torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
