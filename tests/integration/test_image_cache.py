"""The phase-1 image cache against the real MinIO: radiographs streamed out of the object store land in
a disk-backed file row by row, a rank off the driver's node streams exactly its shard, and a cache that
is incomplete or holds other images is never mapped."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from samx_core.imaging import load_derivative, to_uint8_square
from samx_core.storage import ObjectStore
from samx_trainer.common.image_cache import CacheWriter, ImageSource, fingerprint, open_cache, remove_cache, stream_rows

from tests.support.datasets import unifesp_dir

pytestmark = pytest.mark.integration

SIZE = 48


@pytest.fixture
def radiographs(s3_settings) -> list[tuple[str, str]]:
    """Twelve real UNIFESP PNGs in the archive bucket, as the ingest derivatives would be."""
    store = ObjectStore(s3_settings)
    store.ensure_buckets(s3_settings.archive_bucket)
    refs = []
    for i, path in enumerate(sorted((unifesp_dir() / "images").glob("*.png"))[:12]):
        refs.append((s3_settings.archive_bucket, f"derived/cache-{i:02d}.png"))
        store.put_bytes(*refs[-1], path.read_bytes(), content_type="image/png")
    return refs


def _expected(store: ObjectStore, refs, trim: bool = False) -> np.ndarray:
    pixels = [load_derivative(store.get_bytes(b, k)) for b, k in refs]
    return np.stack([to_uint8_square(p, SIZE, trim_frame=trim) for p in pixels])[:, None]


@pytest.mark.parametrize("trim", [False, True], ids=["as-is", "frame-trimmed"])
def test_driver_cache_and_rank_shards_hold_the_same_pixels(radiographs, s3_settings, tmp_path, trim):
    store = ObjectStore(s3_settings)
    expected = _expected(store, radiographs, trim)
    if trim:  # the trim must show in these radiographs, or this case would prove nothing
        assert not np.array_equal(expected, _expected(store, radiographs))
    source = ImageSource(tuple(radiographs), SIZE, str(tmp_path / "driver.u8"), s3_settings, threads=3, trim_frame=trim)

    # no driver cache on this "node": each rank streams its own rows from MinIO
    shards = [source.shard(rank, 3, tmp_path / "spool") for rank in range(3)]
    for rank, shard in enumerate(shards):
        assert shard.shape == (4, 1, SIZE, SIZE)
        np.testing.assert_array_equal(shard.numpy(), expected[rank::3])
        assert source.shard_path(rank, 3, tmp_path / "spool").stat().st_size == 4 * SIZE * SIZE

    # the driver's cache, once complete, is what every rank maps instead
    writer = CacheWriter(tmp_path / "driver.u8", len(radiographs), SIZE)
    for row in expected:
        writer.append(row[0])
    driver = writer.finish(source.fingerprint)
    np.testing.assert_array_equal(driver.numpy(), expected)
    np.testing.assert_array_equal(source.shard(1, 2, tmp_path / "elsewhere").numpy(), expected[1::2])
    assert not (tmp_path / "elsewhere").exists(), "a rank beside the driver's cache streamed anyway"


def test_incomplete_or_foreign_caches_are_refused(radiographs, tmp_path):
    path = tmp_path / "c.u8"
    writer = CacheWriter(path, 5, SIZE)
    writer.append(np.full((SIZE, SIZE), 7, np.uint8))
    with pytest.raises(FileNotFoundError, match="incomplete"):
        open_cache(path)  # rows written, not yet marked complete
    fp = fingerprint(radiographs[:1], SIZE)
    cache = writer.finish(fp)
    assert cache.shape == (1, 1, SIZE, SIZE) and int(cache.float().mean()) == 7  # capacity beyond rows unused
    with pytest.raises(FileNotFoundError, match="other images"):
        open_cache(path, fingerprint(radiographs[:2], SIZE))
    source = ImageSource(tuple(radiographs[:1]), SIZE, str(path), s3=None)
    assert source.shard(0, 1, tmp_path).shape == (1, 1, SIZE, SIZE)
    remove_cache(path)
    with pytest.raises(FileNotFoundError):
        source.shard(0, 1, tmp_path)  # nowhere to stream from


def test_an_unreadable_object_fails_the_rank_with_its_name(radiographs, s3_settings, tmp_path):
    refs = (*radiographs[:3], (s3_settings.archive_bucket, "derived/never-stored.png"))
    source = ImageSource(refs, SIZE, str(tmp_path / "none.u8"), s3_settings)
    with pytest.raises(OSError, match="never-stored.png"):
        source.shard(0, 1, tmp_path)


def test_streaming_keeps_order_and_a_bounded_window():
    in_flight, peak, lock = 0, 0, threading.Lock()

    def fetch(i: object) -> int:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.002 * (int(i) % 3))  # out-of-order completion
        if int(i) == 5:
            raise ValueError("bad object")
        return int(i) * 10

    out = []
    for pos, item, value, error in stream_rows(list(range(40)), fetch, threads=3, window=6):
        with lock:
            in_flight -= 1
        out.append((pos, item, value, error))
    assert [p for p, *_ in out] == list(range(40))
    assert out[5][2] is None and "bad object" in out[5][3]
    assert all(v == 10 * i for i, _, v, e in out if e is None)
    assert peak <= 6
