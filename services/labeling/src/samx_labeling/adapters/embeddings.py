"""Phase 1's embeddings from the object store (``embeddings.npy``, float32 (N, D)), for splits.

A split needs only its cluster's rows, but the file is one object: it is read once and kept for the
runs most recently split (a run of 42,608 radiographs at D = 512 is 87 MB), not once per request."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

import numpy as np
from samx_core.storage import ObjectMissingError, ObjectStore

from samx_labeling.domain.errors import ConflictError


class ObjectStoreEmbeddings:
    def __init__(self, store: ObjectStore, *, runs_kept: int = 2) -> None:
        self._store = store
        self._kept: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._runs_kept = runs_kept
        self._lock = threading.Lock()

    def rows(self, bucket: str, key: str, rows: list[int]) -> np.ndarray:
        matrix = self._matrix(bucket, key)
        if rows and (min(rows) < 0 or max(rows) >= len(matrix)):
            raise ConflictError("the run's embeddings have fewer rows than its radiographs: phase 1 wrote another run")
        return matrix[np.asarray(rows, dtype=np.int64)]

    def _matrix(self, bucket: str, key: str) -> np.ndarray:
        with self._lock:
            if (bucket, key) in self._kept:
                self._kept.move_to_end((bucket, key))
                return self._kept[(bucket, key)]
        try:
            data = self._store.get_bytes(bucket, key)
        except ObjectMissingError:
            raise ConflictError("the run's embeddings are gone from the archive: it cannot be split") from None
        try:
            matrix = np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError:
            raise ConflictError("the run's embeddings are not a NumPy array: it cannot be split") from None
        if matrix.ndim != 2 or not np.issubdtype(matrix.dtype, np.floating):
            raise ConflictError(f"the run's embeddings have shape {matrix.shape}, not (N, D) floats")
        matrix = matrix.astype(np.float32, copy=False)
        with self._lock:
            self._kept[(bucket, key)] = matrix
            while len(self._kept) > self._runs_kept:
                self._kept.popitem(last=False)
        return matrix
