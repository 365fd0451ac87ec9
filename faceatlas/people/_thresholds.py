"""The same-person thresholds of the people workflow, by the precedence of :mod:`faceatlas.policy`.

The workflow brings one source of its own to the precedence's third rung ("derived from the
catalog"): a threshold calibrated on the catalog's confirmed faces, once there are enough.
It decides when a new face joins an existing person, the one place where the faces compared
against are confirmed ones. Grouping unknown faces among themselves uses the threshold
without it: a bar fitted to people the user confirmed says little about strangers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from faceatlas.policy import Threshold, same_person_threshold

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog

#: Fewest same-person and different-person pairs among the catalog's confirmed faces for
#: a threshold calibrated on them to replace the embedder's published one. 1,000
#: different pairs resolve a false-match rate of 0.001, the rate the calibration targets.
CALIBRATION_MIN_SAME = 50
CALIBRATION_MIN_DIFFERENT = 1000
CALIBRATION_TARGET_FMR = 0.001


def _calibrated_threshold(X: np.ndarray, pinned_person: np.ndarray) -> tuple[float, str] | None:
    """Same-person threshold from the catalog's own confirmed faces, when there are enough.

    ``pinned_person`` holds each row's confirmed person, -1 for rows without one. Returns
    ``(value, source)``, or None when the confirmed faces are too few to calibrate on.
    """
    ok = pinned_person >= 0
    if ok.sum() < 3 or np.unique(pinned_person[ok]).size < 2:
        return None
    from faceatlas.recognize import calibrate_threshold, pairs_from_labels

    sims, same = pairs_from_labels(X[ok], pinned_person[ok], max_pairs=200_000)
    n_same, n_diff = int(same.sum()), int((~same).sum())
    if n_same < CALIBRATION_MIN_SAME or n_diff < CALIBRATION_MIN_DIFFERENT:
        return None
    cal = calibrate_threshold(
        sims, same, CALIBRATION_TARGET_FMR, source="the catalog's confirmed faces"
    )
    # The lowest threshold meeting the target sits right above the worst impostor pair
    # seen; when the confirmed people are well apart, the middle of the gap up to the
    # nearest same-person pair above it is the safer bar (on overlapping data the two
    # coincide).
    above = sims[same & (sims >= cal.threshold)]
    t = (cal.threshold + float(above.min())) / 2 if above.size else cal.threshold
    return float(t), (
        f"calibrated on the catalog's confirmed faces ({n_same} same "
        f"/ {n_diff} different pairs, FMR <= {CALIBRATION_TARGET_FMR:g})"
    )


def cluster_thresholds(
    catalog: Catalog,
    embedder: str,
    threshold: float | None,
    X: np.ndarray,
    pinned_person: np.ndarray,
) -> tuple[Threshold, Threshold]:
    """The grouping threshold and the joining threshold of one cluster run.

    Both follow :func:`faceatlas.policy.same_person_threshold` (explicit, then a stored
    calibration, then the published one); the joining threshold also hears the catalog's
    confirmed faces (:func:`_calibrated_threshold`) before the published one.
    """
    group = same_person_threshold(catalog, embedder, threshold)
    if threshold is not None or group.calibration is not None:
        return group, group  # a higher rung than the derived one decides: skip the work
    derived = _calibrated_threshold(X, pinned_person)
    return group, same_person_threshold(catalog, embedder, threshold, derived=derived)
