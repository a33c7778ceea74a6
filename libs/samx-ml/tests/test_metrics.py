"""Metrics on small arrays computed by hand."""

import numpy as np
import pytest
from samx_ml import metrics as M
from samx_ml.labelsets import one_hot_from_primary, parse_label_sets

# 6 images, 3 clusters, 2 classes. cluster 0: labels 0,0,1; cluster 1: 1,1; cluster 2: 1
CLUSTERS = np.array([0, 0, 0, 1, 1, 2])
PRIMARY = np.array([0, 0, 1, 1, 1, 1])
MH = one_hot_from_primary(PRIMARY, 2)


def test_name_clusters_and_majority_naming():
    assert M.name_clusters(CLUSTERS, MH, 4).tolist() == [0, 1, 1, M.UNNAMED]  # cluster 3 is empty
    assert M.majority_naming_accuracy(CLUSTERS, MH, 3) == pytest.approx(5 / 6)


def test_hungarian_on_non_square_matrix():
    # contingency [[2,1],[0,2],[0,1]]: best one-to-one = c0->0 (2) + c1->1 (2); c2 unmatched
    assert M.hungarian_accuracy(CLUSTERS, MH, 3) == pytest.approx(4 / 6)


def test_merged_nmi_by_hand():
    # merged names [0,0,0,1,1,1] vs truth [0,0,1,1,1,1]:
    # I = ln2/6 + ln1.5/2 = 0.318257; H(names) = ln 2; H(truth) = 0.636514; NMI = I / mean(H) = 0.478707
    names = M.name_clusters(CLUSTERS, MH, 3)
    assert M.merged_nmi(CLUSTERS, names, PRIMARY) == pytest.approx(0.478707, abs=1e-5)


def test_unnamed_clusters_are_wrong_and_not_merged():
    names = np.array([0, M.UNNAMED, M.UNNAMED])
    assert M.naming_accuracy(CLUSTERS, names, MH) == pytest.approx(2 / 6)
    # clusters 1 and 2 stay apart (merged = [0,0,0,3,3,4]): the same partition as the raw clusters
    assert M.merged_nmi(CLUSTERS, names, PRIMARY) == pytest.approx(M.cluster_report(CLUSTERS, PRIMARY, MH, 3)["nmi"])


def test_multi_label_names_are_right_when_among_labels():
    y = parse_label_sets(["hand;wrist", "wrist", "hand"])
    clusters = np.array([0, 0, 1])
    names = M.name_clusters(clusters, y.multi_hot, 2)  # cluster 0: hand 1, wrist 2 -> wrist; cluster 1: hand
    assert [y.classes[i] for i in names] == ["wrist", "hand"]
    assert M.naming_accuracy(clusters, names, y.multi_hot) == 1.0
    assert y.primary.tolist() == [0, 1, 0]  # first listed label


def test_n_decisions_and_report():
    assert M.n_decisions(CLUSTERS) == 3
    rep = M.cluster_report(CLUSTERS, PRIMARY, MH, 3)
    assert rep["n_decisions"] == 3
    assert 0 < rep["nmi"] < 1 and -1 <= rep["ari"] <= 1


def test_topk_multilabel():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    mh = np.array([[0, 1, 0], [1, 0, 0]], dtype=bool)
    assert M.topk_accuracy(probs, mh, 1) == 0.0
    assert M.topk_accuracy(probs, mh, 2) == 0.5  # row 0's label 1 is second


def test_ece_and_confusion_and_prf():
    probs = np.array([[0.9, 0.1], [0.1, 0.9], [0.6, 0.4]])
    mh = one_hot_from_primary(np.array([0, 1, 1]), 2)
    # bins: conf 0.9 (two hits) -> |1 - 0.9| * 2/3; conf 0.6 (miss) -> |0 - 0.6| * 1/3
    assert M.expected_calibration_error(probs, mh) == pytest.approx(0.1 * 2 / 3 + 0.6 / 3)
    pred = probs.argmax(1)
    assert M.confusion(pred, np.array([0, 1, 1]), mh, 2).tolist() == [[1, 0], [1, 1]]
    prf = M.per_class_prf(pred, np.array([0, 1, 1]), mh, 2)
    assert prf["precision"].tolist() == pytest.approx([0.5, 1.0])
    assert prf["recall"].tolist() == pytest.approx([1.0, 0.5])
    assert prf["f1"].tolist() == pytest.approx([2 / 3, 2 / 3])
    rep = M.classifier_report(probs, np.array([0, 1, 1]), mh, ["a", "b"])
    assert rep["top1"] == pytest.approx(2 / 3) and rep["per_class"]["a"]["support"] == 1


def test_parse_rejects_unknown_label():
    with pytest.raises(ValueError, match="vocabulary"):
        parse_label_sets(["knee", "nose"], classes=["knee"])
    assert parse_label_sets(["", "knee"]).labeled.tolist() == [False, True]
