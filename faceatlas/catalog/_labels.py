"""Ground-truth labels: which person each photo shows, for scoring (``faceatlas eval``).

Labels are stored per photo *path*, not per photo or face id: a rescan replaces a file's
photo and face rows, and the label must survive that. A moved file (same content, new
path) loses its label; import the labels again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from faceatlas.catalog._base import CatalogBase, Migration, now
from faceatlas.exceptions import InputError

MIGRATIONS: list[Migration] = [
    (
        "0003_labels",
        """
        CREATE TABLE labels (
            path TEXT PRIMARY KEY,           -- photos.path (absolute)
            identity TEXT NOT NULL,          -- a person; several as 'alice;bob'
            source TEXT NOT NULL,            -- the file, sheet, columns and filters read
            imported_at TEXT NOT NULL
        );
        """,
    ),
]

_MULTI = ";"


class LabelsMixin(CatalogBase):
    """Reads and writes ground-truth labels, and resolves them to faces."""

    def photo_paths(self) -> list[str]:
        """Every catalogued file path (a video once)."""
        return [r[0] for r in self.query("SELECT DISTINCT path FROM photos ORDER BY path")]

    def set_labels(
        self, labels: Mapping[str, str], *, source: str = "", replace: bool = False
    ) -> int:
        """Store ``{photo path: identity}``; with ``replace``, forget all others first."""
        stamp = now()
        with self.transaction() as db:
            if replace:
                db.execute("DELETE FROM labels")
            db.executemany(
                "INSERT OR REPLACE INTO labels (path, identity, source, imported_at) "
                "VALUES (?, ?, ?, ?)",
                [(str(p), str(who), source, stamp) for p, who in labels.items()],
            )
        return len(labels)

    def clear_labels(self) -> int:
        with self.transaction() as db:
            return int(db.execute("DELETE FROM labels").rowcount)

    def labels(self) -> dict[str, str]:
        """Every stored label, ``{photo path: identity}``."""
        return {r[0]: r[1] for r in self.query("SELECT path, identity FROM labels ORDER BY path")}

    def _labelled_face_rows(self) -> tuple[dict[str, list[tuple[int, float]]], dict[str, str], int]:
        labels = self.labels()
        rows = self.query(
            "SELECT f.id, p.path, (f.x2 - f.x1) * (f.y2 - f.y1) AS area "
            "FROM faces f JOIN photos p ON p.id = f.photo_id ORDER BY f.id"
        )
        by_path: dict[str, list[tuple[int, float]]] = {}
        n_unlabelled = 0
        for r in rows:
            if r["path"] in labels:
                by_path.setdefault(r["path"], []).append((int(r["id"]), float(r["area"])))
            else:
                n_unlabelled += 1
        return by_path, labels, n_unlabelled

    def labelled_faces(
        self, *, multi_face: str = "skip"
    ) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
        """Faces with a ground-truth person, and counts of those left out.

        Parameters
        ----------
        multi_face : {"skip", "largest"}, default "skip"
            A labelled photo (or video) with several faces: leave its faces out
            (``"skip"``), or give a one-person label to its largest face (``"largest"``;
            the other faces are still left out).

        Returns
        -------
        face_ids : ndarray of int64 of shape (n_labelled,)
            Sorted.
        identities : ndarray of str of shape (n_labelled,)
        counts : dict
            ``labelled``, ``ambiguous`` (faces of labelled photos that cannot be told
            apart), ``unlabelled`` (faces of photos without a label), ``no_face_photos``
            (labelled photos in which no face was found), ``labelled_photos``.
        """
        if multi_face not in ("skip", "largest"):
            raise InputError(f"multi_face must be 'skip' or 'largest', got {multi_face!r}")
        by_path, labels, n_unlabelled = self._labelled_face_rows()
        out: list[tuple[int, str]] = []
        n_ambiguous = 0
        for path, faces in by_path.items():
            who = labels[path]
            if len(faces) == 1 and _MULTI not in who:
                out.append((faces[0][0], who))
            elif multi_face == "largest" and _MULTI not in who:
                best = max(faces, key=lambda f: f[1])
                out.append((best[0], who))
                n_ambiguous += len(faces) - 1
            else:
                n_ambiguous += len(faces)
        out.sort()
        counts = {
            "labelled": len(out),
            "ambiguous": n_ambiguous,
            "unlabelled": n_unlabelled,
            "no_face_photos": sum(1 for p in labels if p not in by_path),
            "labelled_photos": len(labels),
        }
        ids = np.array([i for i, _ in out], np.int64)
        who_arr = np.array([w for _, w in out], dtype=object)
        return ids, who_arr.astype(str) if out else np.zeros(0, str), counts

    def label_counts(self, *, multi_face: str = "skip") -> dict[str, int]:
        """The ``counts`` of :meth:`labelled_faces`."""
        return self.labelled_faces(multi_face=multi_face)[2]

    def label_sources(self) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT source, COUNT(*) AS photos, MAX(imported_at) AS imported_at "
            "FROM labels GROUP BY source ORDER BY imported_at"
        )
        return [dict(r) for r in rows]
