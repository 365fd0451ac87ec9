"""``who``: every face of some photos or videos named, called a stranger, or the same image."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from faceatlas.config import ScanConfig
from faceatlas.images import media_kind
from faceatlas.known._common import Log, embedder_of, quiet
from faceatlas.known._gallery import catalog_gallery
from faceatlas.known._index import RowIndex, catalog_index
from faceatlas.policy import same_person_threshold
from faceatlas.recognize import SAME_IMAGE_THRESHOLD, identify

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog


def embed_files(paths: Sequence[str], config: ScanConfig) -> list[dict[str, Any]]:
    """Detect and embed every face of some files without touching the catalog."""
    from faceatlas.pipeline import file_hash, process_file

    out: list[dict[str, Any]] = []
    for given in paths:
        path = os.path.abspath(os.path.expanduser(given))
        if not os.path.isfile(path):
            out.append({"file": given, "path": path, "error": "no such file", "frames": []})
            continue
        try:
            digest: str | None = file_hash(path)
        except OSError:
            digest = None
        res = process_file(path, config, digest)
        frames = []
        error = None
        for ph in res.photos:
            if ph.status == "error":
                error = ph.error
                continue
            frames.append({"frame_index": ph.frame_index, "time_s": ph.time_s, "faces": ph.faces})
        out.append(
            {
                "file": given,
                "path": path,
                "content_hash": digest,
                "error": error,
                "frames": frames,
                "video": media_kind(path) == "video",
            }
        )
    return out


def who(
    catalog: Catalog,
    paths: Sequence[str | Path],
    *,
    embedder: str | None = None,
    detector: str = "yunet",
    cropped: bool = False,
    threshold: float | None = None,
    same_image_threshold: float = SAME_IMAGE_THRESHOLD,
    video_every_s: float = 1.0,
    index_kind: str = "auto",
    exact_max: int | None = None,
    log: Log = quiet,
) -> dict[str, Any]:
    """Recognise every face of some photos or videos against the catalog's named people.

    Parameters
    ----------
    catalog : Catalog
    paths : sequence of str or Path
        Image or video files (not added to the catalog).
    embedder : str, optional
        Default: the catalog's (sface when present).
    detector : str, default="yunet"
    cropped : bool, default=False
        Each image is one already-cropped face.
    threshold : float, optional
        Overrides the calibrated or published threshold.
    same_image_threshold : float, default=0.995
    video_every_s : float, default=1.0
    index_kind : str, default="auto"
        Search index for the same-image check (see :func:`catalog_index`).
    exact_max : int, optional
        See :func:`catalog_index`.
    log : callable(str)

    Returns
    -------
    dict
        ``threshold``, ``threshold_source``, ``embedder``, ``n_people`` and ``files``: per
        file ``file``, ``error`` and ``faces`` (each with ``frame_index``, ``time_s``,
        ``box`` and the fields of :class:`faceatlas.recognize.Identification`).
    """
    emb = embedder_of(catalog, embedder)
    config = ScanConfig(
        detector=detector, embedder=emb.name, cropped=cropped, video_every_s=video_every_s, jobs=1
    )
    # No catalog-derived threshold (derived=None): the people workflow derives one only for
    # joining new faces to existing people, and who/similar have never used it.
    chosen = same_person_threshold(catalog, emb, threshold)
    thr, source, stored = chosen.value, chosen.source, chosen.calibration
    gallery = catalog_gallery(catalog, emb)
    index = None
    if index_kind != "exact" and len(gallery):
        idx, _, info = catalog_index(catalog, emb, kind=index_kind, exact_max=exact_max, log=log)
        if info.kind != "exact":
            index = RowIndex(idx, gallery.face_ids)
    files = embed_files([str(p) for p in paths], config)
    # Confidence is P(same) on a logistic curve centred on the threshold in use (0.5 there,
    # rising with similarity): a calibration lends its slope, never an intercept that
    # would move the middle away from the threshold printed next to it.
    slope = float(stored["slope"]) if stored is not None and stored.get("slope") else None
    slope_kw: dict[str, float] = {} if slope is None else {"slope": slope}
    for f in files:
        faces_out = []
        recs = [(fr, face) for fr in f["frames"] for face in fr["faces"]]
        if recs:
            Q = np.stack([face.embedding for _, face in recs])
            hashes = [f["content_hash"]] * len(recs)
            results = identify(
                Q,
                gallery,
                thr,
                same_image_threshold,
                threshold_source=source,
                query_hashes=hashes,
                index=index,
                **slope_kw,
            )
            named = _assign_per_photo(
                [r.to_dict() for r in results],
                Q,
                [fr["frame_index"] for fr, _ in recs],
                gallery,
                thr,
                **slope_kw,
            )
            for (fr, face), res in zip(recs, named, strict=True):
                faces_out.append(
                    {
                        "frame_index": fr["frame_index"],
                        "time_s": fr["time_s"],
                        "box": [round(float(v), 1) for v in face.box],
                        **res,
                    }
                )
        f["faces"] = faces_out
        for key in ("frames", "path", "content_hash"):
            f.pop(key, None)
    return {
        "threshold": thr,
        "threshold_source": source,
        "embedder": emb.name,
        "n_people": gallery.n_people,
        "same_image_threshold": same_image_threshold,
        "files": files,
    }


def _assign_per_photo(
    results: list[dict[str, Any]],
    Q: np.ndarray,
    frames: list[int],
    gallery: Any,
    threshold: float,
    **slope_kw: float,
) -> list[dict[str, Any]]:
    """Names per photo as an assignment: no two faces of one photo get the same person.

    Within each photo (or video frame), the faces :func:`identify` named are given
    people by a maximum-similarity assignment (Hungarian) over every named person at or
    above the threshold, so the second-best face of a person goes to its next best
    person, or becomes a stranger, instead of sharing the name. Faces alike enough to be
    one person shown twice (a collage, a mirror: :func:`faceatlas.people.repeat_bar`)
    share one slot and one name. A same-image face keeps its answer and its person.
    Confidence is then P(same) of the similarity, 0.5 at the threshold.
    """
    from scipy.optimize import linear_sum_assignment

    from faceatlas.people import repeat_bar
    from faceatlas.recognize import confidence_of

    named_rows = np.flatnonzero(gallery.person_ids >= 0)
    people = np.unique(gallery.person_ids[named_rows])
    out = [dict(r) for r in results]
    if people.size:
        Qn = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-12)
        S = Qn @ gallery.X[named_rows].T  # (n_faces, n_named)
        col = np.searchsorted(people, gallery.person_ids[named_rows])
        P = np.full((len(Q), people.size), -np.inf, np.float32)
        for j in range(people.size):
            P[:, j] = S[:, col == j].max(axis=1)
        bar = repeat_bar(threshold)
        for frame in sorted(set(frames)):
            idx = [i for i, f in enumerate(frames) if f == frame]
            taken = {out[i]["person_id"] for i in idx if out[i]["outcome"] == "same_image"}
            todo = [i for i in idx if out[i]["outcome"] != "same_image"]
            if len(todo) < 2:
                continue
            slots: list[list[int]] = []  # faces alike enough to be one person twice
            for i in todo:
                home = next(
                    (sl for sl in slots if any(float(Qn[i] @ Qn[j]) >= bar for j in sl)), None
                )
                if home is None:
                    slots.append([i])
                else:
                    home.append(i)
            W = np.stack([P[sl].mean(axis=0) for sl in slots])
            allowed = threshold <= W
            allowed[:, np.isin(people, list(taken))] = False
            if not allowed.any():
                continue
            cost = np.where(allowed, W, -10.0)
            rows, cols = linear_sum_assignment(cost, maximize=True)
            pick = {int(r): int(c) for r, c in zip(rows, cols, strict=True) if allowed[r, c]}
            for k, sl in enumerate(slots):
                for i in sl:
                    _rename(out[i], pick.get(k), people, gallery, S, col, P, i)
    for r in out:
        if r["outcome"] == "same_image" or r["nearest_person_id"] is None:
            continue
        p = float(confidence_of(np.float32(r["similarity"]), threshold, **slope_kw))
        r["confidence"] = round(p if r["outcome"] == "known_person" else 1.0 - p, 6)
    return out


def _rename(
    r: dict[str, Any],
    j: int | None,
    people: np.ndarray,
    gallery: Any,
    S: np.ndarray,
    col: np.ndarray,
    P: np.ndarray,
    i: int,
) -> None:
    """Rewrite one face's answer for person column ``j`` (None: a stranger)."""
    if j is None:
        if r["outcome"] == "known_person":
            r.update(outcome="stranger", person_id=None, name=None)
        return
    pid = int(people[j])
    if r["outcome"] == "known_person" and r["person_id"] == pid:
        return
    named_rows = np.flatnonzero(gallery.person_ids >= 0)
    mine = np.flatnonzero(col == j)
    best = named_rows[mine[int(np.argmax(S[i, mine]))]]
    sim = float(P[i, j])
    r.update(
        outcome="known_person",
        person_id=pid,
        name=gallery.name_of(pid),
        similarity=round(sim, 6),
        distance=round(1.0 - sim, 6),
        face_id=int(gallery.face_ids[best]),
    )


def who_csv_lines(result: dict[str, Any]) -> list[str]:
    """face_recognition's CLI lines: ``file,name,distance`` per face.

    ``unknown_person`` (distance ``None``) for a stranger, ``no_persons_found,None`` for a
    file without faces, as ``face_recognition`` prints them with ``--show-distance true``.
    The distance is the cosine distance ``1 - similarity`` of faceatlas's embedder, not
    dlib's Euclidean distance. A same-image face is named after its person when it has one.
    """
    lines = []
    for f in result["files"]:
        if f.get("error") and not f["faces"]:
            continue  # not a photo: face_recognition would have stopped; the CLI says why
        if not f["faces"]:
            lines.append(f"{f['file']},no_persons_found,None")
            continue
        for face in f["faces"]:
            if face["outcome"] == "stranger" or face["name"] is None:
                lines.append(f"{f['file']},unknown_person,None")
            else:
                lines.append(f"{f['file']},{face['name']},{face['distance']}")
    return lines
