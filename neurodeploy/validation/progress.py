"""A progress bar on stderr: chips done, rate and time left (plain lines when not a tty)."""
from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts finished chips; redraws at most every ``interval`` seconds."""

    def __init__(self, total: int, done: int = 0, label: str = "chips",
                 stream: TextIO | None = None, interval: float = 0.5) -> None:
        self.total, self.done, self.label = total, done, label
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if self.tty else max(interval, 5.0)
        self.start = time.monotonic()
        self.first = done
        self._last = 0.0

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.interval or self.done >= self.total:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        frac = self.done / self.total if self.total else 1.0
        width = 30
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        elapsed = now - self.start
        rate = (self.done - self.first) / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        eta = f"{left:4.0f} s left" if left == left else "   ? s left"
        text = (f"[{bar}] {self.done}/{self.total} {self.label}  {rate:6.1f}/s  {eta}")
        end = "" if self.tty and self.done < self.total else "\n"
        self.stream.write(("\r" if self.tty else "") + text + end)
        self.stream.flush()
