"""Thresholds for recognition: fitted to pairs (verification) or to strangers (open set).

:func:`calibrate_threshold` fits the same-person threshold and a logistic to labelled
pairs; :func:`open_set_threshold` / :func:`threshold_for_fpir` pick the threshold that
lets a given fraction of strangers through; :func:`open_set_report` measures a gallery.
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from faceatlas._validation import check_number
from faceatlas.exceptions import InputError
from faceatlas.recognize._identify import (
    _CHUNK,
    Gallery,
    _as_matrix,
    _people_layout,
    _per_person_top2,
)


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
    dropped : list of (int, str)
        Pairs of a pairs file left out, as (line in the file, reason); filled by
        :func:`faceatlas.known.calibrate`. Not stored with the threshold.
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
    dropped: list[tuple[int, str]] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, Any]:
        """Everything but the ROC arrays and the dropped pairs, as plain numbers (what the
        catalog stores)."""
        d = {k: v for k, v in asdict(self).items() if not k.startswith("roc_") and k != "dropped"}
        return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in d.items()}

    def line(self) -> str:
        if self.target_fpir is not None:
            return (
                f"threshold {self.threshold:.4f} (cosine similarity) for open-set FPIR <= "
                f"{self.target_fpir:g}: measured FPIR {self.fpir:.4g} (leave one person "
                f"out); per pair FMR {self.fmr:.4g}, TMR {self.tmr:.4f} on {self.n_same} "
                f"same / {self.n_different} different pairs; AUC {self.auc:.4f}"
            )
        return (
            f"threshold {self.threshold:.4f} (cosine similarity) for FMR <= "
            f"{self.target_fmr:g}: measured FMR {self.fmr:.4g}, TMR {self.tmr:.4f} on "
            f"{self.n_same} same / {self.n_different} different pairs; AUC {self.auc:.4f}, "
            f"EER {self.eer:.4f}"
        )


def calibrate_threshold(
    similarities: Any, same_flags: Any, target_fmr: float = 0.001, *, source: str = "labelled pairs"
) -> Calibration:
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

    if (
        isinstance(target_fmr, bool)
        or not isinstance(target_fmr, numbers.Real)
        or not (0 < float(target_fmr) < 1)
    ):
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
        threshold=float(threshold),
        target_fmr=float(target_fmr),
        fmr=fmr,
        tmr=float(tmr),
        fmr_resolution=1.0 / int((~y).sum()),
        auc=roc_auc(s, y),
        eer=float(eer),
        slope=float(lr.coef_[0, 0]),
        intercept=float(lr.intercept_[0]),
        n_same=int(y.sum()),
        n_different=int((~y).sum()),
        roc_fmr=fmr_c,
        roc_tmr=tmr_c,
        roc_thresholds=thr_c,
        source=source,
    )


def with_open_set_threshold(
    cal: Calibration,
    X: Any,
    labels: Any,
    similarities: Any,
    same_flags: Any,
    target_fpir: float = 0.01,
) -> Calibration:
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
            f"least {int(np.ceil(1 / float(target_fpir)))} to be measured"
        )
    return cal


def pairs_from_labels(
    X: Any, labels: Any, *, max_pairs: int = 2_000_000, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
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
    if (
        isinstance(target_fpir, bool)
        or not isinstance(target_fpir, numbers.Real)
        or not (0 < float(target_fpir) < 1)
    ):
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
        S = Xn[start : start + _CHUNK] @ Xn.T
        S[y[start : start + _CHUNK, None] == y[None, :]] = -np.inf
        out[start : start + _CHUNK] = S.max(axis=1)
    return out


def open_set_report(
    Q: Any, probe_labels: Any, gallery: Gallery, threshold: float
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

    threshold = check_number(threshold, "threshold", -1.0, 1.0)
    Qn = _as_matrix(Q, "Q", gallery.dim)
    y = np.asarray(probe_labels)
    if y.shape != (len(Qn),):
        raise InputError(f"probe_labels must have one entry per probe ({len(Qn)}), got {y.shape}")
    people, starts, order = _people_layout(gallery)
    if people.size == 0:
        raise InputError("the gallery names nobody: enrol people first")
    Xn = gallery.X[order]
    P = (
        np.concatenate(
            [
                np.maximum.reduceat(Qn[i : i + _CHUNK] @ Xn.T, starts, axis=1)
                for i in range(0, len(Qn), _CHUNK)
            ]
        )
        if len(Qn)
        else np.zeros((0, people.size), np.float32)
    )
    return {
        "threshold": threshold,
        "rank1": rank1_accuracy(P, people, y),
        **open_set_rates(P, people, y, threshold),
    }
