"""Clustering metrics from a sparse people x clusters contingency table.

Signatures are scikit-learn's, ``metric(labels_true, labels_pred)``; a predicted ``-1`` is
its own singleton cluster (see :mod:`faceatlas.evaluate`).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching

from faceatlas.exceptions import InputError

# Components of the people x clusters graph up to this many dense cells go to the exact
# dense Hungarian solver; larger ones to the sparse solver, which never materialises them.
_DENSE_LSA_MAX_CELLS = 4_000_000


# --------------------------------------------------------------------------- helpers


def _check_labels(labels_true: Any, labels_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    labels_true = np.asarray(labels_true)
    labels_pred = np.asarray(labels_pred)
    if labels_true.ndim != 1 or labels_pred.ndim != 1:
        raise InputError(
            "labels_true and labels_pred must be 1-d arrays, "
            f"got shapes {labels_true.shape} and {labels_pred.shape}"
        )
    if labels_true.shape[0] != labels_pred.shape[0]:
        raise InputError(
            "labels_true and labels_pred must have the same length, "
            f"got {labels_true.shape[0]} and {labels_pred.shape[0]}"
        )
    if labels_pred.dtype.kind not in "iu":
        if labels_pred.dtype.kind == "f" and np.all(np.mod(labels_pred, 1) == 0):
            labels_pred = labels_pred.astype(np.int64)
        else:
            raise InputError(f"labels_pred must hold integers, got dtype {labels_pred.dtype}")
    return labels_true, labels_pred


def _codes(labels_true: np.ndarray, labels_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense 0..k-1 codes; every -1 in ``labels_pred`` becomes a singleton cluster."""
    _, t = np.unique(labels_true, return_inverse=True)
    _, p = np.unique(labels_pred, return_inverse=True)
    p = p.astype(np.int64)
    unassigned = labels_pred == -1
    n_unassigned = int(unassigned.sum())
    if n_unassigned:
        # give each -1 face a fresh code after the real clusters, then re-densify
        p[unassigned] = p.max() + 1 + np.arange(n_unassigned)
        _, p = np.unique(p, return_inverse=True)
    return t.astype(np.int64).ravel(), p.astype(np.int64).ravel()


def _contingency(labels_true: Any, labels_pred: Any) -> sparse.csr_matrix:
    """Sparse people x clusters table of face counts (-1 predictions are singletons)."""
    labels_true, labels_pred = _check_labels(labels_true, labels_pred)
    t, p = _codes(labels_true, labels_pred)
    n_t = int(t.max()) + 1 if t.size else 0
    n_p = int(p.max()) + 1 if p.size else 0
    c = sparse.coo_matrix((np.ones(t.size, dtype=np.int64), (t, p)), shape=(n_t, n_p)).tocsr()
    c.sum_duplicates()
    return c


def _comb2(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(np.sum(x * (x - 1.0) / 2.0))


def _prf(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2.0 * p * r / (p + r)


# --------------------------------------------------------------------------- clustering


def pairwise_precision_recall_f(labels_true: Any, labels_pred: Any) -> tuple[float, float, float]:
    """Precision, recall and F1 over pairs of faces.

    A pair is a true positive when both faces are the same person and share a cluster.

    Parameters
    ----------
    labels_true : array-like of shape (n_faces,)
        Person of each face (any hashable values).
    labels_pred : array-like of int of shape (n_faces,)
        Cluster of each face; ``-1`` is a singleton (see the module docstring).

    Returns
    -------
    precision, recall, f : float
        Precision is 1.0 when no pair shares a cluster (nothing was claimed), recall is
        1.0 when no two faces share a person (nothing to find).
    """
    return _pairwise(_contingency(labels_true, labels_pred))


def _pairwise(c: sparse.csr_matrix) -> tuple[float, float, float]:
    tp = _comb2(c.data)
    pred_pairs = _comb2(np.asarray(c.sum(axis=0)).ravel())
    true_pairs = _comb2(np.asarray(c.sum(axis=1)).ravel())
    precision = tp / pred_pairs if pred_pairs > 0 else 1.0
    recall = tp / true_pairs if true_pairs > 0 else 1.0
    return precision, recall, _prf(precision, recall)


def bcubed_precision_recall_f(labels_true: Any, labels_pred: Any) -> tuple[float, float, float]:
    """BCubed precision, recall and F1 (Amigo, Gonzalo, Artiles and Verdejo 2009).

    Per face, precision is the share of its cluster that is its person, recall the share
    of its person that is in its cluster; both are averaged over faces, and F is their
    harmonic mean. Unlike pairwise scores, a large person does not dominate.

    Parameters
    ----------
    labels_true : array-like of shape (n_faces,)
        Person of each face.
    labels_pred : array-like of int of shape (n_faces,)
        Cluster of each face; ``-1`` is a singleton.

    Returns
    -------
    precision, recall, f : float
    """
    return _bcubed(_contingency(labels_true, labels_pred))


def _bcubed(c: sparse.csr_matrix) -> tuple[float, float, float]:
    c = c.tocoo()
    n = float(c.data.sum())
    if n == 0:
        return 1.0, 1.0, 1.0
    cluster_size = np.asarray(c.sum(axis=0)).ravel()[c.col]
    person_size = np.asarray(c.sum(axis=1)).ravel()[c.row]
    sq = c.data.astype(np.float64) ** 2
    precision = float(np.sum(sq / cluster_size) / n)
    recall = float(np.sum(sq / person_size) / n)
    return precision, recall, _prf(precision, recall)


def normalized_mutual_info(labels_true: Any, labels_pred: Any) -> float:
    """Normalised mutual information (arithmetic mean of the entropies).

    Parameters
    ----------
    labels_true : array-like of shape (n_faces,)
    labels_pred : array-like of int of shape (n_faces,)
        ``-1`` is a singleton.

    Returns
    -------
    float
        In [0, 1]; 1 for identical partitions.
    """
    return _nmi(_contingency(labels_true, labels_pred))


def _entropy(counts: np.ndarray, n: float) -> float:
    q = counts[counts > 0] / n
    return float(-np.sum(q * np.log(q)))


def _nmi(c: sparse.csr_matrix) -> float:
    n = float(c.data.sum())
    n_t, n_p = c.shape
    # scikit-learn's convention: two one-cluster (or empty) partitions agree perfectly
    if n_t == n_p and n_t <= 1:
        return 1.0
    a = np.asarray(c.sum(axis=1)).ravel().astype(np.float64)
    b = np.asarray(c.sum(axis=0)).ravel().astype(np.float64)
    coo = c.tocoo()
    v = coo.data.astype(np.float64)
    mi = float(np.sum(v / n * (np.log(v * n) - np.log(a[coo.row] * b[coo.col]))))
    mi = max(mi, 0.0)
    h = (_entropy(a, n) + _entropy(b, n)) / 2.0
    return float(mi / max(h, np.finfo(np.float64).eps))


def adjusted_rand_index(labels_true: Any, labels_pred: Any) -> float:
    """Adjusted Rand index (chance-corrected pair agreement).

    Parameters
    ----------
    labels_true : array-like of shape (n_faces,)
    labels_pred : array-like of int of shape (n_faces,)
        ``-1`` is a singleton.

    Returns
    -------
    float
        1 for identical partitions, about 0 for random ones.
    """
    return _ari(_contingency(labels_true, labels_pred))


def _ari(c: sparse.csr_matrix) -> float:
    n = float(c.data.sum())
    index = _comb2(c.data)
    sum_a = _comb2(np.asarray(c.sum(axis=1)).ravel())
    sum_b = _comb2(np.asarray(c.sum(axis=0)).ravel())
    total = n * (n - 1.0) / 2.0
    expected = sum_a * sum_b / total if total > 0 else 0.0
    max_index = (sum_a + sum_b) / 2.0
    # scikit-learn's convention for degenerate partitions (all one cluster / all singletons)
    if max_index == expected:
        return 1.0
    return float((index - expected) / (max_index - expected))


def _match_weights(c: sparse.csr_matrix) -> sparse.csr_matrix:
    """Cell weights: face count, ties broken by the cell's share of weighted F1.

    Several matchings can reach the same accuracy; without a tie-break, which one the
    solver returns (and so the weighted F1) would depend on how clusters are numbered.
    The secondary term sums to less than 1 over any matching, so it never outweighs a
    single face.
    """
    n = float(c.sum())
    coo = c.tocoo()
    person_size = np.asarray(c.sum(axis=1)).ravel()[coo.row]
    cluster_size = np.asarray(c.sum(axis=0)).ravel()[coo.col]
    v = coo.data.astype(np.float64)
    f1_share = person_size * (2.0 * v / (person_size + cluster_size))
    return sparse.csr_matrix((v + f1_share / (n + 1.0), (coo.row, coo.col)), shape=c.shape)


def _hungarian(c: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-weight one-to-one matching of people (rows) to clusters (columns).

    A table of at most ``_DENSE_LSA_MAX_CELLS`` cells is solved densely with
    ``linear_sum_assignment``. A larger one never becomes dense: only non-zero cells can
    add weight, so the people-cluster graph is cut into connected components; a component
    with a single person or a single cluster takes its largest cell, and each other one is
    solved on its own (see ``_match_component``).
    """
    n_t, n_p = c.shape
    if n_t == 0 or n_p == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    w = _match_weights(c)
    if n_t * n_p <= _DENSE_LSA_MAX_CELLS:
        dense = w.toarray()
        a, b = linear_sum_assignment(dense, maximize=True)
        keep = dense[a, b] > 0
        return a[keep], b[keep]
    adj = sparse.bmat([[None, c], [c.T, None]], format="csr")
    _, comp = connected_components(adj, directed=False)
    rows_per = np.bincount(comp[:n_t], minlength=comp.max() + 1)
    cols_per = np.bincount(comp[n_t:], minlength=comp.max() + 1)
    coo = w.tocoo()
    e_comp = comp[coo.row]
    trivial = (rows_per[e_comp] == 1) | (cols_per[e_comp] == 1)
    # trivial components: the single largest cell of each (ties -> first by position)
    idx = np.flatnonzero(trivial)
    order = idx[np.lexsort((-coo.data[idx], e_comp[idx]))]
    first = np.ones(order.size, dtype=bool)
    first[1:] = e_comp[order][1:] != e_comp[order][:-1]
    rows = [coo.row[order[first]]]
    cols = [coo.col[order[first]]]
    rest = np.flatnonzero(~trivial)
    if rest.size == 0:
        return np.concatenate(rows).astype(np.int64), np.concatenate(cols).astype(np.int64)
    rest = rest[np.argsort(e_comp[rest], kind="stable")]
    r_comp = e_comp[rest]
    bounds = np.flatnonzero(np.r_[True, r_comp[1:] != r_comp[:-1], True])
    for lo, hi in itertools.pairwise(bounds):
        e = rest[lo:hi]
        a, b = _match_component(coo.row[e], coo.col[e], coo.data[e])
        rows.append(a)
        cols.append(b)
    return np.concatenate(rows).astype(np.int64), np.concatenate(cols).astype(np.int64)


def _match_component(r: np.ndarray, cc: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Match one connected component given as cells (row, column, count)."""
    ur, ri = np.unique(r, return_inverse=True)
    uc, ci = np.unique(cc, return_inverse=True)
    if ur.size * uc.size <= _DENSE_LSA_MAX_CELLS:
        dense = np.zeros((ur.size, uc.size))
        dense[ri, ci] = v
        a, b = linear_sum_assignment(dense, maximize=True)
        keep = dense[a, b] > 0
        return ur[a[keep]], uc[b[keep]]
    # one dummy column per person guarantees a full matching exists; its weight is too
    # small for any sum of dummies to outweigh a single real face (it can blur the
    # weighted-F1 tie-break, only in components too large for the dense solver)
    m = ur.size
    eps = 0.5 / (m + 1)
    big = sparse.coo_matrix(
        (
            np.concatenate([v.astype(np.float64), np.full(m, eps)]),
            (np.concatenate([ri, np.arange(m)]), np.concatenate([ci, uc.size + np.arange(m)])),
        ),
        shape=(m, uc.size + m),
    ).tocsr()
    a, b = min_weight_full_bipartite_matching(big, maximize=True)
    keep = b < uc.size
    return ur[a[keep]], uc[b[keep]]


def matched_accuracy(labels_true: Any, labels_pred: Any) -> float:
    """Accuracy after matching each cluster to at most one person (Hungarian algorithm).

    Parameters
    ----------
    labels_true : array-like of shape (n_faces,)
    labels_pred : array-like of int of shape (n_faces,)
        ``-1`` is a singleton, so an unassigned face counts only when it is the
        one face matched to its person.

    Returns
    -------
    float
        Fraction of faces whose cluster is matched to their own person.
    """
    return _matched(_contingency(labels_true, labels_pred))[0]


def _matched(c: sparse.csr_matrix) -> tuple[float, float]:
    """Accuracy and weighted F1 after the Hungarian matching."""
    n = float(c.sum())
    if n == 0:
        return 1.0, 1.0
    r, k = _hungarian(c)
    person_size = np.asarray(c.sum(axis=1)).ravel()
    cluster_size = np.asarray(c.sum(axis=0)).ravel()
    tp = np.asarray(c[r, k]).ravel().astype(np.float64)
    f1 = 2.0 * tp / (person_size[r] + cluster_size[k])
    return float(tp.sum() / n), float(np.sum(person_size[r] * f1) / n)


def matched_weighted_f1(labels_true: Any, labels_pred: Any) -> float:
    """Support-weighted F1 over people after the Hungarian matching of clusters to people.

    A person's F1 is ``2 tp / (person size + matched cluster size)``, 0 if no cluster is
    matched to them; people are weighted by their number of faces (scikit-learn's
    ``f1_score(average="weighted")`` on the relabelled predictions).

    Parameters
    ----------
    labels_true : array-like of shape (n_faces,)
    labels_pred : array-like of int of shape (n_faces,)
        ``-1`` is a singleton.

    Returns
    -------
    float
    """
    return _matched(_contingency(labels_true, labels_pred))[1]


def clustering_report(labels_true: Any, labels_pred: Any) -> dict[str, float | int]:
    """Every clustering metric of this module in one dict.

    Parameters
    ----------
    labels_true : array-like of shape (n_faces,)
    labels_pred : array-like of int of shape (n_faces,)
        ``-1`` is a singleton.

    Returns
    -------
    dict
        Keys ``pairwise_precision``, ``pairwise_recall``, ``pairwise_f``,
        ``bcubed_precision``, ``bcubed_recall``, ``bcubed_f``, ``nmi``, ``ari``,
        ``accuracy``, ``weighted_f1``, ``n_clusters`` (clusters other than -1),
        ``n_unassigned`` (faces labelled -1), ``n_people`` and ``n_faces``.
    """
    labels_true, labels_pred = _check_labels(labels_true, labels_pred)
    c = _contingency(labels_true, labels_pred)
    pp, pr, pf = _pairwise(c)
    bp, br, bf = _bcubed(c)
    acc, wf1 = _matched(c)
    assigned = labels_pred[labels_pred != -1]
    return {
        "pairwise_precision": pp,
        "pairwise_recall": pr,
        "pairwise_f": pf,
        "bcubed_precision": bp,
        "bcubed_recall": br,
        "bcubed_f": bf,
        "nmi": _nmi(c),
        "ari": _ari(c),
        "accuracy": acc,
        "weighted_f1": wf1,
        "n_clusters": int(np.unique(assigned).size),
        "n_unassigned": int(labels_pred.size - assigned.size),
        "n_people": int(np.unique(labels_true).size),
        "n_faces": int(labels_true.size),
    }
