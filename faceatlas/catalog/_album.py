"""The album's reads: which photos hold which people, with the times to sort them by.

No table of its own: it joins photos, faces and assignments. The capture time is read from
whichever photo-metadata column a migration added (see :data:`CAPTURE_COLUMNS`), so this
query needs no change when the metadata lands; without one, callers fall back to the
file's modification time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faceatlas.catalog._base import CatalogBase

#: Names a capture-time column of ``photos`` may have (first present wins): ISO 8601 text.
CAPTURE_COLUMNS = ("taken_at", "capture_time", "captured_at")


class AlbumMixin(CatalogBase):
    """Photos by the people in them."""

    def capture_column(self) -> str | None:
        """The ``photos`` column holding the capture time, or None when there is none."""
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(photos)")}
        return next((c for c in CAPTURE_COLUMNS if c in cols), None)

    def photo_people(self, person_ids: Sequence[int]) -> list[dict[str, Any]]:
        """Every (photo, person, face) of the given persons, one row each.

        Rows carry the photo's ``photo_id``, ``path``, ``frame_index``, ``time_s``,
        ``mtime``, ``capture_time`` (None without a capture column), the ``person_id``,
        its ``name`` and the ``face_id``; ordered by path, frame, person.
        """
        ids = sorted({int(i) for i in person_ids})
        if not ids:
            return []
        capture = self.capture_column()
        cap_sql = f"p.{capture}" if capture else "NULL"
        rows = self.query(
            "SELECT p.id AS photo_id, p.path, p.frame_index, p.time_s, p.mtime, "
            f"{cap_sql} AS capture_time, fp.person_id, per.name, f.id AS face_id "
            "FROM face_person fp JOIN faces f ON f.id = fp.face_id "
            "JOIN photos p ON p.id = f.photo_id JOIN persons per ON per.id = fp.person_id "
            f"WHERE fp.person_id IN ({','.join('?' * len(ids))}) "
            "ORDER BY p.path, p.frame_index, fp.person_id, f.id",
            ids,
        )
        return [dict(r) for r in rows]

    def photo_times(self) -> list[dict[str, Any]]:
        """Every readable photo with ``photo_id``, ``path``, ``frame_index``, ``time_s``,
        ``mtime`` and ``capture_time`` (None without a capture column), by path."""
        capture = self.capture_column()
        cap_sql = f"{capture}" if capture else "NULL"
        rows = self.query(
            "SELECT id AS photo_id, path, frame_index, time_s, mtime, "
            f"{cap_sql} AS capture_time FROM photos WHERE status = 'done' "
            "ORDER BY path, frame_index"
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
