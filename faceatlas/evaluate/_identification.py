"""Identification metrics: probes against a gallery, closed set (rank-1) and open set."""

from __future__ import annotations

from typing import Any

import numpy as np

from faceatlas.exceptions import InputError


def _check_ident(
    similarities: Any, gallery_labels: Any, probe_labels: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(similarities, dtype=np.float64)
    g = np.asarray(gallery_labels).ravel()
    p = np.asarray(probe_labels).ravel()
    if s.ndim != 2 or s.shape != (p.size, g.size):
        raise InputError(
            "similarities must have shape (n_probes, n_gallery) = "
            f"({p.size}, {g.size}), got {s.shape}"
        )
    if g.size == 0:
        raise InputError("the gallery must hold at least one face")
    return s, g, p


def rank1_accuracy(similarities: Any, gallery_labels: Any, probe_labels: Any) -> float:
    """Closed-set rank-1 accuracy: the most similar gallery face is the probe's person.

    Parameters
    ----------
    similarities : array-like of shape (n_probes, n_gallery)
        Similarity of each probe to each gallery face (a person may have several).
    gallery_labels : array-like of shape (n_gallery,)
    probe_labels : array-like of shape (n_probes,)
        Probes whose person is not in the gallery are left out (closed set).

    Returns
    -------
    float
        ``nan`` when no probe's person is in the gallery.
    """
    s, g, p = _check_ident(similarities, gallery_labels, probe_labels)
    known = np.isin(p, g)
    if not known.any():
        return float("nan")
    best = g[np.argmax(s[known], axis=1)]
    return float(np.mean(best == p[known]))


def open_set_rates(
    similarities: Any, gallery_labels: Any, probe_labels: Any, threshold: float
) -> dict[str, float]:
    """Open-set identification: accept the best gallery match only above a threshold.

    Parameters
    ----------
    similarities : array-like of shape (n_probes, n_gallery)
    gallery_labels : array-like of shape (n_gallery,)
    probe_labels : array-like of shape (n_probes,)
        A probe whose person is not in the gallery is a stranger.
    threshold : float
        A probe is identified when its best similarity is >= threshold, else rejected.

    Returns
    -------
    dict
        ``identification_rate``: known probes identified as the right person (NIST's
        1 - FNIR); ``wrong_identification_rate``: known probes accepted as someone else;
        ``false_rejection_rate``: known probes rejected; ``stranger_rejection_rate``:
        strangers rejected; ``false_identification_rate``: strangers accepted as someone
        (NIST's FPIR, 1 - stranger rejection); ``n_known`` and ``n_strangers``. A rate
        over an empty group is ``nan``.
    """
    s, g, p = _check_ident(similarities, gallery_labels, probe_labels)
    known = np.isin(p, g)
    top = np.argmax(s, axis=1)
    score = s[np.arange(s.shape[0]), top]
    accepted = score >= threshold
    right = g[top] == p

    def rate(mask: np.ndarray, of: np.ndarray) -> float:
        return float(np.mean(mask[of])) if of.any() else float("nan")

    strangers = ~known
    return {
        "identification_rate": rate(accepted & right, known),
        "wrong_identification_rate": rate(accepted & ~right, known),
        "false_rejection_rate": rate(~accepted, known),
        "stranger_rejection_rate": rate(~accepted, strangers),
        "false_identification_rate": rate(accepted, strangers),
        "n_known": int(known.sum()),
        "n_strangers": int(strangers.sum()),
    }
