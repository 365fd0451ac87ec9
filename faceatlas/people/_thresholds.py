"""The same-person thresholds of the people workflow, by the precedence of :mod:`faceatlas.policy`.

The precedence's third rung ("derived from the catalog": a threshold calibrated on the
catalog's confirmed faces, once there are enough) lives in :mod:`faceatlas.policy`, so
``cluster`` groups and joins at the threshold ``who``, ``similar`` and ``suggest`` use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from faceatlas.policy import (  # noqa: F401 - re-exported for older callers
    CALIBRATION_MIN_DIFFERENT,
    CALIBRATION_MIN_SAME,
    CALIBRATION_TARGET_FMR,
    Threshold,
    _calibrated_threshold,
    same_person_threshold,
)

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog


def cluster_thresholds(
    catalog: Catalog,
    embedder: str,
    threshold: float | None,
    X: np.ndarray,
    pinned_person: np.ndarray,
) -> tuple[Threshold, Threshold]:
    """The grouping threshold and the joining threshold of one cluster run: one value.

    :func:`faceatlas.policy.same_person_threshold`'s (explicit, then a stored calibration,
    then one calibrated on the catalog's confirmed faces, then the published one), the
    same ``who``, ``similar`` and ``suggest`` use; both are returned for the summary.
    """
    # One threshold (issue 12): grouping and joining use what who, similar and suggest
    # use; the arrays already loaded here spare policy reading them again.
    if threshold is not None:
        t = same_person_threshold(catalog, embedder, threshold)
        return t, t
    derived = _calibrated_threshold(X, pinned_person)
    t = same_person_threshold(catalog, embedder, derived=derived, derive=False)
    return t, t
