"""The gallery's review queue and its fixes: questions, answers, ignoring faces, covers.

The questions and the answers are :mod:`faceatlas.people`'s review queue, the one
``faceatlas review`` asks; this module caches the questions for the gallery (they take
seconds on 100,000 faces) and leaves out those answered since. Every answer is a correction
made by :mod:`faceatlas.people`'s functions, so it is logged, undoable, and binds later
clusterings.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from faceatlas.exceptions import InputError
from faceatlas.views._gallery import cached, people_listing, person_names

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog


def review_questions(
    catalog: Catalog, limit: int = 50, *, embedder: str | None = None
) -> list[dict[str, Any]]:
    """The questions whose answers improve the people most, most uncertain first; cached.

    Returns
    -------
    list of dict
        ``kind`` ("is_this" or "same_person"), ``face_id``, ``person_id``,
        ``person_name``, ``similarity``, ``why``; a "same_person" question also has
        ``other_person_id``, ``other_person_name`` and ``other_face_id`` (the two closest
        faces); "yes" merges the other person into ``person_id``.
    """
    from faceatlas.people import review_questions as ask

    def build(cat: Catalog = catalog) -> list[dict[str, Any]]:
        return list(ask(cat, limit, embedder=embedder))

    key = f"review/{limit}/{embedder}"
    qs = cached(catalog, key, build, stale_ok=True)
    return _still_open(catalog, qs)


def _still_open(catalog: Catalog, questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The questions not answered since they were asked (a stale queue may hold some)."""
    faces = [int(q["face_id"]) for q in questions]
    owner = catalog.assignments(faces)
    refused = {
        (c["face_a"], c["person_id"]) for c in catalog.constraints("not_person")
    }  # a small table: the user's own answers
    dismissed = catalog.dismissed_pairs()
    ids = {q["person_id"] for q in questions} | {
        q["other_person_id"] for q in questions if q["kind"] == "same_person"
    }
    alive = {p["id"] for p in catalog.persons(sorted(ids))}
    out = []
    for q in questions:
        f, p = int(q["face_id"]), int(q["person_id"])
        if q["kind"] == "is_this":
            if owner.get(f, {}).get("confirmed") or (f, p) in refused:
                continue
        else:
            pair = tuple(sorted((p, int(q["other_person_id"]))))
            if pair in dismissed or p not in alive or int(q["other_person_id"]) not in alive:
                continue
        out.append(q)
    return out


def answer_review(catalog: Catalog, question: dict[str, Any], answer: str) -> dict[str, Any]:
    """Store the answer to one question as a correction: :func:`faceatlas.people.answer_review`."""
    from faceatlas.people import answer_review as answer_it

    return dict(answer_it(catalog, question, answer))


def ignore_faces(catalog: Catalog, face_ids: list[int]) -> dict[str, Any]:
    """Hide strangers: each face ends in a hidden person of its own, out of every view.

    A face that already is the only face of its person hides that person; any other face
    moves to a new person (:func:`faceatlas.people.move_face`, pinned, so clustering never
    takes it back), which is then hidden (:func:`faceatlas.people.hide_person`). Two
    logged corrections per moved face: undo reverts them one at a time.
    """
    from faceatlas import people

    if not face_ids:
        raise InputError("ignore needs at least one face id, got none")
    owners = catalog.assignments([int(f) for f in face_ids])
    sizes = {
        p["id"]: p["n_faces"]
        for p in catalog.persons(sorted({a["person_id"] for a in owners.values()}))
    }
    hidden = []
    for f in face_ids:
        pid = owners.get(int(f), {}).get("person_id")
        if pid is None or sizes.get(pid, 0) > 1:
            pid = people.move_face(catalog, int(f), None)["person"]
        people.hide_person(catalog, pid, True)
        hidden.append(pid)
    return {"ignored": [int(f) for f in face_ids], "hidden_people": hidden}


def choose_cover(catalog: Catalog, person_id: int, face_id: int | None) -> dict[str, Any]:
    """Show a person by one of its faces (None: by its best-quality face again)."""
    catalog.set_cover(person_id, face_id)
    return {"person": person_id, "cover_face": face_id}


def warm(path: str, *, embedder: str | None = None) -> threading.Thread:
    """Build the costly gallery answers of catalog ``path`` in a background thread.

    ``faceatlas serve`` calls it at start, so the first visitor of the people list or the
    review queue does not wait for them.
    """
    from faceatlas.catalog import Catalog

    def run() -> None:
        try:
            with Catalog(path) as cat:
                people_listing(cat)
                person_names(cat)
                cached(cat, "unassigned", cat.unassigned_face_ids)
                review_questions(cat, 50, embedder=embedder)
        except Exception:  # noqa: BLE001 - a request builds what is missing, with its error
            return

    thread = threading.Thread(target=run, name="faceatlas-warm", daemon=True)
    thread.start()
    return thread
