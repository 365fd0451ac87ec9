"""Verification metrics: pairs of faces, one similarity and one same/different flag each."""

from __future__ import annotations

from typing import Any

import numpy as np

from faceatlas._validation import check_int
from faceatlas.exceptions import InputError


def _check_pairs(similarities: Any, same: Any) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(similarities, dtype=np.float64).ravel()
    y = np.asarray(same).ravel()
    if s.shape != y.shape:
        raise InputError(
            f"similarities and same must have the same length, got {s.size} and {y.size}"
        )
    if not np.all(np.isfinite(s)):
        raise InputError("similarities must be finite numbers")
    y = y.astype(bool)
    if y.all() or not y.any():
        raise InputError("same must contain both same-person (True) and different (False) pairs")
    return s, y


def roc(similarities: Any, same: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve of a verifier: a pair is called "same" when its similarity >= threshold.

    Parameters
    ----------
    similarities : array-like of float of shape (n_pairs,)
        Cosine similarity of each pair.
    same : array-like of bool of shape (n_pairs,)
        True for pairs of the same person.

    Returns
    -------
    fmr : ndarray of shape (n_thresholds,)
        False-match rate (false positive rate) at each threshold, increasing.
    tmr : ndarray of shape (n_thresholds,)
        True-match rate (true positive rate).
    thresholds : ndarray of shape (n_thresholds,)
        Decreasing; the first is ``inf``.
    """
    # scikit-learn costs about a second to import: only when a curve is asked for.
    from sklearn.metrics import roc_curve

    s, y = _check_pairs(similarities, same)
    fmr, tmr, thr = roc_curve(y, s, drop_intermediate=False)
    return fmr, tmr, thr


def roc_auc(similarities: Any, same: Any) -> float:
    """Area under the ROC curve.

    Parameters
    ----------
    similarities : array-like of float of shape (n_pairs,)
    same : array-like of bool of shape (n_pairs,)

    Returns
    -------
    float
    """
    from sklearn.metrics import auc

    fmr, tmr, _ = roc(similarities, same)
    return float(auc(fmr, tmr))


def equal_error_rate(similarities: Any, same: Any) -> tuple[float, float]:
    """Equal error rate: where the false-match and false-non-match rates cross.

    Parameters
    ----------
    similarities : array-like of float of shape (n_pairs,)
    same : array-like of bool of shape (n_pairs,)

    Returns
    -------
    eer : float
        Linearly interpolated between the two ROC points around the crossing.
    threshold : float
        The similarity threshold at the ROC point nearest the crossing.
    """
    fmr, tmr, thr = roc(similarities, same)
    fnmr = 1.0 - tmr
    diff = fmr - fnmr  # increasing from -1 to +1
    i = int(np.searchsorted(diff, 0.0))
    i = min(max(i, 1), diff.size - 1)
    d0, d1 = diff[i - 1], diff[i]
    w = 0.0 if d1 == d0 else -d0 / (d1 - d0)
    eer = float(fmr[i - 1] + w * (fmr[i] - fmr[i - 1]))
    j = i if abs(d1) <= abs(d0) else i - 1
    t = float(thr[j]) if np.isfinite(thr[j]) else float(thr[i])
    return eer, t


def tmr_at_fmr(similarities: Any, same: Any, fmr: float = 1e-3) -> tuple[float, float]:
    """True-match rate at a false-match rate no higher than ``fmr``.

    Parameters
    ----------
    similarities : array-like of float of shape (n_pairs,)
    same : array-like of bool of shape (n_pairs,)
    fmr : float, default=1e-3
        Largest acceptable false-match rate, in [0, 1].

    Returns
    -------
    tmr : float
        Highest true-match rate whose false-match rate is <= ``fmr``.
    threshold : float
        The lowest similarity threshold achieving it (pairs >= threshold are "same").
    """
    if not 0.0 <= float(fmr) <= 1.0:
        raise InputError(f"fmr must be a rate in [0, 1], got {fmr}")
    rates, tmr, thr = roc(similarities, same)
    ok = np.flatnonzero(rates <= fmr)
    i = int(ok[-1])
    t = float(thr[i]) if np.isfinite(thr[i]) else float(np.nextafter(thr[1], np.inf))
    return float(tmr[i]), t


def _best_threshold(s: np.ndarray, y: np.ndarray) -> float:
    """Threshold maximising accuracy of ``s >= t``; midpoint between neighbouring scores."""
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    # accepting the top i pairs: correct = positives among them + negatives below
    tp = np.concatenate([[0], np.cumsum(y_sorted)])
    fp = np.concatenate([[0], np.cumsum(~y_sorted)])
    correct = tp + (int((~y).sum()) - fp)
    # only cut between distinct scores
    valid = np.ones(s.size + 1, dtype=bool)
    valid[1:-1] = s_sorted[:-1] != s_sorted[1:]
    correct = np.where(valid, correct, -1)
    i = int(np.argmax(correct))
    if i == 0:
        return float(np.nextafter(s_sorted[0], np.inf))
    if i == s.size:
        return float(s_sorted[-1])
    return float((s_sorted[i - 1] + s_sorted[i]) / 2.0)


def kfold_verification_accuracy(
    similarities: Any, same: Any, *, n_folds: int = 10, folds: Any = None
) -> dict[str, Any]:
    """Verification accuracy by the LFW protocol.

    For each fold, the threshold that maximises accuracy on the other folds is applied to
    it; the result is the mean and standard deviation of the fold accuracies.

    Parameters
    ----------
    similarities : array-like of float of shape (n_pairs,)
    same : array-like of bool of shape (n_pairs,)
    n_folds : int, default=10
        LFW's ``pairs.txt`` has 10 folds of 600 consecutive pairs, so the default splits
        the pairs into 10 consecutive blocks of equal size.
    folds : array-like of int of shape (n_pairs,), optional
        Explicit fold index of each pair; overrides ``n_folds``.

    Returns
    -------
    dict
        ``mean`` and ``std`` (population std, as LFW results quote) of the fold
        accuracies, ``accuracies`` and ``thresholds`` (one per fold, lists).
    """
    s, y = _check_pairs(similarities, same)
    if folds is None:
        n_folds = check_int(n_folds, "n_folds", low=2, high=s.size)
        folds = np.repeat(np.arange(n_folds), [len(b) for b in np.array_split(s, n_folds)])
    else:
        folds = np.asarray(folds).ravel()
        if folds.shape != s.shape:
            raise InputError(f"folds must have one entry per pair, got {folds.size}")
        n_distinct = np.unique(folds).size
        if n_distinct < 2:
            # each fold's threshold is chosen on the other folds: one fold leaves none
            raise InputError(
                f"folds must hold at least 2 distinct folds (each fold's threshold is chosen "
                f"on the others), got {n_distinct}"
            )
    accs, thrs = [], []
    for f in np.unique(folds):
        test = folds == f
        t = _best_threshold(s[~test], y[~test])
        accs.append(float(np.mean((s[test] >= t) == y[test])))
        thrs.append(t)
    return {
        "mean": float(np.mean(accs)),
        "std": float(np.std(accs)),
        "accuracies": accs,
        "thresholds": thrs,
    }
