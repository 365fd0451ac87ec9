"""Second chances for a photo in which detection finds no face.

Hard light: the photo is searched again after contrast normalisation (CLAHE of the
luminance). Photos turned without an EXIF tag (scanned prints, old cameras): on request,
the other three quarter turns are tried and the turn that found the best face is kept,
with boxes and landmarks given in the unturned photo's frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceatlas.detect import Detections, Detector, YuNetDetector, detection_scales
from faceatlas.exceptions import InputError

TURNS = (0, 90, 180, 270)
# YuNet also finds some turned faces, with lower scores: on 40 LFW photos the best face of
# the upright photo scores 0.92 / 0.93 / 0.94 (10th / 50th / 90th percentile), turned by
# 90, 180 or 270 degrees at most 0.83 / 0.88 / 0.82 (90th percentile). Below this score a
# photo is not taken as upright when turns are tried.
UPRIGHT_SCORE = 0.9


def normalise_light(image: np.ndarray, *, clip_limit: float = 2.0, tiles: int = 8) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation (CLAHE) of the luminance only: dark,
    back-lit and side-lit faces get contrast back, colours keep their hue (OpenCV's usual
    ``clip_limit`` and tiles)."""
    import cv2

    lab = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2LAB)
    clahe = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tiles, tiles))
    lab[:, :, 0] = clahe.apply(np.ascontiguousarray(lab[:, :, 0]))
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def turn_image(image: np.ndarray, turn: int) -> np.ndarray:
    """The image turned clockwise by ``turn`` degrees (0, 90, 180 or 270)."""
    if turn not in TURNS:
        raise InputError(f"turn must be one of {TURNS} degrees, got {turn!r}")
    return np.ascontiguousarray(np.rot90(image, -(turn // 90)))


def unturn_points(points: np.ndarray, turn: int, height: int, width: int) -> np.ndarray:
    """``(..., 2)`` x, y points of the turned image in the unturned one (of ``height, width``)."""
    p = np.asarray(points, np.float32)
    x, y = p[..., 0], p[..., 1]
    if turn == 0:
        return p.copy()
    if turn == 90:  # x' = h - y, y' = x
        return np.stack([y, height - x], axis=-1)
    if turn == 180:
        return np.stack([width - x, height - y], axis=-1)
    if turn == 270:  # x' = y, y' = w - x
        return np.stack([width - y, x], axis=-1)
    raise InputError(f"turn must be one of {TURNS} degrees, got {turn!r}")


def unturn_detections(found: Detections, turn: int, height: int, width: int) -> Detections:
    """Detections made on a turned image, expressed in the unturned image's frame.

    Boxes stay axis-aligned (a quarter turn maps boxes to boxes); landmarks keep their order,
    so alignment (a similarity transform with rotation) still makes an upright chip.
    """
    if turn == 0 or len(found) == 0:
        return found
    corners = found.boxes.reshape(-1, 2, 2)
    back = unturn_points(corners, turn, height, width)
    boxes = np.concatenate([back.min(axis=1), back.max(axis=1)], axis=1)
    marks = unturn_points(found.landmarks, turn, height, width)
    return Detections(
        boxes.astype(np.float32), marks.astype(np.float32), found.scores, found.detector
    )


@dataclass(frozen=True)
class Found:
    """Faces of one image and how they were found.

    ``turn`` is the clockwise turn (degrees) under which the faces were found (their boxes
    and landmarks are in the unturned image's frame all the same); ``light`` is True when
    they were found only after :func:`normalise_light`.
    """

    detections: Detections
    turn: int = 0
    light: bool = False


def detect_with_retries(
    detector: Detector, image: np.ndarray, *, retry_light: bool = True, try_turns: bool = False
) -> Found:
    """Detect; when nothing is found, retry with normalised light; optionally try turns.

    Parameters
    ----------
    detector : Detector
    image : ndarray of shape (h, w, 3), uint8 RGB
    retry_light : bool, default True
        Retry with :func:`normalise_light` when the photo as it is yields no face.
    try_turns : bool, default False
        When the photo yields no face scoring at least ``UPRIGHT_SCORE``, also try it turned
        by 90, 180 and 270 degrees (scanned prints, old cameras without an orientation tag)
        and keep the turn whose best face scores highest.

    Returns
    -------
    Found
    """
    h, w = image.shape[:2]

    def attempt(turn: int) -> Found:
        img = image if turn == 0 else turn_image(image, turn)
        found = detector.detect(img)
        if len(found) == 0 and retry_light:
            light = _detect_normalised(detector, img)
            if len(light):
                return Found(unturn_detections(light, turn, h, w), turn, True)
        return Found(unturn_detections(found, turn, h, w), turn, False)

    best = attempt(0)
    if not try_turns or _top_score(best) >= UPRIGHT_SCORE:
        return best
    for turn in TURNS[1:]:
        other = attempt(turn)
        if _top_score(other) > _top_score(best):
            best = other
    return best


def _detect_normalised(detector: Detector, image: np.ndarray) -> Detections:
    """``detector`` on :func:`normalise_light` of ``image``, normalised at the working scale.

    YuNet never looks at a large photo at full size, so its light is normalised on the copy
    it looks at: the same faces, without full-size copies of a 20 MP photo (issue 17's
    memory bound).
    """
    if not isinstance(detector, YuNetDetector) or not detector.multi_scale:
        return detector.detect(normalise_light(image))
    h, w = image.shape[:2]
    scale = max(detection_scales(h, w, max_side=detector.max_side, min_face=detector.min_face))
    if scale >= 1.0:
        return detector.detect(normalise_light(image))
    import cv2

    small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    # the smallest face wanted, as it is in the shrunk copy
    shrunk = detector.sharing_model(min_face=max(1, round(detector.min_face * scale)))
    found = shrunk.detect(normalise_light(small))
    back = np.float32(1 / scale)
    return Detections(found.boxes * back, found.landmarks * back, found.scores, found.detector)


def _top_score(found: Found) -> float:
    return float(found.detections.scores.max()) if len(found.detections) else 0.0
