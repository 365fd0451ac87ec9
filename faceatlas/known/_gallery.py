"""The catalog as a recognition gallery: every face with a vector, with its named person."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from faceatlas.recognize import Gallery

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog
    from faceatlas.embed import Embedder


def catalog_gallery(catalog: Catalog, embedder: Embedder) -> Gallery:
    """Every catalogued face with a vector of ``embedder``, with its named person.

    Faces of named, visible persons (enrolled, or named after clustering) can be
    recognised; all other faces carry person id -1 and serve only the same-image check.
    """
    face_ids, X = catalog.embeddings(embedder.name)
    people = {p["id"]: p for p in catalog.persons()}
    assigned = catalog.face_people()
    pids = np.full(len(face_ids), -1, np.int64)
    names = np.full(len(face_ids), None, dtype=object)
    for i, fid in enumerate(face_ids.tolist()):
        got = assigned.get(fid)
        if got is None:
            continue
        person = people.get(got[0])
        if person is not None and person["name"] and not person["hidden"]:
            pids[i] = got[0]
            names[i] = person["name"]
    hash_of_photo = {r["id"]: r["content_hash"] for r in catalog.photos()}
    faces = {f["id"]: f for f in catalog.faces()}
    hashes = [
        hash_of_photo.get(faces[f]["photo_id"]) if f in faces else None for f in face_ids.tolist()
    ]
    return Gallery(
        X if len(X) else np.zeros((0, embedder.dim), np.float32),
        person_ids=pids,
        names=names,
        face_ids=face_ids,
        content_hashes=hashes,
    )
