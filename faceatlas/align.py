"""Five-point similarity warps to face chips, and a face quality score."""

from __future__ import annotations

import numpy as np

from faceatlas.detect import TEMPLATE_112


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift) mapping ``src`` to ``dst``.

    Umeyama's closed form; returns a ``(2, 3)`` float64 matrix for ``cv2.warpAffine``.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # a reflection is not a face pose
        d[-1] = -1
    rot = u @ np.diag(d) @ vt
    var_s = (s0**2).sum() / len(src)
    scale = (sig * d).sum() / var_s if var_s > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def align_face(image: np.ndarray, landmarks: np.ndarray, *, size: int = 112) -> np.ndarray:
    """Warp one face to a ``size x size`` chip with its five points on the ArcFace template.

    Parameters
    ----------
    image : ndarray of shape (h, w, 3), uint8 RGB
    landmarks : ndarray of shape (5, 2)
    size : int, default 112
        SFace's input size; other sizes scale the template.

    Returns
    -------
    chip : ndarray of shape (size, size, 3), uint8 RGB
    """
    import cv2

    dst = TEMPLATE_112 * (size / 112.0)
    m = similarity_transform(np.asarray(landmarks, np.float32).reshape(5, 2), dst)
    return cv2.warpAffine(
        image,
        m,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def sharpness(chip: np.ndarray) -> float:
    """Variance of the Laplacian of a grey chip: low for blurred faces."""
    import cv2

    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY) if chip.ndim == 3 else chip
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


# A face is "good" at 64 px and up (SFace's chip is 112 px; below ~40 px identity is
# unreliable) and with a Laplacian variance over 100 on the 112 px chip (a common
# blur cut-off for 8-bit images).
GOOD_FACE_SIDE = 64.0
GOOD_SHARPNESS = 100.0


def face_quality(box: np.ndarray, score: float, chip: np.ndarray) -> tuple[float, float]:
    """Return ``(quality, sharpness)``; quality in [0, 1] mixes size, blur and detector score.

    Quality is the product of the detector score, the face size relative to 64 px and the
    square root of sharpness relative to 100 (each capped at 1), so a face is only as good as
    its weakest aspect.
    """
    side = float(min(box[2] - box[0], box[3] - box[1]))
    sharp = sharpness(chip)
    size_term = min(1.0, max(side, 0.0) / GOOD_FACE_SIDE)
    sharp_term = min(1.0, sharp / GOOD_SHARPNESS) ** 0.5
    quality = float(np.clip(score, 0.0, 1.0)) * size_term * sharp_term
    return quality, sharp
