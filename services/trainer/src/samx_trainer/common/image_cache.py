"""The working-size images of a run on local disk, streamed out of MinIO, instead of in memory.

At the paper's scale (42,608 radiographs) the images are 2.1 GB as uint8 at 224 px, and an archive can be
many times that. The derivative PNGs are therefore streamed out of the object store, resized, and written
row by row into a memory-mapped file of shape (N, 1, S, S) uint8; training reads its batches from there.
The operating system's page cache keeps what fits and the rest stays on disk, so memory use is bounded by
the downloads in flight and the batch, never by the archive.

Ray Train ranks receive an :class:`ImageSource` (the list of objects and where the driver's cache lives),
never the pixels. A rank on the driver's node maps the driver's file; a rank anywhere else (another
KubeRay worker pod) streams only its own shard, rows r, r + W, r + 2W, ..., from MinIO into a cache of its
own. A sidecar JSON written last marks a cache as complete, so a half-written file is never mapped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from samx_core.imaging import load_derivative, to_uint8_square
from samx_core.settings import S3Settings
from samx_core.storage import ObjectStore

from samx_trainer.common.progress import ProgressBar

T = TypeVar("T")
R = TypeVar("R")
Fetch = Callable[[T], R]  # an item the caller lists -> what it needs of it (pixels, a record...)


def fingerprint(refs: Sequence[tuple[str, str]], size: int, trim_frame: bool = False) -> str:
    """Identifies a cache's content: the objects in their order, the working size and the frame trim."""
    digest = hashlib.sha256(f"{size}{' trim' if trim_frame else ''}".encode())
    for bucket, key in refs:
        digest.update(f"\n{bucket}/{key}".encode())
    return digest.hexdigest()[:32]


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def stream_rows(
    items: Sequence[T], fetch: Fetch[T, R], *, threads: int, window: int | None = None
) -> Iterator[tuple[int, T, R | None, str | None]]:
    """(position, item, fetched or None, error or None) in input order, with at most ``window`` downloads
    decoded and waiting at any time (``pool.map`` would submit, and so hold, all of them)."""

    def task(pos_item: tuple[int, T]) -> tuple[int, T, R | None, str | None]:
        pos, item = pos_item
        try:
            return pos, item, fetch(item), None
        except Exception as exc:  # an unreadable object is counted by the caller, never fatal here
            return pos, item, None, f"{type(exc).__name__}: {exc}"

    window = window or 4 * threads
    todo = iter(enumerate(items))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending = [pool.submit(task, x) for x in islice(todo, window)]
        while pending:
            yield pending.pop(0).result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.submit(task, nxt))


class CacheWriter:
    """Rows appended in order to a raw (capacity, 1, S, S) uint8 file; ``finish`` records how many rows
    there are (unreadable objects leave the capacity unused) and marks the cache complete."""

    def __init__(self, path: Path, capacity: int, size: int) -> None:
        self.path, self.size, self.rows = path, size, 0
        path.parent.mkdir(parents=True, exist_ok=True)
        _sidecar(path).unlink(missing_ok=True)
        self._mm = np.memmap(path, mode="w+", dtype=np.uint8, shape=(max(capacity, 1), 1, size, size))

    def append(self, pixels: np.ndarray) -> None:
        self._mm[self.rows, 0] = pixels
        self.rows += 1

    def finish(self, fp: str) -> torch.Tensor:
        self._mm.flush()
        del self._mm
        _sidecar(self.path).write_text(json.dumps({"rows": self.rows, "size": self.size, "fingerprint": fp}))
        return open_cache(self.path, fp)


def open_cache(path: Path, fp: str | None = None) -> torch.Tensor:
    """The cache as a (N, 1, S, S) uint8 tensor over the mapped file (no copy); a clear error when it is
    incomplete or holds other images than ``fp`` says."""
    side = _sidecar(path)
    if not side.exists() or not path.exists():
        raise FileNotFoundError(f"image cache {path} is missing or incomplete")
    meta = json.loads(side.read_text())
    if fp is not None and meta["fingerprint"] != fp:
        raise FileNotFoundError(f"image cache {path} holds other images")
    if meta["rows"] == 0:
        return torch.empty((0, 1, meta["size"], meta["size"]), dtype=torch.uint8)
    shape = (meta["rows"], 1, meta["size"], meta["size"])
    # copy-on-write mapping: torch gets a writable array whose pages are read on demand and never copied
    return torch.from_numpy(np.memmap(path, mode="c", dtype=np.uint8, shape=shape))


def derivative_fetcher(store: ObjectStore, size: int, trim_frame: bool = False) -> Fetch[tuple[str, str], np.ndarray]:
    def fetch(ref: tuple[str, str]) -> np.ndarray:
        bucket, key = ref
        return to_uint8_square(load_derivative(store.get_bytes(bucket, key)), size, trim_frame=trim_frame)

    return fetch


@dataclass(frozen=True)
class ImageSource:
    """What a Ray Train rank needs to get its images: picklable, a few bytes per image."""

    refs: tuple[tuple[str, str], ...]  # derivative (bucket, key) of every row, in row order
    size: int
    cache_path: str  # the driver's cache; mapped when this rank's node has it
    s3: S3Settings | None = None  # where to stream from when it has not
    threads: int = 8
    trim_frame: bool = False  # as the driver's cache was made (``to_uint8_square``)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.refs, self.size, self.trim_frame)

    def __len__(self) -> int:
        return len(self.refs)

    def shard_path(self, rank: int, world: int, spool: Path) -> Path:
        """Where a rank off the driver's node keeps its own shard (removed when its training ends)."""
        return spool / f"shard-{self.fingerprint}-{rank}of{world}.u8"

    def shard(self, rank: int, world: int, spool: Path) -> torch.Tensor:
        """Rows rank, rank + world, ... as (n, 1, S, S) uint8 backed by a file, not by memory."""
        try:
            return open_cache(Path(self.cache_path), self.fingerprint)[rank::world]
        except FileNotFoundError:
            if self.s3 is None:
                raise
        refs = self.refs[rank::world]
        path = self.shard_path(rank, world, spool)
        fp = fingerprint(refs, self.size, self.trim_frame)
        try:
            return open_cache(path, fp)  # a restarted worker on the same pod
        except FileNotFoundError:
            pass
        writer = CacheWriter(path, len(refs), self.size)
        bar = ProgressBar(len(refs), f"rank {rank}: streaming {len(refs)} radiographs from the object store")
        fetch = derivative_fetcher(ObjectStore(self.s3), self.size, self.trim_frame)
        for _, ref, pixels, error in stream_rows(refs, fetch, threads=self.threads):
            if pixels is None:  # the driver read it a moment ago: a retry of the worker group is the cure
                raise OSError(f"could not read {ref[0]}/{ref[1]}: {error}")
            writer.append(pixels)
            bar.advance()
        bar.close()
        return writer.finish(fp)


def remove_cache(path: Path) -> None:
    for p in (path, _sidecar(path)):
        p.unlink(missing_ok=True)
