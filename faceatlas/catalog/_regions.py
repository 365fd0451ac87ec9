"""Faces added by hand: a face region another tool drew where the detector found none."""

from __future__ import annotations

from typing import Any

import numpy as np

from faceatlas.catalog._base import CatalogBase, stored_text
from faceatlas.catalog._photos import FaceRecord
from faceatlas.exceptions import NotFoundError


class RegionsMixin(CatalogBase):
    """Adds single faces to photos already in the catalog."""

    def photo_of_path(self, path: str) -> dict[str, Any] | None:
        """The still photo (frame -1) recorded for ``path``, or None."""
        row = self.db.execute(
            "SELECT id, path, width, height, status, detector FROM photos "
            "WHERE path = CAST(? AS TEXT) AND frame_index = -1",
            (stored_text(path),),
        ).fetchone()
        return dict(row) if row else None

    def add_face(
        self,
        photo_id: int,
        face: FaceRecord,
        embedder: str | None = None,
        embedder_version: str | None = None,
    ) -> int:
        """Append one face (and its vector) to a photo; returns the new face id.

        The face takes the next free ``face_index`` of the photo, so the faces the
        detector found keep theirs.
        """
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM photos WHERE id = ?", (photo_id,)).fetchone() is None:
                raise NotFoundError(f"photo {photo_id} is not in the catalog")
            (index,) = db.execute(
                "SELECT COALESCE(MAX(face_index), -1) + 1 FROM faces WHERE photo_id = ?",
                (photo_id,),
            ).fetchone()
            cur = db.execute(
                "INSERT INTO faces (photo_id, face_index, x1, y1, x2, y2, landmarks, "
                "det_score, quality, sharpness, chip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    photo_id,
                    int(index),
                    *map(float, face.box),
                    np.asarray(face.landmarks, np.float32).tobytes(),
                    float(face.det_score),
                    float(face.quality),
                    float(face.sharpness),
                    face.chip_jpeg,
                ),
            )
            face_id = int(cur.lastrowid or 0)
            if face.embedding is not None and embedder is not None:
                vec = np.asarray(face.embedding, np.float32)
                db.execute(
                    "INSERT INTO embeddings (face_id, embedder, version, dim, vector) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (face_id, embedder, embedder_version, vec.shape[0], vec.tobytes()),
                )
        return face_id
