"""Presigned GET URLs for montages and thumbnails: the browser loads images straight from the object
store, and the API never streams pixels.

Signing costs ~0.2 ms per URL (SigV4 in pure Python), and a page of 100 clusters carries ~900 of them;
the radiologist's UI reloads pages after each change. So URLs are reused for half their lifetime:
every URL handed out is still valid for at least ``expiry_s / 2``."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from samx_core.storage import ObjectStore

MAX_CACHED_URLS = 200_000


class PresignedImageLinks:
    def __init__(self, store: ObjectStore, *, expiry_s: int, clock=time.monotonic) -> None:
        self._store = store
        self._expires = timedelta(seconds=expiry_s)
        self._reuse_s = expiry_s / 2
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def montage(self, bucket: str, prefix: str, cluster: int) -> str:
        return self._url(bucket, f"{prefix}montages/cluster-{cluster:04d}.png")

    def thumbnail(self, bucket: str, key: str) -> str:
        return self._url(bucket, key)

    def image(self, bucket: str, key: str) -> str:
        return self._url(bucket, key)

    def _url(self, bucket: str, key: str) -> str:
        now = self._clock()
        hit = self._cache.get((bucket, key))
        if hit is not None and now - hit[0] < self._reuse_s:
            return hit[1]
        url = self._store.presigned_get_url(bucket, key, expires=self._expires)
        with self._lock:
            if len(self._cache) >= MAX_CACHED_URLS:
                self._cache.clear()  # rare; a cold cache only costs signing time
            self._cache[(bucket, key)] = (now, url)
        return url
