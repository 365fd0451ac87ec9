"""``similar``: the catalogued faces most like a photo's faces, a face, or a person."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from faceatlas.config import ScanConfig
from faceatlas.exceptions import InputError, NotFoundError
from faceatlas.known._common import Log, embedder_of, quiet
from faceatlas.known._index import catalog_index
from faceatlas.known._who import embed_files
from faceatlas.policy import same_person_threshold

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog
    from faceatlas.embed import Embedder


def _resolve_query(
    catalog: Catalog, query: str | int | Path, emb: Embedder, config: ScanConfig
) -> list[dict[str, Any]]:
    """Query vectors with what to leave out of their results."""
    if isinstance(query, Path) or (isinstance(query, str) and os.path.isfile(query)):
        files = embed_files([str(query)], config)
        f = files[0]
        if f["error"]:
            raise InputError(f"cannot read {query}: {f['error']}")
        out: list[dict[str, Any]] = [
            {
                "query": {
                    "kind": "photo",
                    "file": str(query),
                    "frame_index": fr["frame_index"],
                    "box": [round(float(v), 1) for v in face.box],
                },
                "vector": face.embedding,
                "exclude": set(),
            }
            for fr in f["frames"]
            for face in fr["faces"]
        ]
        if not out:
            raise InputError(f"no face found in {query}")
        return out
    text = str(query).strip()
    if isinstance(query, int) or re.fullmatch(r"\d+", text):
        fid = int(text)
        catalog.face(fid)  # NotFoundError when absent
        _, X = catalog.embeddings(emb.name, [fid])
        if not len(X):
            raise InputError(f"face {fid} has no {emb.name} vector; scan with that embedder")
        return [{"query": {"kind": "face", "face_id": fid}, "vector": X[0], "exclude": {fid}}]
    m = re.fullmatch(r"(?:person[:#]?\s*)(\d+)", text, flags=re.I)
    if m:
        pid = int(m.group(1))
        catalog.person(pid)
    else:
        named = [p for p in catalog.persons() if (p["name"] or "").lower() == text.lower()]
        if not named:
            raise InputError(
                f"query must be an image file, a face id, person:<id> or a "
                f"person's name; nothing matches {text!r}"
            )
        pid = int(named[0]["id"])
    faces = catalog.faces_of_person(pid)
    _, X = catalog.embeddings(emb.name, faces)
    if not len(X):
        raise NotFoundError(f"person {pid} has no faces with {emb.name} vectors")
    # The person's mean direction: look-alikes of the person, not of one photo of them.
    v = X.mean(axis=0)
    v /= max(float(np.linalg.norm(v)), 1e-12)
    return [
        {
            "query": {"kind": "person", "person_id": pid, "name": catalog.person(pid)["name"]},
            "vector": v.astype(np.float32),
            "exclude": set(faces),
        }
    ]


def similar(
    catalog: Catalog,
    query: str | int | Path,
    *,
    k: int = 10,
    min_similarity: float | None = None,
    embedder: str | None = None,
    detector: str = "yunet",
    index_kind: str = "auto",
    exact_max: int | None = None,
    log: Log = quiet,
) -> dict[str, Any]:
    """The catalogued faces most similar to a photo's faces, a face, or a person.

    Parameters
    ----------
    catalog : Catalog
    query : str, int or Path
        An image file (each of its faces is a query), a face id, ``person:<id>`` or a
        person's name (the person's mean vector; their own faces are left out).
    k : int, default=10
    min_similarity : float, optional
        Drop results below this cosine similarity.
    embedder, detector : str
    index_kind : {"auto", "exact", "ivf", "hnsw", "pca-kmeans"}, default="auto"
    exact_max : int, optional
        See :func:`catalog_index`.
    log : callable(str)
        Receives the index build report.

    Returns
    -------
    dict
        ``index`` (:class:`IndexInfo` as a dict) and ``queries``: each with ``query`` and
        ``results`` (face_id, similarity, same_person, path, frame_index, box, person_id,
        name); ``threshold`` and ``threshold_source``: the same-person bar of
        :func:`faceatlas.policy.same_person_threshold` that ``same_person`` compares with.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be an int >= 1, got {k!r}")
    if min_similarity is not None and not -1.0 <= float(min_similarity) <= 1.0:
        raise InputError(f"min_similarity must be in [-1, 1], got {min_similarity!r}")
    emb = embedder_of(catalog, embedder)
    # the same bar cluster and who use (faceatlas.policy), to say which results are likely
    # the same person; the list itself is ordered by similarity alone
    bar = same_person_threshold(catalog, emb)
    config = ScanConfig(detector=detector, embedder=emb.name, jobs=1)
    queries = _resolve_query(catalog, query, emb, config)
    index, _, info = catalog_index(catalog, emb, kind=index_kind, exact_max=exact_max, log=log)
    # a hidden person stays out of look-alike lists (issue 15): ask for room to skip them
    hidden_people = [p for p in catalog.persons() if p["hidden"]]
    hidden = {p["id"] for p in hidden_people}
    extra = max(len(q["exclude"]) for q in queries) + sum(p["n_faces"] for p in hidden_people)
    Q = np.stack([q["vector"] for q in queries]).astype(np.float32)
    D, ids = index.search(Q, k + extra)
    wanted = sorted({int(i) for i in ids.ravel() if i >= 0})
    faces = {f["id"]: f for f in catalog.faces(wanted)}
    people = catalog.face_people()
    out = []
    for q, drow, irow in zip(queries, D, ids, strict=True):
        results = []
        for s, fid in zip(drow.tolist(), irow.tolist(), strict=True):
            if fid < 0 or fid in q["exclude"] or fid not in faces:
                continue
            if min_similarity is not None and s < min_similarity:
                break
            f = faces[fid]
            pid, name = people.get(fid, (None, None))
            if pid in hidden:
                continue
            results.append(
                {
                    "face_id": fid,
                    "similarity": round(float(s), 6),
                    "same_person": bool(s >= bar.value),
                    "path": f["path"],
                    "frame_index": f["frame_index"],
                    "box": [round(f[c], 1) for c in ("x1", "y1", "x2", "y2")],
                    "person_id": pid,
                    "name": name,
                }
            )
            if len(results) == k:
                break
        out.append({"query": q["query"], "results": results})
    return {
        "index": info.to_dict(),
        "embedder": emb.name,
        "threshold": bar.value,
        "threshold_source": bar.source,
        "queries": out,
    }
