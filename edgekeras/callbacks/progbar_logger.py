"""Keras 3's progress output, so logs and notebooks read the same as with Keras.

verbose=1: `Epoch 1/5`, then `12/12 ━━━━━━━━━━━━━━━━━━━━ 1s 20ms/step - accuracy: 0.5200 - loss: 1.2300`,
redrawn in place with an ETA while a terminal (or notebook) shows it, written once per epoch
otherwise so that log files get one line each. verbose=2: one `12/12 - 1s - 20ms/step - ...` line.
"""

import math
import re
import sys
import time

from edgekeras.callbacks.callback import Callback

_WIDTH = 20
_INTERVAL = 0.05  # seconds between redraws
_BOLD, _GREEN, _WHITE, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"
_ANSI = re.compile(r"\x1b\[\d+m")


def format_value(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def format_logs(logs):
    return "".join(f" - {name}: {format_value(value)}" for name, value in (logs or {}).items())


def _format_per_step(seconds):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def _format_eta(seconds):
    whole = int(seconds)
    if seconds > 3600:
        return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    if seconds > 60:
        return f"{whole // 60}:{whole % 60:02d}"
    return f"{whole}s"


def _is_dynamic(stream):
    return (hasattr(stream, "isatty") and stream.isatty()) or "ipykernel" in sys.modules


class Progbar:
    """One bar over `target` steps (None: unknown until it finishes)."""

    def __init__(self, target, verbose):
        self.target = target
        self.verbose = verbose
        self.current = 0
        self._begun = 0
        self._start = time.time()
        self._after_first_step = None
        self._last_draw = 0.0
        self._prev_width = 0

    def _done(self, steps):
        self.current = steps
        if steps and self._after_first_step is None:
            self._after_first_step = time.time()

    def _time_per_step(self, now):
        """As Keras: the first step (which includes compilation) is left out once there are others."""
        if self.current > 1 and self._after_first_step is not None:
            return (now - self._after_first_step) / (self.current - 1)
        return (now - self._start) / self.current if self.current else 0.0

    def step_begins(self, index):
        """Step `index` (0-based) starts, so `index` steps are done."""
        self._begun = index + 1
        self._done(index)

    def update(self, done, logs=None):
        """Redraw in place after a step, at most every `_INTERVAL` seconds."""
        self._done(done)
        now = time.time()
        if now - self._last_draw >= _INTERVAL:
            self._last_draw = now
            self._draw(sys.stdout, now, logs, final=False)

    def finish(self, logs=None):
        self.target = self.target or self._begun
        self.current = self.target
        stream = sys.stdout
        now = time.time()
        if self.verbose == 1:
            self._draw(stream, now, logs, final=True)
        elif self.verbose == 2:
            stream.write(f"{self.current}/{self.target} - {now - self._start:.0f}s - "
                         f"{_format_per_step(self._time_per_step(now))}{format_logs(logs)}\n")
            stream.flush()

    def _draw(self, stream, now, logs, final):
        dynamic = _is_dynamic(stream)
        bold, green, white, reset = (_BOLD, _GREEN, _WHITE, _RESET) if dynamic else ("", "", "", "")
        if self.target:
            digits = int(math.log10(self.target)) + 1
            filled = int(_WIDTH * self.current / self.target)
            text = (f"{bold}{self.current:{digits}d}/{self.target}{reset} "
                    f"{green}{'━' * filled}{reset}{white}{'━' * (_WIDTH - filled)}{reset}")
        else:
            text = f"{self.current:7d}/Unknown"
        per_step = self._time_per_step(now)
        if self.target and not final:
            timing = _format_eta(per_step * (self.target - self.current))
        else:
            timing = f"{now - self._start:.0f}s"
        text += f" {bold}{timing}{reset} {_format_per_step(per_step)}{format_logs(logs)}"
        if dynamic:
            width = len(_ANSI.sub("", text))  # pad over the longer line drawn before
            text = "\r" + text + " " * max(self._prev_width - width, 0)
            self._prev_width = width
        stream.write(text + ("\n" if final else ""))
        stream.flush()


_BATCH_END = {"train": "on_train_batch_end", "test": "on_test_batch_end", "predict": "on_predict_batch_end"}


class ProgbarLogger(Callback):
    """Progress output for fit (mode "train"), evaluate ("test") or predict ("predict").

    In fit, validation runs silently, as in Keras. Steps are counted as they begin; only a bar
    redrawn live listens to batch ends, so fit need not fetch every batch's logs otherwise.
    """

    def __init__(self, verbose=1, mode="train"):
        super().__init__()
        self.verbose = verbose
        self.mode = mode
        self._bar = None
        if verbose == 1 and _is_dynamic(sys.stdout):
            setattr(self, _BATCH_END[mode], self._redraw)

    def _begin(self):
        self._bar = Progbar(self.params.get("steps"), self.verbose)

    def _redraw(self, batch, logs=None):
        self._bar.update(batch + 1, None if self.mode == "predict" else logs)  # predictions are not shown

    def on_epoch_begin(self, epoch, logs=None):
        epochs = self.params.get("epochs", 1)
        if self.verbose and epochs > 1:
            sys.stdout.write(f"Epoch {epoch + 1}/{epochs}\n")
        self._begin()

    def on_train_batch_begin(self, batch, logs=None):
        self._bar.step_begins(batch)

    def on_epoch_end(self, epoch, logs=None):
        self._bar.finish(logs)

    def on_test_begin(self, logs=None):
        if self.mode == "test":
            self._begin()

    def on_test_batch_begin(self, batch, logs=None):
        if self.mode == "test":
            self._bar.step_begins(batch)

    def on_test_end(self, logs=None):
        if self.mode == "test":
            self._bar.finish(logs)

    def on_predict_begin(self, logs=None):
        self._begin()

    def on_predict_batch_begin(self, batch, logs=None):
        self._bar.step_begins(batch)

    def on_predict_end(self, logs=None):
        self._bar.finish()
