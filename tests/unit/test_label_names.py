"""One spelling of every class name across the services (issue: label names differ across services).

Nothing is trained: the names a radiologist gives on the labeling service travel, as labeling
publishes them, into a model manifest, through serving's flags and through ``evaluate`` against the
sample's own ``labels.csv`` (written with underscores, as UNIFESP ships it)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from samx_core.labels import SEED_NAMES, SEED_VOCABULARY, LabelNames, canonical_label, label_key
from samx_labeling.db.models import Cluster, VocabularyEntry
from samx_labeling.domain.publishing import label_set_document
from samx_labeling.domain.vocabulary import Vocabulary
from samx_ml.bundle import ModelManifest, weights_to_bytes
from samx_serving.flags import BODY_PART_LABELS, score
from samx_trainer.phase2.evaluate import evaluate_model

from tests.support.phase1_fixture import BODY_PART_TAGS
from tests.support.serving_models import random_classifier

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def _sample_rows() -> list[dict[str, str]]:
    with (SAMPLE / "labels.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _published_classes(truth_names: list[str]) -> list[str]:
    """The classes of a label set the labeling service publishes when a radiologist types each truth
    name (underscored, as in labels.csv) for one cluster."""
    vocabulary = Vocabulary(
        [VocabularyEntry(name=name, synonyms=list(synonyms)) for name, synonyms in SEED_VOCABULARY.items()]
    )
    clusters = [
        Cluster(cluster=i, size=1, label=vocabulary.normalize(name)[0], discarded=False, flagged=False)
        for i, name in enumerate(truth_names)
    ]
    return label_set_document("run-names", 1, "dr-test", clusters)["classes"]


def test_canonical_form_and_synonyms():
    assert canonical_label(" Lumbar_Spine ") == canonical_label("lumbar  spine") == "lumbar spine"
    assert canonical_label("c-spine") == "c-spine" and label_key("c-spine") == "c spine"
    assert SEED_NAMES.resolve("L-Spine") == SEED_NAMES.resolve("lumbar_spine") == "lumbar spine"
    assert SEED_NAMES.resolve("Elbow_Joint") == "elbow joint"  # unknown: canonical, not dropped
    assert SEED_NAMES.resolve_set("Lumbar_Spine; hands;lumbar spine") == "lumbar spine;hand"
    names = LabelNames({"knee": ["genu"], "genu": []})  # a name wins over another name's synonym
    assert names.known("GENU") == "genu" and names.known("knee") == "knee" and names.known("hip") is None


def test_every_label_of_the_body_part_map_is_a_vocabulary_name():
    for tag, labels in BODY_PART_LABELS.items():
        for label in labels:
            assert SEED_NAMES.known(label) == label, f"{tag}: {label!r} is not spelled as the vocabulary spells it"


def test_published_names_pass_serving_flags_for_their_own_body_part():
    truth = sorted({label for row in _sample_rows() for label in row["labels"].split(";") if label})
    assert any("_" in name for name in truth), "the sample no longer has multi-word names: nothing tested"
    classes = _published_classes(truth)
    assert classes == sorted(SEED_NAMES.resolve(name) for name in truth)
    assert all(" " in c for c in classes if c in ("lumbar spine", "cervical spine", "lower leg"))
    manifest = ModelManifest("v1", "resnet18", 64, 64, classes, "run-names", 1, uncertain_threshold=0.5)
    checked = 0
    for name, tag in BODY_PART_TAGS.items():
        label = SEED_NAMES.resolve(name)
        if label not in classes:
            continue
        logits = np.full(len(classes), -5.0)
        logits[classes.index(label)] = 5.0
        scored = score(logits, manifest, top_k=2, body_part=tag)
        assert scored.top[0].label == label
        assert not scored.flags.tag_mismatch, f"{label!r} on a {tag} radiograph was flagged as a mismatch"
        checked += 1
    assert checked >= 10
    # A model trained before names were canonical (underscored classes) is judged the same way.
    legacy = ModelManifest("v0", "resnet18", 64, 64, [c.replace(" ", "_") for c in classes], "r0", 1)
    logits = np.full(len(classes), -5.0)
    logits[classes.index("lumbar spine")] = 5.0
    assert not score(logits, legacy, top_k=1, body_part="LSPINE").flags.tag_mismatch
    assert score(logits, legacy, top_k=1, body_part="KNEE").flags.tag_mismatch


@pytest.mark.parametrize(
    "spelling", [lambda n: n, lambda n: n.replace("_", " ").title()], ids=["as-unifesp-writes-it", "title-case"]
)
def test_evaluate_scores_underscored_truth_against_published_names(tmp_path, spelling):
    rows = [r for r in _sample_rows() if r["labels"] in ("lumbar_spine", "cervical_spine", "lower_leg")][:6]
    assert len({r["labels"] for r in rows}) >= 2
    with (tmp_path / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "labels"])
        for r in rows:
            name = Path(r["image"]).name
            shutil.copyfile(SAMPLE / r["image"], tmp_path / name)
            writer.writerow([name, spelling(r["labels"])])
    classes = _published_classes(["lumbar_spine", "cervical_spine", "lower_leg"])
    model = random_classifier(classes, seed=3)
    manifest = ModelManifest("v1", "resnet18", 32, 32, classes, "run-names", 1, uncertain_threshold=0.5)
    report = evaluate_model(manifest, weights_to_bytes(model), tmp_path, "cpu")
    assert report["n_images"] == len(rows)
    assert report["classes_without_model_class"] == []
    assert report["confusion"]["classes"] == classes
    assert set(report["per_class"]) <= set(classes)
