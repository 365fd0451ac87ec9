"""Photos, faces and embeddings: what a scan writes and everything else reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from faceatlas.catalog._base import CatalogBase, Migration, now, stored_text
from faceatlas.exceptions import EmbedderMismatchError, InputError, NotFoundError

MIGRATIONS: list[Migration] = [
    (
        "0001_photos_faces_embeddings_runs",
        """
        CREATE TABLE photos (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL,              -- absolute, symlinks not resolved
            frame_index INTEGER NOT NULL DEFAULT -1,   -- -1: a still image; >= 0: video frame
            time_s REAL,                     -- position of a video frame
            content_hash TEXT,               -- blake2b of the whole file
            size INTEGER,
            mtime REAL,
            width INTEGER,
            height INTEGER,
            status TEXT NOT NULL CHECK (status IN ('done', 'error')),
            error TEXT,
            detector TEXT,                   -- name/version that found the faces
            scanned_at TEXT NOT NULL,
            UNIQUE (path, frame_index)
        );
        CREATE INDEX photos_hash ON photos (content_hash);
        CREATE TABLE faces (
            id INTEGER PRIMARY KEY,
            photo_id INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
            face_index INTEGER NOT NULL,
            x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
            landmarks BLOB NOT NULL,         -- float32 (5, 2)
            det_score REAL NOT NULL,
            quality REAL NOT NULL,           -- [0, 1], see faceatlas.align.face_quality
            sharpness REAL NOT NULL,
            chip BLOB,                       -- 112x112 aligned face, JPEG (thumbnails)
            UNIQUE (photo_id, face_index)
        );
        CREATE TABLE embeddings (
            face_id INTEGER NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
            embedder TEXT NOT NULL,
            version TEXT NOT NULL,
            dim INTEGER NOT NULL,
            vector BLOB NOT NULL,            -- float32 (dim,), L2-normalised
            PRIMARY KEY (face_id, embedder)
        );
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            command TEXT NOT NULL,
            settings TEXT NOT NULL,          -- JSON
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,
            summary TEXT                     -- JSON
        );
        """,
    ),
    (
        "0006_photo_metadata_face_quality",
        """
        ALTER TABLE photos ADD COLUMN taken_at TEXT;         -- ISO 8601, offset when known
        ALTER TABLE photos ADD COLUMN taken_source TEXT;     -- exif:DateTimeOriginal, file:mtime
        ALTER TABLE photos ADD COLUMN taken_guess INTEGER;   -- 1: the file time, a guess
        ALTER TABLE photos ADD COLUMN taken_ts REAL;         -- sort key, seconds since 1970
        ALTER TABLE photos ADD COLUMN camera_make TEXT;
        ALTER TABLE photos ADD COLUMN camera_model TEXT;
        ALTER TABLE photos ADD COLUMN gps_lat REAL;
        ALTER TABLE photos ADD COLUMN gps_lon REAL;
        ALTER TABLE photos ADD COLUMN gps_alt REAL;
        ALTER TABLE photos ADD COLUMN orientation INTEGER;   -- the EXIF tag, already applied
        ALTER TABLE photos ADD COLUMN turn INTEGER NOT NULL DEFAULT 0;  -- clockwise degrees
        ALTER TABLE photos ADD COLUMN light_retry INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX photos_taken ON photos (taken_ts);
        ALTER TABLE faces ADD COLUMN size REAL;              -- shorter box side, px
        ALTER TABLE faces ADD COLUMN yaw REAL;               -- degrees, from the landmarks
        ALTER TABLE faces ADD COLUMN roll REAL;
        ALTER TABLE faces ADD COLUMN brightness REAL;        -- mean luminance of the chip
        ALTER TABLE faces ADD COLUMN usable INTEGER;         -- 1/0; NULL: scanned before 0006
        ALTER TABLE faces ADD COLUMN reason TEXT;            -- why not usable
        """,
    ),
]

PHOTO_SORTS = ("path", "date")

# Photo metadata columns (migration 0006) in the order PhotoRecord.meta gives them.
META_COLUMNS = (
    "taken_at",
    "taken_source",
    "taken_guess",
    "taken_ts",
    "camera_make",
    "camera_model",
    "gps_lat",
    "gps_lon",
    "gps_alt",
    "orientation",
)


@dataclass
class FaceRecord:
    """One detected face as a scan produces it (before it has an id)."""

    box: np.ndarray  # (4,)
    landmarks: np.ndarray  # (5, 2)
    det_score: float
    quality: float
    sharpness: float
    chip_jpeg: bytes | None
    embedding: np.ndarray | None = None  # (dim,)
    # The quality verdict (faceatlas.quality); None for faces scanned before it existed.
    size: float | None = None
    yaw: float | None = None
    roll: float | None = None
    brightness: float | None = None
    usable: bool | None = None
    reason: str | None = None


@dataclass
class PhotoRecord:
    """One still image or one sampled video frame, with its faces or its error."""

    path: str
    frame_index: int = -1
    time_s: float | None = None
    width: int | None = None
    height: int | None = None
    status: str = "done"
    error: str | None = None
    faces: list[FaceRecord] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # META_COLUMNS (faceatlas.metadata)
    turn: int = 0  # clockwise degrees under which the faces were found
    light_retry: bool = False  # faces found only after contrast normalisation


@dataclass(frozen=True)
class FileState:
    """What the catalog remembers of a file, to decide whether to scan it again."""

    path: str
    content_hash: str | None
    size: int | None
    mtime: float | None
    status: str
    detector: str | None


class PhotosMixin(CatalogBase):
    """Reads and writes photos, faces and embeddings."""

    # -- what a scan needs -------------------------------------------------------------
    def file_states(self) -> dict[str, FileState]:
        """Every catalogued file (videos once), keyed by path."""
        rows = self.query(
            "SELECT path, MAX(content_hash) AS content_hash, MAX(size) AS size, "
            "MAX(mtime) AS mtime, MIN(status) AS status, MAX(detector) AS detector "
            "FROM photos GROUP BY path"
        )
        # MIN(status) is 'done' if any frame is done, else 'error'. The other columns are
        # the same on every frame of a file; MAX() picks one portably (PostgreSQL too).
        return {
            r["path"]: FileState(
                r["path"], r["content_hash"], r["size"], r["mtime"], r["status"], r["detector"]
            )
            for r in rows
        }

    def paths_with_hash(self, content_hash: str) -> list[str]:
        rows = self.query(
            "SELECT DISTINCT path FROM photos WHERE content_hash = ?", (content_hash,)
        )
        return [r[0] for r in rows]

    def replace_file(
        self,
        path: str,
        content_hash: str | None,
        size: int | None,
        mtime: float | None,
        detector: str | None,
        photos: Sequence[PhotoRecord],
        embedder: str | None = None,
        embedder_version: str | None = None,
    ) -> int:
        """Atomically replace everything known about one file; returns the number of faces.

        One transaction per file is what makes a scan resumable: a kill leaves each file
        either fully recorded or not at all.
        """
        n_faces = 0
        stamp = now()
        with self.transaction(files=[path]) as db:
            db.execute("DELETE FROM photos WHERE path = CAST(? AS TEXT)", (stored_text(path),))
            for p in photos:
                cur = db.execute(
                    "INSERT INTO photos (path, frame_index, time_s, content_hash, size, mtime, "
                    "width, height, status, error, detector, scanned_at, turn, light_retry, "
                    f"{', '.join(META_COLUMNS)}) "
                    "VALUES (CAST(? AS TEXT), ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), ?, ?, ?, ?"
                    f"{', ?' * len(META_COLUMNS)})",
                    (
                        stored_text(path),
                        p.frame_index,
                        p.time_s,
                        content_hash,
                        size,
                        mtime,
                        p.width,
                        p.height,
                        p.status,
                        stored_text(p.error),
                        detector,
                        stamp,
                        int(p.turn),
                        int(bool(p.light_retry)),
                        *(p.meta.get(c) for c in META_COLUMNS),
                    ),
                )
                photo_id = cur.lastrowid
                for i, f in enumerate(p.faces):
                    fcur = db.execute(
                        "INSERT INTO faces (photo_id, face_index, x1, y1, x2, y2, landmarks, "
                        "det_score, quality, sharpness, chip, size, yaw, roll, brightness, "
                        "usable, reason) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            photo_id,
                            i,
                            *map(float, f.box),
                            np.asarray(f.landmarks, np.float32).tobytes(),
                            float(f.det_score),
                            float(f.quality),
                            float(f.sharpness),
                            f.chip_jpeg,
                            f.size,
                            f.yaw,
                            f.roll,
                            f.brightness,
                            None if f.usable is None else int(f.usable),
                            f.reason,
                        ),
                    )
                    if f.embedding is not None and embedder is not None:
                        vec = np.asarray(f.embedding, np.float32)
                        db.execute(
                            "INSERT INTO embeddings (face_id, embedder, version, dim, vector) "
                            "VALUES (?, ?, ?, ?, ?)",
                            (
                                fcur.lastrowid,
                                embedder,
                                embedder_version,
                                vec.shape[0],
                                vec.tobytes(),
                            ),
                        )
                    n_faces += 1
        return n_faces

    def move_file(self, old: str, new: str, mtime: float | None) -> None:
        """A file was moved or renamed: keep its faces (and the corrections on them)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE photos SET path = CAST(? AS TEXT), mtime = ? WHERE path = CAST(? AS TEXT)",
                (stored_text(new), mtime, stored_text(old)),
            )

    def touch_file(self, path: str, mtime: float | None) -> None:
        """Same content, new modification time: remember it so the next scan skips it."""
        with self.transaction() as db:
            db.execute(
                "UPDATE photos SET mtime = ? WHERE path = CAST(? AS TEXT)",
                (mtime, stored_text(path)),
            )

    def delete_files(self, paths: Iterable[str]) -> int:
        """Forget files that are gone; their faces go with them."""
        paths = list(paths)
        with self.transaction() as db:
            for p in paths:
                db.execute("DELETE FROM photos WHERE path = CAST(? AS TEXT)", (stored_text(p),))
        return len(paths)

    def faces_without_embedding(self, embedder: str) -> dict[str, list[dict[str, Any]]]:
        """Faces with no vector of ``embedder``, grouped by file path."""
        rows = self.query(
            "SELECT f.id, f.x1, f.y1, f.x2, f.y2, f.landmarks, f.det_score, p.path, "
            "p.frame_index, p.detector FROM faces f JOIN photos p ON p.id = f.photo_id "
            "LEFT JOIN embeddings e ON e.face_id = f.id AND e.embedder = ? "
            "WHERE e.face_id IS NULL ORDER BY p.path, p.frame_index, f.face_index",
            (embedder,),
        )
        out: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            out.setdefault(r["path"], []).append(
                {
                    "face_id": r["id"],
                    "frame_index": r["frame_index"],
                    "box": np.array([r["x1"], r["y1"], r["x2"], r["y2"]], np.float32),
                    "landmarks": np.frombuffer(r["landmarks"], np.float32).reshape(5, 2),
                    "det_score": r["det_score"],
                    "detector": r["detector"] or "",
                }
            )
        return out

    def add_embeddings(
        self, embedder: str, version: str, face_ids: Sequence[int], X: np.ndarray
    ) -> None:
        X = np.asarray(X, np.float32)
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO embeddings (face_id, embedder, version, dim, vector) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (int(i), embedder, version, X.shape[1], x.tobytes())
                    for i, x in zip(face_ids, X, strict=True)
                ],
            )

    # -- reading -----------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        one = self.db.execute(
            "SELECT (SELECT COUNT(DISTINCT path) FROM photos) AS files, "
            "(SELECT COUNT(*) FROM photos WHERE status = 'done') AS photos, "
            "(SELECT COUNT(*) FROM photos WHERE status = 'error') AS errors, "
            "(SELECT COUNT(*) FROM faces) AS faces"
        ).fetchone()
        return dict(one)

    def embedders(self) -> list[dict[str, Any]]:
        """Embedders that have vectors in the catalog, with their counts."""
        rows = self.query(
            "SELECT embedder, version, dim, COUNT(*) AS n FROM embeddings "
            "GROUP BY embedder, version, dim ORDER BY n DESC"
        )
        return [dict(r) for r in rows]

    def embeddings(
        self, embedder: str, face_ids: Sequence[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """All vectors of one embedder: ``(face_ids (n,), X (n, dim))``, ordered by face id.

        Raises
        ------
        EmbedderMismatchError
            If the catalog holds vectors of several versions or sizes under that name.
        """
        versions = self.query(
            "SELECT DISTINCT version, dim FROM embeddings WHERE embedder = ?", (embedder,)
        )
        if len(versions) > 1:
            found = ", ".join(f"{r['version']} ({r['dim']}-d)" for r in versions)
            raise EmbedderMismatchError(
                f"the catalog holds several versions of embedder {embedder!r}: {found}; "
                "rescan with one version"
            )
        if face_ids is None:
            rows = self.query(
                "SELECT face_id, vector FROM embeddings WHERE embedder = ? ORDER BY face_id",
                (embedder,),
            )
        else:
            ids = [int(i) for i in face_ids]
            rows = []
            for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
                chunk = ids[start : start + 900]
                marks = ",".join("?" * len(chunk))
                rows += self.query(
                    f"SELECT face_id, vector FROM embeddings WHERE embedder = ? "
                    f"AND face_id IN ({marks})",
                    (embedder, *chunk),
                )
            rows.sort(key=lambda r: r[0])
        if not rows:
            dim = int(versions[0]["dim"]) if versions else 0
            return np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
        ids_arr = np.array([r[0] for r in rows], np.int64)
        X = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), -1)
        return ids_arr, X.copy()

    def faces(self, face_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """Face rows joined with their photo: id, photo_id, path, frame, box, score, quality."""
        sql = (
            "SELECT f.id, f.photo_id, p.path, p.frame_index, p.time_s, f.face_index, f.x1, "
            "f.y1, f.x2, f.y2, f.det_score, f.quality, f.sharpness, p.width, p.height, "
            "f.size, f.yaw, f.roll, f.brightness, f.usable, f.reason, p.taken_at, p.turn "
            "FROM faces f JOIN photos p ON p.id = f.photo_id"
        )
        if face_ids is None:
            rows = self.query(sql + " ORDER BY f.id")
        else:
            ids = [int(i) for i in face_ids]
            rows = []
            for start in range(0, len(ids), 900):
                chunk = ids[start : start + 900]
                rows += self.query(sql + f" WHERE f.id IN ({','.join('?' * len(chunk))})", chunk)
        return [dict(r) for r in rows]

    def face(self, face_id: int) -> dict[str, Any]:
        found = self.faces([face_id])
        if not found:
            raise NotFoundError(f"face {face_id} is not in the catalog")
        row = found[0]
        lm = self.db.execute("SELECT landmarks FROM faces WHERE id = ?", (face_id,)).fetchone()
        row["landmarks"] = np.frombuffer(lm[0], np.float32).reshape(5, 2).tolist()
        return row

    def face_chip(self, face_id: int) -> bytes | None:
        row = self.db.execute("SELECT chip FROM faces WHERE id = ?", (face_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"face {face_id} is not in the catalog")
        return row[0]

    def photo_ids_of_faces(self, face_ids: Sequence[int]) -> np.ndarray:
        """Photo id of each face (same order): faces sharing a photo are cannot-links."""
        lookup = {r[0]: r[1] for r in self.query("SELECT id, photo_id FROM faces")}
        return np.array([lookup[int(i)] for i in face_ids], np.int64)

    def photos(
        self, *, errors_only: bool = False, limit: int | None = None, sort: str = "path"
    ) -> list[dict[str, Any]]:
        """Photos (and video frames) with their face counts and metadata.

        Parameters
        ----------
        errors_only : bool
            Only files that could not be read.
        limit : int, optional
        sort : {"path", "date"}
            ``date`` orders by capture time (``taken_ts``), photos without one last.
        """
        if sort not in PHOTO_SORTS:
            raise InputError(f"sort must be one of {', '.join(PHOTO_SORTS)}; got {sort!r}")
        sql = (
            "SELECT p.id, p.path, p.frame_index, p.time_s, p.width, p.height, p.status, p.error, "
            "p.content_hash, p.size, p.scanned_at, p.turn, p.light_retry, "
            + ", ".join(f"p.{c}" for c in META_COLUMNS)
            + ", (SELECT COUNT(*) FROM faces f WHERE f.photo_id = p.id) AS faces FROM photos p"
        )
        if errors_only:
            sql += " WHERE p.status = 'error'"
        if sort == "date":
            sql += " ORDER BY p.taken_ts IS NULL, p.taken_ts, p.path, p.frame_index"
        else:
            sql += " ORDER BY p.path, p.frame_index"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        out = []
        for r in self.query(sql):
            row = dict(r)
            row["taken_guess"] = None if row["taken_guess"] is None else bool(row["taken_guess"])
            row["light_retry"] = bool(row["light_retry"])
            out.append(row)
        return out

    def unusable_faces(self) -> list[dict[str, Any]]:
        """Faces whose quality verdict is 'not usable', with the reason, by face id."""
        rows = self.query(
            "SELECT f.id AS face_id, p.path, p.frame_index, f.x1, f.y1, f.x2, f.y2, f.size, "
            "f.sharpness, f.yaw, f.det_score, f.brightness, f.reason "
            "FROM faces f JOIN photos p ON p.id = f.photo_id WHERE f.usable = 0 ORDER BY f.id"
        )
        return [dict(r) for r in rows]

    def face_usability(self) -> tuple[np.ndarray, np.ndarray]:
        """``(face_ids, usable)`` of every face by id, for the clusterer and ``enroll``.

        ``usable`` is a bool array: False for faces whose verdict is 'not usable' (too small,
        blurred, profile, low score, too dark); faces scanned before verdicts existed count
        as usable. Such faces may join a person but should never found or bridge one.
        """
        rows = self.db.execute("SELECT id, usable FROM faces ORDER BY id").fetchall()
        ids = np.array([r[0] for r in rows], np.int64)
        usable = np.array([r[1] is None or bool(r[1]) for r in rows], bool)
        return ids, usable

    def photo(self, photo_id: int) -> dict[str, Any]:
        rows = self.query("SELECT * FROM photos WHERE id = ?", (photo_id,))
        if not rows:
            raise NotFoundError(f"photo {photo_id} is not in the catalog")
        return dict(rows[0])

    def duplicate_face_count(self) -> int:
        """Faces recorded twice for the same photo and index (must always be 0)."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM (SELECT photo_id, face_index, COUNT(*) c FROM faces "
            "GROUP BY photo_id, face_index HAVING COUNT(*) > 1) AS dup"
        ).fetchone()
        return int(row[0])
