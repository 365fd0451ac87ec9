"""faceatlas: organise the faces in a folder of photos.

A few verbs on arrays::

    image = load_image("photo.jpg")          # uint8 RGB (h, w, 3), EXIF-rotated
    found = detect_faces(image)              # boxes (n, 4), landmarks (n, 5, 2), scores
    X = embed_faces(image, found)            # float32 (n, 128), L2-normalised
    labels = cluster_faces(X)                # int (n,), -1 = nobody (stranger)
    D, I = faceatlas.search.search(X, X[:1], k=5)   # nearest faces (the module's verb)

``identify`` names faces against a ``Gallery`` of known people, ``PCA`` reduces any
matrix, and ``Catalog`` / ``scan`` work on folders.
"""

from __future__ import annotations

from faceatlas.catalog import Catalog
from faceatlas.cluster import cluster_faces
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
from faceatlas.recognize import Gallery, identify
from faceatlas.reduce import PCA

__version__ = "0.1.0"

__all__ = [
    "Catalog",
    "CatalogBusyError",
    "CatalogError",
    "Detections",
    "EmbedderMismatchError",
    "FaceAtlasError",
    "Gallery",
    "ImageError",
    "ImageTooLargeError",
    "InputError",
    "ModelNotFoundError",
    "NotFoundError",
    "PCA",
    "ScanConfig",
    "ScanSummary",
    "cluster_faces",
    "detect_faces",
    "embed_faces",
    "get_detector",
    "get_embedder",
    "identify",
    "load_image",
    "scan",
    "scan_folder",
]
