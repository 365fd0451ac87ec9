"""The SQLite catalog: the only code in faceatlas that speaks SQL.

``Catalog(path)`` (or ``":memory:"``) opens or creates the file and applies any missing
named migrations. Each concern lives in its own mixin module; their migrations are applied
in the order listed here, and every applied name is recorded in ``schema_migrations``.
"""

from __future__ import annotations

from faceatlas.catalog import _gallery, _labels, _people, _photos, _settings
from faceatlas.catalog._album import AlbumMixin
from faceatlas.catalog._base import CatalogBase
from faceatlas.catalog._gallery import GalleryMixin
from faceatlas.catalog._labels import LabelsMixin
from faceatlas.catalog._people import Correction, PeopleMixin
from faceatlas.catalog._photos import FaceRecord, FileState, PhotoRecord, PhotosMixin
from faceatlas.catalog._privacy import PrivacyMixin, erase_file
from faceatlas.catalog._regions import RegionsMixin
from faceatlas.catalog._settings import SettingsMixin

__all__ = ["Catalog", "Correction", "FaceRecord", "FileState", "PhotoRecord", "erase_file"]


class Catalog(
    AlbumMixin,
    GalleryMixin,
    PrivacyMixin,
    RegionsMixin,
    PeopleMixin,
    LabelsMixin,
    PhotosMixin,
    SettingsMixin,
    CatalogBase,
):
    """A faceatlas catalog file.

    Examples
    --------
    >>> with Catalog(":memory:") as cat:
    ...     cat.counts()["faces"]
    0
    """

    migrations = (
        *_photos.MIGRATIONS,
        *_people.MIGRATIONS,
        *_labels.MIGRATIONS,
        *_settings.MIGRATIONS,
        *_gallery.MIGRATIONS,
    )

    def __enter__(self) -> Catalog:
        return self
