"""The album's reads: which photos hold which people, with the times to sort them by.

No table of its own: it joins photos, faces and assignments. The capture time is the
``taken_at`` column of migration ``0006_photo_metadata_face_quality`` (``taken_guess`` = 1
when it is only the file's time); photos scanned before it have none, and callers fall
back to the file's modification time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faceatlas.catalog._base import CatalogBase

#: ``capture_time`` and ``capture_guess`` of a photo aliased ``p``.
_CAPTURE_SQL = "p.taken_at AS capture_time, p.taken_guess AS capture_guess"


class AlbumMixin(CatalogBase):
    """Photos by the people in them."""

    def photo_people(self, person_ids: Sequence[int]) -> list[dict[str, Any]]:
        """Every (photo, person, face) of the given persons, one row each.

        Rows carry the photo's ``photo_id``, ``path``, ``frame_index``, ``time_s``,
        ``mtime``, ``capture_time`` and ``capture_guess`` (None when not recorded; a true
        guess means the capture time is only the file's time), the ``person_id``,
        its ``name`` and the ``face_id``; ordered by path, frame, person.
        """
        ids = sorted({int(i) for i in person_ids})
        if not ids:
            return []
        rows = self.query(
            "SELECT p.id AS photo_id, p.path, p.frame_index, p.time_s, p.mtime, "
            f"{_CAPTURE_SQL}, fp.person_id, per.name, f.id AS face_id "
            "FROM face_person fp JOIN faces f ON f.id = fp.face_id "
            "JOIN photos p ON p.id = f.photo_id JOIN persons per ON per.id = fp.person_id "
            f"WHERE fp.person_id IN ({','.join('?' * len(ids))}) "
            "ORDER BY p.path, p.frame_index, fp.person_id, f.id",
            ids,
        )
        return [dict(r) for r in rows]

    def photo_times(self) -> list[dict[str, Any]]:
        """Every readable photo with ``photo_id``, ``path``, ``frame_index``, ``time_s``,
        ``mtime``, ``capture_time`` and ``capture_guess`` (as :meth:`photo_people`), by path."""
        rows = self.query(
            "SELECT p.id AS photo_id, p.path, p.frame_index, p.time_s, p.mtime, "
            f"{_CAPTURE_SQL} FROM photos p WHERE p.status = 'done' "
            "ORDER BY p.path, p.frame_index"
        )
        return [dict(r) for r in rows]

    def photo_faces_count(self, photo_ids: Sequence[int]) -> dict[int, int]:
        """``{photo_id: number of faces}`` for the given photos."""
        ids = sorted({int(i) for i in photo_ids})
        out: dict[int, int] = {}
        for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            chunk = ids[start : start + 900]
            rows = self.query(
                "SELECT photo_id, COUNT(*) FROM faces "
                f"WHERE photo_id IN ({','.join('?' * len(chunk))}) GROUP BY photo_id",
                chunk,
            )
            out.update({int(r[0]): int(r[1]) for r in rows})
        return out
