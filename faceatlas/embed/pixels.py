"""Raw pixels and eigenfaces: the classic baseline of Turk and Pentland (1991).

:class:`PixelsEmbedder` (``--embedder pixels``) turns each face into its grey pixels:

1. the chip: the 112x112 five-point aligned chip when a detector found the face, or the
   whole image squeezed to 112x112 when the box is the whole image (the ``whole-image``
   detector of ``--cropped``, as for ORL and the "Making Faces" talk's Yale images);
2. grey (ITU-R 601 luma), shrunk to ``size x size`` (default 56: 3,136 pixels) with area
   averaging, scaled to [0, 1], flattened row by row;
3. L2-normalised, so a brighter or darker copy of a photo gives the same vector.

Eigenfaces need a PCA fitted over many faces, which a per-photo scan cannot do. So the
catalog stores these normalised pixel vectors, and the eigenface space is fitted when a
method needs it, on whatever set of faces it is about: :func:`eigenface_space` fits
:class:`faceatlas.reduce.PCA` on the stored vectors (of a catalog or an array) and returns
an :class:`EigenfaceSpace`, whose :meth:`~EigenfaceSpace.transform` gives L2-normalised
projections (the eigenface embedding, compared by dot product like every other
embedding). Refitting is cheap (a few hundred ms for a few thousand faces), and a
stored vector never goes stale when more faces arrive.

Measured on ORL (5 train / 5 test per person, whole images): cosine of the projections on
100 eigenfaces 90.5 % rank-1 (80: 90.0 %), Euclidean distance of the raw projections
88.5 % (Lawrence et al. 1997 published 89.5 %); the raw pixel vectors themselves 88.5 %.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from faceatlas.detect import Detections
from faceatlas.embed.base import aligned_chips, check_chips, l2_normalize
from faceatlas.exceptions import InputError

__all__ = ["EigenfaceSpace", "PixelsEmbedder", "eigenface_space", "whole_image_chips"]

CHIP_SIZE = 112


def _is_whole_image(box: np.ndarray, width: int, height: int) -> bool:
    # The whole-image detector's box is exactly (0, 0, w, h); a detected face box never
    # reaches all four borders within a pixel.
    return bool(np.all(np.abs(np.asarray(box, np.float64) - (0, 0, width, height)) < 1.0))


def whole_image_chips(
    image: np.ndarray, detections: Detections, size: int = CHIP_SIZE
) -> np.ndarray:
    """Chips for pre-cropped faces: the whole image resized to ``size x size``.

    Faces whose box is not the whole image are aligned with their five points instead.

    Returns
    -------
    chips : ndarray of shape (n_faces, size, size, 3), uint8 RGB
    """
    import cv2

    h, w = image.shape[:2]
    if len(detections) == 0:
        return np.zeros((0, size, size, 3), np.uint8)
    aligned = None
    out = []
    for i, box in enumerate(detections.boxes):
        if _is_whole_image(box, w, h):
            out.append(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA))
        else:
            if aligned is None:
                aligned = aligned_chips(image, detections, size)
            out.append(aligned[i])
    return np.stack(out).astype(np.uint8)


@dataclass
class PixelsEmbedder:
    """Grey pixels of the face, shrunk and L2-normalised (the input of eigenfaces).

    Parameters
    ----------
    size : int, default 56
        Side of the pixel grid; ``dim = size * size``. 56 keeps ORL's eigenface accuracy
        (90.5 % at 56, 32 and 112 alike) at a quarter of the storage of 112.

    Notes
    -----
    ``threshold`` (cosine 0.94 between raw pixel vectors) is the equal-error threshold over
    all pairs of ORL's 400 whole images (EER 16 %; on LFW's pairs it is 0.88, EER 38 %):
    raw pixels barely separate people, so treat it as a rough guide.
    """

    size: int = 56
    name: str = field(default="pixels", init=False)
    version: str = field(default="", init=False)
    dim: int = field(default=0, init=False)
    threshold: float = field(default=0.94, init=False)
    threshold_source: str = field(
        default="equal-error cosine of raw 56x56 pixel vectors over all ORL pairs", init=False
    )

    def __post_init__(self) -> None:
        if (
            isinstance(self.size, bool)
            or not isinstance(self.size, numbers.Integral)
            or not 8 <= self.size <= CHIP_SIZE
        ):
            raise InputError(f"size must be an int in [8, {CHIP_SIZE}], got {self.size!r}")
        self.size = int(self.size)
        self.dim = self.size * self.size
        self.version = f"grey{self.size}-l2-1"

    def chips(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        return whole_image_chips(image, detections, CHIP_SIZE)

    def pixels(self, chips: np.ndarray) -> np.ndarray:
        """Grey pixels in [0, 1] of shape ``(n, size, size)``, float32, before normalising."""
        import cv2

        chips = check_chips(chips)
        if len(chips) == 0:
            return np.zeros((0, self.size, self.size), np.float32)
        out = np.empty((len(chips), self.size, self.size), np.float32)
        for i, chip in enumerate(chips):
            grey = cv2.cvtColor(np.ascontiguousarray(chip), cv2.COLOR_RGB2GRAY)
            if grey.shape != (self.size, self.size):
                grey = cv2.resize(grey, (self.size, self.size), interpolation=cv2.INTER_AREA)
            out[i] = grey
        return out / np.float32(255.0)

    def embed(self, chips: np.ndarray) -> np.ndarray:
        P = self.pixels(chips)
        return l2_normalize(P.reshape(len(P), self.dim))


class EigenfaceSpace:
    """PCA on normalised pixel vectors: eigenfaces, projections, reconstructions.

    Build it with :func:`eigenface_space`, or as an estimator:
    ``EigenfaceSpace(n_components=100).fit(X)``.

    Parameters
    ----------
    n_components : int or float, default 100
        Eigenfaces kept: an int (capped at what the data allows, ``n_samples - 1``), or a
        fraction of the variance to keep in (0, 1). 100 is where ORL's accuracy levels off
        (90.5 %; 40: 89 %, 80: 90 %, 150: 90.5 %).
    image_shape : tuple (h, w) or None, default None
        Shape of one pixel grid; None infers a square.

    Attributes
    ----------
    pca_ : faceatlas.reduce.PCA
        The fitted PCA (``mean_``, ``components_``, ``explained_variance_ratio_``).
    image_shape_ : tuple (h, w)
    n_components_ : int
    dim : int
        Length of :meth:`transform`'s vectors, ``n_components_``.
    """

    def __init__(
        self, *, n_components: int | float = 100, image_shape: tuple[int, int] | None = None
    ) -> None:
        self.n_components = n_components
        self.image_shape = image_shape

    def fit(self, X: Any, y: Any = None) -> EigenfaceSpace:
        """Fit the eigenfaces on pixel vectors ``X`` of shape (n_faces, h * w)."""
        from faceatlas.reduce import PCA

        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or len(X) < 2:
            raise InputError(f"X must be a 2-D array with at least 2 faces, got shape {X.shape}")
        nc = self.n_components
        if isinstance(nc, numbers.Integral) and not isinstance(nc, bool):
            if nc < 1:
                raise InputError(
                    f"n_components must be an int >= 1 or a float in (0, 1), got {nc!r}"
                )
            # Centring removes one dimension: n faces span at most n - 1 directions.
            nc = int(min(nc, len(X) - 1, X.shape[1]))
        self.pca_ = PCA(n_components=nc, random_state=0).fit(X)
        if self.image_shape is None:
            side = round(np.sqrt(X.shape[1]))
            if side * side != X.shape[1]:
                raise InputError(f"image_shape is needed for {X.shape[1]} non-square features")
            self.image_shape_ = (side, side)
        else:
            self.image_shape_ = (int(self.image_shape[0]), int(self.image_shape[1]))
        self.n_components_ = int(self.pca_.n_components_)
        self.dim = self.n_components_
        return self

    def project(self, X: Any) -> np.ndarray:
        """Raw coordinates on the eigenfaces, shape (n, n_components_), float32."""
        return np.asarray(self.pca_.transform(np.asarray(X, np.float32)), np.float32)

    def transform(self, X: Any) -> np.ndarray:
        """The eigenface embedding: projections, L2-normalised, float32 (n, n_components_)."""
        return l2_normalize(self.project(X))

    def reconstruct(self, X: Any, k: int | None = None) -> np.ndarray:
        """Faces rebuilt from their first ``k`` eigenfaces, shape (n, h, w)."""
        R = self.pca_.reconstruct(np.asarray(X, np.float32), k)
        return np.asarray(R, np.float32).reshape(-1, *self.image_shape_)

    def eigenfaces(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mean face ``(h, w)`` and the first ``n`` eigenfaces ``(n, h, w)``."""
        from faceatlas.reduce import eigenfaces

        n = None if n is None else min(int(n), self.n_components_)
        return eigenfaces(self.pca_, self.image_shape_, n)


def eigenface_space(
    source: Any, *, n_components: int | float = 100, embedder: str = "pixels", face_ids: Any = None
) -> tuple[EigenfaceSpace, np.ndarray, np.ndarray]:
    """Fit eigenfaces on stored pixel vectors of a catalog, or on an array.

    Parameters
    ----------
    source : Catalog or array-like of shape (n_faces, h * w)
        A catalog holding ``pixels`` vectors (scan with ``--embedder pixels``), or the
        vectors themselves (rows of :meth:`PixelsEmbedder.embed`).
    n_components : int or float, default 100
        See :class:`EigenfaceSpace`.
    embedder : str, default "pixels"
        The catalog's embedder name whose vectors are used.
    face_ids : sequence of int, optional
        Only these catalogued faces.

    Returns
    -------
    space : EigenfaceSpace
    face_ids : ndarray of shape (n_faces,)
        Catalog face ids (``arange(n)`` for an array).
    X : ndarray of shape (n_faces, h * w)
        The pixel vectors the space was fitted on.
    """
    if hasattr(source, "embeddings"):
        ids, X = (
            source.embeddings(embedder, face_ids)
            if face_ids is not None
            else source.embeddings(embedder)
        )
        ids = np.asarray(ids)
        if len(ids) < 2:
            raise InputError(
                f"the catalog has {len(ids)} faces with {embedder!r} vectors; eigenfaces need "
                f"at least 2: scan with `--embedder {embedder}` first"
            )
    else:
        X = np.asarray(source, np.float32)
        ids = np.arange(len(X))
    return EigenfaceSpace(n_components=n_components).fit(X), ids, np.asarray(X, np.float32)
