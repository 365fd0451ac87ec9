"""People: persons, face -> person assignments, the corrections log and its constraints.

Every user correction runs inside :meth:`PeopleMixin.correction`, which records the state
of each row it is about to touch before touching it. That snapshot, stored as JSON in the
``corrections`` row, is what :meth:`PeopleMixin.undo_last_correction` puts back, so undo
works the same way for every kind of correction without per-kind inverse code.

A *pin* is a confirmed assignment (``face_person.confirmed = 1``, from a user correction
or an enrolment): clustering never moves a pinned face, and pinned faces of different
people are never put together.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from faceatlas.catalog._base import CatalogBase, Migration, now
from faceatlas.exceptions import InputError, NotFoundError

MIGRATIONS: list[Migration] = [
    (
        "0002_people",
        """
        -- AUTOINCREMENT: a person id is never reused, so an id a user wrote down (or a
        -- correction in the log) never comes to mean somebody else.
        CREATE TABLE persons (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT,
            hidden INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE face_person (
            face_id INTEGER PRIMARY KEY REFERENCES faces (id) ON DELETE CASCADE,
            person_id INTEGER NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
            source TEXT NOT NULL CHECK (source IN ('cluster', 'user', 'enroll')),
            confirmed INTEGER NOT NULL DEFAULT 0,   -- 1: a pin, never moved by clustering
            run_id INTEGER,                         -- the cluster run that assigned it
            assigned_at TEXT NOT NULL
        );
        CREATE INDEX face_person_person ON face_person (person_id);
        CREATE TABLE corrections (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,           -- JSON: what was asked + the rows it replaced
            created_at TEXT NOT NULL,
            undone_at TEXT
        );
        -- Face-level constraints that are not pins. Rows go with their faces (a rescanned
        -- file gets new faces; constraints on faces that no longer exist mean nothing).
        CREATE TABLE constraints (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('must_link', 'cannot_link', 'not_person')),
            face_a INTEGER NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
            face_b INTEGER REFERENCES faces (id) ON DELETE CASCADE,
            person_id INTEGER REFERENCES persons (id) ON DELETE CASCADE,
            correction_id INTEGER REFERENCES corrections (id) ON DELETE SET NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX constraints_face_a ON constraints (face_a);
        CREATE TABLE dismissed_pairs (
            person_a INTEGER NOT NULL,       -- person_a < person_b
            person_b INTEGER NOT NULL,
            correction_id INTEGER REFERENCES corrections (id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (person_a, person_b)
        );
        """,
    ),
    (
        "0007_reference_faces",
        """
        -- Faces enrolled from a known-people folder: the user's reference photos of a
        -- person, shown as such. known_path is the file in the known folder (the photo may
        -- be a copy of one already catalogued, which is then used instead of a duplicate).
        CREATE TABLE reference_faces (
            face_id INTEGER PRIMARY KEY REFERENCES faces (id) ON DELETE CASCADE,
            known_path TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """,
    ),
]

SOURCES = ("cluster", "user", "enroll")
CONSTRAINT_KINDS = ("must_link", "cannot_link", "not_person")


def _chunks(ids: Sequence[int], size: int = 900) -> Iterator[list[int]]:
    """Slices under SQLite's bound-parameter limit."""
    ids = [int(i) for i in ids]
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


class Correction:
    """Write access during one correction; snapshots every row before its first change.

    Obtained from :meth:`PeopleMixin.correction`; all calls run in its transaction.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.stamp = now()
        self.persons_before: dict[int, dict[str, Any] | None] = {}
        self.faces_before: dict[int, dict[str, Any] | None] = {}
        self.constraints_added: list[int] = []
        self.constraints_removed: list[dict[str, Any]] = []
        self.dismissed_added: list[tuple[int, int]] = []
        self.id = 0  # set when the log row is written

    # -- snapshots ---------------------------------------------------------------------
    def _snap_person(self, person_id: int) -> None:
        if person_id not in self.persons_before:
            row = self.db.execute("SELECT * FROM persons WHERE id = ?", (person_id,)).fetchone()
            self.persons_before[person_id] = dict(row) if row else None

    def _snap_faces(self, face_ids: Sequence[int]) -> None:
        todo = [int(f) for f in face_ids if int(f) not in self.faces_before]
        for chunk in _chunks(todo):
            rows = self.db.execute(
                f"SELECT * FROM face_person WHERE face_id IN ({','.join('?' * len(chunk))})", chunk
            ).fetchall()
            found = {r["face_id"]: dict(r) for r in rows}
            for f in chunk:
                self.faces_before[f] = found.get(f)

    # -- changes -----------------------------------------------------------------------
    def create_person(self, name: str | None = None) -> int:
        cur = self.db.execute(
            "INSERT INTO persons (name, hidden, created_at, updated_at) VALUES (?, 0, ?, ?)",
            (name, self.stamp, self.stamp),
        )
        pid = int(cur.lastrowid or 0)
        self.persons_before[pid] = None
        return pid

    def update_person(self, person_id: int, **fields: Any) -> None:
        bad = set(fields) - {"name", "hidden"}
        if bad:
            raise InputError(f"person fields must be name or hidden, got {sorted(bad)}")
        self._snap_person(person_id)
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(
            f"UPDATE persons SET {sets}, updated_at = ? WHERE id = ?",
            (*fields.values(), self.stamp, person_id),
        )

    def assign(
        self,
        face_ids: Sequence[int],
        person_id: int,
        *,
        source: str = "user",
        confirmed: bool = True,
    ) -> None:
        if source not in SOURCES:
            raise InputError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        self._snap_faces(face_ids)
        self.db.executemany(
            "INSERT OR REPLACE INTO face_person (face_id, person_id, source, confirmed, "
            "run_id, assigned_at) VALUES (?, ?, ?, ?, NULL, ?)",
            [(int(f), int(person_id), source, int(confirmed), self.stamp) for f in face_ids],
        )

    def unassign(self, face_ids: Sequence[int]) -> None:
        self._snap_faces(face_ids)
        for chunk in _chunks(face_ids):
            self.db.execute(
                f"DELETE FROM face_person WHERE face_id IN ({','.join('?' * len(chunk))})", chunk
            )

    def add_constraint(
        self, kind: str, face_a: int, face_b: int | None = None, person_id: int | None = None
    ) -> int:
        if kind not in CONSTRAINT_KINDS:
            raise InputError(
                f"constraint kind must be one of {', '.join(CONSTRAINT_KINDS)}, got {kind!r}"
            )
        cur = self.db.execute(
            "INSERT INTO constraints (kind, face_a, face_b, person_id, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                kind,
                int(face_a),
                None if face_b is None else int(face_b),
                None if person_id is None else int(person_id),
                self.stamp,
            ),
        )
        cid = int(cur.lastrowid or 0)
        self.constraints_added.append(cid)
        return cid

    def remove_constraints(self, constraint_ids: Iterable[int]) -> None:
        for cid in constraint_ids:
            row = self.db.execute("SELECT * FROM constraints WHERE id = ?", (cid,)).fetchone()
            if row is None:
                continue
            if cid in self.constraints_added:
                self.constraints_added.remove(cid)
            else:
                self.constraints_removed.append(dict(row))
            self.db.execute("DELETE FROM constraints WHERE id = ?", (cid,))

    def dismiss(self, person_a: int, person_b: int) -> None:
        a, b = sorted((int(person_a), int(person_b)))
        cur = self.db.execute(
            "INSERT OR IGNORE INTO dismissed_pairs (person_a, person_b, created_at) "
            "VALUES (?, ?, ?)",
            (a, b, self.stamp),
        )
        if cur.rowcount:
            self.dismissed_added.append((a, b))

    def undo_plan(self) -> dict[str, Any]:
        return {
            "persons_before": {str(k): v for k, v in self.persons_before.items()},
            "faces_before": {str(k): v for k, v in self.faces_before.items()},
            "constraints_added": self.constraints_added,
            "constraints_removed": self.constraints_removed,
            "dismissed_added": [list(p) for p in self.dismissed_added],
        }


class PeopleMixin(CatalogBase):
    """Reads and writes persons, assignments, constraints, corrections and dismissals."""

    # -- persons -----------------------------------------------------------------------
    def persons(
        self, person_ids: Sequence[int] | None = None, *, with_empty: bool = False
    ) -> list[dict[str, Any]]:
        """Persons with ``n_faces`` and ``n_confirmed``, by id; empty ones only on request."""
        sql = (
            "SELECT p.id, p.name, p.hidden, p.created_at, p.updated_at, "
            "COUNT(fp.face_id) AS n_faces, COALESCE(SUM(fp.confirmed), 0) AS n_confirmed "
            "FROM persons p LEFT JOIN face_person fp ON fp.person_id = p.id"
        )
        params: list[Any] = []
        if person_ids is not None:
            ids = [int(i) for i in person_ids]
            sql += f" WHERE p.id IN ({','.join('?' * len(ids))})"
            params = ids
        sql += " GROUP BY p.id"
        if not with_empty:
            sql += " HAVING COUNT(fp.face_id) > 0"  # not the alias: PostgreSQL refuses it
        sql += " ORDER BY p.id"
        return [{**dict(r), "hidden": bool(r["hidden"])} for r in self.query(sql, params)]

    def person(self, person_id: int) -> dict[str, Any]:
        found = self.persons([person_id], with_empty=True)
        if not found:
            raise NotFoundError(f"person {person_id} is not in the catalog; see `faceatlas people`")
        return found[0]

    def person_exists(self, person_id: int) -> bool:
        return (
            self.db.execute("SELECT 1 FROM persons WHERE id = ?", (int(person_id),)).fetchone()
            is not None
        )

    # -- assignments -------------------------------------------------------------------
    def assignments(self, face_ids: Sequence[int] | None = None) -> dict[int, dict[str, Any]]:
        """``{face_id: {person_id, source, confirmed, run_id}}`` for assigned faces."""
        sql = "SELECT face_id, person_id, source, confirmed, run_id FROM face_person"
        if face_ids is None:
            rows = self.query(sql)
        else:
            rows = []
            for chunk in _chunks(face_ids):
                rows += self.query(sql + f" WHERE face_id IN ({','.join('?' * len(chunk))})", chunk)
        return {
            r["face_id"]: {
                "person_id": r["person_id"],
                "source": r["source"],
                "confirmed": bool(r["confirmed"]),
                "run_id": r["run_id"],
            }
            for r in rows
        }

    def assignment_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every assignment as arrays ``(face_ids, person_ids, confirmed)``, by face id.

        One query, no per-row dicts: what clustering reads on a large catalog.
        """
        rows = self.db.execute(
            "SELECT face_id, person_id, confirmed FROM face_person ORDER BY face_id"
        ).fetchall()
        a = np.array(rows, np.int64).reshape(-1, 3)
        return a[:, 0], a[:, 1], a[:, 2].astype(bool)

    def face_photo_quality(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(face_ids, photo_ids, quality)`` of every face, by face id, in one query.

        A face the scan judged not usable (too small, blurred, profile, low score, dark) has
        quality 0 here, so clustering lets it join a person but never found or bridge one.
        """
        rows = self.db.execute(
            "SELECT id, photo_id, CASE WHEN usable = 0 THEN 0.0 ELSE quality END "
            "FROM faces ORDER BY id"
        ).fetchall()
        a = np.array(rows, np.float64).reshape(-1, 3)
        return a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2]

    def faces_of_person(self, person_id: int) -> list[int]:
        return [
            r[0]
            for r in self.query(
                "SELECT face_id FROM face_person WHERE person_id = ? ORDER BY face_id",
                (int(person_id),),
            )
        ]

    def face_people(self) -> dict[int, tuple[int, str | None]]:
        """``{face_id: (person_id, name)}`` for every assigned face."""
        rows = self.query(
            "SELECT fp.face_id, fp.person_id, p.name FROM face_person fp "
            "JOIN persons p ON p.id = fp.person_id"
        )
        return {r[0]: (r[1], r[2]) for r in rows}

    def person_examples(self) -> dict[int, dict[str, Any]]:
        """One face per person to show (its best-quality face): ``{person_id: face row}``."""
        rows = self.query(
            "SELECT fp.person_id, f.id AS face_id, p.path, p.frame_index, f.quality "
            "FROM face_person fp JOIN faces f ON f.id = fp.face_id "
            "JOIN photos p ON p.id = f.photo_id ORDER BY fp.person_id, f.quality DESC, f.id"
        )
        out: dict[int, dict[str, Any]] = {}
        for r in rows:
            out.setdefault(r["person_id"], dict(r))
        return out

    def people_overlapping_photos(self) -> list[tuple[int, int, int, int]]:
        """``(person_id, photo_id, face_a, face_b)``: a person with two faces of one photo."""
        rows = self.query(
            "SELECT fa.person_id, f1.photo_id, f1.id, f2.id FROM face_person fa "
            "JOIN faces f1 ON f1.id = fa.face_id "
            "JOIN faces f2 ON f2.photo_id = f1.photo_id AND f2.id > f1.id "
            "JOIN face_person fb ON fb.face_id = f2.id AND fb.person_id = fa.person_id"
        )
        return [tuple(r) for r in rows]

    def apply_clustering(
        self,
        run_id: int,
        assign: Mapping[int, int],
        new_people: Sequence[Sequence[int]],
        unassign: Sequence[int] = (),
    ) -> list[int]:
        """Write one cluster run in one transaction; returns the ids of the new persons.

        ``assign`` maps faces to existing persons, each of ``new_people`` (a list of face
        ids) becomes a new person, and ``unassign`` faces lose their person. Pinned
        (confirmed) faces are never changed here, whatever the arrays say.
        """
        stamp = now()
        with self.transaction() as db:
            pinned = {
                r[0] for r in db.execute("SELECT face_id FROM face_person WHERE confirmed = 1")
            }
            for chunk in _chunks([f for f in unassign if int(f) not in pinned]):
                db.execute(
                    f"DELETE FROM face_person WHERE face_id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
            rows = [
                (int(f), int(p), "cluster", 0, run_id, stamp)
                for f, p in assign.items()
                if int(f) not in pinned
            ]
            new_ids = []
            for faces in new_people:
                cur = db.execute(
                    "INSERT INTO persons (name, hidden, created_at, updated_at) "
                    "VALUES (NULL, 0, ?, ?)",
                    (stamp, stamp),
                )
                pid = int(cur.lastrowid or 0)
                new_ids.append(pid)
                rows += [
                    (int(f), pid, "cluster", 0, run_id, stamp)
                    for f in faces
                    if int(f) not in pinned
                ]
            db.executemany(
                "INSERT OR REPLACE INTO face_person (face_id, person_id, source, confirmed, "
                "run_id, assigned_at) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
        return new_ids

    def enroll_faces(
        self, face_ids: Sequence[int], person_id: int | None = None, name: str | None = None
    ) -> int:
        """Pin faces to a person (created when ``person_id`` is None) as an enrolment.

        Logged as a correction, so ``undo`` reverts it; returns the person id. Unconfirmed
        faces of the person that share a photo with an enrolled face lose their person;
        confirmed ones stay (the user's word, like the enrolment, wins over the rule).
        """
        return self.enroll_groups([(face_ids, person_id, name)])[0]

    def enroll_groups(
        self,
        groups: Sequence[tuple[Sequence[int], int | None, str | None]],
        references: Mapping[int, str] | None = None,
    ) -> list[int]:
        """Several enrolments ``(face_ids, person_id or None, name)`` as ONE correction.

        One ``enroll`` run is one step for ``undo``. ``references`` (face id -> file in
        the known folder) marks reference faces (kept out of undo: a photo stays a
        reference photo of the known folder whoever it is assigned to). Returns the
        person ids, in order.
        """
        plans = [self._enroll_plan([int(f) for f in fs], pid) for fs, pid, _ in groups]
        info = {
            "groups": [
                {"faces": [int(f) for f in fs], "person": pid, "name": name, "displaced": d}
                for (fs, pid, name), d in zip(groups, plans, strict=True)
            ]
        }
        out: list[int] = []
        with self.correction("enroll", info) as c:
            for (fs, wanted, name), displaced in zip(groups, plans, strict=True):
                pid = c.create_person(name) if wanted is None else int(wanted)
                if wanted is not None and name is not None:
                    c.update_person(pid, name=name)
                if displaced:
                    c.unassign(displaced)
                c.remove_constraints(
                    [
                        con["id"]
                        for con in self.constraints("not_person")
                        if con["face_a"] in set(map(int, fs)) and con["person_id"] == pid
                    ]
                )
                c.assign([int(f) for f in fs], pid, source="enroll", confirmed=True)
                out.append(int(pid))
        if references:
            with self.transaction() as db:
                db.executemany(
                    "INSERT OR IGNORE INTO reference_faces (face_id, known_path, created_at) "
                    "VALUES (?, ?, ?)",
                    [(int(f), str(p), now()) for f, p in references.items()],
                )
        return out

    def reference_faces(self, face_ids: Sequence[int] | None = None) -> dict[int, str]:
        """``{face_id: known_path}`` of faces enrolled from a known-people folder."""
        sql = "SELECT face_id, known_path FROM reference_faces"
        if face_ids is None:
            return {r[0]: r[1] for r in self.query(sql)}
        out: dict[int, str] = {}
        for chunk in _chunks(face_ids):
            q = sql + f" WHERE face_id IN ({','.join('?' * len(chunk))})"
            out.update((r[0], r[1]) for r in self.query(q, chunk))
        return out

    def _enroll_plan(self, face_ids: list[int], person_id: int | None) -> list[int]:
        """The faces an enrolment displaces (checked; raises before anything changes)."""
        photo_of = self._photo_of(face_ids)
        missing = sorted(set(face_ids) - set(photo_of))
        if missing:
            raise NotFoundError(f"face {missing[0]} is not in the catalog")
        if person_id is not None and not self.person_exists(person_id):
            raise NotFoundError(f"person {person_id} is not in the catalog")
        held_ids = self.faces_of_person(person_id) if person_id is not None else []
        held = [{"id": f, "photo_id": ph} for f, ph in self._photo_of(held_ids).items()]
        pinned = {f for f, a in self.assignments(held_ids).items() if a["confirmed"]}
        # An enrolment is the user's word: never refused for the one-face-a-photo rule.
        # Unconfirmed faces of the person in the photo of an enrolled face make way.
        enrolled_photos = {photo_of[f] for f in face_ids}
        return [
            r["id"]
            for r in held
            if r["photo_id"] in enrolled_photos
            and r["id"] not in pinned
            and r["id"] not in set(face_ids)
        ]

    def _photo_of(self, face_ids: Sequence[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for chunk in _chunks(face_ids):
            out.update(
                (r[0], r[1])
                for r in self.query(
                    f"SELECT id, photo_id FROM faces WHERE id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
            )
        return out

    # -- constraints -------------------------------------------------------------------
    def constraints(self, kind: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM constraints"
        params: tuple[Any, ...] = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            params = (kind,)
        return [dict(r) for r in self.query(sql + " ORDER BY id", params)]

    def dismissed_pairs(self) -> set[tuple[int, int]]:
        return {(r[0], r[1]) for r in self.query("SELECT person_a, person_b FROM dismissed_pairs")}

    # -- corrections -------------------------------------------------------------------
    @contextlib.contextmanager
    def correction(self, kind: str, info: Mapping[str, Any]) -> Iterator[Correction]:
        """One logged, undoable correction: every change inside is one transaction."""
        with self.transaction() as db:
            rec = Correction(db)
            yield rec
            payload = {"info": dict(info), "undo": rec.undo_plan()}
            cur = db.execute(
                "INSERT INTO corrections (kind, payload, created_at) VALUES (?, ?, ?)",
                (kind, json.dumps(payload), rec.stamp),
            )
            rec.id = int(cur.lastrowid or 0)
            if rec.constraints_added:
                db.execute(
                    f"UPDATE constraints SET correction_id = ? WHERE id IN "
                    f"({','.join('?' * len(rec.constraints_added))})",
                    (rec.id, *rec.constraints_added),
                )
            if rec.dismissed_added:
                for a, b in rec.dismissed_added:
                    db.execute(
                        "UPDATE dismissed_pairs SET correction_id = ? "
                        "WHERE person_a = ? AND person_b = ?",
                        (rec.id, a, b),
                    )

    def corrections(self, limit: int = 50, *, include_undone: bool = True) -> list[dict[str, Any]]:
        sql = "SELECT * FROM corrections"
        if not include_undone:
            sql += " WHERE undone_at IS NULL"
        rows = self.query(sql + " ORDER BY id DESC LIMIT ?", (limit,))
        return [
            {
                "id": r["id"],
                "kind": r["kind"],
                "created_at": r["created_at"],
                "undone_at": r["undone_at"],
                **json.loads(r["payload"])["info"],
            }
            for r in rows
        ]

    def undo_last_correction(self) -> dict[str, Any] | None:
        """Put back every row the last not-yet-undone correction changed; None if none."""
        row = self.db.execute(
            "SELECT * FROM corrections WHERE undone_at IS NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        plan = json.loads(row["payload"])["undo"]
        stamp = now()
        with self.transaction() as db:
            for cid in plan["constraints_added"]:
                db.execute("DELETE FROM constraints WHERE id = ?", (cid,))
            for c in plan["constraints_removed"]:
                # Faces may have gone since (rescanned file): their constraints stay gone.
                if self._face_exists(db, c["face_a"]) and (
                    c["face_b"] is None or self._face_exists(db, c["face_b"])
                ):
                    db.execute(
                        "INSERT OR REPLACE INTO constraints (id, kind, face_a, face_b, "
                        "person_id, correction_id, created_at) VALUES "
                        "(:id, :kind, :face_a, :face_b, :person_id, :correction_id, "
                        ":created_at)",
                        c,
                    )
            for a, b in plan["dismissed_added"]:
                db.execute(
                    "DELETE FROM dismissed_pairs WHERE person_a = ? AND person_b = ?", (a, b)
                )
            # Persons first (restored assignments may point at them), deletions last.
            created = []
            for pid, before in plan["persons_before"].items():
                if before is None:
                    created.append(int(pid))
                elif db.execute("SELECT 1 FROM persons WHERE id = ?", (int(pid),)).fetchone():
                    # UPDATE, not INSERT OR REPLACE: REPLACE deletes the row first, and the
                    # foreign-key cascade would take the person's assignments with it.
                    db.execute(
                        "UPDATE persons SET name = :name, hidden = :hidden, "
                        "updated_at = :updated_at WHERE id = :id",
                        before,
                    )
                else:
                    db.execute(
                        "INSERT INTO persons (id, name, hidden, created_at, updated_at) "
                        "VALUES (:id, :name, :hidden, :created_at, :updated_at)",
                        before,
                    )
            for fid, before in plan["faces_before"].items():
                db.execute("DELETE FROM face_person WHERE face_id = ?", (int(fid),))
                if before is not None and self._face_exists(db, int(fid)):
                    db.execute(
                        "INSERT INTO face_person (face_id, person_id, source, "
                        "confirmed, run_id, assigned_at) VALUES (:face_id, "
                        ":person_id, :source, :confirmed, :run_id, :assigned_at)",
                        before,
                    )
            for pid in created:
                db.execute("DELETE FROM persons WHERE id = ?", (pid,))
            db.execute("UPDATE corrections SET undone_at = ? WHERE id = ?", (stamp, row["id"]))
        info = json.loads(row["payload"])["info"]
        return {"id": row["id"], "kind": row["kind"], "created_at": row["created_at"], **info}

    @staticmethod
    def _face_exists(db: sqlite3.Connection, face_id: int) -> bool:
        return (
            db.execute("SELECT 1 FROM faces WHERE id = ?", (int(face_id),)).fetchone() is not None
        )
