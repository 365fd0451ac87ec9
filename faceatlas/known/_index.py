"""The search index kept next to the catalog (``<db>.index/``), built or updated as needed.

Exact search while the catalog is small; above ``exact_max`` faces, the faiss index
:func:`faceatlas.search.build_index` picks, saved and updated in place until too many faces
changed since it was built.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from faceatlas.exceptions import InputError
from faceatlas.known._common import Log, quiet

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog
    from faceatlas.embed import Embedder

INDEX_KINDS = ("auto", "exact", "ivf", "hnsw", "pca-kmeans")

# Rebuild a saved approximate index when faces added or removed since it was built exceed
# this share of its size: IVF and pca-kmeans centroids were fitted to the old data, and
# removed faces still take result slots.
DRIFT_FRACTION = 0.2


@dataclass
class IndexInfo:
    """How the catalog's faces are searched right now."""

    kind: str
    n_faces: int
    embedder: str
    path: str | None = None
    recall_at_10: float | None = None
    built: bool = False
    updated: int = 0
    build_seconds: float | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def line(self) -> str:
        parts = [f"{self.kind} search over {self.n_faces} faces ({self.embedder})"]
        if self.recall_at_10 is not None and self.kind != "exact":
            parts.append(f"recall@10 {self.recall_at_10:.3f} against exact search")
        if self.built:
            parts.append(f"built in {self.build_seconds:.1f} s")
        if self.updated:
            parts.append(f"{self.updated} new faces added")
        if self.reason:
            parts.append(self.reason)
        return "; ".join(parts)


def index_dir(catalog: Catalog) -> Path | None:
    """``<db>.index/`` next to the catalog file (None for an in-memory catalog)."""
    # the catalog names the folder, so that a scan and `forget` can erase it too
    return catalog.saved_index_dir()


def catalog_index(
    catalog: Catalog,
    embedder: Embedder,
    *,
    kind: str = "auto",
    exact_max: int | None = None,
    target_recall: float = 0.98,
    rebuild: bool = False,
    log: Log = quiet,
) -> tuple[Any, np.ndarray, IndexInfo]:
    """The search index over the catalog's faces of one embedder, built or updated as needed.

    Parameters
    ----------
    catalog : Catalog
    embedder : Embedder
    kind : {"auto", "exact", "ivf", "hnsw", "pca-kmeans"}, default="auto"
        "auto": exact below ``exact_max`` faces, else the faiss index that
        :func:`faceatlas.search.build_index` picks for that size.
    exact_max : int, optional
        Size from which "auto" builds an approximate index; default: the catalog setting
        ``index/exact_max``, else ``faceatlas.search.EXACT_MAX_SIZE`` (measured in
        bench/search.py).
    target_recall : float, default=0.98
        recall@10 against exact search the approximate index is tuned to.
    rebuild : bool, default=False
    log : callable(str)
        Receives the build report (with the measured recall).

    Returns
    -------
    index : object with ``search(Q, k) -> (D, I)``; I holds face ids
    face_ids : ndarray of int64
        The catalog's faces with a vector of ``embedder``.
    info : IndexInfo
    """
    from faceatlas import search

    if kind not in INDEX_KINDS:
        raise InputError(f"index kind must be one of {', '.join(INDEX_KINDS)}, got {kind!r}")
    if exact_max is None:
        exact_max = int(catalog.get_setting("index/exact_max", search.EXACT_MAX_SIZE))
    face_ids, X = catalog.embeddings(embedder.name)
    n = len(face_ids)
    want = kind
    if kind == "auto":
        want = "exact" if n < exact_max else search.AUTO_APPROXIMATE_KIND
    if want == "exact" or n == 0:
        index = search.ExactIndex().add(X, ids=face_ids) if n else search.ExactIndex()
        return (
            index,
            face_ids,
            IndexInfo(
                "exact",
                n,
                embedder.name,
                recall_at_10=1.0,
                reason=f"below {exact_max} faces" if kind == "auto" else "",
            ),
        )
    folder = index_dir(catalog)
    stem = f"{embedder.name}-{embedder.version}-{want}"
    files = (
        None
        if folder is None
        else (folder / f"{stem}.npz", folder / f"{stem}.json", folder / f"{stem}.ids.npy")
    )
    info = IndexInfo(want, n, embedder.name, path=str(files[0]) if files else None)
    if not rebuild and files is not None and all(f.exists() for f in files):
        path, meta_path, ids_path = files
        meta = json.loads(meta_path.read_text())
        indexed = np.load(ids_path)
        current = set(face_ids.tolist())
        known = set(indexed.tolist())
        removed = len(known - current)
        added_mask = ~np.isin(face_ids, indexed)
        drift = (removed + int(added_mask.sum())) / max(meta["n_at_build"], 1)
        if drift <= DRIFT_FRACTION:
            index = search.load_index(path)
            if added_mask.any():
                index.add(X[added_mask], ids=face_ids[added_mask])
                indexed = np.concatenate([indexed, face_ids[added_mask]])
                index.save(path)
                np.save(ids_path, indexed)
                info.updated = int(added_mask.sum())
            info.recall_at_10 = meta.get("recall_at_10")
            if removed:
                info.reason = f"{removed} removed faces are filtered out of results"
            return _Filtered(index, current) if removed else index, face_ids, info
        info.reason = (
            f"rebuilt: {drift:.0%} of the faces changed since the last build "
            f"(limit {DRIFT_FRACTION:.0%})"
        )
    t0 = time.perf_counter()
    try:
        index = search.build_index(X, kind=want, ids=face_ids, target_recall=target_recall, k=10)
    except InputError as exc:
        # Too few faces for the index's clusters: exact search is exact and fast here.
        index = search.ExactIndex().add(X, ids=face_ids)
        return (
            index,
            face_ids,
            IndexInfo(
                "exact",
                n,
                embedder.name,
                recall_at_10=1.0,
                reason=f"no {want} index over {n} faces ({exc})",
            ),
        )
    info.build_seconds = round(time.perf_counter() - t0, 3)
    info.built = True
    info.recall_at_10 = float(getattr(index, "recall_at_10_", float("nan")))
    log(
        f"built a {want} index of {n} faces in {info.build_seconds:.1f} s: recall@10 "
        f"{info.recall_at_10:.3f} against exact search (target {target_recall}, measured on "
        f"{min(n, 1000)} sampled faces)"
    )
    if files is not None:
        path, meta_path, ids_path = files
        path.parent.mkdir(exist_ok=True)
        index.save(path)
        np.save(ids_path, face_ids)
        meta_path.write_text(
            json.dumps(
                {
                    "kind": want,
                    "embedder": embedder.name,
                    "version": embedder.version,
                    "n_at_build": n,
                    "recall_at_10": info.recall_at_10,
                    "target_recall": target_recall,
                    "build_seconds": info.build_seconds,
                    "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                },
                indent=2,
            )
        )
    return index, face_ids, info


class _Filtered:
    """An index whose results skip ids no longer in the catalog (until the next rebuild)."""

    def __init__(self, index: Any, valid: set[int]) -> None:
        self.index = index
        self.valid = valid

    def search(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        D, ids = self.index.search(Q, k * 2 + 10)
        ok = np.isin(ids, np.fromiter(self.valid, np.int64)) & (ids >= 0)
        outD = np.full((len(Q), k), -np.inf, np.float32)
        outI = np.full((len(Q), k), -1, np.int64)
        for r in range(len(Q)):
            keep = np.flatnonzero(ok[r])[:k]
            outD[r, : len(keep)] = D[r, keep]
            outI[r, : len(keep)] = ids[r, keep]
        return outD, outI


class RowIndex:
    """Adapts an index returning face ids to one returning gallery rows (for identify)."""

    def __init__(self, index: Any, face_ids: np.ndarray) -> None:
        self.index = index
        order = np.argsort(face_ids)
        self.sorted_ids = face_ids[order]
        self.rows = order

    def search(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        D, ids = self.index.search(Q, k)
        pos = np.clip(np.searchsorted(self.sorted_ids, ids), 0, len(self.sorted_ids) - 1)
        found = (ids >= 0) & (self.sorted_ids[pos] == ids)
        return D, np.where(found, self.rows[pos], -1)
