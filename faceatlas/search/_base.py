"""The shared machinery of every index: ids, validation, padding, tuning, saving, recall.

Subclasses (:mod:`._faiss`, :mod:`._pcakmeans`) implement ``_add``, ``_search_positions``,
``_vectors`` and, for persistence, ``_arrays`` / ``_restore``.
"""

from __future__ import annotations

import json
import numbers
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from faceatlas._validation import check_int, check_matrix
from faceatlas.exceptions import InputError

_FORMAT_VERSION = 1


def _load_faiss() -> Any:
    # faiss is a core dependency, but importing it costs ~0.3 s: only on first use.
    import faiss

    return faiss


def _as_vectors(X: Any, name: str, d: int | None, normalize: bool) -> np.ndarray:
    """``X`` as C-contiguous float32 (n, d), L2-normalised when asked (zero rows stay zero)."""
    # float32 before the finiteness check: a float64 beyond float32's range must be refused,
    # not become inf after the cast.
    arr = check_matrix(X, name, d=d, allow_1d=name == "Q", dtype=np.float32, d_like="the index")
    if d is not None and arr.shape[1] != d:  # check_matrix lets empty arrays of any width pass
        raise InputError(f"{name} must have {d} columns like the index, got {arr.shape[1]}")
    if arr.shape[1] < 1:
        raise InputError(f"{name} must have at least 1 column, got {arr.shape[1]}")
    out = np.array(arr, dtype=np.float32, order="C", copy=True)
    if normalize and out.size:
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        # rows already of unit length (every stored embedding) are kept bit for bit: dividing
        # again moves their last bits, and a saved index must hold the catalog's own bytes, so
        # that forgetting a face can find and erase them (tests/test_forget.py)
        np.divide(out, norms, out=out, where=(norms > 0) & (np.abs(norms - 1) > 1e-6))
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
    k = E.shape[1] if k is None else check_int(k, "k", low=1)
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
        k = check_int(k, "k", low=1)
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
        k = check_int(k, "k", low=1)
        if not (isinstance(target_recall, numbers.Real) and 0 < target_recall <= 1):
            raise InputError(f"target_recall must be a float in (0, 1], got {target_recall!r}")
        sample = check_int(sample, "sample", low=1)
        self.tuned_k_ = k
        if self.ntotal == 0:
            raise InputError("cannot tune an empty index; add vectors first")
        values = self._knob_values()
        if not values:
            self.recall_at_10_ = 1.0
            return self

        vectors = self._vectors()
        faiss = _load_faiss()
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
        # The package's reader knows every kind; imported here because it imports us.
        from faceatlas.search import load_index

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
        mask = own[:, None] != I
        # Rows where the query itself was not returned lose their last column instead.
        missing = mask.all(axis=1)
        mask[missing, -1] = False
        out = I[mask].reshape(len(I), I.shape[1] - 1)[:, :k]
    if out.shape[1] < k:
        out = np.pad(out, ((0, 0), (0, k - out.shape[1])), constant_values=-1)
    return out
