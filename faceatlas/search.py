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
import math
import numbers
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from faceatlas.exceptions import InputError

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

_FORMAT_VERSION = 1


def _faiss() -> Any:
    # faiss is a core dependency, but importing it costs ~0.3 s: only on first use.
    import faiss

    return faiss


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise InputError(f"k must be an int >= 1, got {k!r}")
    return int(k)


def _as_vectors(X: Any, name: str, d: int | None, normalize: bool) -> np.ndarray:
    """``X`` as C-contiguous float32 (n, d), L2-normalised when asked (zero rows stay zero)."""
    arr = np.asarray(X)
    if arr.ndim == 1 and name == "Q":
        arr = arr[None, :]
    if arr.ndim != 2:
        raise InputError(f"{name} must be a 2-D array (n, d), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise InputError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if d is not None and arr.shape[1] != d:
        raise InputError(f"{name} must have {d} columns like the index, got {arr.shape[1]}")
    if arr.shape[1] < 1:
        raise InputError(f"{name} must have at least 1 column, got {arr.shape[1]}")
    out = np.array(arr, dtype=np.float32, order="C", copy=True)
    if out.size and not np.all(np.isfinite(out)):
        raise InputError(f"{name} contains NaN or infinite values")
    if normalize and out.size:
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
    return out


def _fix_padding(D: np.ndarray, I: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    D = np.asarray(D, dtype=np.float32)
    I = np.asarray(I, dtype=np.int64)
    D[I < 0] = -np.inf
    return D, I


def recall_at_k(I_approx: Any, I_exact: Any, k: int | None = None) -> float:
    """Mean fraction of the exact top-``k`` ids that the approximate top-``k`` found.

    Parameters
    ----------
    I_approx, I_exact : array-like of int of shape (n_queries, >= k)
        Ids from :meth:`search`; -1 entries are ignored.
    k : int or None, default=None
        Columns to compare; None uses all of ``I_exact``'s.

    Returns
    -------
    recall : float in [0, 1]
        Queries whose exact result is empty are left out; 1.0 when all are.
    """
    A = np.asarray(I_approx)
    E = np.asarray(I_exact)
    if A.ndim != 2 or E.ndim != 2 or len(A) != len(E):
        raise InputError(
            f"I_approx and I_exact must be 2-D with the same number of rows, "
            f"got shapes {A.shape} and {E.shape}"
        )
    k = E.shape[1] if k is None else _check_k(k)
    if A.shape[1] < k or E.shape[1] < k:
        raise InputError(f"both arrays need at least k = {k} columns, got {A.shape} and {E.shape}")
    A, E = A[:, :k], E[:, :k]
    valid = E >= 0
    # For each exact id: is it anywhere in the same query's approximate row?
    hits = (E[:, :, None] == A[:, None, :]).any(axis=2) & valid
    counts = valid.sum(axis=1)
    keep = counts > 0
    if not keep.any():
        return 1.0
    return float(np.mean(hits.sum(axis=1)[keep] / counts[keep]))


class _Index:
    """Shared machinery: ids, normalisation, padding, tuning, saving."""

    kind: ClassVar[str] = ""
    recall_at_10_: float
    tuned_k_: int
    tuning_curve_: dict[int, float]
    d_: int
    #: Name of the search-time knob tune() sets, or None when there is nothing to tune.
    _knob: ClassVar[str | None] = None

    def __init__(self, *, normalize: bool = True) -> None:
        self.normalize = normalize

    # -------------------------------------------------------------- ids and sizes
    @property
    def ntotal(self) -> int:
        """Number of vectors in the index."""
        return int(sum(len(a) for a in getattr(self, "_id_chunks", [])))

    @property
    def d(self) -> int | None:
        """Dimension of the vectors, None before the first add."""
        return getattr(self, "d_", None)

    def _ids(self) -> np.ndarray:
        chunks = getattr(self, "_id_chunks", [])
        if len(chunks) != 1:
            merged = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)
            self._id_chunks = [merged]
        return self._id_chunks[0]

    def _check_ids(self, ids: Any, n: int) -> np.ndarray:
        start = self.ntotal
        if ids is None:
            return np.arange(start, start + n, dtype=np.int64)
        arr = np.asarray(ids)
        if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
            raise InputError(f"ids must be ints of shape ({n},), got {arr.dtype} {arr.shape}")
        if n and arr.min() < 0:
            raise InputError(f"ids must be >= 0 (-1 means 'no result'), got {int(arr.min())}")
        return arr.astype(np.int64)

    # -------------------------------------------------------------- protocol
    def add(self, X: Any, ids: Any = None) -> _Index:
        """Add vectors.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Embeddings; L2-normalised (a copy) unless ``normalize=False``.
        ids : array-like of int of shape (n,) or None
            Non-negative ids returned by :meth:`search`; None numbers the rows on from
            ``ntotal``. Uniqueness is not checked.

        Returns
        -------
        self
        """
        X = _as_vectors(X, "X", self.d, self.normalize)
        ids_arr = self._check_ids(ids, len(X))
        if not len(X):
            return self
        if self.d is None:
            self.d_ = int(X.shape[1])
        self._add(X)
        self._id_chunks = [*getattr(self, "_id_chunks", []), ids_arr]
        return self

    def search(self, Q: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar stored vectors of each query.

        Parameters
        ----------
        Q : array-like of shape (n_queries, d) or (d,)
        k : int, default=10

        Returns
        -------
        D : ndarray of float32 of shape (n_queries, k)
            Cosine similarity (dot product of unit vectors), best first; ``-inf`` where
            there is no result.
        I : ndarray of int64 of shape (n_queries, k)
            Ids of the results; -1 where there is no result (k > ntotal, or an
            approximate index found fewer).
        """
        k = _check_k(k)
        if self.d is None:
            Qa = np.asarray(Q)
            n = 1 if Qa.ndim == 1 else (len(Qa) if Qa.ndim == 2 else 0)
            return np.full((n, k), -np.inf, dtype=np.float32), np.full((n, k), -1, np.int64)
        Q = _as_vectors(Q, "Q", self.d, self.normalize)
        D, P = self._search_positions(Q, k)
        ids = self._ids()
        I = np.where(P >= 0, ids[np.clip(P, 0, None)], -1)
        return D, I

    # Subclasses implement these three.
    def _add(self, X: np.ndarray) -> None:
        raise NotImplementedError

    def _search_positions(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Like search, but I holds row positions (0..ntotal-1), not ids."""
        raise NotImplementedError

    def _vectors(self) -> np.ndarray:
        """All stored vectors (float32, ntotal x d) in position order."""
        raise NotImplementedError

    # -------------------------------------------------------------- tuning
    def _knob_values(self) -> list[int]:
        return []

    def _get_knob(self) -> int:
        return int(getattr(self, self._knob)) if self._knob else 0

    def _set_knob(self, value: int) -> None:
        if self._knob:
            setattr(self, self._knob, int(value))

    def tune(
        self,
        queries: Any = None,
        *,
        target_recall: float = 0.98,
        k: int = 10,
        sample: int = 1000,
        random_state: Any = 0,
    ) -> _Index:
        """Set the search knob (nprobe, efSearch...) to the smallest value reaching a recall.

        Recall@k is measured against exact search over the stored vectors. Without
        ``queries``, ``sample`` stored vectors are drawn and each is searched leaving
        itself out (its own hit is trivially found and would flatter the recall). The
        search over knob values doubles then bisects, which assumes recall grows with the
        knob (true for nprobe and efSearch up to noise).

        Parameters
        ----------
        queries : array-like of shape (n_queries, d) or None
        target_recall : float in (0, 1], default=0.98
        k : int, default=10
        sample : int, default=1000
            Stored vectors to draw as queries when ``queries`` is None.
        random_state : int, Generator or None, default=0

        Returns
        -------
        self
            With ``recall_at_10_`` (recall@k measured at the chosen value; k is 10 by
            default), ``tuned_k_``, ``tuning_curve_`` (knob value -> recall for every
            value tried) and the knob set. If no value reaches the target, the
            largest is kept and a warning says so.
        """
        k = _check_k(k)
        if not (isinstance(target_recall, numbers.Real) and 0 < target_recall <= 1):
            raise InputError(f"target_recall must be a float in (0, 1], got {target_recall!r}")
        if isinstance(sample, bool) or not isinstance(sample, numbers.Integral) or sample < 1:
            raise InputError(f"sample must be an int >= 1, got {sample!r}")
        self.tuned_k_ = k
        if self.ntotal == 0:
            raise InputError("cannot tune an empty index; add vectors first")
        values = self._knob_values()
        if not values:
            self.recall_at_10_ = 1.0
            return self

        vectors = self._vectors()
        faiss = _faiss()
        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(vectors)
        if queries is None:
            rng = np.random.default_rng(random_state)
            n_q = min(int(sample), self.ntotal)
            own = rng.choice(self.ntotal, size=n_q, replace=False)
            Q = vectors[own]
            kk = k + 1
        else:
            Q = _as_vectors(queries, "queries", self.d, self.normalize)
            own = None
            kk = k
        _, E = flat.search(Q, min(kk, self.ntotal))
        E = _drop_own(E, own, k)

        def recall_for(value: int) -> float:
            self._set_knob(value)
            _, A = self._search_positions(Q, kk)
            return recall_at_k(_drop_own(A, own, k), E, k)

        measured: dict[int, float] = {}

        def passes(i: int) -> bool:
            if values[i] not in measured:
                measured[values[i]] = recall_for(values[i])
            return measured[values[i]] >= target_recall

        # Probe indices 0, 1, 3, 7, ... until one passes, then bisect below it.
        lo, hi = -1, None
        j = 0
        while True:
            i = min(2**j - 1, len(values) - 1)
            if passes(i):
                hi = i
                break
            lo = i
            if i == len(values) - 1:
                break
            j += 1
        if hi is None:
            best = values[-1]
            self._set_knob(best)
            self.tuning_curve_ = dict(sorted(measured.items()))
            self.recall_at_10_ = measured[best]
            warnings.warn(
                f"{type(self).__name__}: recall@{k} {measured[best]:.3f} at the largest "
                f"{self._knob} = {best} is below target_recall = {target_recall}",
                stacklevel=2,
            )
            return self
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if passes(mid):
                hi = mid
            else:
                lo = mid
        self._set_knob(values[hi])
        self.recall_at_10_ = measured[values[hi]]
        self.tuning_curve_ = dict(sorted(measured.items()))
        return self

    # -------------------------------------------------------------- persistence
    def _params(self) -> dict[str, Any]:
        return {"normalize": self.normalize}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        """Write the index to one ``.npz`` file (faiss's own serialisation inside; no pickle).

        Returns
        -------
        Path
        """
        path = Path(path)
        meta = {
            "format": _FORMAT_VERSION,
            "kind": self.kind,
            "params": self._params(),
            "d": self.d,
            "knob": self._get_knob() if self._knob else None,
            "recall_at_10_": getattr(self, "recall_at_10_", None),
            "tuned_k_": getattr(self, "tuned_k_", None),
        }
        arrays = {"ids": self._ids(), **(self._arrays() if self.d is not None else {})}
        # A file handle, because np.savez appends ".npz" to a path that lacks it.
        with path.open("wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)  # type: ignore[arg-type]
        return path

    @classmethod
    def load(cls, path: str | Path) -> Any:
        """Read an index written by :meth:`save`; ``cls`` must match its kind."""
        index = load_index(path)
        if cls is not _Index and not isinstance(index, cls):
            raise InputError(f"{path} holds a {index.kind!r} index, not {cls.kind!r}")
        return index

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({params}) with {self.ntotal} vectors"


def _drop_own(I: np.ndarray, own: np.ndarray | None, k: int) -> np.ndarray:
    """Remove each query's own position from its row (leave-one-out), keep k columns."""
    if own is None:
        out = I[:, :k]
    else:
        mask = I != own[:, None]
        # Rows where the query itself was not returned lose their last column instead.
        missing = mask.all(axis=1)
        mask[missing, -1] = False
        out = I[mask].reshape(len(I), I.shape[1] - 1)[:, :k]
    if out.shape[1] < k:
        out = np.pad(out, ((0, 0), (0, k - out.shape[1])), constant_values=-1)
    return out


class _FaissIndex(_Index):
    """An index held in one faiss object."""

    def _faiss_search(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        D, P = self._index.search(Q, k)
        return _fix_padding(D, P)

    def _search_positions(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        self._apply_knob()
        return self._faiss_search(Q, k)

    def _apply_knob(self) -> None:
        pass

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"faiss": _faiss().serialize_index(self._index)}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self._index = _faiss().deserialize_index(arrays["faiss"])

    def memory_bytes(self) -> int:
        """Size of the faiss index as serialised: close to its size in memory."""
        if self.d is None:
            return 0
        return int(_faiss().serialize_index(self._index).nbytes)


class ExactIndex(_FaissIndex):
    """Exact search: faiss ``IndexFlatIP`` over unit vectors (one BLAS matrix product).

    Parameters
    ----------
    normalize : bool, default=True
        L2-normalise vectors and queries (copies), so the score is cosine similarity.
    """

    kind = "exact"

    def __init__(self, *, normalize: bool = True) -> None:
        super().__init__(normalize=normalize)

    def _add(self, X: np.ndarray) -> None:
        if not hasattr(self, "_index"):
            self._index = _faiss().IndexFlatIP(X.shape[1])
        self._index.add(X)

    def _vectors(self) -> np.ndarray:
        return self._index.reconstruct_n(0, self.ntotal)

    def tune(self, queries: Any = None, **kwargs: Any) -> ExactIndex:
        """Nothing to tune: exact search has recall 1."""
        self.recall_at_10_ = 1.0
        self.tuned_k_ = int(kwargs.get("k", 10))
        return self


class IVFIndex(_FaissIndex):
    """Inverted-file index: search only the ``nprobe`` nearest of ``nlist`` k-means cells.

    Trained on the first batch given to :meth:`add` (at most ``max_train`` rows of it);
    later batches are assigned to the trained cells.

    Parameters
    ----------
    nlist : int or "auto", default="auto"
        Number of cells. "auto": ``4 * sqrt(n)`` of the first batch (faiss's rule of
        thumb), capped so each cell has at least 39 training points, at least 1.
    nprobe : int, default=8
        Cells searched per query; :meth:`tune` sets it.
    pca_dims : int or None, default=None
        If set, a PCA pre-transform to this many dimensions before the IVF, and an exact
        re-rank of ``refine_factor * k`` candidates on the full vectors, so ``D`` stays
        the true cosine (faiss ``PCA{p},IVF{nlist},Flat`` inside ``IndexRefineFlat``).
    refine_factor : int, default=4
    max_train : int, default=100_000
        Training rows (random subset): k-means cost grows with rows x nlist.
    random_state : int, default=0
    normalize : bool, default=True
    """

    kind = "ivf"
    _knob = "nprobe"

    def __init__(
        self,
        *,
        nlist: int | str = "auto",
        nprobe: int = 8,
        pca_dims: int | None = None,
        refine_factor: int = 4,
        max_train: int = 100_000,
        random_state: int = 0,
        normalize: bool = True,
    ) -> None:
        super().__init__(normalize=normalize)
        self.nlist = nlist
        self.nprobe = nprobe
        self.pca_dims = pca_dims
        self.refine_factor = refine_factor
        self.max_train = max_train
        self.random_state = random_state

    def _params(self) -> dict[str, Any]:
        return {
            "nlist": self.nlist,
            "nprobe": self.nprobe,
            "pca_dims": self.pca_dims,
            "refine_factor": self.refine_factor,
            "max_train": self.max_train,
            "random_state": self.random_state,
            "normalize": self.normalize,
        }

    def _check_params(self, d: int) -> None:
        if not (
            self.nlist == "auto"
            or (
                isinstance(self.nlist, numbers.Integral)
                and not isinstance(self.nlist, bool)
                and self.nlist >= 1
            )
        ):
            raise InputError(f'nlist must be an int >= 1 or "auto", got {self.nlist!r}')
        if (
            isinstance(self.nprobe, bool)
            or not isinstance(self.nprobe, numbers.Integral)
            or (self.nprobe < 1)
        ):
            raise InputError(f"nprobe must be an int >= 1, got {self.nprobe!r}")
        if self.pca_dims is not None and (
            not isinstance(self.pca_dims, numbers.Integral) or not 1 <= self.pca_dims <= d
        ):
            raise InputError(f"pca_dims must be None or an int in [1, {d}], got {self.pca_dims!r}")
        if not isinstance(self.refine_factor, numbers.Integral) or self.refine_factor < 1:
            raise InputError(f"refine_factor must be an int >= 1, got {self.refine_factor!r}")
        if not isinstance(self.max_train, numbers.Integral) or self.max_train < 1:
            raise InputError(f"max_train must be an int >= 1, got {self.max_train!r}")

    def _add(self, X: np.ndarray) -> None:
        faiss = _faiss()
        if not hasattr(self, "_index"):
            n, d = X.shape
            self._check_params(d)
            n_train = min(n, int(self.max_train))
            if self.nlist == "auto":
                nlist = int(max(1, min(round(4 * math.sqrt(n)), n_train // 39)))
            else:
                nlist = int(self.nlist)
                if nlist > n_train:
                    raise InputError(
                        f"nlist = {nlist} needs at least as many training vectors, "
                        f"got {n_train}; add a bigger first batch or lower nlist"
                    )
            self.nlist_ = nlist
            spec = f"IVF{nlist},Flat"
            if self.pca_dims is not None:
                # faiss's PCA cannot output more dimensions than training rows - 1.
                self.pca_dims_ = max(1, min(int(self.pca_dims), n_train - 1))
                spec = f"PCA{self.pca_dims_},{spec}"
            index = faiss.index_factory(d, spec, faiss.METRIC_INNER_PRODUCT)
            ivf = faiss.extract_index_ivf(index)
            ivf.cp.seed = int(self.random_state)
            # 10 k-means iterations instead of faiss's 20/25: cells barely move after
            # that, and training time is the build's largest cost.
            ivf.cp.niter = 10
            if self.pca_dims is not None:
                index = faiss.IndexRefineFlat(index)
            rng = np.random.default_rng(self.random_state)
            train = X if n_train == n else X[np.sort(rng.choice(n, n_train, replace=False))]
            index.train(train)
            self._index = index
        self._index.add(X)

    def _apply_knob(self) -> None:
        faiss = _faiss()
        ivf = faiss.extract_index_ivf(self._index)
        ivf.nprobe = int(min(max(1, self.nprobe), ivf.nlist))
        if self.pca_dims is not None:
            self._index.k_factor = float(self.refine_factor)

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        super()._restore(arrays)
        self.nlist_ = int(_faiss().extract_index_ivf(self._index).nlist)

    def _knob_values(self) -> list[int]:
        return list(range(1, self.nlist_ + 1))

    def _vectors(self) -> np.ndarray:
        if self.pca_dims is not None:
            # IndexRefineFlat keeps the full vectors beside the IVF.
            return self._index.refine_index.reconstruct_n(0, self.ntotal)
        ivf = _faiss().extract_index_ivf(self._index)
        ivf.make_direct_map()
        try:
            return ivf.reconstruct_n(0, self.ntotal)
        finally:
            # The direct map costs 8 bytes per vector; only tuning needs it.
            ivf.make_direct_map(False)


class HNSWIndex(_FaissIndex):
    """Hierarchical navigable small-world graph (faiss ``IndexHNSWFlat``, inner product).

    Parameters
    ----------
    M : int, default=32
        Graph neighbours per node: more is better recall and more memory (about
        ``M * 8`` bytes per vector on top of the vector itself).
    ef_construction : int, default=80
        Candidate list size while building: higher builds slower, better graphs.
    ef_search : int, default=64
        Candidate list size while searching; :meth:`tune` sets it. faiss uses
        ``max(ef_search, k)``.
    normalize : bool, default=True
    """

    kind = "hnsw"
    _knob = "ef_search"

    def __init__(
        self,
        *,
        M: int = 32,
        ef_construction: int = 80,
        ef_search: int = 64,
        normalize: bool = True,
    ) -> None:
        super().__init__(normalize=normalize)
        self.M = M
        self.ef_construction = ef_construction
        self.ef_search = ef_search

    def _params(self) -> dict[str, Any]:
        return {
            "M": self.M,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
            "normalize": self.normalize,
        }

    def _add(self, X: np.ndarray) -> None:
        faiss = _faiss()
        if not hasattr(self, "_index"):
            for name in ("M", "ef_construction", "ef_search"):
                v = getattr(self, name)
                if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 2:
                    raise InputError(f"{name} must be an int >= 2, got {v!r}")
            index = faiss.IndexHNSWFlat(X.shape[1], int(self.M), faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = int(self.ef_construction)
            self._index = index
        self._index.add(X)

    def _apply_knob(self) -> None:
        self._index.hnsw.efSearch = int(self.ef_search)

    def _knob_values(self) -> list[int]:
        return list(range(max(2, self.tuned_k_), 4097))

    def _vectors(self) -> np.ndarray:
        return self._index.reconstruct_n(0, self.ntotal)


class PCAKMeansIndex(_Index):
    """The design documents' coarse index: PCA + k-means cells, exact re-rank inside.

    Vectors are projected to ``n_components`` dimensions with :class:`faceatlas.reduce.PCA`
    and grouped by k-means (faiss) into ``n_clusters`` cells, both fitted on the
    first batch given to :meth:`add`. A query searches the ``n_probe`` cells whose
    centroids are nearest to its projection, with exact cosine on the full vectors.

    Parameters
    ----------
    n_components : int, default=20
    n_clusters : int, default=10
    n_probe : int, default=1
        Cells searched per query; :meth:`tune` sets it.
    max_train : int, default=100_000
        Rows (random subset of the first batch) used to fit the PCA and k-means.
    random_state : int, default=0
    normalize : bool, default=True
    """

    kind = "pca-kmeans"
    _knob = "n_probe"

    def __init__(
        self,
        *,
        n_components: int = 20,
        n_clusters: int = 10,
        n_probe: int = 1,
        max_train: int = 100_000,
        random_state: int = 0,
        normalize: bool = True,
    ) -> None:
        super().__init__(normalize=normalize)
        self.n_components = n_components
        self.n_clusters = n_clusters
        self.n_probe = n_probe
        self.max_train = max_train
        self.random_state = random_state

    def _params(self) -> dict[str, Any]:
        return {
            "n_components": self.n_components,
            "n_clusters": self.n_clusters,
            "n_probe": self.n_probe,
            "max_train": self.max_train,
            "random_state": self.random_state,
            "normalize": self.normalize,
        }

    def _fit(self, X: np.ndarray) -> None:
        from faceatlas.reduce import PCA

        for name, low in (("n_components", 1), ("n_clusters", 1), ("n_probe", 1), ("max_train", 2)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
                raise InputError(f"{name} must be an int >= {low}, got {v!r}")
        n, d = X.shape
        n_train = min(n, int(self.max_train))
        if n_train < max(2, self.n_clusters):
            raise InputError(
                f"the first batch must have at least n_clusters = {self.n_clusters} rows "
                f"(and 2), got {n}"
            )
        rng = np.random.default_rng(self.random_state)
        train = X if n_train == n else X[rng.choice(n, n_train, replace=False)]
        n_comp = min(int(self.n_components), d, n_train)
        # An exact SVD of a tall, narrow matrix (embeddings are 128-d) is cheaper than
        # the randomized one "auto" would choose.
        solver = "full" if d <= 512 else "auto"
        pca = PCA(n_components=n_comp, svd_solver=solver, random_state=self.random_state)
        pca.fit(train)
        Z = np.ascontiguousarray(pca.transform(train), dtype=np.float32)
        # faiss's k-means, not scikit-learn's: with faiss's OpenMP runtime loaded in the
        # same process, sklearn's KMeans ran 40x slower here (6.5 s vs 0.16 s, 8000 rows).
        km = _faiss().Kmeans(
            Z.shape[1], int(self.n_clusters), niter=25, nredo=3, seed=int(self.random_state)
        )
        km.train(Z)
        km.cluster_centers_ = km.centroids
        self.mean_ = pca.mean_.astype(np.float32)
        self.components_ = pca.components_.astype(np.float32)
        self.cluster_centers_ = km.cluster_centers_.astype(np.float32)
        self._cells: list[list[np.ndarray]] = [[] for _ in range(self.n_clusters)]
        self._cell_pos: list[list[np.ndarray]] = [[] for _ in range(self.n_clusters)]

    def _assign(self, X: np.ndarray, n_probe: int) -> np.ndarray:
        Z = (X - self.mean_) @ self.components_.T
        # Squared distances to centroids, as k-means assigned them.
        d2 = (
            (Z**2).sum(1, keepdims=True)
            - 2 * Z @ self.cluster_centers_.T
            + (self.cluster_centers_**2).sum(1)
        )
        if n_probe >= d2.shape[1]:
            return np.argsort(d2, axis=1)
        part = np.argpartition(d2, n_probe - 1, axis=1)[:, :n_probe]
        order = np.take_along_axis(d2, part, axis=1).argsort(axis=1)
        return np.take_along_axis(part, order, axis=1)

    def _add(self, X: np.ndarray) -> None:
        if not hasattr(self, "cluster_centers_"):
            self._fit(X)
        start = self.ntotal
        cell = self._assign(X, 1)[:, 0]
        pos = np.arange(start, start + len(X), dtype=np.int64)
        for c in np.unique(cell):
            m = cell == c
            self._cells[c].append(X[m])
            self._cell_pos[c].append(pos[m])

    def _cell(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self._cells[c]) != 1:
            if self._cells[c]:
                self._cells[c] = [np.concatenate(self._cells[c])]
                self._cell_pos[c] = [np.concatenate(self._cell_pos[c])]
            else:
                return np.empty((0, self.d_), np.float32), np.empty(0, np.int64)
        return self._cells[c][0], self._cell_pos[c][0]

    def _search_positions(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        n_probe = int(min(max(1, self.n_probe), self.n_clusters))
        probes = self._assign(Q, n_probe)
        D = np.full((len(Q), k), -np.inf, dtype=np.float32)
        P = np.full((len(Q), k), -1, dtype=np.int64)
        for c in range(self.n_clusters):
            rows = np.flatnonzero((probes == c).any(axis=1))
            V, pos = self._cell(c)
            if not len(rows) or not len(V):
                continue
            # Chunks of queries bound the (queries x cell size) score matrix to ~64 MB.
            step = max(1, (16 << 20) // max(1, len(V)))
            for s in range(0, len(rows), step):
                r = rows[s : s + step]
                S = Q[r] @ V.T
                kk = min(k, S.shape[1])
                top = (
                    np.argpartition(-S, kk - 1, axis=1)[:, :kk]
                    if kk < S.shape[1]
                    else (np.broadcast_to(np.arange(S.shape[1]), S.shape))
                )
                cand_D = np.concatenate([D[r], np.take_along_axis(S, top, axis=1)], axis=1)
                cand_P = np.concatenate([P[r], pos[top]], axis=1)
                best = np.argsort(-cand_D, axis=1, kind="stable")[:, :k]
                D[r] = np.take_along_axis(cand_D, best, axis=1)
                P[r] = np.take_along_axis(cand_P, best, axis=1)
        P[~np.isfinite(D)] = -1
        return D, P

    def _knob_values(self) -> list[int]:
        return list(range(1, int(self.n_clusters) + 1))

    def _vectors(self) -> np.ndarray:
        out = np.empty((self.ntotal, self.d_), dtype=np.float32)
        for c in range(self.n_clusters):
            V, pos = self._cell(c)
            out[pos] = V
        return out

    def memory_bytes(self) -> int:
        """Bytes of vectors, positions, PCA and centroids held."""
        if self.d is None:
            return 0
        n = sum(a.nbytes for c in range(self.n_clusters) for a in self._cell(c))
        return int(n + self.mean_.nbytes + self.components_.nbytes + self.cluster_centers_.nbytes)

    def _arrays(self) -> dict[str, np.ndarray]:
        out = {
            "mean": self.mean_,
            "components": self.components_,
            "centers": self.cluster_centers_,
        }
        for c in range(self.n_clusters):
            V, pos = self._cell(c)
            out[f"cell{c}"] = V
            out[f"pos{c}"] = pos
        return out

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.mean_ = arrays["mean"]
        self.components_ = arrays["components"]
        self.cluster_centers_ = arrays["centers"]
        self._cells = [[arrays[f"cell{c}"]] for c in range(len(self.cluster_centers_))]
        self._cell_pos = [[arrays[f"pos{c}"]] for c in range(len(self.cluster_centers_))]


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
    k = _check_k(k)
    if kind == "exact":
        index: _Index = ExactIndex(**params).add(X_db)
    else:
        index = build_index(X_db, kind=kind, k=k, **params)
    return index.search(Q, k)
