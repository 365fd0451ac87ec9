"""SFace (Apache-2.0): 128-d face embeddings from OpenCV's model zoo, 99.40 % on LFW pairs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from faceatlas import models
from faceatlas.detect import Detections
from faceatlas.embed.base import aligned_chips, check_chips, l2_normalize


@dataclass
class SFaceEmbedder:
    """SFace through ``cv2.FaceRecognizerSF`` on 112x112 five-point aligned chips.

    The threshold 0.363 is OpenCV's published same-person cosine threshold for SFace on LFW.
    """

    name: str = field(default="sface", init=False)
    version: str = field(default="2021dec-int8bq", init=False)
    dim: int = field(default=128, init=False)
    threshold: float = field(default=0.363, init=False)
    threshold_source: str = field(
        default="SFace's published same-person cosine threshold on LFW (OpenCV)", init=False)
    _net: object = field(default=None, init=False, repr=False)

    def chips(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        return aligned_chips(image, detections, 112)

    def embed(self, chips: np.ndarray) -> np.ndarray:
        chips = check_chips(chips, 112)
        if self._net is None:
            import cv2

            self._net = cv2.FaceRecognizerSF.create(str(models.sface_path()), "")
        if len(chips) == 0:
            return np.zeros((0, self.dim), np.float32)
        # SFace was trained on BGR chips, as OpenCV reads images.
        out = [self._net.feature(np.ascontiguousarray(c[:, :, ::-1])).reshape(-1) for c in chips]
        return l2_normalize(np.stack(out))
