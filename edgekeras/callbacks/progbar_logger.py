"""Keras-style progress output: a bar with ETA per step (verbose=1) or one line per epoch (verbose=2)."""

import sys
import time

from edgekeras.callbacks.callback import Callback

_BAR_WIDTH = 20


def format_logs(logs):
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items() if isinstance(v, (int, float)))


def _format_time(seconds):
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(round(seconds))}s"


def _per_step(seconds, steps):
    per = seconds / max(steps, 1)
    return f"{per:.0f}s/step" if per >= 1 else f"{per * 1e3:.0f}ms/step" if per >= 1e-3 else f"{per * 1e6:.0f}us/step"


class ProgbarLogger(Callback):
    def __init__(self, verbose=1, mode="train", stream=None):
        super().__init__()
        self.verbose = verbose
        self.mode = mode
        self.stream = stream or sys.stdout
        self._interactive = self.stream.isatty() if hasattr(self.stream, "isatty") else False

    def _start(self):
        self._t0 = time.time()
        self._last_draw = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start()
        if self.verbose == 1:
            self.stream.write(f"Epoch {epoch + 1}/{self.params.get('epochs')}\n")

    def on_test_begin(self, logs=None):
        if self.mode == "test":
            self._start()

    def on_predict_begin(self, logs=None):
        self._start()

    def _draw(self, step, logs, final=False):
        steps = self.params.get("steps")
        now = time.time()
        if not final and (not self._interactive or now - self._last_draw < 0.05):
            return
        self._last_draw = now
        elapsed = now - self._t0
        done = step + 1
        if steps:
            filled = int(_BAR_WIDTH * done / steps)
            bar = "\u2501" * filled + " " * (_BAR_WIDTH - filled)
            head = f"{done}/{steps} {bar}"
        else:
            head = f"{done}/Unknown"
        if final or not steps:
            timing = f"{_format_time(elapsed)} {_per_step(elapsed, done)}"
        else:
            timing = f"{_format_time(elapsed / done * (steps - done))}"
            timing = f"ETA: {timing}"
        text = f"{head} {timing}"
        if logs:
            text += " - " + format_logs(logs)
        self.stream.write(("\r" if self._interactive else "") + text + ("\n" if final or not self._interactive else ""))
        self.stream.flush()

    def on_train_batch_end(self, batch, logs=None):
        self._steps_done = batch + 1
        if self.verbose == 1:
            self._draw(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        steps = getattr(self, "_steps_done", 0)
        if self.verbose == 1:
            self._draw(steps - 1, logs, final=True)
        elif self.verbose == 2:
            elapsed = time.time() - self._t0
            self.stream.write(f"Epoch {epoch + 1}/{self.params.get('epochs')}\n")
            self.stream.write(f"{steps}/{steps} - {_format_time(elapsed)} - {_per_step(elapsed, steps)} - {format_logs(logs or {})}\n")
            self.stream.flush()

    def on_test_batch_end(self, batch, logs=None):
        self._steps_done = batch + 1
        if self.mode == "test" and self.verbose == 1:
            self._draw(batch, logs)

    def on_test_end(self, logs=None):
        if self.mode == "test":
            self._draw(self._steps_done - 1, logs, final=True)

    def on_predict_batch_end(self, batch, logs=None):
        self._steps_done = batch + 1
        if self.verbose == 1:
            self._draw(batch, None)

    def on_predict_end(self, logs=None):
        self._draw(self._steps_done - 1, None, final=True)
