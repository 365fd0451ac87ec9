"""The review queue: the questions whose answers improve the people most, best first.

Two kinds of question:

- ``"is_this"``: *Is this face X?* for a face whose person is uncertain: assigned by
  clustering but close to the same-person threshold or far from its person's centre
  (compared with the person's centre *without* that face), or unassigned but close to a
  person's centre.
- ``"same_person"``: *Are X and Y one person?* for the merge suggestions of
  :func:`~faceatlas.people.suggest_merges` (computed on the same loaded state).

Every answer is stored through the existing corrections (so it binds later cluster runs
and ``undo`` reverts it): yes to *is this X* pins the face to X (:func:`move_face`), no
says it is not X (:func:`reject_face`); yes to *same person* merges
(:func:`confirm_suggestion`), no dismisses the pair (:func:`dismiss_suggestion`). A skip
stores nothing. Confirmed faces, refused pairs and dismissed suggestions are never asked
again.

Order: a question's *value* is its uncertainty (1 at the threshold, falling to 0 at
:data:`REVIEW_MARGIN` away from it) times the faces its answer settles (``1 + log2(n)``:
a merge settles the smaller person's faces at once).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from faceatlas._validation import check_int
from faceatlas.catalog import Catalog
from faceatlas.exceptions import InputError
from faceatlas.people._corrections import move_face, reject_face
from faceatlas.people._state import _load_state
from faceatlas.people._suggest import (
    _suggest_from_state,
    confirm_suggestion,
    dismiss_suggestion,
)
from faceatlas.policy import catalog_embedder, same_person_threshold

__all__ = ["REVIEW_MARGIN", "answer_review", "review_questions"]

#: How far (in cosine similarity) from the same-person threshold a face still counts as
#: uncertain. 0.1: on LFW pairs with SFace, the same-person and different-person
#: similarity distributions overlap within about 0.1 of the published 0.363.
REVIEW_MARGIN = 0.1

_ANSWERS = {"y": "yes", "yes": "yes", "n": "no", "no": "no", "s": "skip", "skip": "skip"}
_CHUNK = 4096  # rows of unassigned faces compared with every centre at once


def _uncertainty(sim: float, threshold: float) -> float:
    return max(0.0, 1.0 - abs(sim - threshold) / REVIEW_MARGIN)


def review_questions(
    catalog: Catalog, limit: int = 20, *, embedder: str | None = None
) -> list[dict[str, Any]]:
    """The review queue, most valuable question first.

    Parameters
    ----------
    catalog : Catalog
    limit : int, default 20
        Most questions returned.
    embedder : str, optional
        Whose vectors to compare (default: :func:`faceatlas.policy.catalog_embedder`).

    Returns
    -------
    list of dict
        Each with ``kind`` (``"is_this"`` or ``"same_person"``), ``face_id``, ``person_id``,
        ``person_name``, ``similarity`` (the face to the person's centre; for a pair, their
        closest faces), ``threshold``, ``why`` (one sentence) and ``value`` (the order).
        A ``"same_person"`` question also has ``other_person_id``, ``other_person_name``
        and ``other_face_id`` (the other person's closest face).
    """
    limit = check_int(limit, "limit", low=1)
    embedder = catalog_embedder(catalog, embedder)
    if embedder is None:
        return []
    bar = same_person_threshold(catalog, embedder)
    threshold = bar.value
    st = _load_state(catalog, embedder)
    visible = {pid for pid, p in st.persons.items() if not p["hidden"]}
    questions = _face_questions(st, visible, threshold)
    for s in _suggest_from_state(catalog, st, limit, threshold, 10, bar.source):
        sim = float(s["closest_similarity"])
        n = min(int(s["n_faces_a"]), int(s["n_faces_b"]))
        a_label = s["name_a"] or f"person {s['person_a']}"
        b_label = s["name_b"] or f"person {s['person_b']}"
        questions.append(
            {
                "kind": "same_person",
                "face_id": s["closest_faces"][1],
                "person_id": s["person_a"],
                "person_name": s["name_a"],
                "other_person_id": s["person_b"],
                "other_person_name": s["name_b"],
                "other_face_id": s["closest_faces"][0],
                "similarity": round(sim, 4),
                "threshold": round(threshold, 4),
                "why": (
                    f"merge suggestion: {b_label}'s closest face is {sim:.2f} alike to "
                    f"{a_label}'s (centres {s['centroid_similarity']:.2f})"
                ),
                # a pair above the bar is at least as uncertain as a face at the margin
                "value": round(max(_uncertainty(sim, threshold), 0.5) * (1 + math.log2(n)), 4),
            }
        )
    questions.sort(key=lambda q: (-q["value"], q["kind"], q["face_id"]))
    return questions[:limit]


def _face_questions(st: Any, visible: set[int], threshold: float) -> list[dict[str, Any]]:
    """The "is this X?" questions of assigned and unassigned faces."""
    out: list[dict[str, Any]] = []
    pids = np.array(sorted(p for p in visible if (st.person == p).any()), np.int64)
    if pids.size == 0:
        return out
    X = st.X.astype(np.float64)
    # each person's sum of unit vectors: a face's leave-one-out centre is the sum without it
    col = np.full(st.ids.size, -1, np.int64)
    assigned = np.isin(st.person, pids)
    col[assigned] = np.searchsorted(pids, st.person[assigned])
    S = np.zeros((pids.size, X.shape[1]))
    np.add.at(S, col[assigned], X[assigned])
    sizes = np.bincount(col[assigned], minlength=pids.size)
    names = {int(p): st.persons[int(p)]["name"] for p in pids}

    def label(pid: int) -> str:
        return names[pid] or f"person {pid}"

    # assigned by clustering (not confirmed), in a person of 2+ faces
    rows = np.flatnonzero(assigned & ~st.pinned)
    rows = rows[sizes[col[rows]] >= 2]
    loo = S[col[rows]] - X[rows]  # every row's centre without it, at once
    sims = np.einsum("ij,ij->i", X[rows], loo) / np.maximum(np.linalg.norm(loo, axis=1), 1e-12)
    keep = sims < threshold + REVIEW_MARGIN
    for r, sim in zip(rows[keep].tolist(), sims[keep].tolist(), strict=True):
        pid = int(st.person[r])
        if sim < threshold:
            why = f"far from {label(pid)}'s centre: {sim:.2f}, below the threshold {threshold:.2f}"
        else:
            why = f"near the threshold: {sim:.2f} to {label(pid)}'s centre (bar {threshold:.2f})"
        # far below the bar is a likely mistake: as worth asking as a face at the bar
        value = 1.0 if sim < threshold else _uncertainty(sim, threshold)
        out.append(_is_this(st, r, pid, names[pid], sim, threshold, why, value))

    # unassigned faces close to a person's centre
    # float32 for the one large product (every loose face with every centre)
    C = (S / np.maximum(np.linalg.norm(S, axis=1, keepdims=True), 1e-12)).astype(np.float32)
    X32 = st.X.astype(np.float32, copy=False)
    held = set(zip(st.photo[assigned].tolist(), st.person[assigned].tolist(), strict=True))
    loose = np.flatnonzero(st.person < 0)
    for start in range(0, loose.size, _CHUNK):
        part = loose[start : start + _CHUNK]
        sims = X32[part] @ C.T
        close = np.flatnonzero(sims.max(axis=1) >= threshold - REVIEW_MARGIN)
        k = min(3, pids.size)
        for i in close.tolist():  # the few faces near someone, not every loose face
            r = part[i]
            top = np.argpartition(-sims[i], k - 1)[:k]
            for j in top[np.argsort(-sims[i, top])]:
                sim = float(sims[i, j])
                if sim < threshold - REVIEW_MARGIN:
                    break
                pid = int(pids[j])
                if pid in st.not_person.get(int(r), set()) or (int(st.photo[r]), pid) in held:
                    continue  # refused by the user, or that person is already in the photo
                why = f"unassigned, but {sim:.2f} alike to {label(pid)}'s centre"
                value = _uncertainty(sim, threshold)
                out.append(_is_this(st, r, pid, names[pid], sim, threshold, why, value))
                break
    return [q for q in out if q["value"] > 0]


def _is_this(
    st: Any,
    row: int | np.integer,
    pid: int,
    name: str | None,
    sim: float,
    t: float,
    why: str,
    value: float,
) -> dict[str, Any]:
    return {
        "kind": "is_this",
        "face_id": int(st.ids[row]),
        "person_id": pid,
        "person_name": name,
        "similarity": round(sim, 4),
        "threshold": round(t, 4),
        "why": why,
        "value": round(value, 4),
    }


def answer_review(catalog: Catalog, question: dict[str, Any], answer: str) -> dict[str, Any]:
    """Store the answer to one review question as a correction (undoable).

    Parameters
    ----------
    catalog : Catalog
    question : dict
        One item of :func:`review_questions` (or its JSON): ``kind``, ``face_id``,
        ``person_id`` and, for ``"same_person"``, ``other_person_id``.
    answer : {"yes", "no", "skip"} (or "y", "n", "s")

    Returns
    -------
    dict
        ``answer``, ``stored`` (False for a skip) and ``correction``: what the correction
        function returned.
    """
    said = _ANSWERS.get(str(answer).strip().lower())
    if said is None:
        raise InputError(f"answer must be yes, no or skip (y/n/s), got {answer!r}")
    kind = question.get("kind") if isinstance(question, dict) else None
    if kind not in ("is_this", "same_person"):
        raise InputError(f"question kind must be 'is_this' or 'same_person', got {kind!r}")
    keys = ("face_id", "person_id") if kind == "is_this" else ("person_id", "other_person_id")
    vals = []
    for key in keys:
        v = question.get(key)
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise InputError(f"question {key} must be an int, got {v!r}")
        vals.append(int(v))
    if said == "skip":
        return {"answer": said, "stored": False, "correction": None}
    if kind == "is_this":
        face_id, person_id = vals
        done = (
            move_face(catalog, face_id, person_id)
            if said == "yes"
            else reject_face(catalog, face_id, person_id)
        )
    else:
        a, b = vals
        answer_pair = confirm_suggestion if said == "yes" else dismiss_suggestion
        done = answer_pair(catalog, a, b)
    return {"answer": said, "stored": True, "correction": done}
