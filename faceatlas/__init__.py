"""faceatlas: organise the faces in a folder of photos.

A few verbs on arrays::

    image = load_image("photo.jpg")          # uint8 RGB (h, w, 3), EXIF-rotated
    found = detect_faces(image)              # boxes (n, 4), landmarks (n, 5, 2), scores
    X = embed_faces(image, found)            # float32 (n, 128), L2-normalised
    labels = cluster_faces(X)                # int (n,), -1 = nobody (stranger)
    D, I = faceatlas.search.search(X, X[:1], k=5)   # nearest faces (the module's verb)

``identify`` names faces against a ``Gallery`` of known people, ``PCA`` reduces any
matrix, and ``Catalog`` / ``scan`` work on folders.

The verbs are imported on first use (module ``__getattr__``, PEP 562), so that
``import faceatlas`` and the command line start without loading scikit-learn, SciPy,
OpenCV or the models; the exceptions are light and imported at once.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and IDEs
    from faceatlas.catalog import Catalog
    from faceatlas.cluster import cluster_faces
    from faceatlas.config import ScanConfig
    from faceatlas.detect import Detections, detect_faces, get_detector
    from faceatlas.embed import embed_faces, get_embedder
    from faceatlas.images import load_image
    from faceatlas.pipeline import ScanSummary, scan, scan_folder
    from faceatlas.recognize import Gallery, identify
    from faceatlas.reduce import PCA

__version__ = "0.1.0"

# public name -> module it lives in; imported by __getattr__ on first use
_LAZY = {
    "Catalog": "faceatlas.catalog",
    "cluster_faces": "faceatlas.cluster",
    "ScanConfig": "faceatlas.config",
    "Detections": "faceatlas.detect",
    "detect_faces": "faceatlas.detect",
    "get_detector": "faceatlas.detect",
    "embed_faces": "faceatlas.embed",
    "get_embedder": "faceatlas.embed",
    "load_image": "faceatlas.images",
    "ScanSummary": "faceatlas.pipeline",
    "scan": "faceatlas.pipeline",
    "scan_folder": "faceatlas.pipeline",
    "Gallery": "faceatlas.recognize",
    "identify": "faceatlas.recognize",
    "PCA": "faceatlas.reduce",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"faceatlas.{name}"):
        # ``import faceatlas; faceatlas.search.search(...)`` worked when the package
        # imported everything eagerly; keep it working for every submodule
        value = importlib.import_module(f"faceatlas.{name}")
    else:
        raise AttributeError(f"module 'faceatlas' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
