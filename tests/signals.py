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
