"""Recognition on arrays: who is this face, and how sure are we.

The "Making Faces" talk sorts every query face into one of three outcomes:

* ``same_image`` - the face is (nearly) a copy of a catalogued face: its photo has the
  same content, or the cosine similarity is at least ``same_image_threshold`` (0.995).
* ``known_person`` - the most similar named person is at or above ``threshold``: the
  result gives the name, the distance, a confidence and the runner-up person.
* ``stranger`` - even the nearest named person is below ``threshold``.

Everything here takes and returns arrays (a :class:`Gallery` of vectors with their
people); :mod:`faceatlas.enroll` applies it to a catalog.

Distances are cosine distances, ``1 - similarity``, on the L2-normalised embeddings.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from faceatlas.exceptions import InputError

__all__ = [
    "OUTCOMES",
    "SAME_IMAGE_THRESHOLD",
    "Calibration",
    "Gallery",
    "Identification",
    "calibrate_threshold",
    "confidence_of",
    "identify",
    "open_set_report",
    "leave_one_person_out",
    "open_set_threshold",
    "pairs_from_labels",
    "threshold_for_fpir",
    "with_open_set_threshold",
]

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


def _check_fraction(value: Any, name: str, *, low: float = -1.0, high: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise InputError(f"{name} must be a number in [{low}, {high}], got {value!r}")
    if not low <= float(value) <= high:
        raise InputError(f"{name} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


def _as_matrix(X: Any, name: str, d: int | None = None) -> np.ndarray:
    arr = np.asarray(X, dtype=np.float32)
    if arr.ndim == 1 and name == "Q":
        arr = arr[None, :]
    if arr.ndim != 2:
        raise InputError(f"{name} must be a 2-D array of shape (n, d), got shape {arr.shape}")
    if d is not None and arr.shape[0] and arr.shape[1] != d:
        raise InputError(f"{name} must have {d} columns (the gallery's dimension), "
                         f"got {arr.shape[1]}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must hold finite numbers")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return np.ascontiguousarray(arr / np.maximum(norms, 1e-12), dtype=np.float32)


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
            raise InputError(f"person_ids must be ints of shape ({n},), got {pids.dtype} "
                             f"{pids.shape}")
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
                raise InputError(f"face_ids must be ints of shape ({n},), got {fids.dtype} "
                                 f"{fids.shape}")
            fids = fids.astype(np.int64)
        hashes = None
        if self.content_hashes is not None:
            hashes = np.asarray(list(self.content_hashes), dtype=object)
            if hashes.shape != (n,):
                raise InputError(f"content_hashes must have one entry per face ({n}), "
                                 f"got {hashes.shape}")
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


def confidence_of(similarity: Any, threshold: float, *, slope: float = DEFAULT_LOGISTIC_SLOPE,
                  intercept: float | None = None) -> np.ndarray:
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
        S = Q[start:start + _CHUNK] @ X.T
        j = np.argmax(S, axis=1)
        best[start:start + _CHUNK] = j
        sim[start:start + _CHUNK] = S[np.arange(len(S)), j]
    return best, sim


def _people_layout(gallery: Gallery) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Named faces grouped by person: (person ids, group starts, gallery rows in order)."""
    named = np.flatnonzero(gallery.person_ids >= 0)
    order = named[np.argsort(gallery.person_ids[named], kind="stable")]
    pids = gallery.person_ids[order]
    starts = np.flatnonzero(np.r_[True, pids[1:] != pids[:-1]]) if pids.size else pids
    return pids[starts], starts, order


def _per_person_top2(Q: np.ndarray, gallery: Gallery
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
        masked = np.where((cols >= starts[j1][:, None]) & (cols < ends[j1][:, None]), S,
                          -np.inf)
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
    threshold = _check_fraction(threshold, "threshold")
    same_image_threshold = _check_fraction(same_image_threshold, "same_image_threshold")
    if not isinstance(gallery, Gallery):
        raise InputError(f"gallery must be a Gallery, got {type(gallery).__name__}")
    Qn = _as_matrix(Q, "Q", gallery.dim if len(gallery) else None)
    n_q = len(Qn)
    if query_hashes is not None and len(query_hashes) != n_q:
        raise InputError(f"query_hashes must have one entry per query ({n_q}), "
                         f"got {len(query_hashes)}")

    if index is not None and len(gallery):
        top_d, top_i = index.search(Qn, 1)
        any_row, any_sim = top_i[:, 0].astype(np.int64), top_d[:, 0].astype(np.float32)
    else:
        any_row, any_sim = _top1(Qn, gallery.X)
    p1, s1, row1, p2, s2 = _per_person_top2(Qn, gallery)
    p_same1 = confidence_of(s1, threshold, slope=slope, intercept=intercept)
    p_same2 = np.where(p2 >= 0, confidence_of(s2, threshold, slope=slope, intercept=intercept),
                       0.0)

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
        common: dict[str, Any] = dict(
            nearest_person_id=int(p1[i]) if has_person else None,
            nearest_name=name(int(p1[i])),
            runner_up_person_id=runner,
            runner_up_name=name(runner) if runner is not None else None,
            runner_up_similarity=round(float(s2[i]), 6) if runner is not None else None,
            same_image_similarity=round(float(any_sim[i]), 6) if any_row[i] >= 0 else None,
            threshold=threshold, threshold_source=threshold_source,
            similarity=round(sim, 6), distance=round(1.0 - sim, 6),
        )
        copy_row = hash_row[i] if hash_row[i] >= 0 else (
            any_row[i] if any_row[i] >= 0 and any_sim[i] >= same_image_threshold else -1)
        if copy_row >= 0:
            pid = int(gallery.person_ids[copy_row])
            if hash_row[i] >= 0:
                common["same_image_similarity"] = round(float(gallery.X[copy_row] @ Qn[i]), 6)
            out.append(Identification(
                outcome="same_image", person_id=pid if pid >= 0 else None, name=name(pid),
                confidence=1.0, face_id=int(gallery.face_ids[copy_row]), **common))
        elif has_person and s1[i] >= threshold:
            out.append(Identification(
                outcome="known_person", person_id=int(p1[i]), name=name(int(p1[i])),
                confidence=round(float(p_same1[i] * (1.0 - p_same2[i])), 6),
                face_id=int(gallery.face_ids[row1[i]]), **common))
        else:
            out.append(Identification(
                outcome="stranger", person_id=None, name=None,
                confidence=round(float(1.0 - p_same1[i]) if has_person else 1.0, 6),
                face_id=int(gallery.face_ids[row1[i]]) if has_person else None, **common))
    return out


# --------------------------------------------------------------------------- calibration
@dataclass
class Calibration:
    """A same-person threshold chosen for a target false-match rate.

    Attributes
    ----------
    threshold : float
        Pairs with similarity >= threshold are called the same person.
    target_fmr : float
    fmr, tmr : float
        False- and true-match rates measured at ``threshold`` on the calibration pairs.
    fmr_resolution : float
        ``1 / n_different``: a measured FMR below it means "no false match seen", and
        the threshold is only as trustworthy as the number of different-person pairs.
    auc, eer : float
        Area under the ROC curve, equal error rate.
    slope, intercept : float
        Logistic fit of P(same | similarity) (Platt scaling), used for confidences.
    n_same, n_different : int
    roc_fmr, roc_tmr, roc_thresholds : ndarray
        The ROC curve (see :func:`faceatlas.evaluate.roc`).
    source : str
        Where the pairs came from.
    warnings : list of str
        Reasons to distrust the threshold (too few pairs for the target FMR).
    stored : bool
        Whether it was saved in a catalog.
    target_fpir, fpir : float or None
        Set when the threshold was chosen for open-set search instead (see
        :func:`with_open_set_threshold`): the false-identification rate asked for and
        the one measured, each stranger searched against everybody else.
    """

    threshold: float
    target_fmr: float
    fmr: float
    tmr: float
    fmr_resolution: float
    auc: float
    eer: float
    slope: float
    intercept: float
    n_same: int
    n_different: int
    roc_fmr: np.ndarray = field(repr=False)
    roc_tmr: np.ndarray = field(repr=False)
    roc_thresholds: np.ndarray = field(repr=False)
    source: str = "labelled pairs"
    warnings: list[str] = field(default_factory=list)
    stored: bool = False
    target_fpir: float | None = None
    fpir: float | None = None

    def summary(self) -> dict[str, Any]:
        """Everything but the ROC arrays, as plain numbers (what the catalog stores)."""
        d = {k: v for k, v in asdict(self).items() if not k.startswith("roc_")}
        return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in d.items()}

    def line(self) -> str:
        if self.target_fpir is not None:
            return (f"threshold {self.threshold:.4f} (cosine similarity) for open-set FPIR <= "
                    f"{self.target_fpir:g}: measured FPIR {self.fpir:.4g} (leave one person "
                    f"out); per pair FMR {self.fmr:.4g}, TMR {self.tmr:.4f} on {self.n_same} "
                    f"same / {self.n_different} different pairs; AUC {self.auc:.4f}")
        return (f"threshold {self.threshold:.4f} (cosine similarity) for FMR <= "
                f"{self.target_fmr:g}: measured FMR {self.fmr:.4g}, TMR {self.tmr:.4f} on "
                f"{self.n_same} same / {self.n_different} different pairs; AUC {self.auc:.4f}, "
                f"EER {self.eer:.4f}")


def calibrate_threshold(similarities: Any, same_flags: Any, target_fmr: float = 0.001, *,
                        source: str = "labelled pairs") -> Calibration:
    """Pick the lowest threshold whose false-match rate is at most ``target_fmr``.

    Parameters
    ----------
    similarities : array-like of float of shape (n_pairs,)
        Cosine similarity of each labelled pair.
    same_flags : array-like of bool of shape (n_pairs,)
        True for pairs of the same person.
    target_fmr : float in (0, 1), default=0.001
        Largest acceptable share of different-person pairs called the same.
    source : str, default="labelled pairs"

    Returns
    -------
    Calibration
    """
    from sklearn.linear_model import LogisticRegression

    from faceatlas.evaluate import equal_error_rate, roc, roc_auc, tmr_at_fmr

    if isinstance(target_fmr, bool) or not isinstance(target_fmr, numbers.Real) or not (
            0 < float(target_fmr) < 1):
        raise InputError(f"target_fmr must be a rate in (0, 1), got {target_fmr!r}")
    s = np.asarray(similarities, dtype=np.float64).ravel()
    y = np.asarray(same_flags).ravel().astype(bool)
    fmr_c, tmr_c, thr_c = roc(s, y)  # validates (both classes present, same length)
    tmr, threshold = tmr_at_fmr(s, y, float(target_fmr))
    fmr = float(np.mean(s[~y] >= threshold))
    eer, _ = equal_error_rate(s, y)
    # Platt scaling; C large: the curve's only job is to follow the data.
    lr = LogisticRegression(C=1e4).fit(s[:, None], y)
    return Calibration(
        threshold=float(threshold), target_fmr=float(target_fmr), fmr=fmr, tmr=float(tmr),
        fmr_resolution=1.0 / int((~y).sum()), auc=roc_auc(s, y), eer=float(eer),
        slope=float(lr.coef_[0, 0]), intercept=float(lr.intercept_[0]),
        n_same=int(y.sum()), n_different=int((~y).sum()),
        roc_fmr=fmr_c, roc_tmr=tmr_c, roc_thresholds=thr_c, source=source)


def with_open_set_threshold(cal: Calibration, X: Any, labels: Any, similarities: Any,
                            same_flags: Any, target_fpir: float = 0.01) -> Calibration:
    """Move a calibration's threshold to where at most ``target_fpir`` of strangers get a name.

    Each person of ``X`` plays the stranger against all the others
    (:func:`leave_one_person_out`); FMR and TMR are then re-measured on the pairs at the new
    threshold.

    Parameters
    ----------
    cal : Calibration
    X : array-like of shape (n_faces, d)
    labels : array-like of shape (n_faces,)
    similarities, same_flags : array-like of shape (n_pairs,)
        The pairs ``cal`` was made from.
    target_fpir : float in (0, 1), default=0.01

    Returns
    -------
    Calibration
        ``cal``, changed in place.
    """
    best = leave_one_person_out(X, labels)
    t = threshold_for_fpir(best, target_fpir)
    s = np.asarray(similarities, dtype=np.float64).ravel()
    y = np.asarray(same_flags).ravel().astype(bool)
    cal.threshold = t
    cal.target_fpir = float(target_fpir)
    cal.fpir = float(np.mean(best >= t))
    cal.fmr = float(np.mean(s[~y] >= t))
    cal.tmr = float(np.mean(s[y] >= t))
    if len(best) * float(target_fpir) < 1:
        cal.warnings.append(
            f"only {len(best)} faces played the stranger: an FPIR of {target_fpir:g} needs at "
            f"least {int(np.ceil(1 / float(target_fpir)))} to be measured")
    return cal


def pairs_from_labels(X: Any, labels: Any, *, max_pairs: int = 2_000_000,
                      random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Similarities and same-person flags of pairs among labelled faces.

    All pairs when there are at most ``max_pairs``; otherwise every same-person pair (up
    to half the budget) and a uniform sample of different-person pairs.

    Parameters
    ----------
    X : array-like of shape (n_faces, d)
    labels : array-like of shape (n_faces,)
    max_pairs : int, default=2_000_000
    random_state : int, default=0

    Returns
    -------
    similarities : ndarray of float32 of shape (n_pairs,)
    same : ndarray of bool of shape (n_pairs,)
    """
    Xn = _as_matrix(X, "X")
    y = np.asarray(labels)
    if y.shape != (len(Xn),):
        raise InputError(f"labels must have one entry per face ({len(Xn)}), got {y.shape}")
    n = len(Xn)
    if n * (n - 1) // 2 <= max_pairs:
        iu, ju = np.triu_indices(n, 1)
    else:
        rng = np.random.default_rng(random_state)
        same_i, same_j = [], []
        for lab in np.unique(y):
            rows = np.flatnonzero(y == lab)
            a, b = np.triu_indices(len(rows), 1)
            same_i.append(rows[a])
            same_j.append(rows[b])
        si, sj = np.concatenate(same_i), np.concatenate(same_j)
        if len(si) > max_pairs // 2:
            pick = rng.choice(len(si), max_pairs // 2, replace=False)
            si, sj = si[pick], sj[pick]
        m = max_pairs - len(si)
        di, dj = rng.integers(0, n, m), rng.integers(0, n, m)
        keep = y[di] != y[dj]
        iu, ju = np.r_[si, di[keep]], np.r_[sj, dj[keep]]
    sims = np.einsum("ij,ij->i", Xn[iu], Xn[ju])
    return sims.astype(np.float32), y[iu] == y[ju]


# --------------------------------------------------------------------------- open set
def open_set_threshold(X_strangers: Any, gallery: Gallery, target_fpir: float = 0.01) -> float:
    """Lowest threshold at which at most ``target_fpir`` of strangers get a name.

    A per-pair false-match rate understates what a search sees: a stranger is compared
    with every enrolled person and is wrongly named if *any* of them clears the
    threshold, so the false-identification rate (FPIR) grows with the gallery. This
    calibrates for the gallery at hand, from faces of people known not to be in it.

    Parameters
    ----------
    X_strangers : array-like of shape (n_strangers, d)
        Faces of people who are not in ``gallery`` (and are not the people you will
        measure on).
    gallery : Gallery
    target_fpir : float in (0, 1), default=0.01

    Returns
    -------
    float
        The threshold: strangers whose best similarity is >= it are named.
    """
    Qn = _as_matrix(X_strangers, "X_strangers", gallery.dim)
    if not len(Qn):
        raise InputError("X_strangers must hold at least one face")
    _, best, _, _, _ = _per_person_top2(Qn, gallery)
    return threshold_for_fpir(best, target_fpir)


def threshold_for_fpir(best_similarities: Any, target_fpir: float = 0.01) -> float:
    """Lowest threshold naming at most ``target_fpir`` of strangers, from their best scores.

    Parameters
    ----------
    best_similarities : array-like of float of shape (n_strangers,)
        Each stranger's similarity to its nearest enrolled person.
    target_fpir : float in (0, 1), default=0.01

    Returns
    -------
    float
    """
    if isinstance(target_fpir, bool) or not isinstance(target_fpir, numbers.Real) or not (
            0 < float(target_fpir) < 1):
        raise InputError(f"target_fpir must be a rate in (0, 1), got {target_fpir!r}")
    best = np.sort(np.asarray(best_similarities, dtype=np.float64).ravel())[::-1]
    if not best.size:
        raise InputError("best_similarities must hold at least one stranger")
    allowed = int(np.floor(float(target_fpir) * len(best)))
    # Just above the (allowed + 1)-th highest stranger score: that one and all below it are
    # rejected, at most `allowed` above are accepted. The step is a float32 one, because
    # similarities are float32 and a float64 step would round back onto the score.
    if allowed >= len(best):
        return float(best[-1])
    return float(np.nextafter(np.float32(best[allowed]), np.float32(np.inf)))


def leave_one_person_out(X: Any, labels: Any) -> np.ndarray:
    """Each face's best similarity to a face of any *other* person.

    Every person in turn plays the stranger against everybody else: the scores an
    open-set threshold must reject (see :func:`threshold_for_fpir`).

    Parameters
    ----------
    X : array-like of shape (n_faces, d)
    labels : array-like of shape (n_faces,)

    Returns
    -------
    ndarray of float32 of shape (n_faces,)
    """
    Xn = _as_matrix(X, "X")
    y = np.asarray(labels)
    if y.shape != (len(Xn),):
        raise InputError(f"labels must have one entry per face ({len(Xn)}), got {y.shape}")
    out = np.full(len(Xn), -np.inf, np.float32)
    for start in range(0, len(Xn), _CHUNK):
        S = Xn[start:start + _CHUNK] @ Xn.T
        S[y[start:start + _CHUNK, None] == y[None, :]] = -np.inf
        out[start:start + _CHUNK] = S.max(axis=1)
    return out


def open_set_report(Q: Any, probe_labels: Any, gallery: Gallery, threshold: float
                    ) -> dict[str, Any]:
    """How often strangers are wrongly named, and known people rightly named.

    Parameters
    ----------
    Q : array-like of shape (n_probes, d)
    probe_labels : array-like of int of shape (n_probes,)
        The true person id of each probe; an id absent from the gallery is a stranger.
    gallery : Gallery
        Only its named faces are used.
    threshold : float

    Returns
    -------
    dict
        ``rank1`` (closed-set, over known probes) and the rates of
        :func:`faceatlas.evaluate.open_set_rates` (``identification_rate``,
        ``stranger_rejection_rate``, ``false_identification_rate`` ...) at ``threshold``.
    """
    from faceatlas.evaluate import open_set_rates, rank1_accuracy

    threshold = _check_fraction(threshold, "threshold")
    Qn = _as_matrix(Q, "Q", gallery.dim)
    y = np.asarray(probe_labels)
    if y.shape != (len(Qn),):
        raise InputError(f"probe_labels must have one entry per probe ({len(Qn)}), "
                         f"got {y.shape}")
    people, starts, order = _people_layout(gallery)
    if people.size == 0:
        raise InputError("the gallery names nobody: enrol people first")
    Xn = gallery.X[order]
    P = np.concatenate([np.maximum.reduceat(Qn[i:i + _CHUNK] @ Xn.T, starts, axis=1)
                        for i in range(0, len(Qn), _CHUNK)]) if len(Qn) else np.zeros(
        (0, people.size), np.float32)
    return {"threshold": threshold, "rank1": rank1_accuracy(P, people, y),
            **open_set_rates(P, people, y, threshold)}


