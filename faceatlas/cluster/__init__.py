"""People from face embeddings: arrays in, labels out.

Every method takes L2-normalised embeddings ``X`` (float32, ``(n_faces, d)``, similarity =
dot product) and returns one label per face, ``-1`` for a face that matches nobody
("unsorted"). None of them builds a dense ``n x n`` matrix: neighbours come from a faiss
k-nearest-neighbour graph (exact ``IndexFlatIP`` up to ``EXACT_KNN_MAX`` faces, an IVF
index beyond).

Methods (the names ``--method`` accepts)
----------------------------------------
``"chinese-whispers"`` (the default, ``DEFAULT_METHOD``)
    Chinese whispers (Biemann 2006; dlib's face clusterer) on the kNN graph's edges at or
    above ``edge_threshold``, by default ``pair_threshold``: the verification threshold
    raised for a collection of n faces, from the impostor similarity of random pairs of
    the input (as for ``core-point`` and ``dbscan``).
``"adaptive-linkage"``
    Average linkage on the sparse kNN graph with a size-aware bar: two single faces must
    reach ``pair_threshold``, clusters of many faces only the verification threshold
    (their mean is less noisy). See ``AdaptiveLinkage``.
``"hdbscan"``
    scikit-learn's HDBSCAN on a sparse kNN distance graph.
``"agglomerative"``
    Average linkage cut at ``1 - threshold`` cosine distance, merging best-first only
    clusters joined by a thresholded kNN edge (exact means from cluster sums).
``"core-point"``
    Immich-style: a face with at least ``min_samples`` neighbours at or above
    ``edge_threshold`` is a core point; core points that close to each other share a
    person; any other face joins its most similar such core point, else stays -1
    (DBSCAN's rule, written on the kNN graph).
``"dbscan"``
    scikit-learn's DBSCAN on the sparse kNN distance graph, ``eps = 1 - edge_threshold``.
``"kmeans"``
    k-means with ``n_clusters`` an int or ``"auto"`` (``kmeans_curve``: elbow of the
    inertia curve, then the best silhouette near it). The only method that does not
    decide by itself which faces match nobody.

Rules every method obeys
------------------------
- **Threshold.** ``threshold=None`` means ``DEFAULT_THRESHOLD`` = 0.363, SFace's published
  same-person cosine threshold (OpenCV, chosen on LFW *verification* pairs, never on LFW
  clustering labels). Pass your embedder's own threshold for another model.
- **min_cluster_size** (default 2): a cluster with fewer faces becomes -1. A person seen
  once is "unsorted" rather than a one-face person.
- **cannot_link**: ``(m, 2)`` int pairs of face indices that must never share a label
  (two faces of one photo). After clustering, any cluster holding such a pair keeps the
  face better attached to it (higher mean similarity to the other members) and the other
  face is moved to its next most similar person that it may join (within the threshold),
  else to -1. This post-processing runs for every method, kmeans and hdbscan included.
- **must_link**: ``(m, 2)`` pairs that must share a label (a user's merge or move). Linked
  faces are contracted into one super-face (their normalised mean, weighted by count)
  before clustering, so they are never split, and a linked group is never left at -1
  (it is a person of its own if nothing else joins it, whatever ``min_cluster_size``).
  A must-link chain that joins two faces of a
  cannot-link pair is a contradiction and raises ``InputError``.
- **quality**: optional floats ``(n_faces,)`` in ``[0, 1]``. Faces below ``min_quality``
  never found a cluster: only good faces are clustered, then each poor face joins the
  person of its most similar clustered face if that is within the threshold, else -1.
- **Determinism**: the same input and ``random_state`` give the same labels. Labels are
  numbered by cluster size, largest first (ties by first face index).

Public API
----------
cluster_faces(X, method=DEFAULT_METHOD, *, cannot_link=None, must_link=None,
              quality=None, **params)
    Labels for ``X`` in one call.
make_clusterer(method, **params)
    The estimator behind a method name.
AdaptiveLinkage, ChineseWhispers, FaceHDBSCAN, AverageLinkage, CorePoint, FaceDBSCAN, FaceKMeans
    Estimators: ``fit(X, *, cannot_link=None, must_link=None, quality=None)`` returns
    ``self``; fitted ``labels_``, ``n_clusters_``, ``threshold_``.
pair_threshold(X, threshold=None, *, false_link_rate=0.01)
    The bar a single pair of faces must reach among n faces (used by the default).
kmeans_curve(X, k_values=None, *, random_state=0)
    k, inertia and silhouette for a range of k, plus the elbow and the chosen k.
knn_graph(X, n_neighbors, *, index="auto", random_state=0)
    Similarities and indices of each face's nearest other faces.
assign_to_clusters(X_new, centroids_or_members, threshold=None, *, labels=None, how="max")
    Incremental: the person of each new face, or -1.
enforce_cannot_link(X, labels, cannot_link, threshold=None)
    The cannot-link post-processing step on its own.

Examples
--------
>>> import numpy as np
>>> from faceatlas.cluster import cluster_faces
>>> rng = np.random.default_rng(0)
>>> centres = rng.normal(size=(3, 64))
>>> X = np.repeat(centres, 5, axis=0) + 0.05 * rng.normal(size=(15, 64))
>>> X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype("float32")
>>> labels = cluster_faces(X)
>>> sorted(np.bincount(labels).tolist())
[5, 5, 5]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from faceatlas.exceptions import InputError

__all__ = [
    "DEFAULT_METHOD",
    "DEFAULT_THRESHOLD",
    "EXACT_KNN_MAX",
    "METHODS",
    "AdaptiveLinkage",
    "AverageLinkage",
    "ChineseWhispers",
    "CorePoint",
    "FaceDBSCAN",
    "FaceHDBSCAN",
    "FaceKMeans",
    "assign_to_clusters",
    "cluster_faces",
    "enforce_cannot_link",
    "kmeans_curve",
    "knn_graph",
    "make_clusterer",
    "pair_threshold",
]

#: SFace's published same-person cosine threshold (OpenCV's model zoo, LFW verification).
DEFAULT_THRESHOLD = 0.363

#: Up to this many faces the kNN graph is exact (faiss IndexFlatIP, O(n^2 d) but BLAS-fast:
#: ~1 s for LFW's 13,233 faces); above it an IVF index keeps the cost near O(n sqrt(n) d).
EXACT_KNN_MAX = 50_000

METHODS = (
    "chinese-whispers",
    "adaptive-linkage",
    "hdbscan",
    "agglomerative",
    "core-point",
    "dbscan",
    "kmeans",
)

# Chinese whispers with edges at pair_threshold measured best on all 13,233 LFW faces
# with SFace (docs/benchmarks.md, "Clustering quality (LFW)"): pairwise F 0.993 and
# BCubed F 0.988, above every other method, and it is vectorised, so it also scales to
# a million faces. Its settings come from the verification threshold and from random
# pairs of the input itself, never from LFW's identity labels. At the bare verification
# threshold every graph or density method chains most of LFW into one cluster (a chance
# match in 1,000 pairs is ~13 per face among 13,233), which is why the edge bar is raised.
DEFAULT_METHOD = "chinese-whispers"

_DEFAULT_NEIGHBORS = 30


# --------------------------------------------------------------------------- validation


def _check_X(X: Any) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(
            f"X must be a non-empty 2-d array (n_faces, n_features), got shape {X.shape}"
        )
    if X.dtype.kind not in "fiu":
        raise InputError(f"X must hold numbers, got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not np.all(np.isfinite(X)):
        raise InputError("X must be finite (no NaN or inf)")
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise InputError("X has an all-zero row; embeddings must be L2-normalisable")
    # the contract says rows are unit length already; renormalising costs little and
    # keeps similarity = cosine even for slightly drifted float32 input
    return np.ascontiguousarray(X / norms, dtype=np.float32)


def _check_pairs(pairs: Any, n: int, name: str) -> np.ndarray:
    if pairs is None:
        return np.empty((0, 2), dtype=np.int64)
    a = np.asarray(pairs)
    if a.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    if a.ndim != 2 or a.shape[1] != 2 or a.dtype.kind not in "iu":
        raise InputError(f"{name} must be an int array of shape (m, 2), got {a.dtype} {a.shape}")
    a = a.astype(np.int64)
    if a.min() < 0 or a.max() >= n:
        raise InputError(f"{name} indices must be in [0, {n - 1}], got {a.min()}..{a.max()}")
    return a


def _check_threshold(threshold: Any) -> float:
    if threshold is None:
        return DEFAULT_THRESHOLD
    t = float(threshold)
    if not -1.0 <= t <= 1.0:
        raise InputError(f"threshold must be a cosine similarity in [-1, 1], got {threshold}")
    return t


def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InputError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------- kNN graph


def knn_graph(
    X: Any,
    n_neighbors: int = _DEFAULT_NEIGHBORS,
    *,
    index: str = "auto",
    nprobe: int = 8,
    random_state: int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Each face's nearest other faces by cosine similarity, with faiss.

    Parameters
    ----------
    X : ndarray of shape (n_faces, n_features)
        L2-normalised embeddings.
    n_neighbors : int, default=30
        Neighbours per face, not counting the face itself (capped at ``n_faces - 1``).
    index : {"auto", "exact", "ivf"}, default="auto"
        ``"exact"`` is ``faiss.IndexFlatIP``; ``"ivf"`` is ``IndexIVFFlat`` with
        ``2 sqrt(n)`` lists (approximate); ``"auto"`` is exact up to ``EXACT_KNN_MAX``.
    nprobe : int, default=8
        Lists searched per query by the IVF index (of ``2 sqrt(n)``).
    random_state : int or None, default=0
        Seed of the IVF training k-means.

    Returns
    -------
    D : ndarray of float32 of shape (n_faces, k)
        Similarities, best first; ``-inf`` where there is no neighbour.
    I : ndarray of int64 of shape (n_faces, k)
        Indices of the neighbours, ``-1`` where there is none.
    """
    import faiss  # heavy import kept off `import faceatlas.cluster`

    X = _check_X(X)
    n, d = X.shape
    k = min(_check_int(n_neighbors, "n_neighbors", 1), n - 1)
    if k == 0:
        return np.empty((n, 0), np.float32), np.empty((n, 0), np.int64)
    if index not in ("auto", "exact", "ivf"):
        raise InputError(f"index must be 'auto', 'exact' or 'ivf', got {index!r}")
    use_ivf = index == "ivf" or (index == "auto" and n > EXACT_KNN_MAX)
    if use_ivf:
        # 2 sqrt(n) lists balance the coarse search (n x nlist) against the list scans
        # (n x nprobe x n / nlist); both stay far below the exact n^2
        nlist = int(max(1, min(n // 40, 2 * np.sqrt(n))))
        quantizer = faiss.IndexFlatIP(d)
        idx = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        idx.cp.seed = 0 if random_state is None else int(random_state)
        # coarse lists need only rough centroids: 10 rounds on 40 points per list (faiss
        # warns below 39) keep training to seconds even for a million faces
        idx.cp.niter = 10
        rng = np.random.default_rng(random_state)
        train = X if n <= 40 * nlist else X[np.sort(rng.choice(n, 40 * nlist, replace=False))]
        idx.train(train)
        idx.add(X)
        idx.nprobe = min(nlist, _check_int(nprobe, "nprobe", 1))
    else:
        idx = faiss.IndexFlatIP(d)
        idx.add(X)
    D = np.empty((n, k + 1), np.float32)
    I = np.empty((n, k + 1), np.int64)  # noqa: E741 - faiss's name
    step = 65_536
    for s in range(0, n, step):
        D[s : s + step], I[s : s + step] = idx.search(X[s : s + step], k + 1)
    # drop the face itself wherever it appears (duplicates may outrank it), else the last
    is_self = I == np.arange(n)[:, None]
    no_self = ~is_self.any(axis=1)
    is_self[no_self, k] = True
    keep = ~is_self
    D = D[keep].reshape(n, k)
    I = I[keep].reshape(n, k)  # noqa: E741
    D[I < 0] = -np.inf
    return D, I


def _edges(D: np.ndarray, I: np.ndarray, threshold: float) -> sparse.csr_matrix:  # noqa: E741
    """Symmetric sparse graph of kNN edges with similarity >= threshold (weight = sim)."""
    n = I.shape[0]
    rows = np.repeat(np.arange(n), I.shape[1])
    cols = I.ravel()
    w = D.ravel()
    ok = (cols >= 0) & (w >= threshold)
    rows, cols, w = rows[ok], cols[ok], w[ok]
    g = sparse.coo_matrix((w, (rows, cols)), shape=(n, n)).tocsr()
    # union of both directions; duplicates carry the same similarity, so max is exact
    g = g.maximum(g.T).tocsr()
    g.eliminate_zeros()
    return g


# --------------------------------------------------------------------------- helpers


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


def _union_find_groups(n: int, pairs: np.ndarray) -> np.ndarray:
    """Group index of each face, groups joined by must-link pairs (connected components)."""
    if pairs.size == 0:
        return np.arange(n, dtype=np.int64)
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
    X = _check_X(X)
    n = X.shape[0]
    labels = np.asarray(labels, dtype=np.int64).copy()
    if labels.shape != (n,):
        raise InputError(f"labels must have shape ({n},), got {labels.shape}")
    cl = _check_pairs(cannot_link, n, "cannot_link")
    t = _check_threshold(threshold)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if cl.size == 0:
        return labels
    if np.any(cl[:, 0] == cl[:, 1]):
        raise InputError("cannot_link pairs a face with itself")
    partners: dict[int, list[int]] = {}
    for a, b in cl:
        partners.setdefault(int(a), []).append(int(b))
        partners.setdefault(int(b), []).append(int(a))
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

    Xn = _check_X(X_new)
    M = _check_X(centroids_or_members)
    if M.shape[1] != Xn.shape[1]:
        raise InputError(
            f"X_new has {Xn.shape[1]} features but centroids_or_members has {M.shape[1]}"
        )
    t = _check_threshold(threshold)
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


# --------------------------------------------------------------------------- base estimator


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
        n_neighbors: int = _DEFAULT_NEIGHBORS,
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
            value = _check_threshold(et)
        self.edge_threshold_ = value
        return value

    def _validate_params(self) -> None:
        self.threshold_ = _check_threshold(self.threshold)
        _check_int(self.min_cluster_size, "min_cluster_size", 1)
        _check_int(self.n_neighbors, "n_neighbors", 1)
        if not 0.0 <= float(self.min_quality) <= 1.0:
            raise InputError(f"min_quality must be in [0, 1], got {self.min_quality}")

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
        X = _check_X(X)
        n = X.shape[0]
        cl = _check_pairs(cannot_link, n, "cannot_link")
        ml = _check_pairs(must_link, n, "must_link")
        if quality is None:
            good_face = np.ones(n, dtype=bool)
        else:
            q = np.asarray(quality, dtype=np.float64).ravel()
            if q.shape != (n,) or not np.all(np.isfinite(q)):
                raise InputError(f"quality must be {n} finite floats, got shape {q.shape}")
            good_face = q >= float(self.min_quality)

        # must-link: contract into super-faces (normalised mean, weight = faces)
        group = _union_find_groups(n, ml)
        n_groups = int(group.max()) + 1
        weights = np.bincount(group, minlength=n_groups).astype(np.float64)
        if n_groups < n:
            S = np.zeros((n_groups, X.shape[1]), np.float64)
            np.add.at(S, group, X)
            Xg = _check_X(S)
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
        if gi.size:
            Xq = Xg[gi]
            D = I = None  # noqa: E741
            if self._uses_graph and gi.size > 1:
                D, I = knn_graph(  # noqa: E741
                    Xq, self.n_neighbors, index=self.knn_index, random_state=self.random_state
                )
            sub = np.asarray(self._cluster(Xq, weights[gi], D, I), dtype=np.int64)
            # founders must reach min_cluster_size on their own
            sub = _drop_small(_relabel(sub), weights[gi], self.min_cluster_size)
            labels_g[gi] = sub

        # poor faces join the person of their nearest clustered face, within the threshold
        poor = np.flatnonzero(~good)
        clustered = np.flatnonzero(labels_g >= 0)
        if poor.size and clustered.size:
            lab, _ = assign_to_clusters(
                Xg[poor], Xg[clustered], self.threshold_, labels=labels_g[clustered]
            )
            labels_g[poor] = lab

        labels_g = enforce_cannot_link(Xg, labels_g, clg, self.threshold_, weights=weights)
        labels_g = _drop_small(labels_g, weights, self.min_cluster_size)
        # a user said these faces are one person: they stay a person even when alone
        lone = (labels_g < 0) & (weights > 1)
        if lone.any():
            start = int(labels_g.max()) + 1 if (labels_g >= 0).any() else 0
            labels_g[lone] = start + np.arange(int(lone.sum()))
        labels = _relabel(labels_g[group])
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
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.kind is p.KEYWORD_ONLY
        ]
        return {k: getattr(self, k) for k in dict.fromkeys(names)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


# --------------------------------------------------------------------------- methods


def pair_threshold(
    X: Any,
    threshold: float | None = None,
    *,
    false_link_rate: float = 0.01,
    n_samples: int = 200_000,
    random_state: int | None = 0,
) -> float:
    """Similarity a single pair of faces must reach to be linked in a collection of n faces.

    The verification threshold is set for one comparison; a face in a collection is
    compared with all ``n - 1`` others, so chance matches grow with ``n``. The impostor
    similarity is modelled as a normal fitted to the random pairs of ``X`` that fall
    below ``threshold`` (corrected for the truncation; same-person pairs, however many,
    lie almost all above it), and the bar is its quantile that leaves
    ``false_link_rate`` expected chance links per face:
    ``mu + sigma * Phi^-1(1 - false_link_rate / n)``, never below ``threshold``.

    Parameters
    ----------
    X : ndarray of shape (n_faces, n_features)
        L2-normalised embeddings.
    threshold : float, optional
        The embedder's verification threshold (floor); default ``DEFAULT_THRESHOLD``.
    false_link_rate : float, default=0.01
        Expected chance links per face (1 face in 100 gets one).
    n_samples : int, default=200000
        Random pairs used to estimate the impostor distribution.
    random_state : int or None, default=0

    Returns
    -------
    float
        On LFW with SFace: 0.517 (13,233 faces).
    """
    from statistics import NormalDist

    X = _check_X(X)
    t = _check_threshold(threshold)
    if not 0.0 < float(false_link_rate) < 1.0:
        raise InputError(f"false_link_rate must be in (0, 1), got {false_link_rate}")
    n = X.shape[0]
    if n < 3:
        return t
    rng = np.random.default_rng(random_state)
    i = rng.integers(0, n, n_samples)
    j = rng.integers(0, n, n_samples)
    keep = i != j
    s = np.einsum("ij,ij->i", X[i[keep]], X[j[keep]]).astype(np.float64)
    # random pairs mix impostors with same-person pairs (half of them in a two-person
    # album); nearly all same-person pairs lie above the verification threshold, so the
    # impostor normal is fitted to the pairs below it, corrected for that truncation
    below = s[s < t]
    if below.size < 100:
        return t  # almost every pair matches: one person, nothing to guard against
    mu, sigma = _truncated_normal_fit(below, t)
    bar = mu + sigma * NormalDist().inv_cdf(1.0 - float(false_link_rate) / n)
    return float(min(max(bar, t), 1.0))


def _truncated_normal_fit(x: np.ndarray, upper: float) -> tuple[float, float]:
    """Mean and std of a normal from a sample truncated above ``upper`` (moments)."""
    from statistics import NormalDist

    m, s = float(np.mean(x)), float(np.std(x))
    if s == 0:
        return m, 0.0
    mu, sigma = m, s
    unit = NormalDist()
    for _ in range(50):
        beta = (upper - mu) / sigma
        cdf = max(unit.cdf(beta), 1e-12)
        lam = unit.pdf(beta) / cdf
        shrink = max(1.0 - beta * lam - lam * lam, 1e-6)
        new_sigma = s / np.sqrt(shrink)
        new_mu = m + new_sigma * lam
        if abs(new_mu - mu) < 1e-9 and abs(new_sigma - sigma) < 1e-9:
            break
        mu, sigma = new_mu, new_sigma
    return float(mu), float(sigma)


class AdaptiveLinkage(_FaceClusteringBase):
    """Average linkage whose bar falls from a strict pair bar to the threshold.

    Clusters are merged best-first (exact mean similarity over all their face pairs, from
    cluster vector sums), only between clusters joined by a kNN edge at or above the
    threshold. Two clusters of ``a`` and ``b`` faces merge when their mean similarity
    is at least ``threshold + (pair_threshold - threshold) / sqrt(min(a, b))``: two single
    faces need the strict ``pair_threshold``, because one chance match among ``n`` faces is
    likely at the verification threshold; a cluster of many faces votes with a mean whose
    noise shrinks like ``1 / sqrt(size)`` of the smaller side, so the bar approaches the
    verification threshold. Second best on LFW (pairwise F 0.992, BCubed F 0.982).

    Parameters
    ----------
    threshold : float, optional
        Verification threshold; default ``DEFAULT_THRESHOLD`` (0.363, SFace).
    pair_threshold : float or "auto", default="auto"
        Bar for two single faces; ``"auto"`` is ``pair_threshold(X, threshold,
        false_link_rate)`` (0.517 on LFW's 13,233 SFace embeddings).
    false_link_rate : float, default=0.01
        See ``pair_threshold``.
    min_cluster_size, min_quality, n_neighbors, knn_index, random_state
        As for every method.

    Attributes
    ----------
    pair_threshold_ : float
        The pair bar used.
    """

    def __init__(
        self,
        *,
        threshold: float | None = None,
        pair_threshold: float | str = "auto",
        false_link_rate: float = 0.01,
        min_cluster_size: int = 2,
        min_quality: float = 0.5,
        n_neighbors: int = _DEFAULT_NEIGHBORS,
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
        self.pair_threshold = pair_threshold
        self.false_link_rate = false_link_rate

    def _cluster(self, X, weights, D, I):  # noqa: E741
        n = X.shape[0]
        t = self.threshold_
        if self.pair_threshold == "auto":
            t1 = pair_threshold(
                X, t, false_link_rate=self.false_link_rate, random_state=self.random_state
            )
        else:
            t1 = _check_threshold(self.pair_threshold)
            if t1 < t:
                raise InputError(f"pair_threshold must be >= threshold ({t}), got {t1}")
        self.pair_threshold_ = t1
        if I is None:
            return np.zeros(n, np.int64)
        return _linkage_labels(X, weights, D, I, t, t1)


def _linkage_labels(X, weights, D, I, t, t1):  # noqa: E741
    g = sparse.triu(_edges(D, I, t), k=1).tocoo()
    root = _sparse_average_linkage(
        X.astype(np.float64) * weights[:, None],
        weights,
        np.c_[g.row, g.col],
        t,
        singleton_threshold=t1,
    )
    return root.astype(np.int64)

class ChineseWhispers(_FaceClusteringBase):
    """Chinese whispers on the thresholded kNN graph (Biemann 2006; dlib's clusterer).

    The default method (see ``DEFAULT_METHOD``). Each face starts as its own label; in
    rounds, faces in a random order take the label with the highest total edge
    similarity among their neighbours. To stay fast in numpy,
    each round updates the faces in ``n_batches`` random batches, each batch at once.

    Parameters
    ----------
    threshold : float, optional
        Same-person cosine similarity; default ``DEFAULT_THRESHOLD`` (0.363, SFace).
    edge_threshold : float or "auto", default="auto"
        Similarity an edge needs; ``"auto"`` is ``pair_threshold(X, threshold)``: one
        chance match links two people in a graph method, so a single edge must clear the
        verification threshold raised for a collection of n faces (0.515 on LFW's 13,233
        SFace faces). Pass ``threshold``'s value to use the plain verification threshold.
    max_iter : int, default=30
        Rounds at most; stops earlier when no label changes.
    n_batches : int, default=10
        Batches per round.
    min_cluster_size, min_quality, n_neighbors, knn_index, random_state
        As for every method.
    """

    def __init__(
        self,
        *,
        threshold: float | None = None,
        edge_threshold: float | str = "auto",
        max_iter: int = 30,
        n_batches: int = 10,
        min_cluster_size: int = 2,
        min_quality: float = 0.5,
        n_neighbors: int = _DEFAULT_NEIGHBORS,
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
        self.max_iter = max_iter
        self.n_batches = n_batches

    def _cluster(self, X, weights, D, I):  # noqa: E741
        n = X.shape[0]
        if I is None:
            return np.zeros(n, np.int64)
        _check_int(self.max_iter, "max_iter", 1)
        nb = _check_int(self.n_batches, "n_batches", 1)
        g = _edges(D, I, self._edge_threshold(X)).tocsr()
        rng = np.random.default_rng(self.random_state)
        labels = np.arange(n, dtype=np.int64)
        indptr, indices, data = g.indptr, g.indices, g.data.astype(np.float64)
        rows_all = np.repeat(np.arange(n), np.diff(indptr))
        has_edges = np.diff(indptr) > 0
        for _ in range(int(self.max_iter)):
            changed = 0
            perm = rng.permutation(np.flatnonzero(has_edges))
            for batch in np.array_split(perm, nb):
                if batch.size == 0:
                    continue
                sel = np.zeros(n, dtype=bool)
                sel[batch] = True
                e = sel[rows_all]
                r, lab, w = rows_all[e], labels[indices[e]], data[e]
                # total weight per (face, neighbour label), then the best label per face
                key = r * (n + 1) + lab
                uk, inv = np.unique(key, return_inverse=True)
                tot = np.bincount(inv.ravel(), weights=w)
                ur, ul = uk // (n + 1), uk % (n + 1)
                # highest total first; ties go to the smaller label for determinism
                o = np.lexsort((ul, -tot, ur))
                first = np.r_[True, ur[o][1:] != ur[o][:-1]]
                faces, best = ur[o][first], ul[o][first]
                changed += int(np.count_nonzero(labels[faces] != best))
                labels[faces] = best
            if changed == 0:
                break
        return labels


class AverageLinkage(_FaceClusteringBase):
    """Average-linkage agglomerative clustering cut at ``1 - threshold`` cosine distance.

    Best-first merging on exact mean similarities (from cluster vector sums), comparing
    only clusters joined by a kNN edge at or above the threshold: any two clusters whose
    mean similarity reaches the threshold have at least one face pair that does, so this
    is exact average linkage whenever the kNN lists hold those pairs, without any
    ``n x n`` matrix. Reproduces scipy's dense result on LFW (pairwise F 0.978).

    Parameters
    ----------
    threshold : float, optional
        Same-person cosine similarity; default ``DEFAULT_THRESHOLD`` (0.363, SFace).
    min_cluster_size, min_quality, n_neighbors, knn_index, random_state
        As for every method.
    """

    def _cluster(self, X, weights, D, I):  # noqa: E741
        n = X.shape[0]
        if I is None:
            return np.zeros(n, np.int64)
        return _linkage_labels(X, weights, D, I, self.threshold_, self.threshold_)

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
        n_neighbors: int = _DEFAULT_NEIGHBORS,
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
        ms = _check_int(self.min_samples, "min_samples", 1)
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
        n_neighbors: int = _DEFAULT_NEIGHBORS,
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
        eps = 1.0 - self._edge_threshold(X) if self.eps is None else float(self.eps)
        if not 0.0 < eps <= 2.0:
            raise InputError(f"eps must be a cosine distance in (0, 2], got {self.eps}")
        ms = _check_int(self.min_samples, "min_samples", 1)
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
        n_neighbors: int = _DEFAULT_NEIGHBORS,
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
        from sklearn.cluster import HDBSCAN

        n = X.shape[0]
        mcs = max(2, int(self.min_cluster_size))
        if n < mcs or I is None:
            return np.full(n, -1, np.int64)
        ms = mcs if self.min_samples is None else _check_int(self.min_samples, "min_samples", 1)
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
        n_neighbors: int = _DEFAULT_NEIGHBORS,
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
            k = _check_int(self.n_clusters, "n_clusters", 1)
            if k > n:
                raise InputError(f"n_clusters must be <= n_faces ({n}), got {k}")
        n_init = _check_int(self.n_init, "n_init", 1)
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

    X = _check_X(X)
    n = X.shape[0]
    if n < 3:
        raise InputError(f"kmeans_curve needs at least 3 faces, got {n}")
    if k_values is None:
        hi = max(2, n // 2)
        ks = np.unique(np.geomspace(2, hi, num=12).round().astype(int)).tolist()
    else:
        ks = sorted({_check_int(k, "k_values entries", 2) for k in k_values})
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


# --------------------------------------------------------------------------- friendly layer

_CLASSES: dict[str, type[_FaceClusteringBase]] = {
    "adaptive-linkage": AdaptiveLinkage,
    "chinese-whispers": ChineseWhispers,
    "hdbscan": FaceHDBSCAN,
    "agglomerative": AverageLinkage,
    "core-point": CorePoint,
    "dbscan": FaceDBSCAN,
    "kmeans": FaceKMeans,
}


def make_clusterer(method: str = DEFAULT_METHOD, **params: Any) -> _FaceClusteringBase:
    """The estimator for a method name.

    Parameters
    ----------
    method : str, default=DEFAULT_METHOD
        One of ``METHODS``, or ``"auto"`` for ``DEFAULT_METHOD``.
    **params
        Keyword parameters of that estimator.

    Returns
    -------
    estimator
        Unfitted.
    """
    if method in ("auto", "default"):
        method = DEFAULT_METHOD
    if method not in _CLASSES:
        raise InputError(f"method must be one of {', '.join(METHODS)} or 'auto', got {method!r}")
    cls = _CLASSES[method]
    try:
        return cls(**params)
    except TypeError as err:
        raise InputError(f"bad parameter for method {method!r}: {err}") from None


def cluster_faces(
    X: Any,
    method: str = DEFAULT_METHOD,
    *,
    cannot_link: Any = None,
    must_link: Any = None,
    quality: Any = None,
    **params: Any,
) -> np.ndarray:
    """Group faces into people.

    Parameters
    ----------
    X : ndarray of shape (n_faces, n_features)
        L2-normalised embeddings (float32).
    method : str, default=DEFAULT_METHOD
        One of ``METHODS`` or ``"auto"``.
    cannot_link : array-like of int of shape (m, 2), optional
        Face pairs never to share a person (faces of one photo).
    must_link : array-like of int of shape (m, 2), optional
        Face pairs that must share a person.
    quality : array-like of float of shape (n_faces,), optional
        In [0, 1]; faces below ``min_quality`` (default 0.5) join people but never found one.
    **params
        The method's parameters, e.g. ``threshold``, ``min_cluster_size``, ``n_clusters``.

    Returns
    -------
    labels : ndarray of int64 of shape (n_faces,)
        Person of each face, numbered by size (0 = most faces); -1 = unsorted.
    """
    est = make_clusterer(method, **params)
    return est.fit(X, cannot_link=cannot_link, must_link=must_link, quality=quality).labels_


def _sparse_average_linkage(
    S: np.ndarray,
    size: np.ndarray,
    pairs: np.ndarray,
    threshold: float,
    *,
    singleton_threshold: float | None = None,
) -> np.ndarray:
    """Average linkage over a sparse set of candidate cluster pairs, exact means.

    Starts from clusters given by their vector sums ``S`` and face counts ``size``; the
    mean similarity of clusters A and B over all their face pairs is
    ``S_A . S_B / (|A| |B|)`` for unit vectors, so it is exact without forming any pair.
    Only clusters joined by a candidate pair (kNN edges) are compared; after a merge the
    new cluster inherits both candidate lists. The best pair is merged first (a heap with
    stale entries skipped), until no candidate pair reaches its threshold.

    ``singleton_threshold`` (optional) is the bar for a pair of single faces; for larger
    clusters the bar falls towards ``threshold`` as ``1 / sqrt(|A| |B|)``, since the mean
    over more pairs is less noisy.

    Returns the representative (root) index of each input cluster.
    """
    import heapq

    k = S.shape[0]
    S = S.astype(np.float64).copy()
    size = size.astype(np.float64).copy()
    parent = np.arange(k)
    version = np.zeros(k, dtype=np.int64)
    nbrs: list[set[int]] = [set() for _ in range(k)]
    if pairs.size:
        p = pairs[pairs[:, 0] != pairs[:, 1]]
        p = np.unique(np.sort(p, axis=1), axis=0)
        for a, b in p.tolist():
            nbrs[a].add(b)
            nbrs[b].add(a)
    else:
        p = np.empty((0, 2), np.int64)
    t0 = float(threshold)
    t1 = t0 if singleton_threshold is None else float(singleton_threshold)

    heap: list[tuple[float, int, int, int, int]] = []
    if p.size:
        sims = np.einsum("ij,ij->i", S[p[:, 0]], S[p[:, 1]]) / (size[p[:, 0]] * size[p[:, 1]])
        bars = t0 + (t1 - t0) / np.sqrt(np.minimum(size[p[:, 0]], size[p[:, 1]]))
        ok = sims >= bars
        # margin above the bar orders the merges: exact average linkage when t1 == t0
        heap = [
            (-(s - b), int(a), int(c), 0, 0)
            for s, b, a, c in zip(sims[ok], bars[ok], p[ok, 0], p[ok, 1], strict=True)
        ]
        heapq.heapify(heap)
    while heap:
        _, a, b, va, vb = heapq.heappop(heap)
        if parent[a] != a or parent[b] != b or version[a] != va or version[b] != vb:
            continue
        # merge the smaller neighbour list into the larger
        if len(nbrs[a]) < len(nbrs[b]):
            a, b = b, a
        parent[b] = a
        S[a] += S[b]
        size[a] += size[b]
        version[a] += 1
        nbrs[a] |= nbrs[b]
        nbrs[a].discard(a)
        nbrs[a].discard(b)
        nbrs[b] = set()
        alive = [c for c in nbrs[a] if parent[c] == c]
        nbrs[a] = set(alive)
        for c in alive:
            nbrs[c].discard(b)
            nbrs[c].add(a)
        if alive:
            cs = np.fromiter(alive, dtype=np.int64)
            sims = (S[cs] @ S[a]) / (size[cs] * size[a])
            bars = t0 + (t1 - t0) / np.sqrt(np.minimum(size[cs], size[a]))
            for c, s, bb in zip(cs.tolist(), sims.tolist(), bars.tolist(), strict=True):
                if s >= bb:
                    heapq.heappush(heap, (-(s - bb), a, c, int(version[a]), int(version[c])))
    # path compression to the roots
    root = parent.copy()
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            return root
        root = nxt
