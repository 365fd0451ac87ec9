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
    slope_kw: dict[str, float] = {}
    if stored is not None and threshold is None:
        slope_kw = {"slope": stored["slope"], "intercept": stored["intercept"]}
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
            for (fr, face), res in zip(recs, results, strict=True):
                faces_out.append(
                    {
                        "frame_index": fr["frame_index"],
                        "time_s": fr["time_s"],
                        "box": [round(float(v), 1) for v in face.box],
                        **res.to_dict(),
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
