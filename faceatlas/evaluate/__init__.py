"""Metrics for clustering, verification and identification of faces.

Every clustering metric has the scikit-learn signature ``metric(labels_true, labels_pred)``
and is computed from a sparse contingency table (people x clusters), never from pairs of
faces, so a million labels score in about a second.

Unassigned faces
----------------
A predicted label of ``-1`` ("unsorted", a stranger) is scored as **its own singleton
cluster**: each such face is a cluster of one. This is the honest reading of "the
clusterer did not put this face with anyone": it costs recall for people with several
photos, but it is never rewarded as one big cluster of all leftovers, and it cannot be
dropped from the count to flatter precision. ``labels_true`` must not contain ``-1`` with
that meaning; any value there is taken as a person's name.

Clustering
----------
pairwise_precision_recall_f(labels_true, labels_pred)
    Precision, recall and F1 over pairs of faces (same person / same cluster).
bcubed_precision_recall_f(labels_true, labels_pred)
    BCubed precision, recall and F1 (Amigo et al. 2009), averaged over faces.
normalized_mutual_info(labels_true, labels_pred)
    NMI with arithmetic normalisation (scikit-learn's default).
adjusted_rand_index(labels_true, labels_pred)
    ARI (Hubert and Arabie 1985).
matched_accuracy(labels_true, labels_pred)
    Fraction of faces correct after a one-to-one Hungarian matching of clusters to people.
matched_weighted_f1(labels_true, labels_pred)
    Support-weighted F1 over people after the same matching.
clustering_report(labels_true, labels_pred)
    All of the above in one dict, plus ``n_clusters`` and ``n_unassigned``.

Verification (pairs of faces, one similarity and one same/different flag per pair)
----------------------------------------------------------------------------------
roc(similarities, same)
    False-match rates, true-match rates and thresholds (scikit-learn's ``roc_curve``).
roc_auc(similarities, same)
    Area under that curve.
equal_error_rate(similarities, same)
    The rate where false matches and false non-matches are equal, and its threshold.
tmr_at_fmr(similarities, same, fmr=1e-3)
    True-match rate at a false-match rate, and the threshold that achieves it.
kfold_verification_accuracy(similarities, same, n_folds=10)
    The LFW protocol: threshold chosen on the other folds, mean and std accuracy.

Identification (probes against a gallery)
-----------------------------------------
rank1_accuracy(similarities, gallery_labels, probe_labels)
    Closed-set rank-1 accuracy over probes whose person is in the gallery.
open_set_rates(similarities, gallery_labels, probe_labels, threshold)
    Open-set rates: correct identification, stranger rejection, false identification.
"""

from __future__ import annotations

from faceatlas.evaluate._clustering import (
    adjusted_rand_index,
    bcubed_precision_recall_f,
    clustering_report,
    matched_accuracy,
    matched_weighted_f1,
    normalized_mutual_info,
    pairwise_precision_recall_f,
)
from faceatlas.evaluate._identification import open_set_rates, rank1_accuracy
from faceatlas.evaluate._verification import (
    equal_error_rate,
    kfold_verification_accuracy,
    roc,
    roc_auc,
    tmr_at_fmr,
)

__all__ = [
    "adjusted_rand_index",
    "bcubed_precision_recall_f",
    "clustering_report",
    "equal_error_rate",
    "kfold_verification_accuracy",
    "matched_accuracy",
    "matched_weighted_f1",
    "normalized_mutual_info",
    "open_set_rates",
    "pairwise_precision_recall_f",
    "rank1_accuracy",
    "roc",
    "roc_auc",
    "tmr_at_fmr",
]
