"""Progress of long work: a dependency-free bar on stderr (a carriage-return line on a terminal, sparse
lines in logs) for loading, and per-epoch training progress on the console and as Prometheus metrics."""

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


class TrainingProgress:
    """A ``samx_ml`` progress callback: one console line per epoch, and the same figures as Prometheus
    gauges while Ray runs (``ray_samx_train_{epoch,epochs,loss,images_per_second,eta_seconds}``, tagged
    with the run id and the stage), which Ray's metrics agent serves on every node's metrics port; KubeRay
    exposes it as port 8080 for a Prometheus or a PodMonitor to scrape. Gauges are made on first use, in
    the process that reports (a Ray Train rank or the driver), never at import."""

    FIELDS = {
        "epoch": "Epochs done in the current stage",
        "epochs": "Epochs planned for the current stage",
        "loss": "Mean training loss of the last epoch",
        "images_per_second": "Training images per second in the last epoch, all ranks together",
        "eta_seconds": "Estimated seconds until the stage ends",
    }

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self._gauges: dict | None = None

    def _ray_gauges(self) -> dict | None:
        import ray

        if not ray.is_initialized():
            return None
        if self._gauges is None:
            from ray.util.metrics import Gauge

            self._gauges = {
                name: Gauge(f"samx_train_{name}", description=text, tag_keys=("run_id", "stage"))
                for name, text in self.FIELDS.items()
            }
        return self._gauges

    def __call__(self, p) -> None:  # p: samx_ml.runtime.Progress
        print(
            f"[{p.stage}] epoch {p.epoch}/{p.epochs} loss {p.loss:.4f} {p.images_per_s:.1f} img/s ETA {p.eta_s:.0f}s",
            flush=True,  # stdout, as the Ray Train loops printed before; the driver shows worker lines
        )
        gauges = self._ray_gauges()
        if gauges is None:
            return
        tags = {"run_id": self.run_id, "stage": p.stage}
        values = (p.epoch, p.epochs, p.loss, p.images_per_s, p.eta_s)
        for gauge, value in zip(gauges.values(), values, strict=True):
            gauge.set(float(value), tags=tags)

    def __getstate__(self) -> dict:  # travels to Ray workers without its gauges; each process makes its own
        return {"run_id": self.run_id, "_gauges": None}
