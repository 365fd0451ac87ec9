"""The estimator every method shares: constraints, quality, min_cluster_size, relabelling.

A method subclasses ``_FaceClusteringBase`` and writes only ``_cluster`` (labels of the
good super-faces); ``fit`` does everything the rules in :mod:`faceatlas.cluster` promise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from faceatlas._validation import check_int, check_number
from faceatlas.cluster._checks import check_pairs, check_threshold, check_X
from faceatlas.cluster._constraints import _union_find_groups, enforce_cannot_link
from faceatlas.cluster._knn import DEFAULT_NEIGHBORS, knn_graph, pair_threshold
from faceatlas.cluster._support import content_order, join_with_support
from faceatlas.exceptions import InputError


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Renumber 0..k-1 by size (largest first, ties by first face), keeping -1."""
    out = np.full(labels.shape, -1, dtype=np.int64)
    ok = labels >= 0
    if not ok.any():
        return out
    uniq, first, inv, counts = np.unique(
        labels[ok], return_index=True, return_inverse=True, return_counts=True
    )
    first_face = np.flatnonzero(ok)[first]
    order = np.lexsort((first_face, -counts))
    rank = np.empty(uniq.size, dtype=np.int64)
    rank[order] = np.arange(uniq.size)
    out[ok] = rank[inv.ravel()]
    return out


def _drop_small(labels: np.ndarray, weights: np.ndarray, min_size: int) -> np.ndarray:
    labels = labels.copy()
    ok = labels >= 0
    if not ok.any():
        return labels
    sizes = np.bincount(labels[ok], weights=weights[ok])
    small = sizes[labels[ok]] < min_size - 1e-9
    idx = np.flatnonzero(ok)[small]
    labels[idx] = -1
    return labels


class _FaceClusteringBase:
    """Shared ``fit``: constraints, quality, min_cluster_size, relabelling."""

    #: whether the method works on the kNN graph (k-means does not)
    _uses_graph = True

    def __init__(
        self,
        *,
        threshold: float | None = None,
        min_cluster_size: int = 2,
        min_quality: float = 0.5,
        n_neighbors: int = DEFAULT_NEIGHBORS,
        knn_index: str = "auto",
        random_state: int | None = 0,
    ) -> None:
        self.threshold = threshold
        self.min_cluster_size = min_cluster_size
        self.min_quality = min_quality
        self.n_neighbors = n_neighbors
        self.knn_index = knn_index
        self.random_state = random_state

    # subclasses: labels (n_groups,) of the good super-faces, -1 allowed
    def _cluster(  # pragma: no cover - abstract
        self,
        X: np.ndarray,
        weights: np.ndarray,
        D: np.ndarray | None,
        I: np.ndarray | None,  # noqa: E741
    ) -> np.ndarray:
        raise NotImplementedError

    def _edge_threshold(self, X: np.ndarray) -> float:
        """Bar for a single graph edge: ``edge_threshold``, or ``pair_threshold`` if auto."""
        et = getattr(self, "edge_threshold", None)
        if et is None or et == "auto":
            value = pair_threshold(X, self.threshold_, random_state=self.random_state)
        else:
            value = check_threshold(et, "edge_threshold")
        self.edge_threshold_ = value
        return value

    def _cluster_part(self, Xq: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Labels of some super-faces by the method, small clusters dropped (-1)."""
        if Xq.shape[0] == 0:
            return np.empty(0, np.int64)
        D = I = None  # noqa: E741
        if self._uses_graph and Xq.shape[0] > 1:
            D, I = knn_graph(  # noqa: E741
                Xq, self.n_neighbors, index=self.knn_index, random_state=self.random_state
            )
        sub = np.asarray(self._cluster(Xq, w, D, I), dtype=np.int64)
        # founders must reach min_cluster_size on their own
        return _drop_small(_relabel(sub), w, self.min_cluster_size)

    def _join_bar(self, X: np.ndarray) -> float:
        """Similarity a member needs to vouch for a poor face: the method's edge bar when it
        has one, else the pair bar of the clustered faces (never below the threshold)."""
        bar = getattr(self, "edge_threshold_", None)
        if bar is None:
            bar = getattr(self, "pair_threshold_", None)
        if bar is None:
            bar = pair_threshold(X, self.threshold_, random_state=self.random_state)
        return float(max(bar, self.threshold_))

    def _validate_params(self) -> None:
        self.threshold_ = check_threshold(self.threshold)
        check_int(self.min_cluster_size, "min_cluster_size", 1)
        check_int(self.n_neighbors, "n_neighbors", 1)
        check_number(self.min_quality, "min_quality", 0.0, 1.0)

    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        cannot_link: Any = None,
        must_link: Any = None,
        quality: Any = None,
    ) -> _FaceClusteringBase:
        """Cluster faces into people.

        Parameters
        ----------
        X : ndarray of shape (n_faces, n_features)
            L2-normalised embeddings.
        y : None
            Ignored (scikit-learn convention).
        cannot_link : array-like of int of shape (m, 2), optional
            Face pairs that must never share a label (faces of one photo).
        must_link : array-like of int of shape (m, 2), optional
            Face pairs that must share a label (user corrections).
        quality : array-like of float of shape (n_faces,), optional
            Face quality in [0, 1]; faces below ``min_quality`` never found a cluster.

        Returns
        -------
        self
            With ``labels_`` (int64, ``(n_faces,)``, -1 = unsorted), ``n_clusters_`` and
            ``threshold_``.
        """
        self._validate_params()
        for stale in ("edge_threshold_", "pair_threshold_"):  # a bar of an earlier fit
            self.__dict__.pop(stale, None)
        X = check_X(X)
        n = X.shape[0]
        cl = check_pairs(cannot_link, n, "cannot_link")
        ml = check_pairs(must_link, n, "must_link")
        if quality is None:
            good_face = np.ones(n, dtype=bool)
        else:
            q = np.asarray(quality, dtype=np.float64).ravel()
            if q.shape != (n,) or not np.all(np.isfinite(q)):
                raise InputError(f"quality must be {n} finite floats, got shape {q.shape}")
            good_face = q >= float(self.min_quality)
        # the faces in the order of their content, not of the scan (mapped back at the end)
        order = content_order(X)
        rank = np.empty(n, np.int64)
        rank[order] = np.arange(n)
        X, good_face, cl, ml = X[order], good_face[order], rank[cl], rank[ml]

        # must-link: contract into super-faces (normalised mean, weight = faces)
        group = _union_find_groups(n, ml)
        n_groups = int(group.max()) + 1
        weights = np.bincount(group, minlength=n_groups).astype(np.float64)
        if n_groups < n:
            S = np.zeros((n_groups, X.shape[1]), np.float64)
            np.add.at(S, group, X)
            Xg = check_X(S)
            good = np.zeros(n_groups, dtype=bool)
            np.logical_or.at(good, group, good_face)  # one good face lets the group found
        else:
            Xg, good = X, good_face
        clg = np.unique(np.sort(group[cl], axis=1), axis=0) if cl.size else cl
        if clg.size and np.any(clg[:, 0] == clg[:, 1]):
            i = int(np.flatnonzero(clg[:, 0] == clg[:, 1])[0])
            raise InputError(
                "must_link joins two faces that cannot_link keeps apart "
                f"(super-face {clg[i, 0]}); remove one of the constraints"
            )

        # cluster the good super-faces only
        gi = np.flatnonzero(good)
        labels_g = np.full(n_groups, -1, dtype=np.int64)
        labels_g[gi] = self._cluster_part(Xg[gi], weights[gi])

        # poor faces join a person only if two of its members vouch for them (one chance
        # match of a blurred face must not carry it in); they are no graph node of that
        # clustering, so they never link two groups of good faces
        poor = np.flatnonzero(~good)
        clustered = np.flatnonzero(labels_g >= 0)
        if poor.size and clustered.size:
            labels_g[poor] = join_with_support(
                Xg[poor],
                Xg[clustered],
                labels_g[clustered],
                self._join_bar(Xg[gi] if gi.size > 2 else Xg),
                self.n_neighbors,
            )
        labels_g = enforce_cannot_link(Xg, labels_g, clg, self.threshold_, weights=weights)
        labels_g = _drop_small(labels_g, weights, self.min_cluster_size)
        # a user said these faces are one person: they stay a person even when alone
        lone = (labels_g < 0) & (weights > 1)
        if lone.any():
            start = int(labels_g.max()) + 1 if (labels_g >= 0).any() else 0
            labels_g[lone] = start + np.arange(int(lone.sum()))
        labels = np.empty(n, np.int64)
        labels[order] = labels_g[group]
        labels = _relabel(labels)
        self.labels_ = labels
        self.n_clusters_ = int(labels.max()) + 1 if (labels >= 0).any() else 0
        return self

    def fit_predict(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """``fit`` and return ``labels_``."""
        return self.fit(X, y, **fit_params).labels_

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters (scikit-learn convention)."""
        import inspect

        names = [
            p.name
            for cls in type(self).__mro__
            if "__init__" in cls.__dict__
            for p in inspect.signature(cls.__dict__["__init__"]).parameters.values()
            if p.kind is p.KEYWORD_ONLY
        ]
        return {k: getattr(self, k) for k in dict.fromkeys(names)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
