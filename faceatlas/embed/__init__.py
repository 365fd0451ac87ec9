"""Embedders: chips in, L2-normalised float32 vectors out, chosen by name.

Names for ``--embedder``: ``sface`` (default), ``dlib``, ``fake`` (tests), and the
baselines ``pixels`` (eigenfaces), ``landmarks`` (landmark geometry), ``cnn``
(ImageNet EfficientNet-Lite0 features).
"""

from __future__ import annotations

import numpy as np

from faceatlas.detect import Detections
from faceatlas.embed.base import Embedder, aligned_chips, l2_normalize
from faceatlas.exceptions import InputError

EMBEDDERS = ("sface", "dlib", "pixels", "landmarks", "cnn", "fake")

__all__ = ["EMBEDDERS", "Embedder", "aligned_chips", "embed_faces", "get_embedder", "l2_normalize"]


def get_embedder(name: str, **params: object) -> Embedder:
    """Build an embedder by its ``--embedder`` name; its model loads on first use."""
    if name == "sface":
        from faceatlas.embed.sface import SFaceEmbedder

        return SFaceEmbedder(**params)  # type: ignore[arg-type]
    if name == "dlib":
        from faceatlas.embed.dlib import DlibEmbedder

        return DlibEmbedder(**params)  # type: ignore[arg-type]
    if name == "fake":
        from faceatlas.embed.fake import FakeEmbedder

        return FakeEmbedder(**params)
    if name == "pixels":
        from faceatlas.embed.pixels import PixelsEmbedder

        return PixelsEmbedder(**params)  # type: ignore[arg-type]
    if name == "landmarks":
        from faceatlas.embed.landmarks import LandmarksEmbedder

        return LandmarksEmbedder(**params)
    if name == "cnn":
        from faceatlas.embed.cnn import CNNEmbedder

        return CNNEmbedder(**params)  # type: ignore[arg-type]
    raise InputError(f"embedder must be one of {', '.join(EMBEDDERS)}; got {name!r}")


def embed_faces(
    image: np.ndarray, detections: Detections, embedder: str | Embedder = "sface"
) -> np.ndarray:
    """Embed every detected face of an image.

    Returns
    -------
    X : ndarray of shape (n_faces, dim), float32, L2-normalised
    """
    emb = get_embedder(embedder) if isinstance(embedder, str) else embedder
    return emb.embed(emb.chips(image, detections))
