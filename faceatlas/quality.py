"""Face quality with reasons: size, sharpness, pose, detector score, brightness -> a verdict.

Every detected face is kept and stored; the verdict says whether it is good enough to be used
for recognition (to found or bridge a person, to be a reference), and if not, why. The bars
are settings (``ScanConfig.min_face_size`` and friends); their defaults below say where they
come from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Where the defaults come from: `python bench/album.py sizes --pairs 200` (docs/benchmarks.md,
# "Real photos (issue 11)"): SFace's same/different accuracy at its published threshold on 200
# LFW pairs (pairs.txt) with both photos shrunk, blurred or darkened, and what this module
# measures on those faces.
#
# Face width (px in the photo; the box's shorter side). Accuracy is 0.985-1.000 from full size
# (94 px) down to 32 px, then 0.960 at 24 px and 0.923 at 20 px.
MIN_FACE_SIZE = 32.0
# Variance of the Laplacian of the 112 px grey chip. A Gaussian blur of 2 px (in the 250 px
# photo) brings the median face to 16 and costs 1.5 points of accuracy, 3 px brings it to 8 and
# costs 4.5 points; sharp faces 24 px and up have a 1st percentile of 12. The measure also falls
# with contrast (darkened faces that still recognise score ~15), so the bar sits low.
MIN_SHARPNESS = 10.0
# Turn of the head from the five landmarks (see `pose`). Not measured on real data (LFW and
# Yale hold almost no profiles): geometric, past ~45 degrees one eye hides behind the nose and
# the five-point alignment folds the face.
MAX_YAW_DEG = 45.0
# YuNet's score: real faces of 24 px and up score 0.84 or more (1st percentile; 0.90 at full
# size, median 0.93); a lower score means the detector itself doubts the face.
MIN_SCORE = 0.8
# Mean luminance (0-255) of the chip's centre. LFW faces: 1st percentile 78, median 139;
# darkened to a median of 32 they still recognise as well (0.985), to 16 they lose 2 points.
MIN_BRIGHTNESS = 20.0

REASONS = ("too small", "blurred", "profile", "low score", "too dark")


@dataclass(frozen=True)
class QualityBars:
    """The bars a face must clear to be usable for recognition."""

    min_face_size: float = MIN_FACE_SIZE
    min_sharpness: float = MIN_SHARPNESS
    max_yaw_deg: float = MAX_YAW_DEG
    min_score: float = MIN_SCORE
    min_brightness: float = MIN_BRIGHTNESS


@dataclass(frozen=True)
class FaceQuality:
    """What was measured on one face, and the verdict."""

    size: float  # shorter side of the box, px in the photo
    sharpness: float
    yaw_deg: float  # signed, approximate
    roll_deg: float  # tilt of the eye line
    score: float
    brightness: float
    usable: bool
    reason: str  # "" when usable, else the reasons joined by ", "


def pose(landmarks: np.ndarray) -> tuple[float, float]:
    """Approximate ``(yaw, roll)`` in degrees from YuNet's five landmarks.

    Roll is the angle of the eye line. Yaw comes from how far the nose tip sits from the
    middle of the eyes, in units of the eye distance, after removing the roll: with the nose
    tip about half an eye distance in front of the eyes, that offset is ``0.5 * tan(yaw)``.
    """
    p = np.asarray(landmarks, np.float64).reshape(5, 2)
    left, right, nose = p[0], p[1], p[2]
    eye = right - left
    dist = float(np.hypot(*eye))
    if dist < 1e-6:
        return 90.0, 0.0  # both eyes on one point: a full profile
    roll = math.degrees(math.atan2(eye[1], eye[0]))
    unit = eye / dist
    offset = float(np.dot(nose - (left + right) / 2.0, unit)) / dist
    yaw = math.degrees(math.atan(2.0 * offset))
    return yaw, roll


def brightness(chip: np.ndarray) -> float:
    """Mean luminance of the central half of an aligned chip (the face, not the background)."""
    c = np.asarray(chip, np.float64)
    h, w = c.shape[:2]
    mid = c[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
    if mid.ndim == 3:
        mid = mid @ np.array([0.299, 0.587, 0.114])
    return float(mid.mean())


def judge_face(
    box: np.ndarray,
    landmarks: np.ndarray,
    score: float,
    chip: np.ndarray,
    sharpness: float,
    bars: QualityBars | None = None,
) -> FaceQuality:
    """Measure one face and give the verdict, with every reason it fails.

    Parameters
    ----------
    box : ndarray of shape (4,)
    landmarks : ndarray of shape (5, 2)
    score : float
        The detector's score.
    chip : ndarray of shape (112, 112, 3)
        The aligned face.
    sharpness : float
        Variance of the Laplacian of the chip (``faceatlas.align.sharpness``).
    bars : QualityBars, optional

    Returns
    -------
    FaceQuality
    """
    bars = bars or QualityBars()
    b = np.asarray(box, np.float64)
    size = float(min(b[2] - b[0], b[3] - b[1]))
    yaw, roll = pose(landmarks)
    light = brightness(chip)
    reasons = []
    if size < bars.min_face_size:
        reasons.append("too small")
    if sharpness < bars.min_sharpness:
        reasons.append("blurred")
    if abs(yaw) > bars.max_yaw_deg:
        reasons.append("profile")
    if score < bars.min_score:
        reasons.append("low score")
    if light < bars.min_brightness:
        reasons.append("too dark")
    return FaceQuality(
        size=size,
        sharpness=float(sharpness),
        yaw_deg=float(yaw),
        roll_deg=float(roll),
        score=float(score),
        brightness=light,
        usable=not reasons,
        reason=", ".join(reasons),
    )
