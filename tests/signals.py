"""A callback that sends this process a real signal from a chosen hook, as a scheduler would."""

from __future__ import annotations

import os
import signal
from typing import Any

import lightning as L


class SignalAt(L.Callback):
    """Send `name` (SIGTERM, SIGUSR1) to this process once, from `hook` (a Callback method
    name) in `epoch`."""

    def __init__(self, hook: str, epoch: int = 1, name: str = "SIGTERM") -> None:
        self.epoch = epoch
        self.signum = signal.Signals[name]
        self.sent = False
        setattr(self, hook, self._maybe_send)

    def _maybe_send(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if not self.sent and trainer.current_epoch == self.epoch and not trainer.sanity_checking:
            self.sent = True
            os.kill(os.getpid(), self.signum)


class WaitForSignalAt(L.Callback):
    """Stand still mid-fit until a signal arrives from outside, as a preempted job does: at
    `hook` (a Callback method name) in `epoch`, in a SLURM job's first session only
    (SLURM_RESTART_COUNT unset or 0, so its requeue trains on), rank 0 writes the file `ready`
    and every rank waits (up to `timeout` s) until a signal has been noted (by the Preemption
    callback, or by Lightning's own SIGTERM handler in one process)."""

    def __init__(
        self, ready: str, hook: str = "on_train_batch_start", epoch: int = 1, timeout: float = 120
    ) -> None:
        self.ready, self.epoch, self.timeout = ready, epoch, timeout
        self.done = False
        setattr(self, hook, self._wait)

    def _wait(self, trainer: L.Trainer, *args: Any) -> None:
        import time
        from pathlib import Path

        if self.done or trainer.current_epoch != self.epoch or trainer.sanity_checking:
            return
        self.done = True
        if os.environ.get("SLURM_RESTART_COUNT", "0") != "0":
            return
        if trainer.is_global_zero:
            Path(self.ready).write_text(f"step {trainer.global_step}\n")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            noted = [getattr(cb, "_signal", None) for cb in trainer.callbacks]
            if any(noted) or trainer._signal_connector.received_sigterm:  # DDP / one process
                return
            time.sleep(0.05)
