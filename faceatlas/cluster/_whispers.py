"""Chinese whispers on the thresholded kNN graph: the default method."""

from __future__ import annotations

import numpy as np

from faceatlas._validation import check_int
from faceatlas.cluster._base import _FaceClusteringBase
from faceatlas.cluster._knn import DEFAULT_NEIGHBORS, _edges
from faceatlas.cluster._support import support_prune


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
        self.max_iter = max_iter
        self.n_batches = n_batches

    def _cluster(self, X, weights, D, I):  # noqa: E741
        n = X.shape[0]
        if I is None:
            return np.zeros(n, np.int64)
        check_int(self.max_iter, "max_iter", 1)
        nb = check_int(self.n_batches, "n_batches", 1)
        bar = self._edge_threshold(X)
        g = _edges(D, I, bar).tocsr()
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
        # a face stays in a large person only if two of its members vouch for it
        return support_prune(labels, D, I, bar)
