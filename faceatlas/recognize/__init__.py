"""Recognition on arrays: who is this face, and how sure are we.

The "Making Faces" talk sorts every query face into one of three outcomes:

* ``same_image`` - the face is (nearly) a copy of a catalogued face: its photo has the
  same content, or the cosine similarity is at least ``same_image_threshold`` (0.995).
* ``known_person`` - the most similar named person is at or above ``threshold``: the
  result gives the name, the distance, a confidence and the runner-up person.
* ``stranger`` - even the nearest named person is below ``threshold``.

Everything here takes and returns arrays (a :class:`Gallery` of vectors with their
people); :mod:`faceatlas.known` applies it to a catalog.

Distances are cosine distances, ``1 - similarity``, on the L2-normalised embeddings.
"""

from __future__ import annotations

from faceatlas.recognize._calibrate import (
    Calibration,
    calibrate_threshold,
    leave_one_person_out,
    open_set_report,
    open_set_threshold,
    pairs_from_labels,
    threshold_for_fpir,
    with_open_set_threshold,
)
from faceatlas.recognize._identify import (
    DEFAULT_LOGISTIC_SLOPE,
    OUTCOMES,
    SAME_IMAGE_THRESHOLD,
    Gallery,
    Identification,
    confidence_of,
    identify,
)

__all__ = [
    "DEFAULT_LOGISTIC_SLOPE",
    "OUTCOMES",
    "SAME_IMAGE_THRESHOLD",
    "Calibration",
    "Gallery",
    "Identification",
    "calibrate_threshold",
    "confidence_of",
    "identify",
    "leave_one_person_out",
    "open_set_report",
    "open_set_threshold",
    "pairs_from_labels",
    "threshold_for_fpir",
    "with_open_set_threshold",
]
