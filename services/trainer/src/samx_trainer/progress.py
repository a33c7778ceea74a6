"""A dependency-free progress bar on stderr (a carriage-return line on a terminal, sparse lines in logs)."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    def __init__(self, total: int, label: str, width: int = 30) -> None:
        self.total, self.label, self.width = max(total, 1), label, width
        self.done, self.start = 0, time.perf_counter()
        self._tty = sys.stderr.isatty()
        self._last_decile = -1

    def advance(self, n: int = 1) -> None:
        self.done += n
        decile = 10 * self.done // self.total
        if self._tty or decile != self._last_decile or self.done >= self.total:
            self._last_decile = decile
            self._draw()

    def _draw(self) -> None:
        frac = min(1.0, self.done / self.total)
        rate = self.done / max(time.perf_counter() - self.start, 1e-6)
        eta = (self.total - self.done) / max(rate, 1e-6)
        bar = "#" * int(frac * self.width)
        line = f"{self.label} [{bar:<{self.width}}] {self.done}/{self.total} {rate:.0f}/s ETA {eta:.0f}s"
        print(("\r" if self._tty else "") + line, end="" if self._tty else "\n", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._tty:
            print(file=sys.stderr, flush=True)
