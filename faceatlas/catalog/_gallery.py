"""What the gallery reads fast: a write counter, paged queries, one photo's faces, covers.

The gallery answers many small requests on catalogs of 100,000 faces. What it shows is
read here with indexed, paged queries, and what is costly to build (the people list, the
review queue) is cached by :mod:`faceatlas.views` under :meth:`GalleryMixin.write_counter`:
a number that triggers raise on every change to photos' faces, persons, assignments,
constraints, dismissed pairs and covers, so a cache keyed by it is never stale, whichever
process wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from faceatlas.catalog._base import CatalogBase, Migration, now
from faceatlas.exceptions import InputError, NotFoundError

#: Tables whose changes the gallery's caches depend on.
_WATCHED = (
    "faces",
    "embeddings",
    "persons",
    "face_person",
    "constraints",
    "dismissed_pairs",
    "person_covers",
)


def _counter_triggers() -> str:
    return "\n".join(
        f"CREATE TRIGGER gallery_count_{table}_{event.lower()} AFTER {event} ON {table} "
        "BEGIN UPDATE gallery_counter SET n = n + 1 WHERE id = 1; END;"
        for table in _WATCHED
        for event in ("INSERT", "UPDATE", "DELETE")
    )


MIGRATIONS: list[Migration] = [
    (
        "0008b_gallery_indexes",
        """
        -- the unsorted page lists faces of nobody by quality, a page at a time
        CREATE INDEX IF NOT EXISTS faces_quality ON faces (quality);
        -- covering indexes: people's face counts and best faces without reading the face
        -- rows (each holds its chip, so a scan of faces reads the whole file)
        CREATE INDEX IF NOT EXISTS faces_cover ON faces (id, quality, photo_id);
        CREATE INDEX IF NOT EXISTS face_person_cover ON face_person (person_id, confirmed);
        -- a person's "not this person" faces, without scanning every constraint
        CREATE INDEX IF NOT EXISTS constraints_person ON constraints (person_id, kind);
        -- the face a person is shown by (chosen in the gallery); goes with either
        CREATE TABLE person_covers (
            person_id INTEGER PRIMARY KEY REFERENCES persons (id) ON DELETE CASCADE,
            face_id INTEGER NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
            set_at TEXT NOT NULL
        );
        -- one row, raised by every change the gallery's caches depend on
        CREATE TABLE gallery_counter (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
        INSERT INTO gallery_counter (id, n) VALUES (1, 0);
        """
        + _counter_triggers(),
    ),
]

#: Columns h-photos' metadata migration may add for the capture time, in preference order.
CAPTURE_COLUMNS = ("taken_at", "captured_at", "capture_time", "datetime_original")


class GalleryMixin(CatalogBase):
    """Paged and indexed reads for the gallery, its write counter, and person covers."""

    def write_counter(self) -> int:
        """A number that changes whenever faces, people or constraints change."""
        row = self.db.execute("SELECT n FROM gallery_counter WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def _capture_column(self) -> str | None:
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(photos)")}
        return next((c for c in CAPTURE_COLUMNS if c in cols), None)

    def _photo_time_sql(self) -> str:
        """SQL for a photo's time (alias ``p``): capture time when recorded, else file time."""
        col = self._capture_column()
        ftime = "datetime(p.mtime, 'unixepoch')"
        return f"COALESCE(p.{col}, {ftime})" if col else ftime

    def _is_capture_sql(self) -> str:
        """SQL: 1 when the photo's time is a capture time (not a file time taken as a guess)."""
        col = self._capture_column()
        if col is None:
            return "0"
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(photos)")}
        guess = " AND COALESCE(p.taken_guess, 0) = 0" if "taken_guess" in cols else ""
        return f"(p.{col} IS NOT NULL{guess})"

    def _has_verdicts(self) -> bool:
        """Whether faces carry issue 11's usable/unusable verdict (column ``usable``)."""
        return "usable" in {r[1] for r in self.db.execute("PRAGMA table_info(faces)")}

    # -- unassigned faces ----------------------------------------------------------------
    def unassigned_face_ids(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every face of nobody, best quality first: ``(face_ids, quality, usable)``.

        ``usable`` is the scan's verdict (1 usable, 0 not, -1 unknown: scanned before the
        verdict existed, or a catalog without it). One query.
        """
        usable = "COALESCE(f.usable, -1)" if self._has_verdicts() else "-1"
        rows = self.db.execute(
            f"SELECT f.id, f.quality, {usable} FROM faces f WHERE NOT EXISTS "
            "(SELECT 1 FROM face_person fp WHERE fp.face_id = f.id) ORDER BY f.quality DESC, f.id"
        ).fetchall()
        a = np.array(rows, np.float64).reshape(-1, 3)
        return a[:, 0].astype(np.int64), a[:, 1], a[:, 2].astype(np.int8)

    def face_verdicts(self, face_ids: Sequence[int]) -> dict[int, tuple[int | None, str | None]]:
        """The scan's ``(usable, reason)`` of each face (``usable`` None: no verdict)."""
        if not self._has_verdicts() or not face_ids:
            return {}
        ids = [int(f) for f in face_ids]
        out: dict[int, tuple[int | None, str | None]] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            out.update(
                (r[0], (r[1], r[2]))
                for r in self.query(
                    "SELECT id, usable, reason FROM faces WHERE id IN "
                    f"({','.join('?' * len(chunk))})",
                    chunk,
                )
            )
        return out

    def unassigned_faces(
        self,
        *,
        offset: int = 0,
        limit: int = 200,
        min_quality: float | None = None,
        below_quality: float | None = None,
    ) -> list[dict[str, Any]]:
        """Faces of nobody, best quality first, one page of them.

        ``min_quality`` keeps faces at or above it, ``below_quality`` those under it.
        """
        where, params = self._quality_filter(min_quality, below_quality)
        rows = self.query(
            "SELECT f.id AS face_id, f.photo_id, f.quality, f.det_score, f.x1, f.y1, f.x2, "
            "f.y2, p.path, p.frame_index FROM faces f JOIN photos p ON p.id = f.photo_id "
            f"WHERE NOT EXISTS (SELECT 1 FROM face_person fp WHERE fp.face_id = f.id){where} "
            "ORDER BY f.quality DESC, f.id LIMIT ? OFFSET ?",
            (*params, int(limit), int(offset)),
        )
        return [dict(r) for r in rows]

    @staticmethod
    def _quality_filter(
        min_quality: float | None, below_quality: float | None
    ) -> tuple[str, tuple[float, ...]]:
        where, params = "", ()  # type: tuple[str, tuple[float, ...]]
        if min_quality is not None:
            where += " AND f.quality >= ?"
            params += (float(min_quality),)
        if below_quality is not None:
            where += " AND f.quality < ?"
            params += (float(below_quality),)
        return where, params

    # -- one photo, one person -----------------------------------------------------------
    def photo_faces(self, photo_id: int) -> list[dict[str, Any]]:
        """Every face of one photo with its box and person (``person_id`` None: nobody)."""
        rows = self.query(
            "SELECT f.id AS face_id, f.face_index, f.x1, f.y1, f.x2, f.y2, f.quality, "
            "f.det_score, fp.person_id, fp.confirmed, fp.source, ps.name, ps.hidden "
            "FROM faces f LEFT JOIN face_person fp ON fp.face_id = f.id "
            "LEFT JOIN persons ps ON ps.id = fp.person_id WHERE f.photo_id = ? "
            "ORDER BY f.face_index",
            (int(photo_id),),
        )
        return [
            {**dict(r), "confirmed": bool(r["confirmed"]), "hidden": bool(r["hidden"])}
            for r in rows
        ]

    def person_face_rows(self, person_id: int) -> list[dict[str, Any]]:
        """A person's faces with box, quality, pin and their photo's time (``taken``)."""
        rows = self.query(
            "SELECT f.id AS face_id, f.photo_id, f.x1, f.y1, f.x2, f.y2, f.quality, "
            "fp.confirmed, fp.source, p.path, p.frame_index, p.width, p.height, "
            f"{self._photo_time_sql()} AS taken, {self._is_capture_sql()} AS taken_is_capture "
            "FROM face_person fp JOIN faces f ON f.id = fp.face_id "
            "JOIN photos p ON p.id = f.photo_id WHERE fp.person_id = ? ORDER BY f.id",
            (int(person_id),),
        )
        return [{**dict(r), "confirmed": bool(r["confirmed"])} for r in rows]

    def rejected_faces(self, person_id: int) -> list[int]:
        """Faces the user said are not this person."""
        return [
            r[0]
            for r in self.query(
                "SELECT face_a FROM constraints WHERE person_id = ? AND kind = 'not_person' "
                "ORDER BY id",
                (int(person_id),),
            )
        ]

    def photo_time(self, photo_id: int) -> str | None:
        """The photo's capture time if recorded, else its file time (ISO text)."""
        row = self.db.execute(
            f"SELECT {self._photo_time_sql()} FROM photos p WHERE p.id = ?", (int(photo_id),)
        ).fetchone()
        return None if row is None else row[0]

    def face_vectors(self, embedder: str, face_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """``(face_ids, X)`` of the given faces under ``embedder``, by primary key.

        Unlike :meth:`embeddings`, no check of the embedder's versions (a scan of every
        vector): the gallery reads a few faces per request.
        """
        ids = [int(i) for i in face_ids]
        rows: list[Any] = []
        for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            chunk = ids[start : start + 900]
            rows += self.query(
                "SELECT face_id, vector FROM embeddings WHERE embedder = ? AND face_id IN "
                f"({','.join('?' * len(chunk))}) ORDER BY face_id",
                (embedder, *chunk),
            )
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        rows.sort(key=lambda r: r[0])
        X = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), -1)
        return np.array([r[0] for r in rows], np.int64), X.copy()

    # -- covers --------------------------------------------------------------------------
    def covers(self, person_ids: Sequence[int] | None = None) -> dict[int, int]:
        """``{person_id: face_id}`` of the chosen covers (only faces still the person's)."""
        rows = self.query(
            "SELECT c.person_id, c.face_id FROM person_covers c JOIN face_person fp "
            "ON fp.face_id = c.face_id AND fp.person_id = c.person_id"
        )
        want = None if person_ids is None else {int(p) for p in person_ids}
        return {r[0]: r[1] for r in rows if want is None or r[0] in want}

    def set_cover(self, person_id: int, face_id: int | None) -> None:
        """Show ``person_id`` by ``face_id`` (one of its faces); None: back to the best one."""
        if not self.person_exists(person_id):  # type: ignore[attr-defined]
            raise NotFoundError(f"person {person_id} is not in the catalog")
        with self.transaction() as db:
            if face_id is None:
                db.execute("DELETE FROM person_covers WHERE person_id = ?", (int(person_id),))
                return
            held = db.execute(
                "SELECT person_id FROM face_person WHERE face_id = ?", (int(face_id),)
            ).fetchone()
            if held is None or held[0] != int(person_id):
                raise InputError(
                    f"face {face_id} is not a face of person {person_id}; a cover is one of "
                    "the person's own faces"
                )
            db.execute(
                "INSERT OR REPLACE INTO person_covers (person_id, face_id, set_at) "
                "VALUES (?, ?, ?)",
                (int(person_id), int(face_id), now()),
            )
