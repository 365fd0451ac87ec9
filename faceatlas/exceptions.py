"""Errors raised by faceatlas.

FaceAtlasError
├── ImageError            a file could not be turned into an image
│   └── ImageTooLargeError    its pixel count is over the limit (decompression bomb)
├── ModelNotFoundError    a model file or its optional dependency is not installed
├── CatalogError          the catalog file cannot be used
│   ├── CatalogBusyError      another process holds the catalog's write lock
│   └── NotFoundError         a photo, face or person id does not exist
├── EmbedderMismatchError vectors of different embedders were about to be compared
└── InputError            a parameter or input file is not acceptable (a ValueError too)
"""

from __future__ import annotations


class FaceAtlasError(Exception):
    """Base class of every error faceatlas raises on purpose."""


class ImageError(FaceAtlasError):
    """A file could not be decoded into an image; the message names the file and why."""


class ImageTooLargeError(ImageError):
    """An image has more pixels than the configured limit."""


class ModelNotFoundError(FaceAtlasError):
    """A model file, or the optional extra that ships it, is not installed."""


class CatalogError(FaceAtlasError):
    """The catalog database cannot be opened or used."""


class CatalogBusyError(CatalogError):
    """Another process is writing to the catalog."""


class NotFoundError(CatalogError):
    """A requested photo, face or person is not in the catalog."""


class EmbedderMismatchError(FaceAtlasError):
    """Embeddings from different embedders (or versions) were mixed."""


class InputError(FaceAtlasError, ValueError):
    """A parameter or input is not acceptable; the message says what was expected."""
