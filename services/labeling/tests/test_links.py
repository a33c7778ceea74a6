"""Presigned image URLs are reused for half their lifetime, then signed again (no network: signing is
local once the region is known)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from samx_core.settings import S3Settings
from samx_core.storage import ObjectStore
from samx_labeling.adapters.links import PresignedImageLinks


def test_urls_are_signed_reused_and_renewed():
    now = [1000.0]
    store = ObjectStore(
        S3Settings(endpoint="127.0.0.1:9", access_key="k", secret_key="not-a-placeholder", region="us-east-1")
    )
    links = PresignedImageLinks(store, expiry_s=600, clock=lambda: now[0])
    first = links.montage("samx-archive", "runs/phase1/r1/", 7)
    parsed = urlparse(first)
    assert parsed.path == "/samx-archive/runs/phase1/r1/montages/cluster-0007.png"
    assert parse_qs(parsed.query)["X-Amz-Expires"] == ["600"] and "X-Amz-Signature" in parse_qs(parsed.query)
    now[0] += 299
    assert links.montage("samx-archive", "runs/phase1/r1/", 7) == first, "reused within half the lifetime"
    assert links.thumbnail("samx-archive", "derived/img-1.thumb.png") != first
    now[0] += 2
    store_time = {"signed": 0}
    original = store.presigned_get_url

    def counting(*args, **kwargs):
        store_time["signed"] += 1
        return original(*args, **kwargs)

    store.presigned_get_url = counting
    links.montage("samx-archive", "runs/phase1/r1/", 7)
    assert store_time["signed"] == 1, "signed again after half the lifetime"
