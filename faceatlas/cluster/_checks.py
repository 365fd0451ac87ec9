"""The package's argument checks, over :mod:`faceatlas._validation`, and the default bar.

Every clustering function validates its inputs here, so that a method, ``knn_graph`` and
``enforce_cannot_link`` refuse the same things with the same messages.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from faceatlas._validation import check_embeddings, check_number
from faceatlas.embed.sface import PUBLISHED_THRESHOLD
from faceatlas.exceptions import InputError

#: SFace's published same-person cosine threshold (OpenCV's model zoo, LFW verification);
#: the value is written once, in :mod:`faceatlas.embed.sface`.
DEFAULT_THRESHOLD = PUBLISHED_THRESHOLD


def check_X(X: Any, name: str = "X") -> np.ndarray:
    """Embeddings as C-contiguous float32 rows of unit length; empty and all-zero refused."""
    return check_embeddings(X, name, allow_empty=False, zero_rows="error")


def check_pairs(pairs: Any, n: int, name: str) -> np.ndarray:
    if pairs is None:
        return np.empty((0, 2), dtype=np.int64)
    a = np.asarray(pairs)
    if a.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    if a.ndim != 2 or a.shape[1] != 2 or a.dtype.kind not in "iu":
        raise InputError(f"{name} must be an int array of shape (m, 2), got {a.dtype} {a.shape}")
    a = a.astype(np.int64)
    if a.min() < 0 or a.max() >= n:
        raise InputError(f"{name} indices must be in [0, {n - 1}], got {a.min()}..{a.max()}")
    return a


def check_threshold(threshold: Any, name: str = "threshold") -> float:
    """A cosine similarity in [-1, 1]; ``None`` is ``DEFAULT_THRESHOLD``."""
    if threshold is None:
        return DEFAULT_THRESHOLD
    return check_number(threshold, name, -1.0, 1.0, what="a cosine similarity")
