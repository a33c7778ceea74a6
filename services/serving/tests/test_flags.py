from __future__ import annotations

import numpy as np
from samx_ml.bundle import ModelManifest
from samx_serving.flags import ModelOutput, labels_for_body_part, probabilities, score

CLASSES = ["chest", "hand", "knee", "not_msk"]


def _manifest(**kw) -> ModelManifest:
    return ModelManifest(
        version="v1",
        arch="resnet18",
        image_size=64,
        load_size=64,
        classes=CLASSES,
        run_id="r",
        labelset_version=1,
        **kw,
    )


def test_top_k_is_sorted_and_sums_below_one():
    s = score(np.array([1.0, 3.0, 2.0, 0.0]), _manifest(), top_k=3)
    assert [t.label for t in s.top] == ["hand", "knee", "chest"]
    assert abs(sum(t.probability for t in s.top) + np.exp(0) / np.exp([1.0, 3, 2, 0]).sum() - 1) < 1e-9


def test_uncertain_below_the_manifest_threshold():
    confident = np.array([0.0, 8.0, 0.0, 0.0])
    flat = np.array([1.0, 1.1, 1.0, 1.0])
    assert not score(confident, _manifest(uncertain_threshold=0.6), top_k=1).flags.uncertain
    assert score(flat, _manifest(uncertain_threshold=0.6), top_k=1).flags.uncertain


def test_not_msk_when_the_discard_class_wins_or_out_of_distribution():
    discard = np.array([0.0, 0.0, 0.0, 9.0])
    assert score(discard, _manifest(not_msk_class="not_msk"), top_k=2).flags.not_msk
    assert not score(discard, _manifest(), top_k=2).flags.not_msk
    weak = np.array([0.1, 0.2, 0.0, 0.1])  # logsumexp ~ 1.5: little evidence for any class
    strong = np.array([0.1, 12.0, 0.0, 0.1])
    assert score(weak, _manifest(), top_k=1, ood_min_logsumexp=3.0).flags.not_msk
    assert not score(strong, _manifest(), top_k=1, ood_min_logsumexp=3.0).flags.not_msk
    assert score(weak, _manifest(), top_k=1, ood_min_max_probability=0.5).flags.not_msk
    calibrated = _manifest(metrics={"ood_min_logsumexp": 3.0})  # a threshold the trainer calibrated
    assert score(weak, calibrated, top_k=1).flags.not_msk


def test_not_msk_when_the_replicas_ood_score_is_above_its_threshold():
    confident = np.array([0.0, 12.0, 0.0, 0.0])  # a confident logit says nothing about being in distribution
    far = score(ModelOutput(confident, ood_score=950.0, ood_threshold=600.0), _manifest(), top_k=2)
    near = score(ModelOutput(confident, ood_score=410.0, ood_threshold=600.0), _manifest(), top_k=2)
    assert far.flags.not_msk and not near.flags.not_msk
    assert (far.ood_score, near.ood_score) == (950.0, 410.0)  # the score goes into the answer
    assert [t.label for t in far.top] == [t.label for t in score(confident, _manifest(), top_k=2).top]
    unscored = score(ModelOutput(confident), _manifest(), top_k=1)  # a version without calibration
    assert not unscored.flags.not_msk and unscored.ood_score is None
    assert probabilities(ModelOutput(confident)) == probabilities(confident)


def test_tag_mismatch_uses_the_dicom_vocabulary():
    knee = np.array([0.0, 0.0, 5.0, 0.0])
    assert score(knee, _manifest(), top_k=1, body_part="HAND").flags.tag_mismatch
    assert not score(knee, _manifest(), top_k=1, body_part="KNEE").flags.tag_mismatch
    assert not score(knee, _manifest(), top_k=1, body_part="LEG").flags.tag_mismatch  # adjacent region
    assert not score(knee, _manifest(), top_k=1, body_part="").flags.tag_mismatch  # no tag, no opinion
    assert not score(knee, _manifest(), top_k=1, body_part="EXTREMITY").flags.tag_mismatch  # unknown term
    assert "cervical spine" in labels_for_body_part("CSPINE") == labels_for_body_part("c-spine")
    assert labels_for_body_part("Lower Leg") == labels_for_body_part("LOWERLEG")
