"""Constraints between faces: must-link groups, cannot-link splits, joining existing people.

Arrays in, arrays out; the estimators of :mod:`faceatlas.cluster` call these after
clustering, and ``assign_to_clusters`` places new faces without re-clustering.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from faceatlas.cluster._checks import check_pairs, check_threshold, check_X
from faceatlas.exceptions import InputError


def _union_find_groups(n: int, pairs: np.ndarray) -> np.ndarray:
    """Group index of each face, groups joined by must-link pairs (connected components)."""
    if pairs.size == 0:
        return np.arange(n, dtype=np.int64)
    # scipy's csgraph costs ~0.3 s to import: only must-link work pays for it
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    g = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    # number groups by first face so the order follows the input
    _, first, inv = np.unique(comp, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inv.ravel()].astype(np.int64)


def _cluster_sums(X: np.ndarray, labels: np.ndarray, weights: np.ndarray, k: int):
    ok = labels >= 0
    S = np.zeros((k, X.shape[1]), dtype=np.float64)
    np.add.at(S, labels[ok], X[ok].astype(np.float64) * weights[ok, None])
    size = np.bincount(labels[ok], weights=weights[ok], minlength=k)
    return S, size


def _partners(pairs: np.ndarray) -> dict[int, list[int]]:
    """Each face's cannot-link partners, both ways."""
    partners: dict[int, list[int]] = {}
    for a, b in pairs:
        partners.setdefault(int(a), []).append(int(b))
        partners.setdefault(int(b), []).append(int(a))
    return partners


def enforce_cannot_link(
    X: Any,
    labels: Any,
    cannot_link: Any,
    threshold: float | None = None,
    *,
    weights: Any = None,
) -> np.ndarray:
    """Split every cluster that holds a cannot-link pair.

    For each violated pair, the face with the lower mean similarity to the rest of its
    cluster is detached; detached faces then join the most similar other cluster (mean
    similarity to its members >= ``threshold``) that holds none of their cannot-link
    partners, else become -1. Repeats until no pair is violated.

    Parameters
    ----------
    X : ndarray of shape (n_faces, n_features)
        L2-normalised embeddings.
    labels : ndarray of int of shape (n_faces,)
        Cluster labels, -1 for none.
    cannot_link : array-like of int of shape (m, 2)
        Face index pairs that must not share a label.
    threshold : float, optional
        Same-person cosine threshold; default ``DEFAULT_THRESHOLD``.
    weights : ndarray of shape (n_faces,), optional
        Faces each row stands for (must-link super-faces); default all 1.

    Returns
    -------
    ndarray of int of shape (n_faces,)
        New labels (not renumbered).
    """
    X = check_X(X)
    n = X.shape[0]
    labels = np.asarray(labels, dtype=np.int64).copy()
    if labels.shape != (n,):
        raise InputError(f"labels must have shape ({n},), got {labels.shape}")
    cl = check_pairs(cannot_link, n, "cannot_link")
    t = check_threshold(threshold)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if cl.size == 0:
        return labels
    if np.any(cl[:, 0] == cl[:, 1]):
        raise InputError("cannot_link pairs a face with itself")
    partners = _partners(cl)
    k = int(labels.max()) + 1 if (labels >= 0).any() else 0
    S, size = _cluster_sums(X, labels, w, k)
    Xd = X.astype(np.float64)

    def attachment(i: int) -> float:
        c = labels[i]
        rest = size[c] - w[i]
        if rest <= 0:
            return 1.0
        return float((Xd[i] @ S[c] - w[i] * (Xd[i] @ Xd[i])) / rest)

    for _ in range(n + 1):
        same = (labels[cl[:, 0]] == labels[cl[:, 1]]) & (labels[cl[:, 0]] >= 0)
        if not same.any():
            break
        detached: list[int] = []
        for a, b in cl[same]:
            if labels[a] < 0 or labels[a] != labels[b]:
                continue  # already resolved by an earlier detachment in this sweep
            # keep the better-attached face; ties keep the lower index
            drop = int(b) if attachment(int(a)) >= attachment(int(b)) else int(a)
            c = labels[drop]
            S[c] -= Xd[drop] * w[drop]
            size[c] -= w[drop]
            labels[drop] = -1
            detached.append(drop)
        # move each detached face to its best allowed cluster (mean similarity)
        for i in detached:
            if k == 0:
                break
            ok = size > 0
            mean_sim = np.full(k, -np.inf)
            mean_sim[ok] = (S[ok] @ Xd[i]) / size[ok]
            for j in partners.get(i, ()):
                if labels[j] >= 0:
                    mean_sim[labels[j]] = -np.inf
            best = int(np.argmax(mean_sim))
            if mean_sim[best] >= t:
                labels[i] = best
                S[best] += Xd[i] * w[i]
                size[best] += w[i]
    return labels


def assign_to_clusters(
    X_new: Any,
    centroids_or_members: Any,
    threshold: float | None = None,
    *,
    labels: Any = None,
    how: str = "max",
) -> tuple[np.ndarray, np.ndarray]:
    """Assign new faces to existing people (incremental clustering).

    Parameters
    ----------
    X_new : ndarray of shape (n_new, n_features)
        L2-normalised embeddings of the new faces.
    centroids_or_members : ndarray of shape (n_rows, n_features)
        Without ``labels``: one row per person (a centroid), person ``i`` is row ``i``.
        With ``labels``: the member faces of the existing people.
    threshold : float, optional
        A new face is assigned only when its similarity to the chosen person is
        >= threshold; default ``DEFAULT_THRESHOLD`` (SFace's published 0.363). With
        ``how="max"`` over many members, a stranger's best chance similarity grows with
        their number (random 128-d faces: about 0.39 among 100,000), so pass
        ``pair_threshold(members)`` there, as the clustering does.
    labels : ndarray of int of shape (n_rows,), optional
        Person of each member row; rows labelled -1 are ignored.
    how : {"max", "mean"}, default="max"
        With members: ``"max"`` scores a person by its most similar member (nearest
        neighbour, found with a faiss index), ``"mean"`` by the mean similarity to its
        members (the dot product with the mean member vector).

    Returns
    -------
    labels_new : ndarray of int64 of shape (n_new,)
        Person of each new face, -1 when no person is within the threshold.
    similarities : ndarray of float32 of shape (n_new,)
        Score of the best person (``-inf`` when there is none).

    Notes
    -----
    The existing faces are indexed once, in O(n_rows d); the search then costs
    O(n_new n_rows d) with BLAS, so for a fixed catalogue it grows linearly with the
    number of new faces.
    """
    import faiss

    Xn = check_X(X_new, "X_new")
    M = check_X(centroids_or_members, "centroids_or_members")
    if M.shape[1] != Xn.shape[1]:
        raise InputError(
            f"X_new has {Xn.shape[1]} features but centroids_or_members has {M.shape[1]}"
        )
    t = check_threshold(threshold)
    if how not in ("max", "mean"):
        raise InputError(f"how must be 'max' or 'mean', got {how!r}")
    if labels is None:
        person = np.arange(M.shape[0], dtype=np.int64)
    else:
        person = np.asarray(labels, dtype=np.int64)
        if person.shape != (M.shape[0],):
            raise InputError(f"labels must have shape ({M.shape[0]},), got {person.shape}")
        keep = person >= 0
        M, person = M[keep], person[keep]
    n_new = Xn.shape[0]
    if M.shape[0] == 0:
        return np.full(n_new, -1, np.int64), np.full(n_new, -np.inf, np.float32)
    if labels is not None and how == "mean":
        uniq, inv = np.unique(person, return_inverse=True)
        S, size = _cluster_sums(M, inv.ravel(), np.ones(M.shape[0]), uniq.size)
        C = (S / size[:, None]).astype(np.float32)  # mean member: x . C = mean similarity
        scores = np.empty(n_new, np.float32)
        best = np.empty(n_new, np.int64)
        for s in range(0, n_new, 4096):
            sims = Xn[s : s + 4096] @ C.T
            b = np.argmax(sims, axis=1)
            best[s : s + 4096] = uniq[b]
            scores[s : s + 4096] = sims[np.arange(b.size), b]
    else:
        idx = faiss.IndexFlatIP(M.shape[1])
        idx.add(M)
        D, I = idx.search(Xn, 1)  # noqa: E741
        scores = D[:, 0].astype(np.float32)
        best = person[I[:, 0]]
    out = np.where(scores >= t, best, -1).astype(np.int64)
    return out, scores
