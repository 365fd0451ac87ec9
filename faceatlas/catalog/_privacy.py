"""Forgetting: erase face vectors, chips and names so that no byte of them stays behind.

SQLite keeps deleted rows in free pages until they are reused, unless ``secure_delete`` is
on (Debian's build turns it on by default; most others do not), and a WAL catalog keeps
old copies of pages in ``<db>-wal`` until a checkpoint. So the deletions run with
``secure_delete`` on, and :meth:`PrivacyMixin.compact` rewrites the file (``VACUUM``) and
truncates the journal afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from faceatlas.catalog._base import CatalogBase
from faceatlas.exceptions import CatalogBusyError, CatalogError

#: Tables whose every row is biometric data or points at it; ``forget --all`` empties them.
BIOMETRIC_TABLES = (
    "embeddings",
    "constraints",
    "dismissed_pairs",
    "face_person",
    "corrections",
    "faces",
    "persons",
)


# the keys of a correction's "info" that hold ids (others are counts or names)
_PERSON_KEYS = ("person", "merged", "from", "new_people")
_FACE_KEYS = ("face", "displaced", "dropped", "unassigned")


def _ints(values: list[Any]) -> set[int]:
    flat: list[Any] = []
    for v in values:
        flat.extend(v if isinstance(v, list) else [v])
    return {int(v) for v in flat if isinstance(v, int) and not isinstance(v, bool)}


def _mentions(payload: dict[str, Any], person_ids: set[int], face_ids: set[int]) -> bool:
    """Whether a correction's payload names one of the persons or faces."""
    raw_info, raw_undo = payload.get("info"), payload.get("undo")
    info: dict[str, Any] = raw_info if isinstance(raw_info, dict) else {}
    undo: dict[str, Any] = raw_undo if isinstance(raw_undo, dict) else {}
    faces_before = undo.get("faces_before") or {}
    persons = _ints([info.get(k) for k in _PERSON_KEYS])
    persons |= {int(k) for k in (undo.get("persons_before") or {}) if str(k).isdigit()}
    persons |= _ints([b.get("person_id") for b in faces_before.values() if isinstance(b, dict)])
    faces = _ints([info.get(k) for k in _FACE_KEYS])
    faces |= {int(k) for k in faces_before if str(k).isdigit()}
    return bool(persons & person_ids) or bool(faces & face_ids)


def erase_file(path: str | Path) -> int:
    """Overwrite a file with zeros, flush it to disk, then delete it; returns its size.

    Deleting alone leaves the bytes in the disk's free blocks; overwriting first removes
    them on ordinary filesystems (copy-on-write ones such as btrfs or ZFS, and SSD wear
    levelling, may keep old blocks: full-disk encryption is the answer there).
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.write(b"\0" * size)
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()
    return size


class PrivacyMixin(CatalogBase):
    """Deletes biometric rows securely and compacts the file afterwards."""

    def saved_index_dir(self) -> Path | None:
        """``<db>.index/``, where :mod:`faceatlas.known` saves its search index."""
        if self.path == ":memory:" or self.is_server:  # a server catalog keeps none
            return None
        return Path(self.path + ".index")

    def erase_saved_index(self) -> list[str]:
        """Erase the saved search index; the next search rebuilds it from the catalog.

        A saved index holds a copy of every vector it was built from and only filters
        faces that left the catalog out of its results, so it is erased whenever faces
        leave (photos deleted or changed on disk, people forgotten).

        Returns
        -------
        list of str
            The files erased.
        """
        folder = self.saved_index_dir()
        if folder is None or not folder.is_dir():
            return []
        erased = []
        for f in sorted(folder.iterdir()):
            if f.is_file():
                erase_file(f)
                erased.append(str(f))
        with contextlib.suppress(OSError):  # something else lives there: leave the folder
            folder.rmdir()
        return erased

    def _secure(self) -> None:
        self.db.execute("PRAGMA secure_delete=ON")

    def forget_faces(
        self, face_ids: Sequence[int], person_ids: Sequence[int] = ()
    ) -> dict[str, int]:
        """Delete faces (vector, chip, landmarks, assignment, constraints) and persons.

        Corrections in the log that name one of them are deleted too: their snapshots
        hold the person's name and faces, and an undo could not put them back anyway.

        Returns
        -------
        dict
            Rows deleted per kind: ``faces``, ``vectors``, ``persons``, ``corrections``.
        """
        self._secure()
        fids = sorted({int(f) for f in face_ids})
        pids = sorted({int(p) for p in person_ids})
        out = {"faces": 0, "vectors": 0, "persons": 0, "corrections": 0}
        with self.transaction() as db:
            for start in range(0, len(fids), 900):
                chunk = fids[start : start + 900]
                marks = ",".join("?" * len(chunk))
                out["vectors"] += db.execute(
                    f"DELETE FROM embeddings WHERE face_id IN ({marks})", chunk
                ).rowcount
                out["faces"] += db.execute(
                    f"DELETE FROM faces WHERE id IN ({marks})", chunk
                ).rowcount
            for pid in pids:
                db.execute(
                    "DELETE FROM dismissed_pairs WHERE person_a = ? OR person_b = ?", (pid, pid)
                )
                out["persons"] += db.execute("DELETE FROM persons WHERE id = ?", (pid,)).rowcount
            pset, fset = set(pids), set(fids)
            for row in db.execute("SELECT id, payload FROM corrections").fetchall():
                try:
                    payload = json.loads(row[1])
                except ValueError:
                    payload = {}
                if _mentions(payload, pset, fset):
                    db.execute("DELETE FROM corrections WHERE id = ?", (row[0],))
                    out["corrections"] += 1
        return out

    def forget_everything(self) -> dict[str, int]:
        """Empty every table of biometric data; photos, runs and settings stay."""
        self._secure()
        out: dict[str, int] = {}
        with self.transaction() as db:
            for table in BIOMETRIC_TABLES:
                out[table] = db.execute(f"DELETE FROM {table}").rowcount
        return out

    def compact(self) -> dict[str, int]:
        """``VACUUM`` (rewrites every page, so no free page keeps old bytes), then a
        ``wal_checkpoint(TRUNCATE)`` that empties ``<db>-wal``.

        Raises
        ------
        CatalogBusyError
            If another process (the web gallery, a scan) holds the catalog open in a
            transaction; close it and run again.
        """
        import sqlite3

        self._secure()
        try:
            self.db.execute("VACUUM")
            if self.path != ":memory:":
                busy, log, done = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if busy:
                    raise CatalogBusyError(
                        f"catalog {self.path}: another process is reading it, so its journal "
                        "could not be emptied; close the gallery or scan and run again"
                    )
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise CatalogBusyError(
                    f"catalog {self.path} is busy: close other faceatlas processes "
                    f"(gallery, scan) and run again ({exc})"
                ) from None
            raise CatalogError(f"catalog {self.path}: cannot compact ({exc})") from None
        return {"pages": int(self.db.execute("PRAGMA page_count").fetchone()[0])}
