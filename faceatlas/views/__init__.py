"""What the gallery and the report show: the data of their pages, read from a catalog.

A workflow (noun) module: every function takes a :class:`~faceatlas.catalog.Catalog` and
returns plain dicts, lists and arrays. The apps only format them: :mod:`faceatlas.web`
adds URLs and renders HTML or JSON, :mod:`faceatlas.report` names picture files, writes
pages and draws the methods page's figures. Neither app speaks to the catalog's tables,
so a change to what a page shows is made here once, for both.

The people themselves (listing, a person's faces, corrections) come from
:mod:`faceatlas.people`; the rules for which embedder to compare come from
:mod:`faceatlas.policy`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

from faceatlas.exceptions import InputError, NotFoundError
from faceatlas.policy import catalog_embedder

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from faceatlas.catalog import Catalog

__all__ = [
    "FACES_PER_PAGE",
    "POOR_QUALITY",
    "answer_review",
    "cached",
    "choose_cover",
    "ignore_faces",
    "people_listing",
    "person_names",
    "person_page",
    "photo_page",
    "review_questions",
    "unsorted_page",
    "upload_preview",
    "warm",
    "METHODS_ELBOW_MAX_K",
    "METHODS_ELBOW_SAMPLE",
    "METHODS_SAMPLE",
    "catalog_labels",
    "face_chip",
    "merge_review",
    "methods_data",
    "photo_search",
    "picture_source",
    "recent_corrections",
    "report_contents",
    "unsorted_faces",
]

#: Faces whose chips feed the eigenfaces, and on which the embeddings' PCA is fitted (then
#: applied to every face for the scatter). The leading components of 1,500 faces are those
#: of 13,000, and the fit costs a second instead of ten on a busy 2-core machine.
METHODS_SAMPLE = 1500
#: Faces and largest k of the k-means curve. k-means at k = 500-1,000 costs 15-20 s each
#: on this machine class; the curve's shape (where inertia stops falling fast) shows
#: well below 150 clusters of 1,000 faces.
METHODS_ELBOW_SAMPLE = 1000
METHODS_ELBOW_MAX_K = 150


# -- pictures -------------------------------------------------------------------------------
def face_chip(catalog: Catalog, face_id: int) -> bytes:
    """A face's stored 112x112 aligned chip (JPEG bytes); NotFoundError if it has none."""
    data = catalog.face_chip(face_id)
    if not data:
        raise NotFoundError(f"face {face_id} has no stored chip")
    return bytes(data)


def picture_source(
    catalog: Catalog, *, photo_id: int | None = None, face_id: int | None = None
) -> dict[str, Any]:
    """Where a photo (or a face's photo) is and what to draw on it.

    Parameters
    ----------
    catalog : Catalog
    photo_id : int, optional
        The photo; without a face, no box is drawn.
    face_id : int, optional
        A face: its photo, with the face's box. One of ``photo_id`` and ``face_id`` is given.

    Returns
    -------
    dict
        ``photo_id``, ``path`` (as recorded by the scan; the caller decides whether it may
        be read), ``frame_index`` (-1 for a still image) and ``box`` (``[x1, y1, x2, y2]``
        in the full photo's pixels, or None).
    """
    box = None
    if face_id is not None:
        f = catalog.face(face_id)
        box = [f["x1"], f["y1"], f["x2"], f["y2"]]
        photo_id = f["photo_id"]
    if photo_id is None:
        raise NotFoundError("picture_source needs a photo_id or a face_id, got neither")
    row = catalog.photo(photo_id)
    return {
        "photo_id": photo_id,
        "path": row["path"],
        "frame_index": row["frame_index"],
        "box": box,
    }


# -- the gallery's pages ----------------------------------------------------------------------
def unsorted_faces(catalog: Catalog) -> dict[str, Any]:
    """The small groups (people below ``min_faces``) and the faces of nobody.

    Returns
    -------
    dict
        ``groups``: person dicts as :func:`faceatlas.people.list_people` gives them;
        ``faces``: every unassigned face (``face_id``, ``photo_id``, ``path``,
        ``frame_index``) in catalog order.
    """
    from faceatlas.people import list_people

    groups = list_people(catalog)["unsorted"]
    owner = catalog.face_people()
    faces = [
        {
            "face_id": f["id"],
            "photo_id": f["photo_id"],
            "path": f["path"],
            "frame_index": f["frame_index"],
        }
        for f in catalog.faces()
        if f["id"] not in owner
    ]
    return {"groups": groups, "faces": faces}


def merge_review(
    catalog: Catalog, embedder: str | None = None, *, limit: int = 50
) -> dict[str, Any]:
    """Pairs of people who may be one, for a person to confirm or dismiss.

    ``embedder`` by :func:`faceatlas.policy.catalog_embedder`; a catalog without vectors
    has no suggestions (``embedder`` None). Each suggestion is one of
    :func:`faceatlas.people.suggest_merges`.
    """
    from faceatlas.people import suggest_merges

    emb = catalog_embedder(catalog, embedder)
    if emb is None:
        return {"suggestions": [], "embedder": None}
    return {"suggestions": suggest_merges(catalog, emb, limit=limit), "embedder": emb}


def recent_corrections(catalog: Catalog, limit: int = 50) -> dict[str, Any]:
    """The latest corrections, newest first (undone ones included and marked)."""
    return {"corrections": catalog.corrections(limit)}


def photo_search(
    catalog: Catalog, path: str | Path, *, k: int = 12, embedder: str | None = None
) -> dict[str, Any]:
    """Who is in a photo, and the ``k`` catalogued faces most like each of its faces.

    Runs :func:`faceatlas.known.who` then :func:`faceatlas.known.similar` on the same
    file. The detector and embedder models are cached per process and are not thread-safe:
    a multi-threaded caller serialises calls.

    Returns
    -------
    dict
        ``faces`` (each of ``who``'s faces with ``similar``: the matches, without their
        paths), ``error`` (why the file could not be read, or None), ``threshold``,
        ``threshold_source`` and ``embedder``.
    """
    from faceatlas.known import similar, who

    emb = catalog_embedder(catalog, embedder)
    if emb is None:
        raise InputError("the catalog has no embeddings to search; scan some photos first")
    found = who(catalog, [path], embedder=emb)
    faces = found["files"][0]["faces"] if found["files"] else []
    error = found["files"][0].get("error") if found["files"] else None
    sim: dict[str, Any] = {"queries": []}
    if faces:
        sim = similar(catalog, path, k=k, embedder=emb)
    for f, q in zip(faces, sim["queries"], strict=False):
        f["similar"] = [{key: v for key, v in r.items() if key != "path"} for r in q["results"]]
    return {
        "faces": faces,
        "error": error,
        "threshold": found["threshold"],
        "threshold_source": found["threshold_source"],
        "embedder": emb,
    }


# -- the report -------------------------------------------------------------------------------
def report_contents(catalog: Catalog, *, include_hidden: bool = False) -> dict[str, Any]:
    """Everything the report's pages list: people, groups, and each one's faces.

    Returns
    -------
    dict
        ``people`` and ``unsorted`` (as :func:`faceatlas.people.list_people`),
        ``faces_of`` (``{person_id: [face, ...]}`` for every shown person, best quality
        first), ``unassigned`` (faces of nobody, catalog order), ``n_faces`` and
        ``catalog`` (its path). A face is a dict of ``id``, ``photo_id``, ``path``,
        ``frame_index``, ``quality``, ``content_hash`` (of its photo), ``box``
        (``x1, y1, x2, y2``) and the photo's ``width`` and ``height``; a shown person's
        face also has its photo's ``taken`` (as the gallery shows it: the capture time, else
        the file time) and ``taken_guess`` (True when that is only the file time).
    """
    from faceatlas.people import list_people
    from faceatlas.views._gallery import _file_time

    listing = list_people(catalog, include_hidden=include_hidden)
    hashes = {p["id"]: p["content_hash"] for p in catalog.photos()}
    owner = catalog.face_people()
    shown = {p["id"] for p in listing["people"] + listing["unsorted"]}
    faces_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
    unassigned: list[dict[str, Any]] = []
    for f in catalog.faces():
        rec = {
            "id": f["id"],
            "photo_id": f["photo_id"],
            "path": f["path"],
            "frame_index": f["frame_index"],
            "quality": f["quality"],
            "content_hash": hashes.get(f["photo_id"]),
            "box": (f["x1"], f["y1"], f["x2"], f["y2"]),
            "width": f["width"],
            "height": f["height"],
        }
        pid = owner.get(f["id"], (None, None))[0]
        if pid is None:
            unassigned.append(rec)
        elif pid in shown:
            faces_of[pid].append(rec)
    for pid, recs in faces_of.items():
        recs.sort(key=lambda r: (-r["quality"], r["id"]))
        times = {r["face_id"]: r for r in catalog.person_face_rows(pid)}
        for rec in recs:
            t = times.get(rec["id"], {})
            rec["taken"] = t.get("taken") or _file_time(rec["path"])
            rec["taken_guess"] = not t.get("taken_is_capture")
    return {
        "people": listing["people"],
        "unsorted": listing["unsorted"],
        "faces_of": dict(faces_of),
        "unassigned": unassigned,
        "n_faces": listing["n_faces"],
        "catalog": catalog.path,
    }


def catalog_labels(catalog: Catalog) -> dict[int, str]:
    """``{face_id: identity}`` from the catalog's labels (``faceatlas label import``).

    Faces of labelled photos showing several faces are left out (which one is whom is
    unknown), as ``faceatlas eval`` does.
    """
    ids, who, _ = catalog.labelled_faces()
    return {int(f): str(w) for f, w in zip(ids, who, strict=True)}


def methods_data(
    catalog: Catalog,
    embedder: str,
    labels: Mapping[int, str] | None = None,
    *,
    sample: int = METHODS_SAMPLE,
    elbow_sample: int = METHODS_ELBOW_SAMPLE,
    elbow_max_k: int = METHODS_ELBOW_MAX_K,
) -> dict[str, Any]:
    """The numbers behind the methods page: eigenfaces' input, PCA, k-means curve, metrics.

    Parameters
    ----------
    catalog : Catalog
    embedder : str
        Whose vectors to analyse.
    labels : mapping face id -> identity, optional
        True identities for the metrics; default :func:`catalog_labels`.
    sample : int, default 1500
        Faces (a seeded random sample) for the eigenfaces and the PCA fit.
    elbow_sample : int, default 1000
        Faces (a sub-sample of ``sample``) for the k-means curve.
    elbow_max_k : int, default 150
        Largest k of the curve.

    Returns
    -------
    dict
        ``embedder``, ``n_faces``, ``n_sample``; ``person`` (person id per face, -1 for
        nobody, ndarray of shape (n_faces,)); ``pixels`` (grey chip vectors of the sample
        for the eigenfaces, or None below 3 faces); ``explained_variance_ratio`` and
        ``Z`` (every face on the first two principal components; None below 3 faces);
        ``elbow`` (``kmeans_curve``'s result plus ``embedder`` and ``n_faces``, or None
        below 6 faces); ``labels_true``, ``labels_pred`` and ``metrics`` (None with
        fewer than 2 labelled faces) with ``n_unlabelled`` in the metrics.
    """
    from faceatlas.reduce import PCA

    if labels is None:
        labels = catalog_labels(catalog)
    owner = catalog.face_people()
    ids, X = catalog.embeddings(embedder)
    person = np.array([owner.get(int(f), (-1, None))[0] for f in ids], np.int64)
    # one seeded generator for both samples, so a report of the same catalog draws the same
    rng = np.random.default_rng(0)
    chosen = np.sort(rng.choice(ids.size, min(ids.size, sample), replace=False))
    out: dict[str, Any] = {
        "embedder": embedder,
        "n_faces": int(ids.size),
        "n_sample": int(chosen.size),
        "person": person,
        "pixels": None,
        "explained_variance_ratio": None,
        "Z": None,
        "elbow": None,
        "labels_true": None,
        "labels_pred": None,
        "metrics": None,
    }
    if ids.size >= 3:
        from faceatlas.embed.pixels import PixelsEmbedder
        from faceatlas.thumbnails import decode_chips

        chips = decode_chips([catalog.face_chip(int(ids[i])) for i in chosen])
        out["pixels"] = PixelsEmbedder().embed(chips)
        pca = PCA(n_components=None, random_state=0).fit(X[chosen])
        out["explained_variance_ratio"] = pca.explained_variance_ratio_
        out["Z"] = pca.transform(X)[:, :2]
    if chosen.size >= 6:
        from faceatlas.cluster import kmeans_curve

        few = (
            np.sort(rng.choice(chosen, elbow_sample, replace=False))
            if chosen.size > elbow_sample
            else chosen
        )
        hi = max(3, min(few.size // 2, elbow_max_k))
        ks = np.unique(np.geomspace(2, hi, num=8).round().astype(int)).tolist()
        curve = kmeans_curve(X[few], ks, random_state=0)
        out["elbow"] = {**curve, "embedder": embedder, "n_faces": int(few.size)}
    labelled = np.array([int(f) in labels for f in ids], bool)
    if labelled.sum() >= 2:
        from faceatlas.evaluate import clustering_report

        truth = np.array([labels[int(f)] for f in ids[labelled]], dtype=object).astype(str)
        pred = person[labelled]
        metrics = clustering_report(truth, pred)
        metrics["n_unlabelled"] = int((~labelled).sum())
        out.update(labels_true=truth, labels_pred=pred, metrics=metrics)
    return out


# the gallery's pages at album size, and its review queue (imported last: they use the above)
from faceatlas.views._gallery import (  # noqa: E402
    FACES_PER_PAGE,
    POOR_QUALITY,
    cached,
    people_listing,
    person_names,
    person_page,
    photo_page,
    unsorted_page,
    upload_preview,
)
from faceatlas.views._review import (  # noqa: E402
    answer_review,
    choose_cover,
    ignore_faces,
    review_questions,
    warm,
)
