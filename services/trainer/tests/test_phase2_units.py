"""Phase-2 pieces without network: label injection, patient-grouped splits, threshold calibration,
the report, promotion policy, and evaluation of a model on a folder of real radiographs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from samx_core.labels import canonical_label
from samx_core.storage import ObjectMissingError
from samx_ml.backbone import Backbone
from samx_ml.bundle import ModelManifest, weights_to_bytes
from samx_ml.classifier import Classifier
from samx_trainer.phase1.artifacts import backbone_bytes
from samx_trainer.phase2.archive import read_phase1_run
from samx_trainer.phase2.calibration import calibrate_threshold
from samx_trainer.phase2.data import LabelSet, Phase2DataError, inject_labels, parse_assignments
from samx_trainer.phase2.evaluate import EvaluationDataError, evaluate_model
from samx_trainer.phase2.job import default_model_version
from samx_trainer.phase2.promotion import should_auto_promote
from samx_trainer.phase2.report import classification_metrics, confusion_png, render_report
from samx_trainer.phase2.splits import make_splits
from samx_trainer.settings import TrainerSettings

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"


def _labelset(clusters: list[dict]) -> LabelSet:
    return LabelSet.from_document({"run_id": "r1", "version": 2, "published_by": "dr", "clusters": clusters})


ASSIGNMENTS = {"a": 0, "b": 0, "c": 1, "d": 2, "e": 3, "f": 4, "g": 9}
CLUSTERS = [
    {"cluster": 0, "label": "knee", "discarded": False, "flagged": False},
    {"cluster": 1, "label": "hand", "discarded": False, "flagged": True},
    {"cluster": 2, "label": "knee", "discarded": False, "flagged": False},  # merges with cluster 0
    {"cluster": 3, "label": None, "discarded": True, "flagged": False},
    {"cluster": 4, "label": None, "discarded": False, "flagged": False},  # nobody decided
]


def test_injection_names_every_image_of_a_named_cluster_and_merges_equal_names():
    inj = inject_labels(_labelset(CLUSTERS), ASSIGNMENTS)
    assert inj.classes == ["hand", "knee"]
    assert dict(zip(inj.image_ids, (inj.classes[t] for t in inj.target), strict=True)) == {
        "a": "knee",
        "b": "knee",
        "c": "hand",
        "d": "knee",
    }
    assert (inj.n_discarded, inj.n_undecided, inj.not_msk_class) == (1, 2, None)  # g: cluster not in the set
    assert inj.counts() == {"hand": 1, "knee": 3}


def test_a_split_and_per_image_decisions_override_phase_1s_assignments():
    """Cluster 0 was split into parts 10 (knee) and 11 (hand); e was moved to part 11; b was excluded."""
    document = {
        "run_id": "r1",
        "version": 3,
        "clusters": [
            {"cluster": 0, "size": 0, "label": None, "split_into": [10, 11]},
            {"cluster": 1, "label": "hand"},
            {"cluster": 10, "label": "knee", "parent": 0},
            {"cluster": 11, "label": "hand", "parent": 0},
        ],
        "placements": {"a": 10, "b": 11, "e": 11},
        "excluded": ["b"],
    }
    inj = inject_labels(LabelSet.from_document(document), {"a": 0, "b": 0, "c": 1, "e": 3})
    assert dict(zip(inj.image_ids, (inj.classes[t] for t in inj.target), strict=True)) == {
        "a": "knee",
        "c": "hand",
        "e": "hand",
    }
    assert (inj.n_excluded, inj.n_placed, inj.n_undecided) == (1, 2, 0)


def test_discarded_clusters_can_form_a_not_msk_class():
    inj = inject_labels(_labelset(CLUSTERS), ASSIGNMENTS, discard_as_class=True, not_msk_name="not_msk")
    assert inj.classes == ["hand", "knee", "not_msk"] and inj.not_msk_class == "not_msk"
    assert inj.classes[inj.target[inj.image_ids.index("e")]] == "not_msk" and inj.n_discarded == 0


def test_a_label_set_with_one_class_or_a_bad_shape_is_a_data_error():
    with pytest.raises(Phase2DataError, match="at least 2"):
        inject_labels(_labelset(CLUSTERS[:1]), ASSIGNMENTS)
    with pytest.raises(Phase2DataError, match="clusters"):
        LabelSet.from_document({"run_id": "r1"})
    with pytest.raises(Phase2DataError, match="malformed"):
        LabelSet.from_document({"run_id": "r1", "version": "x", "clusters": []})
    with pytest.raises(Phase2DataError, match="image_id"):
        parse_assignments(b"id,c\n1,2\n")
    assert parse_assignments(b"image_id,cluster,confidence,second\nimg-1,3,0.9,1\n") == {"img-1": 3}


def test_splits_never_put_one_patient_on_both_sides_and_keep_every_class():
    groups = [f"p{i // 3}" for i in range(180)]  # 60 patients, 3 radiographs each, one region per patient
    y = np.array([(i // 3) % 3 for i in range(180)])
    s = make_splits(y, groups, k=3, holdout_fraction=0.2, seed=0)
    g = np.array(groups)
    assert set(g[s.holdout]).isdisjoint(g[s.development])
    assert sorted(np.r_[s.holdout, s.development].tolist()) == list(range(180))
    assert 0.12 < len(s.holdout) / 180 < 0.28 and set(y[s.holdout]) == {0, 1, 2}
    val = np.concatenate([va for _, va in s.folds])
    assert sorted(val.tolist()) == sorted(s.development.tolist())  # every development image validated once
    for tr, va in s.folds:
        assert set(g[tr]).isdisjoint(g[va]) and set(y[va]) == {0, 1, 2}
        assert set(tr.tolist()) | set(va.tolist()) == set(s.development.tolist())


def test_too_few_patients_for_the_folds_is_a_data_error():
    with pytest.raises(Phase2DataError, match="patients"):
        make_splits(np.array([0, 1] * 10), ["one"] * 10 + ["two"] * 10, k=3, holdout_fraction=0.2)


def test_threshold_is_the_lowest_confidence_that_keeps_the_target_accuracy():
    conf = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    hit = np.array([1, 1, 1, 1, 0, 1, 0, 0], dtype=bool)
    t = calibrate_threshold(conf, hit, target=0.8, min_coverage=0.25)
    # at 0.6: 5 of 6 right (0.83 >= 0.8); at 0.5: 5 of 7 (0.71)
    assert (t.threshold, t.coverage, t.target_met) == (0.6, 0.75, True) and t.accuracy_above == pytest.approx(5 / 6)
    strict = calibrate_threshold(conf, hit, target=1.0, min_coverage=0.25)
    assert strict.threshold == 0.8 and strict.accuracy_above == 1.0
    weak = calibrate_threshold(conf, ~hit, target=0.9, min_coverage=0.5)  # unreachable: keep half confident
    assert not weak.target_met and weak.threshold == 0.8 and weak.coverage == 0.5


def test_report_metrics_png_and_markdown():
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.1, 0.4], [0.1, 0.1, 0.8]])
    target = np.array([0, 1, 2, 2])
    rep = classification_metrics(probs, target, ["a", "b", "c"], majority=2)
    assert rep["top1"] == 0.75 and rep["top2"] == 1.0 and rep["majority_rate"] == 0.5 and rep["n"] == 4
    assert rep["confusion"][2] == [1, 0, 1] and rep["per_class"]["c"]["recall"] == 0.5
    png = Image.open(io.BytesIO(confusion_png(rep["confusion"], ["a", "b", "c"], "hold-out")))
    assert png.format == "PNG" and png.size[0] > 200
    summary = {
        "model_version": "r1.ls2",
        "run_id": "r1",
        "labelset_version": 2,
        "profile": "ci",
        "classes": ["a", "b", "c"],
        "n_images": 4,
        "n_discarded": 1,
        "n_undecided": 0,
        "n_skipped": 0,
        "not_msk_class": None,
        "k": 3,
        "n_groups": 4,
        "epochs": 2,
        "num_workers": 2,
        "images_per_s": 10.0,
        "balance": "weighted",
        "seconds": 3.0,
    }
    threshold = {"threshold": 0.6, "accuracy_above": 0.9, "coverage": 0.7, "target_met": True}
    md = render_report(summary, rep, rep, threshold)
    assert "| hold-out (final model) | 4 | 0.7500 | 1.0000 |" in md and "| c | 1.000 | 0.500 |" in md


def test_model_versions_are_registry_safe_and_promotion_follows_the_policy():
    assert default_model_version("20261127-101010-abc123", 3) == "20261127-101010-abc123.ls3"
    long = default_model_version("r" * 64, 12)
    assert len(long) <= 64 and long.endswith(".ls12")
    assert should_auto_promote(TrainerSettings(), {"cv_top1": 0.9}) == (False, "auto-promotion is off")
    assert should_auto_promote(TrainerSettings(auto_promote=True), {"cv_top1": 0.1})[0]
    low = should_auto_promote(TrainerSettings(auto_promote=True, min_cv_top1=0.8), {"cv_top1": 0.7})
    assert not low[0] and "below" in low[1]


def test_evaluate_decodes_a_folder_as_serving_does_and_scores_multi_labels(tmp_path):
    rows = list(csv.DictReader((SAMPLE / "labels.csv").open()))
    picked = [r for r in rows if r["labels"] in ("chest", "knee")][:6] + [r for r in rows if ";" in r["labels"]][:1]
    with (tmp_path / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "labels"])
        for r in picked:
            name = Path(r["image"]).name
            (tmp_path / name).write_bytes((SAMPLE / r["image"]).read_bytes())
            writer.writerow([name, r["labels"]])
        writer.writerow(["broken.png", "knee"])
        writer.writerow(["unlabeled.png", ""])
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    torch.manual_seed(0)
    model = Classifier(Backbone("resnet18"), 2)
    manifest = ModelManifest("v1", "resnet18", 32, 32, ["chest", "knee"], "r1", 1, uncertain_threshold=0.7)
    report = evaluate_model(manifest, weights_to_bytes(model), tmp_path, "cpu")
    assert report["n_images"] == 7 and report["skipped"] == {"broken.png": "RadiographRejected"}
    labels = [r["labels"].split(";") for r in picked]
    # the random model's top-2 holds both classes: right exactly when an image has chest or knee
    assert report["top2"] == pytest.approx(np.mean([("chest" in lab) or ("knee" in lab) for lab in labels]))
    assert 0 <= report["top1"] <= report["top2"] and set(report["per_class"]) >= {"chest", "knee"}
    seen = {canonical_label(x) for lab in labels for x in lab}  # evaluate folds names as labeling does
    assert report["classes_without_model_class"] == sorted(seen - {"chest", "knee"})
    json.dumps(report)
    with pytest.raises(EvaluationDataError, match="labels.csv"):
        evaluate_model(manifest, weights_to_bytes(model), tmp_path / "nowhere", "cpu")


class _Store:
    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def get_bytes(self, bucket: str, key: str) -> bytes:
        if key not in self.objects:
            raise ObjectMissingError(key)
        return self.objects[key]


def test_phase1_backbone_artifact_round_trips_and_its_absence_is_a_clear_error():
    torch.manual_seed(1)
    backbone = Backbone("resnet18")
    prefix = "runs/phase1/r1/"
    objects = {prefix + "assignments.csv": b"image_id,cluster,confidence,second\nimg-1,0,0.9,1\n"}
    with pytest.raises(Phase2DataError, match="has no backbone.pt"):
        read_phase1_run(_Store(objects), "b", "runs/phase1", "r1")
    objects[prefix + "backbone.pt"] = backbone_bytes(backbone, "resnet18", 64)
    run = read_phase1_run(_Store(objects), "b", "runs/phase1", "r1")
    restored = Backbone(run.backbone_arch)
    restored.load_state_dict(run.backbone_state)
    assert run.assignments == {"img-1": 0}
    assert torch.equal(restored.net.conv1.weight, backbone.net.conv1.weight)
    objects[prefix + "backbone.pt"] = b"garbage"
    with pytest.raises(Phase2DataError, match="unreadable"):
        read_phase1_run(_Store(objects), "b", "runs/phase1", "r1")


def test_the_manifest_carries_the_ood_calibration_phase_2_stores_beside_the_weights():
    """The final model's features of the development radiographs fit the score; the threshold flags the
    calibrated share of the hold-out; the manifest names it and the stored statistics agree."""
    from samx_ml import ood
    from samx_trainer.phase2.ood import calibrate_ood, with_ood

    with (SAMPLE / "labels.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))[:80]
    images = torch.from_numpy(
        np.stack([np.asarray(Image.open(SAMPLE / r["image"]).convert("L").resize((48, 48))) for r in rows])
    )[:, None]
    classes = np.arange(len(rows)) % 3
    torch.manual_seed(0)
    model = Classifier(Backbone("resnet18"), 3).eval()
    development, holdout = np.arange(0, 60), np.arange(60, 80)
    detector = calibrate_ood(model, images, classes, development, holdout, 48, in_flag_rate=0.1)
    base = ModelManifest(
        version="v1", arch="resnet18", image_size=48, load_size=48, classes=["a", "b", "c"], run_id="r",
        labelset_version=1, metrics={"holdout_top1": 0.5},
    )  # fmt: skip
    manifest = ModelManifest.from_dict(with_ood(base, detector).to_dict())  # as the registry stores it
    assert manifest.metrics["holdout_top1"] == 0.5
    assert manifest.metrics["ood_threshold"] == detector.threshold
    assert (manifest.metrics["ood_in_flag_rate"], manifest.metrics["ood_n_calibration"]) == (0.1, 20.0)
    stored = ood.OODDetector.from_bytes(detector.to_bytes())
    assert (stored.method, stored.threshold) == (ood.DEFAULT_METHOD, manifest.metrics["ood_threshold"])
    held_features, _ = ood.features_of(model, images[holdout], 48)
    assert stored.flags(held_features).mean() <= 0.1  # the 0.9 quantile of the hold-out's scores
    with pytest.raises(ValueError, match="hold-out"):
        calibrate_ood(model, images, classes, development, np.array([], dtype=np.int64), 48)


def test_trainer_ood_settings_offer_exactly_samx_ml_oods_methods_and_defaults():
    from typing import get_args

    from samx_ml import ood
    from samx_trainer.settings import TrainerSettings

    field = TrainerSettings.model_fields["ood_method"]
    assert set(get_args(field.annotation)) == set(ood.METHODS) and field.default == ood.DEFAULT_METHOD
    assert TrainerSettings.model_fields["ood_in_flag_rate"].default == ood.DEFAULT_IN_FLAG_RATE
