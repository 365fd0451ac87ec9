"""faceatlas: organise the faces in a folder of photos.

A few verbs on arrays::

    image = load_image("photo.jpg")          # uint8 RGB (h, w, 3), EXIF-rotated
    found = detect_faces(image)              # boxes (n, 4), landmarks (n, 5, 2), scores
    X = embed_faces(image, found)            # float32 (n, 128), L2-normalised

and ``Catalog`` / ``scan`` for folders.
"""

from __future__ import annotations

from faceatlas.catalog import Catalog
from faceatlas.config import ScanConfig
from faceatlas.detect import Detections, detect_faces, get_detector
from faceatlas.embed import embed_faces, get_embedder
from faceatlas.exceptions import (
    CatalogBusyError,
    CatalogError,
    EmbedderMismatchError,
    FaceAtlasError,
    ImageError,
    ImageTooLargeError,
    InputError,
    ModelNotFoundError,
    NotFoundError,
)
from faceatlas.images import load_image
from faceatlas.pipeline import ScanSummary, scan, scan_folder

__version__ = "0.1.0"

__all__ = [
    "Catalog",
    "CatalogBusyError",
    "CatalogError",
    "Detections",
    "EmbedderMismatchError",
    "FaceAtlasError",
    "ImageError",
    "ImageTooLargeError",
    "InputError",
    "ModelNotFoundError",
    "NotFoundError",
    "ScanConfig",
    "ScanSummary",
    "detect_faces",
    "embed_faces",
    "get_detector",
    "get_embedder",
    "load_image",
    "scan",
    "scan_folder",
]
