"""Indexes held in one faiss object: exact (``IndexFlatIP``), IVF and HNSW."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from faceatlas._validation import check_int
from faceatlas.exceptions import InputError
from faceatlas.search._base import _fix_padding, _Index, _load_faiss


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
        return {"faiss": _load_faiss().serialize_index(self._index)}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self._index = _load_faiss().deserialize_index(arrays["faiss"])

    def memory_bytes(self) -> int:
        """Size of the faiss index as serialised: close to its size in memory."""
        if self.d is None:
            return 0
        return int(_load_faiss().serialize_index(self._index).nbytes)


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
            self._index = _load_faiss().IndexFlatIP(X.shape[1])
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
        check_int(self.nprobe, "nprobe", low=1)
        if self.pca_dims is not None and (
            not isinstance(self.pca_dims, numbers.Integral) or not 1 <= self.pca_dims <= d
        ):
            raise InputError(f"pca_dims must be None or an int in [1, {d}], got {self.pca_dims!r}")
        check_int(self.refine_factor, "refine_factor", low=1)
        check_int(self.max_train, "max_train", low=1)

    def _add(self, X: np.ndarray) -> None:
        faiss = _load_faiss()
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
        faiss = _load_faiss()
        ivf = faiss.extract_index_ivf(self._index)
        ivf.nprobe = int(min(max(1, self.nprobe), ivf.nlist))
        if self.pca_dims is not None:
            self._index.k_factor = float(self.refine_factor)

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        super()._restore(arrays)
        self.nlist_ = int(_load_faiss().extract_index_ivf(self._index).nlist)

    def _knob_values(self) -> list[int]:
        return list(range(1, self.nlist_ + 1))

    def _vectors(self) -> np.ndarray:
        if self.pca_dims is not None:
            # IndexRefineFlat keeps the full vectors beside the IVF.
            return self._index.refine_index.reconstruct_n(0, self.ntotal)
        ivf = _load_faiss().extract_index_ivf(self._index)
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
        faiss = _load_faiss()
        if not hasattr(self, "_index"):
            for name in ("M", "ef_construction", "ef_search"):
                check_int(getattr(self, name), name, low=2)
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
