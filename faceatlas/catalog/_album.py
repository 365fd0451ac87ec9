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
#: A column saying the capture time is only the file's time (1), when there is one.
GUESS_COLUMN = "taken_guess"


class AlbumMixin(CatalogBase):
    """Photos by the people in them."""

    def capture_column(self) -> str | None:
        """The ``photos`` column holding the capture time, or None when there is none."""
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(photos)")}
        return next((c for c in CAPTURE_COLUMNS if c in cols), None)

    def _capture_sql(self, alias: str) -> str:
        """``capture_time`` and ``capture_guess`` select expressions for ``photos AS alias``."""
        capture = self.capture_column()
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(photos)")}
        cap = f"{alias}.{capture}" if capture else "NULL"
        guess = f"{alias}.{GUESS_COLUMN}" if GUESS_COLUMN in cols else "NULL"
        return f"{cap} AS capture_time, {guess} AS capture_guess"

    def photo_people(self, person_ids: Sequence[int]) -> list[dict[str, Any]]:
        """Every (photo, person, face) of the given persons, one row each.

        Rows carry the photo's ``photo_id``, ``path``, ``frame_index``, ``time_s``,
        ``mtime``, ``capture_time`` and ``capture_guess`` (None without those columns; a
        true guess means the capture time is only the file's time), the ``person_id``,
        its ``name`` and the ``face_id``; ordered by path, frame, person.
        """
        ids = sorted({int(i) for i in person_ids})
        if not ids:
            return []
        rows = self.query(
            "SELECT p.id AS photo_id, p.path, p.frame_index, p.time_s, p.mtime, "
            f"{self._capture_sql('p')}, fp.person_id, per.name, f.id AS face_id "
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
            f"{self._capture_sql('p')} FROM photos p WHERE p.status = 'done' "
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
