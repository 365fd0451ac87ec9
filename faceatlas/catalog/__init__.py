"""The SQLite catalog: the only code in faceatlas that speaks SQL.

``Catalog(path)`` (or ``":memory:"``) opens or creates the file and applies any missing
named migrations. Each concern lives in its own mixin module; their migrations are applied
in the order listed here, and every applied name is recorded in ``schema_migrations``.
"""

from __future__ import annotations

from faceatlas.catalog import _photos
from faceatlas.catalog._base import CatalogBase
from faceatlas.catalog._photos import FaceRecord, FileState, PhotoRecord, PhotosMixin

__all__ = ["Catalog", "FaceRecord", "FileState", "PhotoRecord"]


class Catalog(PhotosMixin, CatalogBase):
    """A faceatlas catalog file.

    Examples
    --------
    >>> with Catalog(":memory:") as cat:
    ...     cat.counts()["faces"]
    0
    """

    migrations = [*_photos.MIGRATIONS]

    def __enter__(self) -> Catalog:
        return self
