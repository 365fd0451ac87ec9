"""k-means on the embeddings, and the inertia/silhouette curve that picks k."""

from __future__ import annotations

from typing import Any

import numpy as np

from faceatlas._validation import check_int
from faceatlas.cluster._base import _FaceClusteringBase
from faceatlas.cluster._checks import check_X
from faceatlas.cluster._knn import DEFAULT_NEIGHBORS
from faceatlas.exceptions import InputError


class FaceKMeans(_FaceClusteringBase):
    """k-means on the embeddings; ``n_clusters="auto"`` picks k with ``kmeans_curve``.

    Every face gets a cluster (k-means has no notion of "nobody"), except through
    ``min_cluster_size``, cannot-link and quality.

    Parameters
    ----------
    n_clusters : int or "auto", default="auto"
    k_values : sequence of int, optional
        Candidates for ``"auto"``; default ``kmeans_curve``'s grid.
    n_init : int, default=3
    threshold, min_cluster_size, min_quality, random_state
        As for every method.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    curve_ : dict or None
        ``kmeans_curve``'s result when ``n_clusters="auto"``.
    """

    _uses_graph = False

    def __init__(
        self,
        *,
        n_clusters: int | str = "auto",
        k_values: Any = None,
        n_init: int = 3,
        threshold: float | None = None,
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
        self.n_clusters = n_clusters
        self.k_values = k_values
        self.n_init = n_init

    def _cluster(self, X, weights, D, I):  # noqa: E741
        from sklearn.cluster import KMeans, MiniBatchKMeans

        n = X.shape[0]
        self.curve_ = None
        if self.n_clusters == "auto":
            if n < 3:
                return np.zeros(n, np.int64)
            self.curve_ = kmeans_curve(
                X, self.k_values, random_state=self.random_state, sample_weight=weights
            )
            k = self.curve_["best_k"]
        else:
            k = check_int(self.n_clusters, "n_clusters", 1)
            if k > n:
                raise InputError(f"n_clusters must be <= n_faces ({n}), got {k}")
        n_init = check_int(self.n_init, "n_init", 1)
        # MiniBatchKMeans keeps big runs inside a few minutes; results are close
        est = (KMeans if n * k <= 50_000_000 else MiniBatchKMeans)(
            n_clusters=k, n_init=n_init, random_state=self.random_state
        )
        labels = est.fit_predict(X, sample_weight=weights)
        self.cluster_centers_ = est.cluster_centers_
        return labels


def kmeans_curve(
    X: Any,
    k_values: Any = None,
    *,
    random_state: int | None = 0,
    sample_weight: Any = None,
    silhouette_sample: int = 5000,
) -> dict[str, Any]:
    """Inertia and silhouette of k-means for a range of k, to pick or plot k.

    Parameters
    ----------
    X : ndarray of shape (n_faces, n_features)
    k_values : sequence of int, optional
        Default: about 12 values spaced geometrically from 2 to ``n_faces // 2``.
    random_state : int or None, default=0
    sample_weight : ndarray of shape (n_faces,), optional
    silhouette_sample : int, default=5000
        Faces used for each silhouette (cosine); it costs the square of this.

    Returns
    -------
    dict
        ``k`` (list of int), ``inertia`` (list of float), ``silhouette`` (list of float),
        ``elbow_k`` (the knee of the inertia curve: the point farthest below the chord
        from the first to the last point, both axes scaled to [0, 1]) and ``best_k``
        (the highest silhouette among k between half and twice the elbow).
    """
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.metrics import silhouette_score

    X = check_X(X)
    n = X.shape[0]
    if n < 3:
        raise InputError(f"kmeans_curve needs at least 3 faces, got {n}")
    if k_values is None:
        hi = max(2, n // 2)
        ks = np.unique(np.geomspace(2, hi, num=12).round().astype(int)).tolist()
    else:
        ks = sorted({check_int(k, "k_values entries", 2) for k in k_values})
        if ks[-1] >= n:
            raise InputError(f"k_values must be < n_faces ({n}), got {ks[-1]}")
    rng = np.random.default_rng(random_state)
    sample = np.sort(rng.choice(n, min(n, silhouette_sample), replace=False))
    inertia, sil = [], []
    for k in ks:
        est = (KMeans if n * k <= 50_000_000 else MiniBatchKMeans)(
            n_clusters=k, n_init=1, random_state=random_state
        )
        lab = est.fit_predict(X, sample_weight=sample_weight)
        inertia.append(float(est.inertia_))
        ls = lab[sample]
        if 1 < np.unique(ls).size < ls.size:
            sil.append(float(silhouette_score(X[sample], ls, metric="cosine")))
        else:
            sil.append(float("nan"))
    if len(ks) >= 3:
        x = (np.array(ks) - ks[0]) / (ks[-1] - ks[0])
        y = np.array(inertia)
        y = (y - y.min()) / max(y.max() - y.min(), 1e-12)
        # inertia falls convexly; the knee is farthest below the first-to-last chord
        chord = y[0] + (y[-1] - y[0]) * x
        elbow = ks[int(np.argmax(chord - y))]
    else:
        elbow = ks[0]
    near = [i for i, k in enumerate(ks) if elbow / 2 <= k <= elbow * 2 and np.isfinite(sil[i])]
    best = ks[max(near, key=lambda i: sil[i])] if near else elbow
    return {"k": ks, "inertia": inertia, "silhouette": sil, "elbow_k": elbow, "best_k": best}
