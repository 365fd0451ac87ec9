"""Who is this face: a :class:`Gallery` of known faces, and :func:`identify`'s three outcomes.

See :mod:`faceatlas.recognize` for the outcomes; distances are cosine distances,
``1 - similarity``, on the L2-normalised embeddings.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from faceatlas._validation import check_embeddings, check_number
from faceatlas.exceptions import InputError

OUTCOMES = ("same_image", "known_person", "stranger")

# 0.995: what similarity alone can safely call a copy. Measured with SFace: a re-encoded
# JPEG of the same image scores 0.95-1.00 and a resized copy 0.94-0.98, while two distinct
# photos of one person reach 0.98 (LFW, all 87.5 M pairs: none >= 0.995; the highest,
# 0.986-0.990, are one photograph filed under two names, e.g. Bart_Hendricks_0001 =
# Ricky_Ray_0001). So above 0.995 it is a copy; below, copies are caught by equal file
# content (``content_hashes``), not by similarity.
SAME_IMAGE_THRESHOLD = 0.995

# Slope of the logistic that turns a similarity into P(same person) when no calibration
# is stored: 33.35, fitted (Platt scaling) to SFace similarities of LFW's 6,000 pairs.txt
# pairs (bench/recognition.py), centred on the threshold in use. A calibration replaces
# slope and intercept by a fit to its own pairs.
DEFAULT_LOGISTIC_SLOPE = 33.35

# Queries are compared with the gallery this many at a time, to bound memory
# (chunk x n_gallery float32 similarities).
_CHUNK = 1024


def _as_matrix(X: Any, name: str, d: int | None = None) -> np.ndarray:
    """Rows L2-normalised, float32 (n, d); a 1-D ``Q`` is one query."""
    return check_embeddings(X, name, d=d, allow_1d=name == "Q", d_like="the gallery")


# --------------------------------------------------------------------------- the gallery
@dataclass(frozen=True)
class Gallery:
    """Catalogued faces to recognise against.

    Parameters
    ----------
    X : ndarray of shape (n_faces, d)
        Embeddings (normalised on construction).
    person_ids : array-like of int of shape (n_faces,)
        Person of each face; -1 for a face of no named person (still used to detect a
        ``same_image``, never to name anybody).
    names : sequence of str or None of shape (n_faces,), optional
        Display name of each face's person; defaults to ``"person <id>"``.
    face_ids : array-like of int of shape (n_faces,), optional
        Catalog ids of the faces; defaults to ``0 .. n_faces - 1``.
    content_hashes : sequence of str or None of shape (n_faces,), optional
        Content hash of the file each face came from: a query from a file with the same
        hash is the same image whatever the similarity says.

    Examples
    --------
    >>> import numpy as np
    >>> g = Gallery(np.eye(3), person_ids=[0, 0, 1], names=["ann", "ann", "bob"])
    >>> g.n_people
    2
    """

    # Any: arrays after __post_init__, array-likes before.
    X: Any
    person_ids: Any
    names: Any = None
    face_ids: Any = None
    content_hashes: Any = None

    def __post_init__(self) -> None:
        X = _as_matrix(self.X, "X")
        n = X.shape[0]
        pids = np.asarray(self.person_ids)
        if pids.shape != (n,) or (n and not np.issubdtype(pids.dtype, np.integer)):
            raise InputError(
                f"person_ids must be ints of shape ({n},), got {pids.dtype} {pids.shape}"
            )
        pids = pids.astype(np.int64)
        if n and pids.min() < -1:
            raise InputError(f"person_ids must be >= -1 (-1: no person), got {pids.min()}")
        if self.names is None:
            names = np.array([f"person {p}" if p >= 0 else None for p in pids], dtype=object)
        else:
            names = np.asarray(list(self.names), dtype=object)
            if names.shape != (n,):
                raise InputError(f"names must have one entry per face ({n}), got {names.shape}")
        if self.face_ids is None:
            fids = np.arange(n, dtype=np.int64)
        else:
            fids = np.asarray(self.face_ids)
            if fids.shape != (n,) or (n and not np.issubdtype(fids.dtype, np.integer)):
                raise InputError(
                    f"face_ids must be ints of shape ({n},), got {fids.dtype} {fids.shape}"
                )
            fids = fids.astype(np.int64)
        hashes = None
        if self.content_hashes is not None:
            hashes = np.asarray(list(self.content_hashes), dtype=object)
            if hashes.shape != (n,):
                raise InputError(
                    f"content_hashes must have one entry per face ({n}), got {hashes.shape}"
                )
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "person_ids", pids)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "face_ids", fids)
        object.__setattr__(self, "content_hashes", hashes)

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def dim(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_people(self) -> int:
        """Named people in the gallery."""
        return int(np.unique(self.person_ids[self.person_ids >= 0]).size)

    @functools.cached_property
    def _names_by_person(self) -> dict[int, str | None]:
        out: dict[int, str | None] = {}
        for p, name in zip(self.person_ids.tolist(), self.names.tolist(), strict=True):
            if p >= 0:
                out.setdefault(p, name)
        return out

    def name_of(self, person_id: int) -> str | None:
        """Display name of a person of the gallery (None if absent)."""
        return self._names_by_person.get(int(person_id))


# --------------------------------------------------------------------------- identify
@dataclass
class Identification:
    """What :func:`identify` says about one query face.

    Attributes
    ----------
    outcome : {"same_image", "known_person", "stranger"}
    person_id, name : int or None, str or None
        The named person: for ``known_person`` the match, for ``same_image`` the person of
        the copied face (None if it has none), for ``stranger`` None.
    similarity, distance : float
        Cosine similarity to the best face of the nearest named person (``-1``/``2`` when
        the gallery names nobody) and its cosine distance ``1 - similarity``.
    confidence : float in [0, 1]
        For ``known_person``: P(same | similarity) of the match times P(not same) of the
        runner-up; for ``same_image`` 1.0; for ``stranger`` P(not same) of the nearest.
    face_id : int or None
        The gallery face behind the outcome (the copy, or the matched person's best face).
    nearest_person_id, nearest_name : int or None, str or None
        Nearest named person even when the outcome is ``stranger``.
    runner_up_person_id, runner_up_name, runner_up_similarity
        The best other named person (None when the gallery names only one).
    same_image_similarity : float or None
        Similarity of the closest catalogued face of any person, or of none.
    threshold, threshold_source : float, str
        The same-person threshold used, and where it comes from.
    """

    outcome: str
    person_id: int | None
    name: str | None
    similarity: float
    distance: float
    confidence: float
    face_id: int | None
    nearest_person_id: int | None
    nearest_name: str | None
    runner_up_person_id: int | None
    runner_up_name: str | None
    runner_up_similarity: float | None
    same_image_similarity: float | None
    threshold: float
    threshold_source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def confidence_of(
    similarity: Any,
    threshold: float,
    *,
    slope: float = DEFAULT_LOGISTIC_SLOPE,
    intercept: float | None = None,
) -> np.ndarray:
    """P(same person | similarity) from a logistic curve.

    Parameters
    ----------
    similarity : array-like of float
    threshold : float
        Where the probability is 0.5 when ``intercept`` is None.
    slope : float, default=DEFAULT_LOGISTIC_SLOPE
    intercept : float or None
        A fitted intercept (from :func:`calibrate_threshold`) overrides the centring.

    Returns
    -------
    ndarray of float in [0, 1], same shape as ``similarity``
    """
    s = np.asarray(similarity, dtype=np.float64)
    b = -slope * threshold if intercept is None else intercept
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-(slope * s + b)))


def _top1(Q: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best gallery row and its similarity for each query (exact, chunked)."""
    best = np.full(len(Q), -1, np.int64)
    sim = np.full(len(Q), -np.inf, np.float32)
    if len(X) == 0:
        return best, sim
    for start in range(0, len(Q), _CHUNK):
        S = Q[start : start + _CHUNK] @ X.T
        j = np.argmax(S, axis=1)
        best[start : start + _CHUNK] = j
        sim[start : start + _CHUNK] = S[np.arange(len(S)), j]
    return best, sim


def _people_layout(gallery: Gallery) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Named faces grouped by person: (person ids, group starts, gallery rows in order)."""
    named = np.flatnonzero(gallery.person_ids >= 0)
    order = named[np.argsort(gallery.person_ids[named], kind="stable")]
    pids = gallery.person_ids[order]
    starts = np.flatnonzero(np.r_[True, pids[1:] != pids[:-1]]) if pids.size else pids
    return pids[starts], starts, order


def _per_person_top2(
    Q: np.ndarray, gallery: Gallery
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best and second-best named person of each query, by their best face.

    Returns person ids (-1 when none), similarities (-inf when none) and the gallery row of
    the best person's best face.
    """
    n_q = len(Q)
    p1 = np.full(n_q, -1, np.int64)
    p2 = np.full(n_q, -1, np.int64)
    s1 = np.full(n_q, -np.inf, np.float32)
    s2 = np.full(n_q, -np.inf, np.float32)
    row1 = np.full(n_q, -1, np.int64)
    # Named faces grouped by person, so one reduceat takes each person's best face.
    people, starts, order = _people_layout(gallery)
    if people.size == 0 or n_q == 0:
        return p1, s1, row1, p2, s2
    n_named = len(order)
    Xn = gallery.X[order]
    for start in range(0, n_q, _CHUNK):
        sl = slice(start, start + _CHUNK)
        S = Q[sl] @ Xn.T
        P = np.maximum.reduceat(S, starts, axis=1)  # (chunk, n_people)
        rows = np.arange(len(S))
        if P.shape[1] == 1:
            j1 = np.zeros(len(S), np.int64)
        else:
            top2 = np.argpartition(-P, 1, axis=1)[:, :2]
            first_is_best = P[rows, top2[:, 0]] >= P[rows, top2[:, 1]]
            j1 = np.where(first_is_best, top2[:, 0], top2[:, 1])
            j2 = np.where(first_is_best, top2[:, 1], top2[:, 0])
            p2[sl] = people[j2]
            s2[sl] = P[rows, j2]
        p1[sl] = people[j1]
        s1[sl] = P[rows, j1]
        # The best person's best face: the argmax of S restricted to that person's columns.
        ends = np.r_[starts[1:], n_named]
        cols = np.arange(n_named)[None, :]
        masked = np.where((cols >= starts[j1][:, None]) & (cols < ends[j1][:, None]), S, -np.inf)
        row1[sl] = order[np.argmax(masked, axis=1)]
    return p1, s1, row1, p2, s2


def identify(
    Q: Any,
    gallery: Gallery,
    threshold: float,
    same_image_threshold: float = SAME_IMAGE_THRESHOLD,
    *,
    threshold_source: str = "given",
    query_hashes: Sequence[str | None] | None = None,
    slope: float = DEFAULT_LOGISTIC_SLOPE,
    intercept: float | None = None,
    index: Any = None,
) -> list[Identification]:
    """Sort each query face into same image, known person or stranger.

    Parameters
    ----------
    Q : array-like of shape (n_queries, d) or (d,)
        Query embeddings (normalised here).
    gallery : Gallery
    threshold : float in [-1, 1]
        Cosine similarity at or above which the nearest named person is the answer.
    same_image_threshold : float in [-1, 1], default=0.995
        Similarity at or above which a face is a copy of a catalogued face
        (``SAME_IMAGE_THRESHOLD``; see its comment for where 0.995 comes from).
    threshold_source : str, default="given"
        Where ``threshold`` comes from; copied into every result.
    query_hashes : sequence of str or None of shape (n_queries,), optional
        Content hash of the file each query face came from (see ``Gallery``).
    slope, intercept : float
        The logistic curve behind ``confidence`` (see :func:`confidence_of`).
    index : object with ``search(Q, k) -> (D, I)``, optional
        A search index over ``gallery.X`` whose ids are gallery row positions, used to
        find the nearest face of any person (the same-image check) when the gallery is
        large. Default: exact search.

    Returns
    -------
    list of Identification, one per query row
    """
    threshold = check_number(threshold, "threshold", -1.0, 1.0)
    same_image_threshold = check_number(same_image_threshold, "same_image_threshold", -1.0, 1.0)
    if not isinstance(gallery, Gallery):
        raise InputError(f"gallery must be a Gallery, got {type(gallery).__name__}")
    Qn = _as_matrix(Q, "Q", gallery.dim if len(gallery) else None)
    n_q = len(Qn)
    if query_hashes is not None and len(query_hashes) != n_q:
        raise InputError(
            f"query_hashes must have one entry per query ({n_q}), got {len(query_hashes)}"
        )

    if index is not None and len(gallery):
        top_d, top_i = index.search(Qn, 1)
        any_row, any_sim = top_i[:, 0].astype(np.int64), top_d[:, 0].astype(np.float32)
    else:
        any_row, any_sim = _top1(Qn, gallery.X)
    p1, s1, row1, p2, s2 = _per_person_top2(Qn, gallery)
    p_same1 = confidence_of(s1, threshold, slope=slope, intercept=intercept)
    p_same2 = np.where(p2 >= 0, confidence_of(s2, threshold, slope=slope, intercept=intercept), 0.0)

    # Faces from a file with the same content: the copy is the most similar of them.
    hash_row = np.full(n_q, -1, np.int64)
    if query_hashes is not None and gallery.content_hashes is not None:
        by_hash: dict[str, list[int]] = {}
        for r, h in enumerate(gallery.content_hashes):
            if h:
                by_hash.setdefault(str(h), []).append(r)
        for i, h in enumerate(query_hashes):
            rows = by_hash.get(str(h)) if h else None
            if rows:
                hash_row[i] = rows[int(np.argmax(gallery.X[rows] @ Qn[i]))]

    def name(pid: int) -> str | None:
        return gallery.name_of(pid) if pid >= 0 else None

    out = []
    for i in range(n_q):
        has_person = p1[i] >= 0
        sim = float(s1[i]) if has_person else -1.0
        runner = int(p2[i]) if p2[i] >= 0 else None
        common: dict[str, Any] = {
            "nearest_person_id": int(p1[i]) if has_person else None,
            "nearest_name": name(int(p1[i])),
            "runner_up_person_id": runner,
            "runner_up_name": name(runner) if runner is not None else None,
            "runner_up_similarity": round(float(s2[i]), 6) if runner is not None else None,
            "same_image_similarity": round(float(any_sim[i]), 6) if any_row[i] >= 0 else None,
            "threshold": threshold,
            "threshold_source": threshold_source,
            "similarity": round(sim, 6),
            "distance": round(1.0 - sim, 6),
        }
        copy_row = (
            hash_row[i]
            if hash_row[i] >= 0
            else (any_row[i] if any_row[i] >= 0 and any_sim[i] >= same_image_threshold else -1)
        )
        if copy_row >= 0:
            pid = int(gallery.person_ids[copy_row])
            if hash_row[i] >= 0:
                common["same_image_similarity"] = round(float(gallery.X[copy_row] @ Qn[i]), 6)
            out.append(
                Identification(
                    outcome="same_image",
                    person_id=pid if pid >= 0 else None,
                    name=name(pid),
                    confidence=1.0,
                    face_id=int(gallery.face_ids[copy_row]),
                    **common,
                )
            )
        elif has_person and s1[i] >= threshold:
            out.append(
                Identification(
                    outcome="known_person",
                    person_id=int(p1[i]),
                    name=name(int(p1[i])),
                    confidence=round(float(p_same1[i] * (1.0 - p_same2[i])), 6),
                    face_id=int(gallery.face_ids[row1[i]]),
                    **common,
                )
            )
        else:
            out.append(
                Identification(
                    outcome="stranger",
                    person_id=None,
                    name=None,
                    confidence=round(float(1.0 - p_same1[i]) if has_person else 1.0, 6),
                    face_id=int(gallery.face_ids[row1[i]]) if has_person else None,
                    **common,
                )
            )
    return out


# --------------------------------------------------------------------------- calibration
