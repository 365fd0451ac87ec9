"""Density methods on the kNN graph: core points (Immich-style), DBSCAN and HDBSCAN.

scikit-learn's DBSCAN and HDBSCAN run on a sparse precomputed cosine-distance graph and
are imported only when they fit.
"""

from __future__ import annotations

import numpy as np

from faceatlas._validation import check_int
from faceatlas.cluster._base import _FaceClusteringBase
from faceatlas.cluster._knn import DEFAULT_NEIGHBORS, _edges
from faceatlas.exceptions import InputError


class CorePoint(_FaceClusteringBase):
    """Immich-style core points: faces with enough close neighbours anchor a person.

    Parameters
    ----------
    threshold : float, optional
        Same-person cosine similarity; default ``DEFAULT_THRESHOLD`` (0.363, SFace).
    edge_threshold : float or "auto", default="auto"
        Similarity an edge needs; ``"auto"`` is ``pair_threshold(X, threshold)``: one
        chance match links two people in a graph method, so a single edge must clear the
        verification threshold raised for a collection of n faces (0.515 on LFW's 13,233
        SFace faces). Pass ``threshold``'s value to use the plain verification threshold.
    min_samples : int, default=2
        Neighbours at or above ``edge_threshold`` (not counting the face) that make a
        core point.
    min_cluster_size, min_quality, n_neighbors, knn_index, random_state
        As for every method.
    """

    def __init__(
        self,
        *,
        threshold: float | None = None,
        edge_threshold: float | str = "auto",
        min_samples: int = 2,
        min_cluster_size: int = 2,
        min_quality: float = 0.5,
        n_neighbors: int = DEFAULT_NEIGHBORS,
        knn_index: str = "auto",
        random_state: int | None = 0,
    ) -> None:
        super().__init__(
            threshold=threshold,
            min_cluster_size=min_cluster_size,
            min_quality=min_quality,
            n_neighbors=n_neighbors,
            knn_index=knn_index,
            random_state=random_state,
        )
        self.edge_threshold = edge_threshold
        self.min_samples = min_samples

    def _cluster(self, X, weights, D, I):  # noqa: E741
        n = X.shape[0]
        if I is None:
            return np.zeros(n, np.int64)
        from scipy.sparse.csgraph import connected_components

        ms = check_int(self.min_samples, "min_samples", 1)
        g = _edges(D, I, self._edge_threshold(X))
        # a super-face of w faces counts as w neighbours
        nb_weight = np.asarray(g.astype(bool).astype(np.float64) @ weights).ravel()
        core = nb_weight + (weights - 1) >= ms
        core_g = g[core][:, core]
        _, comp = connected_components(core_g, directed=False)
        labels = np.full(n, -1, dtype=np.int64)
        labels[core] = comp
        # border faces: the most similar core neighbour within the threshold
        coo = g.tocoo()
        m = ~core[coo.row] & core[coo.col]
        r, c, w = coo.row[m], coo.col[m], coo.data[m]
        o = np.lexsort((c, -w, r))
        first = np.r_[True, r[o][1:] != r[o][:-1]] if o.size else np.empty(0, bool)
        labels[r[o][first]] = labels[c[o][first]]
        return labels


def _sparse_distance_graph(D: np.ndarray, I: np.ndarray, max_distance: float):  # noqa: E741
    """Symmetric sparse cosine-distance graph of kNN edges within max_distance.

    Distances of exactly 0 (duplicates) are nudged to a tiny positive value, since a
    sparse matrix would otherwise drop them as 'no edge'.
    """
    from scipy import sparse

    n = I.shape[0]
    rows = np.repeat(np.arange(n), I.shape[1])
    cols = I.ravel()
    dist = np.maximum(1.0 - D.ravel().astype(np.float64), 1e-12)
    ok = (cols >= 0) & (dist <= max_distance)
    g = sparse.coo_matrix((dist[ok], (rows[ok], cols[ok])), shape=(n, n)).tocsr()
    return g.maximum(g.T).tocsr()


class FaceDBSCAN(_FaceClusteringBase):
    """scikit-learn's DBSCAN on the sparse kNN cosine-distance graph.

    Parameters
    ----------
    threshold : float, optional
        Same-person cosine similarity; ``eps = 1 - threshold`` unless ``eps`` is given.
    edge_threshold : float or "auto", default="auto"
        Similarity an edge needs; ``"auto"`` is ``pair_threshold(X, threshold)``: one
        chance match links two people in a graph method, so a single edge must clear the
        verification threshold raised for a collection of n faces (0.515 on LFW's 13,233
        SFace faces). Pass ``threshold``'s value to use the plain verification threshold.
    eps : float, optional
        Cosine distance radius; overrides ``edge_threshold`` (``eps = 1 - edge_threshold``).
    min_samples : int, default=3
        Faces within ``eps`` (counting the face itself, scikit-learn's convention) that
        make a core point.
    min_cluster_size, min_quality, n_neighbors, knn_index, random_state
        As for every method.
    """

    def __init__(
        self,
        *,
        threshold: float | None = None,
        edge_threshold: float | str = "auto",
        eps: float | None = None,
        min_samples: int = 3,
        min_cluster_size: int = 2,
        min_quality: float = 0.5,
        n_neighbors: int = DEFAULT_NEIGHBORS,
        knn_index: str = "auto",
        random_state: int | None = 0,
    ) -> None:
        super().__init__(
            threshold=threshold,
            min_cluster_size=min_cluster_size,
            min_quality=min_quality,
            n_neighbors=n_neighbors,
            knn_index=knn_index,
            random_state=random_state,
        )
        self.edge_threshold = edge_threshold
        self.eps = eps
        self.min_samples = min_samples

    def _cluster(self, X, weights, D, I):  # noqa: E741
        from sklearn.cluster import DBSCAN

        n = X.shape[0]
        if I is None:
            return np.full(n, -1, np.int64)
        if self.eps is not None:
            eps = float(self.eps)
            if not 0.0 < eps <= 2.0:
                raise InputError(f"eps must be a cosine distance in (0, 2], got {self.eps}")
        else:
            edge = self._edge_threshold(X)
            eps = 1.0 - edge
            if not 0.0 < eps <= 2.0:
                # the user set a threshold, not eps: say what it became and how to get out
                raise InputError(
                    f"DBSCAN's radius eps = 1 - edge threshold = {eps:.4g} is outside (0, 2]: "
                    f"the edge threshold is {edge:.4g} (threshold {self.threshold_:.4g}, "
                    f"edge_threshold={self.edge_threshold!r}); lower the threshold, set "
                    "edge_threshold below 1, or pass eps"
                )
        ms = check_int(self.min_samples, "min_samples", 1)
        g = _sparse_distance_graph(D, I, eps)
        return DBSCAN(eps=eps, min_samples=ms, metric="precomputed").fit_predict(
            g, sample_weight=weights
        )


class FaceHDBSCAN(_FaceClusteringBase):
    """scikit-learn's HDBSCAN on the faces' sparse kNN cosine-distance graph.

    HDBSCAN needs a connected graph; the kNN graph (all neighbours, no threshold) is
    joined across its components by the largest distance 2.0, which HDBSCAN never uses
    to form a cluster. Faces in sets too small to be a cluster stay -1.

    Parameters
    ----------
    min_samples : int, optional
        HDBSCAN's density parameter; default ``min_cluster_size``.
    cluster_selection_method : {"eom", "leaf"}, default="eom"
    min_cluster_size, min_quality, n_neighbors, knn_index, random_state, threshold
        As for every method; ``threshold`` is used only to re-attach faces split off by
        cannot-link or of low quality.
    """

    def __init__(
        self,
        *,
        threshold: float | None = None,
        min_samples: int | None = None,
        cluster_selection_method: str = "eom",
        min_cluster_size: int = 2,
        min_quality: float = 0.5,
        n_neighbors: int = DEFAULT_NEIGHBORS,
        knn_index: str = "auto",
        random_state: int | None = 0,
    ) -> None:
        super().__init__(
            threshold=threshold,
            min_cluster_size=min_cluster_size,
            min_quality=min_quality,
            n_neighbors=n_neighbors,
            knn_index=knn_index,
            random_state=random_state,
        )
        self.min_samples = min_samples
        self.cluster_selection_method = cluster_selection_method

    def _cluster(self, X, weights, D, I):  # noqa: E741
        from scipy import sparse
        from scipy.sparse.csgraph import connected_components
        from sklearn.cluster import HDBSCAN

        n = X.shape[0]
        mcs = max(2, int(self.min_cluster_size))
        if n < mcs or I is None:
            return np.full(n, -1, np.int64)
        ms = mcs if self.min_samples is None else check_int(self.min_samples, "min_samples", 1)
        ms = min(ms, I.shape[1])
        if self.cluster_selection_method not in ("eom", "leaf"):
            raise InputError(
                "cluster_selection_method must be 'eom' or 'leaf', "
                f"got {self.cluster_selection_method!r}"
            )
        g = _sparse_distance_graph(D, I, 2.0)
        n_comp, comp = connected_components(g, directed=False)
        if n_comp > 1:
            # chain the components' first faces with maximal-distance edges
            firsts = np.unique(comp, return_index=True)[1]
            a, b = firsts[:-1], firsts[1:]
            bridge = sparse.coo_matrix(
                (np.full(2 * a.size, 2.0), (np.r_[a, b], np.r_[b, a])), shape=(n, n)
            )
            g = (g + bridge).tocsr()
        return HDBSCAN(
            min_cluster_size=mcs,
            min_samples=ms,
            metric="precomputed",
            cluster_selection_method=self.cluster_selection_method,
            copy=True,
        ).fit_predict(g)
