"""Nothing lost: stop on a non-finite loss before it reaches a checkpoint, and save a checkpoint
then stop cleanly on SIGTERM / SIGUSR1 (preemption), handing SIGUSR1 on to SLURM's requeue."""

from __future__ import annotations

import math
import signal
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException

PREEMPTED_MARKER = "preempted.txt"


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss."""


class FiniteLossGuard(L.Callback):
    """Raise at the first non-finite training loss, naming the step, the loss and the learning
    rate. It runs before any checkpoint of that step is written, so the last good one stays."""

    def __init__(self, every_n_steps: int = 1) -> None:
        self.every_n_steps = every_n_steps

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if trainer.global_step % self.every_n_steps:
            return
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        value = float(loss.detach())
        if not math.isfinite(value):
            lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else float("nan")
            raise NonFiniteLossError(
                f"non-finite training loss {value} at step {trainer.global_step} "
                f"(epoch {trainer.current_epoch}) with learning rate {lr:.3g}; lower optimizer.lr "
                "or set trainer.gradient_clip_val."
            )


class Preemption(L.Callback):
    """On SIGTERM or SIGUSR1: save `<dirpath>/last.ckpt` (atomically, via the trainer's checkpoint
    IO), write a marker and stop by raising Lightning's SIGTERMException, which the pipeline
    catches. A SIGUSR1 handler that was there before (submitit's requeue on SLURM) is called
    after the save.

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

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)
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
        trainer.save_checkpoint(str(self.dirpath / "last.ckpt"), weights_only=False)  # full state
        if trainer.is_global_zero:
            name = signal.Signals(self._signal or signal.SIGTERM).name
            (self.dirpath.parent / PREEMPTED_MARKER).write_text(
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
