"""Each face's nearest other faces (faiss), their edges, and the bar a single edge must reach.

The graph methods never build a dense ``n x n`` matrix: neighbours come from an exact
``IndexFlatIP`` up to ``EXACT_KNN_MAX`` faces and an IVF index beyond. ``pair_threshold``
raises the verification threshold for a collection of n faces, from random pairs of the
input itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from faceatlas._validation import check_int
from faceatlas.cluster._checks import check_threshold, check_X
from faceatlas.exceptions import InputError

if TYPE_CHECKING:
    from scipy import sparse

#: Up to this many faces the kNN graph is exact (faiss IndexFlatIP, O(n^2 d) but BLAS-fast:
#: ~1 s for LFW's 13,233 faces); above it an IVF index keeps the cost near O(n sqrt(n) d).
EXACT_KNN_MAX = 50_000

#: Neighbours per face in the kNN graph of every graph method.
DEFAULT_NEIGHBORS = 30


def knn_graph(
    X: Any,
    n_neighbors: int = DEFAULT_NEIGHBORS,
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

    X = check_X(X)
    n, d = X.shape
    k = min(check_int(n_neighbors, "n_neighbors", 1), n - 1)
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
        idx: Any = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        idx.cp.seed = 0 if random_state is None else int(random_state)
        # coarse lists need only rough centroids: 10 rounds on 40 points per list (faiss
        # warns below 39) keep training to seconds even for a million faces
        idx.cp.niter = 10
        rng = np.random.default_rng(random_state)
        train = X if n <= 40 * nlist else X[np.sort(rng.choice(n, 40 * nlist, replace=False))]
        idx.train(train)
        idx.add(X)
        idx.nprobe = min(nlist, check_int(nprobe, "nprobe", 1))
    else:
        idx = faiss.IndexFlatIP(d)
        idx.add(X)
    D = np.empty((n, k + 1), np.float32)
    I = np.empty((n, k + 1), np.int64)  # noqa: E741 - faiss's name
    step = 65_536
    for s in range(0, n, step):
        D[s : s + step], I[s : s + step] = idx.search(X[s : s + step], k + 1)
    # drop the face itself wherever it appears (duplicates may outrank it), else the last
    is_self = np.arange(n)[:, None] == I
    no_self = ~is_self.any(axis=1)
    is_self[no_self, k] = True
    keep = ~is_self
    D = D[keep].reshape(n, k)
    I = I[keep].reshape(n, k)  # noqa: E741
    D[I < 0] = -np.inf
    return D, I


def _edges(D: np.ndarray, I: np.ndarray, threshold: float) -> sparse.csr_matrix:  # noqa: E741
    """Symmetric sparse graph of kNN edges with similarity >= threshold (weight = sim)."""
    from scipy import sparse  # scipy.sparse is imported by the methods that use it

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

    X = check_X(X)
    t = check_threshold(threshold)
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
