"""A model-free embedder for tests: a tiny grey thumbnail of the chip, L2-normalised."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from faceatlas.detect import Detections
from faceatlas.embed.base import aligned_chips, check_chips, l2_normalize


@dataclass
class FakeEmbedder:
    """Mean-centred 4x4 grey thumbnail (16-d): identical chips give identical vectors."""

    name: str = field(default="fake", init=False)
    version: str = field(default="1", init=False)
    dim: int = field(default=16, init=False)
    threshold: float = field(default=0.9, init=False)
    threshold_source: str = field(default="arbitrary (test embedder)", init=False)

    def chips(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        return aligned_chips(image, detections, 112)

    def embed(self, chips: np.ndarray) -> np.ndarray:
        chips = check_chips(chips)
        if len(chips) == 0:
            return np.zeros((0, self.dim), np.float32)
        n, s = chips.shape[:2]
        grey = chips.mean(axis=3)
        cell = s // 4
        thumb = grey[:, : cell * 4, : cell * 4].reshape(n, 4, cell, 4, cell).mean(axis=(2, 4))
        flat = thumb.reshape(n, 16)
        flat = flat - flat.mean(axis=1, keepdims=True) + 1e-3
        return l2_normalize(flat)
