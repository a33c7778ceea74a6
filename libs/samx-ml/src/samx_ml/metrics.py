"""Clustering and classification metrics, multi-label aware.

Clusters (phase 1): NMI and ARI as SCAN reports them (Van Gansbeke et al., ECCV 2020,
arXiv:2005.12320, sklearn's arithmetic-mean NMI); "merged by name" NMI (the paper's reading:
Hinterwimmer et al., Eur Radiol 2023: clusters that get the same name are one class); accuracy after
Hungarian matching; accuracy of naming every cluster by its majority label; the number of naming
decisions (non-empty clusters).

Multi-label ground truth: ``multi_hot`` (N, C) bool; a prediction or a cluster name is right when it is
among the image's labels; NMI/ARI use ``primary`` (N,), the first label.
"""

from __future__ import annotations

import numpy as np

# scipy and sklearn are imported inside the functions that use them: serving replicas import this module
# (through samx_ml.classifier) for UNNAMED and the light helpers, and sklearn costs seconds per process.

UNNAMED = -1


def contingency(clusters: np.ndarray, multi_hot: np.ndarray, n_clusters: int | None = None) -> np.ndarray:
    """(K, C) counts: how many images of cluster k carry label c (a multi-label image counts for each)."""
    k = int(clusters.max()) + 1 if n_clusters is None else n_clusters
    table = np.zeros((k, multi_hot.shape[1]), dtype=np.int64)
    np.add.at(table, clusters, multi_hot.astype(np.int64))
    return table


def name_clusters(clusters: np.ndarray, multi_hot: np.ndarray, n_clusters: int) -> np.ndarray:
    """(K,) majority label of each cluster's labeled members, ``UNNAMED`` when it has none.

    Ties go to the lower class index (deterministic). This is the labeling service's suggestion and
    what a perfect radiologist would answer.
    """
    table = contingency(clusters, multi_hot, n_clusters)
    names: np.ndarray = table.argmax(1)
    names[table.sum(1) == 0] = UNNAMED
    return names


def is_correct(pred: np.ndarray, multi_hot: np.ndarray) -> np.ndarray:
    """(N,) bool: pred[i] (class index, or UNNAMED = wrong) is among image i's labels."""
    ok = pred >= 0
    out = np.zeros(len(pred), dtype=bool)
    out[ok] = multi_hot[np.flatnonzero(ok), pred[ok]]
    return out


def naming_accuracy(clusters: np.ndarray, names: np.ndarray, multi_hot: np.ndarray) -> float:
    """Accuracy when every image takes its cluster's name (an unnamed cluster counts as wrong)."""
    return float(is_correct(names[clusters], multi_hot).mean())


def majority_naming_accuracy(clusters: np.ndarray, multi_hot: np.ndarray, n_clusters: int) -> float:
    """Accuracy of naming each cluster by the majority of the same images' labels."""
    return naming_accuracy(clusters, name_clusters(clusters, multi_hot, n_clusters), multi_hot)


def merged_nmi(clusters: np.ndarray, names: np.ndarray, primary: np.ndarray) -> float:
    """NMI between cluster names (clusters merged by name) and the primary labels.

    Images whose cluster is unnamed keep a class of their own (``C + cluster``) so they are not merged.
    """
    merged = names[clusters].copy()
    unnamed = merged < 0
    merged[unnamed] = primary.max() + 1 + clusters[unnamed]
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(primary, merged))


def hungarian_accuracy(clusters: np.ndarray, multi_hot: np.ndarray, n_clusters: int) -> float:
    """Accuracy after the one-to-one cluster -> class matching that maximizes the hits.

    The (K, C) matrix may be non-square: with K > C only C clusters get a class, the rest count as wrong
    (this is why Hungarian accuracy is low under over-clustering and majority naming is the useful figure).
    """
    table = contingency(clusters, multi_hot, n_clusters)
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(table, maximize=True)
    mapping = np.full(n_clusters, UNNAMED)
    mapping[rows] = cols
    return float(is_correct(mapping[clusters], multi_hot).mean())


def n_decisions(clusters: np.ndarray) -> int:
    """Naming decisions a radiologist makes: one per non-empty cluster."""
    return int(len(np.unique(clusters)))


def cluster_report(
    clusters: np.ndarray, primary: np.ndarray, multi_hot: np.ndarray, n_clusters: int
) -> dict[str, float]:
    """All phase-1 figures on one set, names taken from the same set's labels."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    names = name_clusters(clusters, multi_hot, n_clusters)
    return {
        "nmi": float(normalized_mutual_info_score(primary, clusters)),
        "ari": float(adjusted_rand_score(primary, clusters)),
        "merged_nmi": merged_nmi(clusters, names, primary),
        "hungarian_acc": hungarian_accuracy(clusters, multi_hot, n_clusters),
        "majority_naming_acc": naming_accuracy(clusters, names, multi_hot),
        "n_decisions": n_decisions(clusters),
    }


# ---- phase 2: classifier -------------------------------------------------------------------------


def topk_accuracy(probs: np.ndarray, multi_hot: np.ndarray, k: int) -> float:
    """Fraction of images with at least one of their labels among the k most probable classes."""
    top = np.argsort(-probs, axis=1)[:, :k]
    return float(np.take_along_axis(multi_hot, top, axis=1).any(1).mean())


def confusion(pred: np.ndarray, primary: np.ndarray, multi_hot: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, C) rows = truth, cols = prediction. A correct multi-label prediction lands on its own diagonal
    cell; a wrong one is counted against the image's primary label."""
    truth = np.where(is_correct(pred, multi_hot), pred, primary)
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (truth, pred), 1)
    return m


def per_class_prf(
    pred: np.ndarray, primary: np.ndarray, multi_hot: np.ndarray, n_classes: int
) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F1 and support from :func:`confusion` (arrays of length C)."""
    m = confusion(pred, primary, multi_hot, n_classes)
    tp = np.diag(m).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.nan_to_num(tp / m.sum(0))
        recall = np.nan_to_num(tp / m.sum(1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    return {"precision": precision, "recall": recall, "f1": f1, "support": m.sum(1)}


def expected_calibration_error(probs: np.ndarray, multi_hot: np.ndarray, n_bins: int = 15) -> float:
    """ECE of the top-1 confidence (Guo et al., ICML 2017), equal-width bins, multi-label aware hits."""
    conf = probs.max(1)
    hit = is_correct(probs.argmax(1), multi_hot).astype(float)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            ece += sel.mean() * abs(hit[sel].mean() - conf[sel].mean())
    return float(ece)


def classifier_report(
    probs: np.ndarray, primary: np.ndarray, multi_hot: np.ndarray, classes: list[str]
) -> dict[str, object]:
    """top-1, top-2, macro F1, per-class P/R/F1, ECE, confusion matrix (as lists, JSON-ready)."""
    pred = probs.argmax(1)
    prf = per_class_prf(pred, primary, multi_hot, len(classes))
    present = prf["support"] > 0
    return {
        "top1": topk_accuracy(probs, multi_hot, 1),
        "top2": topk_accuracy(probs, multi_hot, 2),
        "macro_f1": float(prf["f1"][present].mean()) if present.any() else float("nan"),
        "ece": expected_calibration_error(probs, multi_hot),
        "per_class": {
            c: {k: float(prf[k][i]) for k in ("precision", "recall", "f1", "support")} for i, c in enumerate(classes)
        },
        "confusion": confusion(pred, primary, multi_hot, len(classes)).tolist(),
    }
