"""The replica's batching (``batched_model.BatchedModel``) without Ray: the real ``@serve.batch`` queue in
this test's event loop, with an engine stood in that records how many batches compute at once."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import numpy as np
import pytest
from ray import serve
from samx_core.settings import S3Settings
from samx_serving import ingress
from samx_serving.batched_model import CONCURRENT_BATCHES, BatchedModel, LoadedModel, ModelArgs


class OverlapProbe:
    """An engine whose forward pass waits (up to ``timeout_s``) until ``parties`` batches are inside it."""

    manifest = "the version's manifest"

    def __init__(self, parties: int, timeout_s: float = 10.0) -> None:
        self._barrier = threading.Barrier(parties, timeout=timeout_s)
        self.batch_sizes: list[int] = []

    def logits(self, pixels: list[np.ndarray]) -> np.ndarray:
        self.batch_sizes.append(len(pixels))
        self._barrier.wait()  # BrokenBarrierError when the batches ran one after the other
        return np.zeros((len(pixels), 2), np.float32)


@pytest.fixture
def replica_model(monkeypatch):
    """The replica's model with one image per batch, in the deployment's own limits (the queue reads
    ``max_ongoing_requests`` from the replica context). Afterwards the class's batch queue (one per
    process, as in a replica, and bound to the event loop that made it) is dropped so that no later test
    meets a queue of a closed loop."""
    config = SimpleNamespace(max_ongoing_requests=ingress.ModelServer.max_ongoing_requests)
    monkeypatch.setattr(serve, "get_replica_context", lambda: SimpleNamespace(_deployment_config=config))
    s3 = S3Settings(endpoint="127.0.0.1:9", access_key="test-key", secret_key="a-long-test-secret")
    yield BatchedModel(ModelArgs(s3=s3, max_batch_size=1))
    BatchedModel._logits_batch.set_max_batch_size.__self__._queue = None  # type: ignore[attr-defined]


def test_a_replica_computes_the_next_batch_while_the_last_is_still_running(replica_model):
    probe = OverlapProbe(parties=CONCURRENT_BATCHES)
    replica_model._loaded = LoadedModel(probe, ood=None)  # type: ignore[arg-type]
    image = np.zeros((64, 64), np.uint8)

    async def requests() -> list:
        return await asyncio.gather(*(replica_model.classify(image) for _ in range(CONCURRENT_BATCHES)))

    answers = asyncio.run(requests())

    assert CONCURRENT_BATCHES >= 2
    assert probe.batch_sizes == [1] * CONCURRENT_BATCHES  # separate batches, inside the forward at once
    assert [manifest for manifest, _ in answers] == [probe.manifest] * CONCURRENT_BATCHES
