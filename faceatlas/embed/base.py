"""The Embedder protocol and helpers shared by every embedder."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from faceatlas.align import align_face
from faceatlas.detect import Detections
from faceatlas.exceptions import InputError


@runtime_checkable
class Embedder(Protocol):
    """Turns face chips into L2-normalised float32 vectors.

    Attributes
    ----------
    name, version : str
        Stored next to every vector; vectors of different name/version are never compared.
    dim : int
        Length of each vector.
    threshold : float
        Cosine similarity at or above which two faces are called the same person.
    threshold_source : str
        Where ``threshold`` comes from, shown to users.
    """

    name: str
    version: str
    dim: int
    threshold: float
    threshold_source: str

    def chips(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        """Cut and align the faces of one image: ``(n, s, s, 3)`` uint8 RGB."""
        ...

    def embed(self, chips: np.ndarray) -> np.ndarray:
        """Vectors of shape ``(n, dim)``, float32, unit length."""
        ...


def l2_normalize(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return (X / np.maximum(norms, 1e-12)).astype(np.float32)


def aligned_chips(image: np.ndarray, detections: Detections, size: int = 112) -> np.ndarray:
    """Five-point aligned chips of every detected face, ``(n, size, size, 3)``."""
    if len(detections) == 0:
        return np.zeros((0, size, size, 3), np.uint8)
    return np.stack([align_face(image, lm, size=size) for lm in detections.landmarks])


def check_chips(chips: np.ndarray, size: int | None = None) -> np.ndarray:
    """Validate a chip batch at the public boundary."""
    chips = np.asarray(chips)
    if chips.dtype != np.uint8 or chips.ndim != 4 or chips.shape[3] != 3:
        raise InputError(
            f"chips must be uint8 of shape (n, s, s, 3), got {chips.dtype} {chips.shape}"
        )
    if size is not None and chips.shape[1:3] != (size, size):
        raise InputError(f"chips must be {size}x{size}, got {chips.shape[1]}x{chips.shape[2]}")
    return chips
