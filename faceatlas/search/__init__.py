"""Nearest faces: exact and approximate search over L2-normalised embeddings.

Every index follows one protocol::

    index.add(X, ids=None)          # X float (n, d); stored L2-normalised as float32
    D, I = index.search(Q, k)       # (n_queries, k): cosine similarity, ids; -1 = no result
    index.tune(target_recall=0.98)  # smallest nprobe / efSearch reaching recall@10
    index.save(path); load(path)    # one .npz file, no pickle
    index.ntotal

Kinds:

* :class:`ExactIndex` - faiss ``IndexFlatIP``: one matrix product (BLAS for batches).
* :class:`IVFIndex` - faiss inverted file (``IVF{nlist},Flat``), optionally behind a PCA
  pre-transform with exact re-ranking (``PCA{p},IVF{nlist},Flat,RFlat``).
* :class:`HNSWIndex` - faiss ``IndexHNSWFlat`` on inner product.
* :class:`PCAKMeansIndex` - the design documents' coarse index: PCA to 20 dimensions,
  k-means with 10 clusters, search the nearest cluster(s), exact re-rank inside.

:func:`build_index` picks one by size (see ``EXACT_MAX_SIZE``), adds the vectors and tunes
it; :func:`search` is the one-call version. Padding: where fewer than ``k`` results exist,
``I`` is -1 and ``D`` is ``-inf``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from faceatlas._validation import check_int
from faceatlas.exceptions import InputError
from faceatlas.search._base import _FORMAT_VERSION, _Index, recall_at_k
from faceatlas.search._faiss import ExactIndex, HNSWIndex, IVFIndex
from faceatlas.search._pcakmeans import PCAKMeansIndex

__all__ = [
    "AUTO_APPROXIMATE_KIND",
    "EXACT_MAX_SIZE",
    "ExactIndex",
    "HNSWIndex",
    "IVFIndex",
    "PCAKMeansIndex",
    "build_index",
    "load_index",
    "recall_at_k",
    "search",
]

# Below this many vectors build_index(kind="auto") keeps exact search. Measured with
# bench/search.py (docs/benchmarks.md, "## Search"), 128-d, one core of this shared
# machine: one exact query takes about 1.4 ms at 20,000 vectors (under the 2 ms target)
# but 13.6 ms at 100,000, while building an HNSW graph costs about 5 s at 20,000.
EXACT_MAX_SIZE = 20_000

# The kind build_index(kind="auto") uses above EXACT_MAX_SIZE. At 100,000 identity-
# clustered vectors HNSW reached recall@10 0.98 with efSearch 14 at 0.14 ms per query;
# IVF needed nprobe 199 of 1,265 cells for the same recall, at 0.94 ms.
AUTO_APPROXIMATE_KIND = "hnsw"


_KINDS: dict[str, Callable[..., _Index]] = {
    "exact": ExactIndex,
    "ivf": IVFIndex,
    "hnsw": HNSWIndex,
    "pca-kmeans": PCAKMeansIndex,
}


def load_index(path: str | Path) -> _Index:
    """Read any index written by ``save``.

    Raises
    ------
    InputError
        The file is missing, not an index file, or of a newer format.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except FileNotFoundError as exc:
        raise InputError(f"cannot read index {path}: no such file") from exc
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read index {path}: not a faceatlas index file ({exc})") from exc
    if "meta" not in arrays:
        raise InputError(f"cannot read index {path}: not a faceatlas index file (no meta)")
    meta = json.loads(str(arrays.pop("meta")))
    if meta.get("format", 0) > _FORMAT_VERSION:
        raise InputError(
            f"{path} was written by a newer faceatlas (format {meta['format']}); upgrade faceatlas"
        )
    kind = meta.get("kind")
    if kind not in _KINDS:
        raise InputError(f"{path} holds an unknown index kind {kind!r}")
    index = _KINDS[kind](**meta["params"])
    index._id_chunks = [arrays.pop("ids").astype(np.int64)]
    if meta["d"] is not None:
        index.d_ = int(meta["d"])
        index._restore(arrays)
    if meta.get("recall_at_10_") is not None:
        index.recall_at_10_ = meta["recall_at_10_"]
    if meta.get("tuned_k_") is not None:
        index.tuned_k_ = meta["tuned_k_"]
    return index


def build_index(
    X: Any,
    *,
    kind: str = "auto",
    ids: Any = None,
    target_recall: float = 0.98,
    k: int = 10,
    tune_sample: int = 1000,
    random_state: int = 0,
    **params: Any,
) -> _Index:
    """Make an index of ``X``, add it, and tune it to ``target_recall``.

    Parameters
    ----------
    X : array-like of shape (n, d)
    kind : {"auto", "exact", "ivf", "hnsw", "pca-kmeans"}, default="auto"
        "auto": exact below ``EXACT_MAX_SIZE`` vectors, else ``AUTO_APPROXIMATE_KIND``
        (values and the measurements behind them: docs/benchmarks.md, "## Search").
    ids : array-like of int of shape (n,) or None
    target_recall : float, default=0.98
        recall@k against exact search that tuning must reach.
    k : int, default=10
    tune_sample : int, default=1000
        Stored vectors used as leave-one-out tuning queries.
    random_state : int, default=0
    **params
        Passed to the index class (e.g. ``M=48`` for HNSW).

    Returns
    -------
    index
        Tuned, with ``recall_at_10_`` set.
    """
    n = len(np.asarray(X)) if not hasattr(X, "shape") else X.shape[0]
    if kind == "auto":
        kind = "exact" if n < EXACT_MAX_SIZE else AUTO_APPROXIMATE_KIND
    if kind not in _KINDS:
        raise InputError(f"kind must be one of auto, {', '.join(_KINDS)}, got {kind!r}")
    if kind in ("ivf", "pca-kmeans"):
        params.setdefault("random_state", random_state)
    try:
        index = _KINDS[kind](**params)
    except TypeError as exc:
        raise InputError(f"bad parameter for a {kind!r} index: {exc}") from exc
    index.add(X, ids=ids)
    if index.ntotal:
        index.tune(target_recall=target_recall, k=k, sample=tune_sample, random_state=random_state)
    return index


def search(
    X_db: Any, Q: Any, k: int = 10, *, kind: str = "exact", **params: Any
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most similar rows of ``X_db`` for each query, in one call.

    Parameters
    ----------
    X_db : array-like of shape (n, d)
        Embeddings to search (normalised on the fly).
    Q : array-like of shape (n_queries, d) or (d,)
    k : int, default=10
    kind : str, default="exact"
        Exact is the right choice for a one-off search: building an approximate index
        costs more than scanning the vectors once. Other kinds go through
        :func:`build_index`.

    Returns
    -------
    D : ndarray of float32 of shape (n_queries, k)
        Cosine similarities, ``-inf`` where no result.
    I : ndarray of int64 of shape (n_queries, k)
        Row numbers in ``X_db``, -1 where no result.

    Examples
    --------
    >>> import numpy as np
    >>> from faceatlas.search import search
    >>> X = np.eye(3, dtype=np.float32)
    >>> D, I = search(X, X[:1], k=2)
    >>> I.tolist()
    [[0, 1]]
    """
    k = check_int(k, "k", low=1)
    if kind == "exact":
        index: _Index = ExactIndex(**params).add(X_db)
    else:
        index = build_index(X_db, kind=kind, k=k, **params)
    return index.search(Q, k)
