"""Trainer pieces without network: data errors, resizing, labels, artifacts, settings."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image
from samx_core.imaging import to_uint8_square
from samx_core.storage import ObjectMissingError
from samx_trainer.phase1.artifacts import assignments_csv, cluster_summaries, histogram_png, montage
from samx_trainer.phase1.clusters import Clustering, number_of_clusters
from samx_trainer.phase1.data import Phase1DataError, load_radiographs
from samx_trainer.phase1.labels import label_sets_for, read_labels
from samx_trainer.settings import TrainerSettings


class FakeStore:
    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        return [k for k in self.objects if k.startswith(prefix)]

    def get_bytes(self, bucket: str, key: str) -> bytes:
        if key not in self.objects:
            raise ObjectMissingError(key)
        return self.objects[key]


def _record(i: int) -> bytes:
    ref = {"bucket": "samx-archive", "key": f"derived/img-{i:032x}.png"}
    record = {
        "image_id": f"img-{i:032x}",
        "received_event_id": "00000000-0000-0000-0000-000000000001",
        "site_id": "s",
        "sha256": "a" * 64,
        "source_format": "png",
        "tags": {"rows": 40, "columns": 30, "bits_stored": 8},
        **{name: ref for name in ("raw", "derivative", "thumbnail", "metadata")},
        "derivative_bits": 8,
    }
    return json.dumps(record).encode()


def _png(value: int, shape=(40, 30), dtype=np.uint8) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full(shape, value, dtype=dtype)).save(out, format="PNG")
    return out.getvalue()


def test_empty_archive_is_a_clear_error(tmp_path):
    with pytest.raises(Phase1DataError, match="no ingested radiographs"):
        load_radiographs(FakeStore({}), "samx-archive", 16, tmp_path / "c.u8")


def test_unreadable_objects_are_skipped_and_counted_and_none_usable_fails(tmp_path):
    objects = {f"meta/img-{i:032x}.json": _record(i) for i in range(3)}
    objects["derived/" + f"img-{0:032x}.png"] = _png(200)
    objects["derived/" + f"img-{1:032x}.png"] = b"not a png"  # 2: missing
    data = load_radiographs(FakeStore(objects), "samx-archive", 16, tmp_path / "c.u8", threads=2)
    assert data.images.shape == (1, 1, 16, 16) and data.images.dtype == torch.uint8
    assert len(data.skipped) == 2 and int(data.images.float().mean()) == 200
    del objects["derived/" + f"img-{0:032x}.png"]
    with pytest.raises(Phase1DataError, match="none of the 3"):
        load_radiographs(FakeStore(objects), "samx-archive", 16, tmp_path / "d.u8")


def test_sixteen_bit_derivatives_become_eight_bit():
    out = to_uint8_square(np.full((10, 20), 65535, dtype=np.uint16), 8)
    assert out.shape == (8, 8) and out.dtype == np.uint8 and (out == 255).all()


def test_too_small_a_data_set_is_a_clear_error():
    with pytest.raises(Phase1DataError, match="too small"):
        number_of_clusters(12, None)
    with pytest.raises(Phase1DataError):
        number_of_clusters(5, 8)
    assert number_of_clusters(120, None) == 6


def test_labels_by_sha_or_image_id(tmp_path):
    path = tmp_path / "labels.csv"
    with path.open("w", newline="") as h:
        w = csv.writer(h)
        w.writerow(["image_id", "sha256", "labels"])
        w.writerows([["img-1", "", "chest"], ["", "B" * 64, "hand;wrist"]])
    table = read_labels(path)
    ls = label_sets_for(["img-1", "img-2", "img-3"], ["x", "b" * 64, "y"], table)
    assert ls.classes == ("chest", "hand", "wrist") and ls.primary.tolist() == [0, 1, -1]


def test_artifacts_of_a_clustering():
    c = Clustering(
        3,
        np.array([0, 0, 2, 0]),
        np.array([0.9, 0.5, 0.7, 0.99]),
        np.array([1, 2, 0, 1]),
        np.zeros((4, 2), np.float32),
        {},
        0.0,
    )
    ids = ["a", "b", "c", "d"]
    rows = list(csv.DictReader(io.StringIO(assignments_csv(ids, c).decode())))
    assert [r["cluster"] for r in rows] == ["0", "0", "2", "0"] and rows[3]["second"] == "1"
    summary = cluster_summaries(ids, c, n_best=2, n_worst=1)
    assert [s["size"] for s in summary] == [3, 0, 2 - 1]
    assert summary[0]["exemplars"] == ["d", "a"] and summary[0]["least_confident"] == ["b"]
    assert summary[1]["mean_confidence"] is None
    png = montage(torch.zeros((4, 1, 8, 8), dtype=torch.uint8), [3, 0])
    assert Image.open(io.BytesIO(png)).size == (32, 32)
    assert histogram_png(np.array([1.0, 2.0, 2.0]), 5, "x").startswith(b"\x89PNG")


def test_settings_read_their_prefix(monkeypatch):
    monkeypatch.setenv("SAMX_TRAINER_NUM_WORKERS", "3")
    monkeypatch.setenv("SAMX_TRAINER_SELF_LABEL", "true")
    s = TrainerSettings()
    assert s.num_workers == 3 and s.self_label is True and s.n_clusters is None


def test_a_driver_outwaits_a_head_that_is_still_starting_and_gives_up_after_its_attempts(monkeypatch):
    """Ray's own connection window is fixed (and a real timeout costs ~40 s), so ``ray.init`` here
    fails the way Ray fails when GCS or the head's raylet is not up yet."""
    import ray
    from samx_trainer.common.ray_connection import connect_ray
    from samx_trainer.settings import RaySettings

    calls: list[str | None] = []

    def init(address=None, **_):
        calls.append(address)
        if len(calls) < 3:
            raise ConnectionError(f"Failed to connect to Ray cluster at {address}")

    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    settings = RaySettings(address="127.0.0.1:1")
    assert connect_ray(settings, attempts=3, pause_s=0) is True
    assert calls == ["127.0.0.1:1"] * 3

    calls.clear()
    with pytest.raises(ConnectionError, match="127.0.0.1:1"):
        connect_ray(settings, attempts=2, pause_s=0)
    assert len(calls) == 2
