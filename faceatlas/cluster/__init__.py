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
  never found a cluster and never link two: only good faces are clustered, then each poor
  face joins the person of which at least two members (all of a one-face person) are among
  its nearest clustered faces at the method's edge bar (``pair_threshold`` when it has
  none), the one with the highest total similarity, else -1.
- **Support** (``chinese-whispers``): a face stays in a person of five or more faces only
  when at least two other members are its kNN edges at the edge bar; faces that fail are
  taken out (-1), repeatedly, so a chain unravels (``_support.support_prune``).
- **Determinism**: the same input and ``random_state`` give the same labels, and the same
  faces in any order give the same partition (rows are sorted by content first). Labels
  are numbered by cluster size, largest first (ties by first face index).

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

Where the code lives
--------------------
This ``__init__`` holds the method table (``METHODS``, ``DEFAULT_METHOD``,
``make_clusterer``, ``cluster_faces``); the private modules hold the rest: ``_checks``
(argument checks, ``DEFAULT_THRESHOLD``), ``_knn`` (faiss kNN graph, edges, the
``pair_threshold`` bar), ``_constraints`` (must-link groups, cannot-link, ``assign_to_clusters``),
``_base`` (the shared estimator), ``_whispers``, ``_linkage``, ``_density`` and ``_kmeans``
(the methods). scipy, scikit-learn and faiss are imported by the code that runs them, so
``import faceatlas.cluster`` costs numpy only.

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

from faceatlas.cluster._base import _FaceClusteringBase
from faceatlas.cluster._checks import DEFAULT_THRESHOLD
from faceatlas.cluster._constraints import assign_to_clusters, enforce_cannot_link
from faceatlas.cluster._density import CorePoint, FaceDBSCAN, FaceHDBSCAN
from faceatlas.cluster._kmeans import FaceKMeans, kmeans_curve
from faceatlas.cluster._knn import EXACT_KNN_MAX, knn_graph, pair_threshold
from faceatlas.cluster._linkage import AdaptiveLinkage, AverageLinkage
from faceatlas.cluster._whispers import ChineseWhispers
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
