"""Corrections: name, hide, merge, split, move, reject, undo.

Each is one journalled catalog correction (so :func:`undo` reverts it) and most pin faces
to a person: a pin is a constraint every later cluster run obeys.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from faceatlas._validation import check_int
from faceatlas.catalog import Catalog
from faceatlas.exceptions import InputError
from faceatlas.people._cluster import _catalog_bars
from faceatlas.people._names import people_named
from faceatlas.people._state import _centroid, _require_face, _require_person, repeat_bar
from faceatlas.policy import DEFAULT_EMBEDDER, catalog_embedder, same_person_threshold


def name_person(
    catalog: Catalog, person_id: int, name: str, *, merge: bool = False
) -> dict[str, Any]:
    """Give a person a name (an empty name clears it); naming confirms its faces. Undoable.

    A name says "these faces are this person": every face the person holds is pinned to
    it, so no later re-cluster (``--all``, ``--k``, ``--threshold``) takes them away and
    the name stays on them. A name another person holding faces already has (compared by
    :func:`faceatlas.people.normalize_name`) is refused with the hint to merge; with
    ``merge=True`` this person is merged into that one instead (which keeps its id). A
    person left without faces gives up the name.
    """
    old = _require_person(catalog, person_id)
    if not isinstance(name, str):
        raise InputError(f"name must be text, got {name!r}")
    clean = " ".join(name.split()) or None
    holders = [p for p in people_named(catalog, clean or "") if p["id"] != person_id]
    owner = [p for p in holders if p["n_faces"] > 0]
    if owner:
        if not merge:
            raise InputError(
                f"name {clean!r} is already person {owner[0]['id']}'s "
                f"({owner[0]['n_faces']} faces); to say they are one person run "
                f"`faceatlas merge {owner[0]['id']} {person_id}` or name with --merge"
            )
        return merge_people(catalog, int(owner[0]["id"]), person_id)
    held = catalog.faces_of_person(person_id) if clean else []
    faces = [f for f, a in catalog.assignments(held).items() if not a["confirmed"]]
    with catalog.correction(
        "name", {"person": person_id, "name": clean, "old_name": old["name"]}
    ) as c:
        for p in holders:  # empty persons that kept the name: the name is free again
            c.update_person(int(p["id"]), name=None)
        c.update_person(person_id, name=clean)
        if faces:
            c.assign(faces, person_id, source="user", confirmed=True)
    return catalog.person(person_id)


def hide_person(catalog: Catalog, person_id: int, hidden: bool = True) -> dict[str, Any]:
    """Hide a person from listings (its faces stay assigned, so they are not re-used)."""
    _require_person(catalog, person_id)
    with catalog.correction("hide", {"person": person_id, "hidden": bool(hidden)}) as c:
        c.update_person(person_id, hidden=int(bool(hidden)))
    return catalog.person(person_id)


def _embeddings_of(
    catalog: Catalog, face_ids: Sequence[int], embedder: str | None
) -> dict[int, np.ndarray]:
    """Vectors of the given faces under ``embedder`` (default: :func:`catalog_embedder`'s)."""
    embedder = catalog_embedder(catalog, embedder)
    if embedder is None:
        return {}
    ids, X = catalog.embeddings(embedder, face_ids)
    return {int(i): x for i, x in zip(ids, X, strict=True)}


def merge_people(
    catalog: Catalog,
    person_a: int,
    person_b: int,
    *,
    embedder: str | None = None,
    kind: str = "merge",
) -> dict[str, Any]:
    """Person ``person_b`` is ``person_a``: pin every face of both to ``person_a``.

    A person appears once per photo: when the two people hold faces of the same photo,
    the face closer to the merged centre stays and the other is unassigned (reported in
    ``dropped``), unless the faces are confirmed (the user's word wins) or alike enough
    to be one person shown twice (a collage, a mirror). ``person_a`` keeps its name, or
    takes ``person_b``'s.
    """
    a = _require_person(catalog, person_a)
    b = _require_person(catalog, person_b)
    if person_a == person_b:
        raise InputError(f"cannot merge person {person_a} with itself")
    fa, fb = catalog.faces_of_person(person_a), catalog.faces_of_person(person_b)
    faces = fa + fb
    assign = catalog.assignments(faces)
    rows = catalog.faces(faces)
    by_photo: dict[int, list[int]] = defaultdict(list)
    for r in rows:
        by_photo[r["photo_id"]].append(r["id"])
    dropped: list[int] = []
    clashes = [fs for fs in by_photo.values() if len(fs) > 1]
    if clashes:
        vecs = _embeddings_of(catalog, faces, embedder)
        centre = _centroid(np.stack(list(vecs.values()))) if vecs else None
        bar = _repeat_bar_of(catalog, embedder)
        for fs in clashes:
            # Confirmed faces all stay (a correction wins over the one-face-a-photo rule,
            # and two confirmed faces of one photo are the user's own decision); of the
            # others, a face as alike as one person shown twice stays too (a collage).
            pins = [f for f in fs if assign[f]["confirmed"]]

            def score(f: int, pins: list[int] = pins) -> float:
                if f in pins:
                    return 10.0
                v = vecs.get(f)
                return float(v @ centre) if v is not None and centre is not None else 0.0

            keep = max(fs, key=score)
            kept_here = [keep, *pins]
            for f in fs:
                if f in kept_here:
                    continue
                if _alike(vecs, f, kept_here, bar):
                    kept_here.append(f)
                else:
                    dropped.append(f)
    # a face the user said is not one of the two is not the merged person either
    refused = {
        con["face_a"]
        for con in catalog.constraints("not_person")
        if con["person_id"] in (person_a, person_b)
    }
    dropped += [f for f in faces if f in refused and f not in dropped]
    kept = [f for f in faces if f not in set(dropped)]
    info = {"person": person_a, "merged": person_b, "faces": len(kept), "dropped": dropped}
    with catalog.correction(kind, info) as c:
        if dropped:
            c.unassign(dropped)
        c.assign(kept, person_a, source="user", confirmed=True)
        if not a["name"] and b["name"]:
            c.update_person(person_a, name=b["name"])
        if b["name"]:
            c.update_person(person_b, name=None)  # one name, one person
        # what was "not person b" is now "not person a"
        for con in catalog.constraints("not_person"):
            if con["person_id"] == person_b:
                c.add_constraint("not_person", con["face_a"], person_id=person_a)
    return {**catalog.person(person_a), "merged": person_b, "dropped": dropped}


def split_person(
    catalog: Catalog,
    person_id: int,
    *,
    n_parts: int | None = None,
    embedder: str = DEFAULT_EMBEDDER,
    method: str | None = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Re-cluster inside one person and make each part a person of its own (pinned).

    The method's own groups are used when it finds two or more; otherwise (or when
    ``n_parts`` is given) k-means splits the faces into ``n_parts`` (default 2). The
    largest part keeps the id and the name. Faces the method leaves unsorted lose their
    person. ``threshold`` defaults to :func:`faceatlas.policy.same_person_threshold`'s.
    """
    from faceatlas.cluster import DEFAULT_METHOD, cluster_faces

    _require_person(catalog, person_id)
    if n_parts is not None:
        n_parts = check_int(n_parts, "n_parts", low=2)
    faces = catalog.faces_of_person(person_id)
    ids, X = catalog.embeddings(embedder, faces)
    if ids.size < 2:
        raise InputError(
            f"person {person_id} has {ids.size} face(s) with embedder "
            f"{embedder!r}; splitting needs at least 2"
        )
    threshold = same_person_threshold(catalog, embedder, threshold).value
    labels = None
    if n_parts is None:
        method = method or DEFAULT_METHOD
        _, X_all = catalog.embeddings(embedder)
        labels = cluster_faces(
            X,
            method,
            threshold=threshold,
            min_cluster_size=1,
            **_catalog_bars(method, {}, X_all, threshold, 0),
        )
        if np.unique(labels[labels >= 0]).size < 2:
            labels = None
    if labels is None:
        k = min(n_parts or 2, ids.size)
        labels = cluster_faces(X, "kmeans", n_clusters=k, min_cluster_size=1, threshold=threshold)
    parts = [ids[labels == g].tolist() for g in np.unique(labels[labels >= 0])]
    parts.sort(key=len, reverse=True)
    loose = [int(f) for f in ids[labels < 0]] + [f for f in faces if f not in set(ids.tolist())]
    new_ids = []
    with catalog.correction(
        "split", {"person": person_id, "parts": [len(p) for p in parts], "unassigned": loose}
    ) as c:
        c.assign(parts[0], person_id, source="user", confirmed=True)
        for part in parts[1:]:
            pid = c.create_person()
            new_ids.append(pid)
            c.assign(part, pid, source="user", confirmed=True)
        if loose:
            c.unassign(loose)
    return {
        "person": person_id,
        "new_people": new_ids,
        "parts": [len(p) for p in parts],
        "unassigned": loose,
    }


def move_face(catalog: Catalog, face_id: int, person_id: int | None) -> dict[str, Any]:
    """Face ``face_id`` is person ``person_id`` (a new person when None); pinned there.

    Another face of the same photo held by that person loses it (a person appears once
    per photo), unless it is confirmed or alike enough to be the person shown twice; the
    move itself is never refused for it.
    """
    face = _require_face(catalog, face_id)
    same_photo: list[int] = []
    if person_id is not None:
        _require_person(catalog, person_id)
        members = catalog.faces_of_person(person_id)
        others = [
            f["id"]
            for f in catalog.faces(members)
            if f["photo_id"] == face["photo_id"] and f["id"] != face_id
        ]
        # A correction is never refused for the one-face-a-photo rule: confirmed faces
        # of the photo stay, as do faces alike enough to be the person shown twice.
        assign = catalog.assignments(others)
        unconfirmed = [f for f in others if not assign[f]["confirmed"]]
        if unconfirmed:  # the threshold (and the vectors) only when there is a clash
            vecs = _embeddings_of(catalog, [face_id, *unconfirmed], None)
            bar = _repeat_bar_of(catalog, None)
            same_photo = [f for f in unconfirmed if not _alike(vecs, f, [face_id], bar)]
    old = catalog.assignments([face_id]).get(face_id, {}).get("person_id")
    with catalog.correction(
        "move", {"face": face_id, "person": person_id, "from": old, "displaced": same_photo}
    ) as c:
        if person_id is None:
            person_id = c.create_person()
        if same_photo:
            c.unassign(same_photo)
        c.remove_constraints(
            [
                con["id"]
                for con in catalog.constraints("not_person")
                if con["face_a"] == face_id and con["person_id"] == person_id
            ]
        )
        c.assign([face_id], person_id, source="user", confirmed=True)
    return {"face": face_id, "person": person_id, "from": old, "displaced": same_photo}


def reject_face(catalog: Catalog, face_id: int, person_id: int) -> dict[str, Any]:
    """Face ``face_id`` is not person ``person_id``: unassign it there, and never again."""
    _require_face(catalog, face_id)
    _require_person(catalog, person_id)
    current = catalog.assignments([face_id]).get(face_id, {}).get("person_id")
    with catalog.correction("reject", {"face": face_id, "person": person_id}) as c:
        if current == person_id:
            c.unassign([face_id])
        already = any(
            con["face_a"] == face_id and con["person_id"] == person_id
            for con in catalog.constraints("not_person")
        )
        if not already:
            c.add_constraint("not_person", face_id, person_id=person_id)
    return {"face": face_id, "person": person_id, "was_assigned": current == person_id}


def _repeat_bar_of(catalog: Catalog, embedder: str | None) -> float:
    """The repeat bar (:func:`repeat_bar`) at the catalog's same-person threshold."""
    emb = catalog_embedder(catalog, embedder) or DEFAULT_EMBEDDER
    return repeat_bar(same_person_threshold(catalog, emb).value)


def _alike(vecs: dict[int, np.ndarray], face: int, others: Sequence[int], bar: float) -> bool:
    """Whether ``face`` is as alike as one person shown twice to any of ``others``."""
    v = vecs.get(face)
    return v is not None and any(
        vecs.get(o) is not None and float(v @ vecs[o]) >= bar for o in others
    )


def undo(catalog: Catalog) -> dict[str, Any] | None:
    """Revert the last correction not yet undone; returns it, or None if there is none."""
    return catalog.undo_last_correction()
