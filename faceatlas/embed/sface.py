"""SFace (Apache-2.0): 128-d face embeddings from OpenCV's model zoo, 99.40 % on LFW pairs.

Two backends run the same weights:

- ``opencv``: ``cv2.FaceRecognizerSF`` on the shipped int8 block-quantized file.
- ``openvino``: the same file with its weights dequantized once into a plain fp32 ONNX
  graph (cached in the user's cache folder; nothing is downloaded), run by OpenVINO.
  Measured 2-3x faster per face on one core (see docs/benchmarks.md), with embeddings at
  cosine >= 0.9998 to OpenCV's, so vectors of both backends are comparable.

``backend="auto"`` takes OpenVINO when it is installed, else OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from faceatlas import models
from faceatlas.detect import Detections
from faceatlas.embed.base import aligned_chips, check_chips, l2_normalize
from faceatlas.exceptions import InputError, ModelNotFoundError

#: OpenCV's published same-person cosine threshold for SFace on LFW: the one place this
#: number is written (clustering's default bar and the policy's last resort read it here).
PUBLISHED_THRESHOLD = 0.363


@dataclass
class SFaceEmbedder:
    """SFace on 112x112 five-point aligned chips.

    Parameters
    ----------
    backend : {"auto", "opencv", "openvino"}, default "auto"

    Notes
    -----
    The threshold 0.363 is OpenCV's published same-person cosine threshold for SFace on LFW.
    """

    backend: str = "auto"
    name: str = field(default="sface", init=False)
    version: str = field(default="2021dec-int8bq", init=False)
    dim: int = field(default=128, init=False)
    threshold: float = field(default=PUBLISHED_THRESHOLD, init=False)
    threshold_source: str = field(
        default="SFace's published same-person cosine threshold on LFW (OpenCV)", init=False
    )
    _run: object = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.backend not in ("auto", "opencv", "openvino"):
            raise InputError(
                f"backend must be 'auto', 'opencv' or 'openvino', got {self.backend!r}"
            )

    def chips(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        return aligned_chips(image, detections, 112)

    @property
    def active_backend(self) -> str:
        if self.backend == "auto":
            return "openvino" if models.openvino_available() else "opencv"
        return self.backend

    def _load(self):
        if self._run is not None:
            return self._run
        if self.active_backend == "openvino":
            if not models.openvino_available():
                raise ModelNotFoundError("the openvino backend needs `pip install openvino onnx`")
            request = models.openvino_request(models.sface_path(), "sface_2021dec_fp32.onnx")

            def run(chips: np.ndarray) -> np.ndarray:
                # The graph takes RGB NCHW in 0..255 (OpenCV swaps BGR to RGB before it).
                blob = chips.transpose(0, 3, 1, 2).astype(np.float32)
                return np.concatenate(
                    [request.infer({0: blob[i : i + 1]})[0] for i in range(len(blob))]
                )
        else:
            import cv2

            net = cv2.FaceRecognizerSF.create(str(models.sface_path()), "")

            def run(chips: np.ndarray) -> np.ndarray:
                # OpenCV's API takes BGR chips, as it reads images.
                return np.stack(
                    [net.feature(np.ascontiguousarray(c[:, :, ::-1])).reshape(-1) for c in chips]
                )

        self._run = run
        return run

    def embed(self, chips: np.ndarray) -> np.ndarray:
        chips = check_chips(chips, 112)
        if len(chips) == 0:
            return np.zeros((0, self.dim), np.float32)
        return l2_normalize(self._load()(chips))
