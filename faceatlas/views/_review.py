"""The gallery's review queue and its fixes: questions, answers, ignoring faces, covers.

The questions come from ``faceatlas.people._review`` (issue 13's review queue, shared with
``faceatlas review``) when it is there; until then :func:`review_questions` asks them
itself, from the same signals: "Is this X?" for faces near the same-person threshold of
their person (or of the person an unassigned face is closest to), and "Same person?" for
merge suggestions. Every answer is a correction made by :mod:`faceatlas.people`'s
functions, so it is logged, undoable, and binds later clusterings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from faceatlas.exceptions import InputError
from faceatlas.policy import catalog_embedder, same_person_threshold
from faceatlas.views._gallery import REVIEW_MARGIN, REVIEW_UNASSIGNED, _unit, cached

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog

KINDS = ("is_this", "same_person")
ANSWERS = ("yes", "no", "skip")


def _library() -> Any:
    """The shared review module of the people package, when it is installed."""
    import importlib

    try:  # issue 13's queue (faceatlas review), shared with the CLI
        return importlib.import_module("faceatlas.people._review")
    except ImportError:
        return None


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
    lib = _library()
    use_lib = lib is not None and hasattr(lib, "review_questions")

    def build(cat: Catalog = catalog) -> list[dict[str, Any]]:
        if use_lib:
            return list(lib.review_questions(cat, limit, embedder=embedder))
        return _questions(cat, limit, embedder)

    key = f"review/{'lib' if use_lib else 'own'}/{limit}/{embedder}"
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


def _questions(catalog: Catalog, limit: int, embedder: str | None) -> list[dict[str, Any]]:
    from faceatlas.people import suggest_merges

    emb = catalog_embedder(catalog, embedder)
    if emb is None:
        return []
    t = same_person_threshold(catalog, emb).value
    persons = {p["id"]: p for p in catalog.persons() if not p["hidden"] and p["n_faces"] >= 2}
    out: list[dict[str, Any]] = [
        {
            "kind": "same_person",
            "face_id": s["closest_faces"][0],
            "person_id": s["person_a"],
            "person_name": s["name_a"],
            "other_person_id": s["person_b"],
            "other_person_name": s["name_b"],
            "other_face_id": s["closest_faces"][1],
            "similarity": s["closest_similarity"],
            "why": f"their closest faces are {s['closest_similarity']:.2f} alike "
            f"(threshold {t:.2f})",
        }
        for s in suggest_merges(catalog, emb, limit=limit)
    ]
    ids, X = catalog.embeddings(emb)
    if ids.size and persons:
        X = _unit(X)
        afid, apid, aconf = catalog.assignment_arrays()
        pos = np.searchsorted(ids, afid)
        ok = (pos < ids.size) & (ids[np.minimum(pos, ids.size - 1)] == afid)
        person = np.full(ids.size, -1, np.int64)
        pinned = np.zeros(ids.size, bool)
        person[pos[ok]], pinned[pos[ok]] = apid[ok], aconf[ok]
        pids = np.array(sorted(persons), np.int64)
        col = {int(p): i for i, p in enumerate(pids)}
        member = np.isin(person, pids)
        # each person's centre: the sum of its faces, by sorted runs (np.add.at is slow)
        order = np.argsort(person[member], kind="stable")
        runs = person[member][order]
        starts = np.flatnonzero(np.r_[True, runs[1:] != runs[:-1]])
        C = np.zeros((pids.size, X.shape[1]), np.float32)
        C[np.searchsorted(pids, runs[starts])] = np.add.reduceat(X[member][order], starts)
        C = _unit(C).astype(np.float32)
        refused = {(c["face_a"], c["person_id"]) for c in catalog.constraints("not_person")}
        # assigned, not confirmed, and not much like their person's centre
        rows = np.flatnonzero(member & ~pinned)
        s_own = np.einsum("ij,ij->i", X[rows], C[[col[int(p)] for p in person[rows]]])
        near = s_own < t + REVIEW_MARGIN
        for r, s in zip(rows[near], s_own[near], strict=True):
            out.append(_is_this(int(ids[r]), int(person[r]), float(s), t, persons, "far"))
        # unassigned faces close to a person (the best-quality ones, in chunks)
        loose = [f["face_id"] for f in catalog.unassigned_faces(limit=REVIEW_UNASSIGNED)]
        lrows = np.searchsorted(ids, loose)
        lrows = lrows[(lrows < ids.size) & (ids[np.minimum(lrows, ids.size - 1)] == loose)]
        for start in range(0, lrows.size, 1000):
            part = lrows[start : start + 1000]
            S = X[part] @ C.T
            best = S.argmax(axis=1)
            for i, (r, b) in enumerate(zip(part, best, strict=True)):
                s, p = float(S[i, b]), int(pids[b])
                if s >= t - REVIEW_MARGIN and (int(ids[r]), p) not in refused:
                    out.append(_is_this(int(ids[r]), p, s, t, persons, "close"))
    out.sort(key=lambda q: (abs(q["similarity"] - t), q["face_id"]))
    return out[:limit]


def _is_this(
    face: int, person: int, s: float, t: float, persons: dict[int, Any], how: str
) -> dict[str, Any]:
    name = persons[person]["name"]
    label = name or f"person {person}"
    why = (
        f"{s:.2f} like the centre of {label}, near the threshold {t:.2f}"
        if how == "far"
        else f"of nobody yet, but {s:.2f} like {label} (threshold {t:.2f})"
    )
    return {
        "kind": "is_this",
        "face_id": face,
        "person_id": person,
        "person_name": name,
        "similarity": round(s, 4),
        "why": why,
    }


def answer_review(catalog: Catalog, question: dict[str, Any], answer: str) -> dict[str, Any]:
    """Store the answer to one question as a correction (nothing for "skip").

    "Is this X?": yes pins the face to X (:func:`faceatlas.people.move_face`), no makes it
    never X (:func:`faceatlas.people.reject_face`). "Same person?": yes merges the other
    person into ``person_id`` (:func:`faceatlas.people.confirm_suggestion`), no dismisses
    the pair. Returns ``answer``, ``stored`` (False for a skip) and ``correction``.
    """
    if answer not in ANSWERS:
        raise InputError(f"answer must be one of {', '.join(ANSWERS)}, got {answer!r}")
    kind = question.get("kind")
    if kind not in KINDS:
        raise InputError(f"question kind must be one of {', '.join(KINDS)}, got {kind!r}")
    lib = _library()
    if lib is not None and hasattr(lib, "answer_review"):
        return lib.answer_review(catalog, question, answer)
    if answer == "skip":
        return {"answer": answer, "stored": False, "correction": None}
    from faceatlas import people

    person = int(question["person_id"])
    if kind == "is_this":
        face = int(question["face_id"])
        fn = people.move_face if answer == "yes" else people.reject_face
        return {"answer": answer, "stored": True, "correction": fn(catalog, face, person)}
    other = int(question["other_person_id"])
    pair = people.confirm_suggestion if answer == "yes" else people.dismiss_suggestion
    return {"answer": answer, "stored": True, "correction": pair(catalog, person, other)}


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
