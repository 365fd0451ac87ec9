"""Recognition applied to a catalog: enrol, who, calibrate, similar, and the search index.

* :func:`enroll` scans a ``known_people`` folder (one sub-folder, or one file, per person)
  and pins those faces to named persons.
* :func:`who` says, for every face of some photos or videos, *same image*, *known person*
  or *stranger* (:func:`faceatlas.recognize.identify`), against every named person of the
  catalog (enrolled, or named after clustering).
* :func:`calibrate` picks the same-person threshold for a target false-match rate, from
  labelled pairs or from the catalog's confirmed people, and stores it in the catalog.
* :func:`similar` lists the faces most like a photo's faces, a face or a person.
* :func:`catalog_index` keeps a search index next to the catalog (``<db>.index/``): exact
  search while the catalog is small, a tuned faiss index above ``exact_max`` faces.
"""

from __future__ import annotations

import csv
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faceatlas.catalog import Catalog
from faceatlas.config import ScanConfig
from faceatlas.embed import Embedder, get_embedder
from faceatlas.exceptions import InputError, NotFoundError
from faceatlas.images import media_kind
from faceatlas.recognize import (
    SAME_IMAGE_THRESHOLD,
    Calibration,
    Gallery,
    calibrate_threshold,
    identify,
    pairs_from_labels,
    with_open_set_threshold,
)

__all__ = [
    "INDEX_KINDS",
    "EnrollSummary",
    "IndexInfo",
    "calibrate",
    "catalog_gallery",
    "catalog_index",
    "enroll",
    "known_people",
    "plot_roc",
    "read_pairs",
    "resolve_threshold",
    "similar",
    "who",
    "who_csv_lines",
]

Log = Callable[[str], None]

INDEX_KINDS = ("auto", "exact", "ivf", "hnsw", "pca-kmeans")

# Rebuild a saved approximate index when faces added or removed since it was built exceed
# this share of its size: IVF and pca-kmeans centroids were fitted to the old data, and
# removed faces still take result slots.
DRIFT_FRACTION = 0.2


def _quiet(_: str) -> None:
    pass


def _embedder_of(catalog: Catalog, name: str | None) -> Embedder:
    """The embedder to compare with: the one asked for, else sface if the catalog has it,
    else the catalog's most used one."""
    if name is None:
        found = catalog.embedders()
        names = [e["embedder"] for e in found]
        if not names:
            name = "sface"
        else:
            name = "sface" if "sface" in names else names[0]
    return get_embedder(name)


# --------------------------------------------------------------------------- settings
def _calibration_key(embedder: Embedder) -> str:
    return f"calibration/{embedder.name}/{embedder.version}"


def resolve_threshold(catalog: Catalog, embedder: Embedder, threshold: float | None = None
                      ) -> tuple[float, str, dict[str, Any] | None]:
    """The same-person threshold to use, where it comes from, and the stored calibration.

    An explicit ``threshold`` wins; then a calibration stored by :func:`calibrate` for this
    embedder and version; then the embedder's published threshold.
    """
    stored = catalog.get_setting(_calibration_key(embedder))
    if threshold is not None:
        return float(threshold), "given on the command line", stored
    if stored is not None:
        target = (f"open-set FPIR <= {stored['target_fpir']:g}" if stored.get("target_fpir")
                  else f"FMR <= {stored['target_fmr']:g}")
        return (float(stored["threshold"]),
                f"calibrated on {stored['source']} for {target} "
                f"(measured TMR {stored['tmr']:.4f}; {stored['calibrated_at']})", stored)
    return float(embedder.threshold), embedder.threshold_source, None


# --------------------------------------------------------------------------- gallery
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
    hashes = [hash_of_photo.get(faces[f]["photo_id"]) if f in faces else None
              for f in face_ids.tolist()]
    return Gallery(X if len(X) else np.zeros((0, embedder.dim), np.float32), person_ids=pids,
                   names=names, face_ids=face_ids, content_hashes=hashes)


# --------------------------------------------------------------------------- enrol
def known_people(known_dir: str | Path) -> dict[str, list[str]]:
    """``{name: [image paths]}`` of a known-people folder.

    A sub-folder is one person named after it (all its images, recursively); an image
    directly inside is one person named after the file (``Barack Obama.jpg``), as
    face_recognition's ``known_people`` folder.
    """
    root = Path(known_dir)
    if not root.is_dir():
        raise InputError(f"known_dir must be a folder of people, got {str(root)!r} "
                         "(no such folder)")
    out: dict[str, list[str]] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            files = sorted(os.path.abspath(p) for p in entry.rglob("*")
                           if p.is_file() and not p.name.startswith(".")
                           and media_kind(p) == "image")
            if files:
                out.setdefault(entry.name, []).extend(files)
        elif entry.is_file() and media_kind(entry) == "image":
            out.setdefault(entry.stem, []).append(os.path.abspath(entry))
    if not out:
        raise InputError(f"{root} holds no images: put one sub-folder (or one image file) "
                         "per person in it")
    return out


@dataclass
class EnrollSummary:
    """What :func:`enroll` did."""

    people: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    scan: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"people": self.people, "warnings": self.warnings, "scan": self.scan,
                "seconds": round(self.seconds, 3)}

    def line(self) -> str:
        n_faces = sum(p["faces"] for p in self.people)
        new = sum(p["new_faces"] for p in self.people)
        return (f"enrolled {len(self.people)} people with {n_faces} faces ({new} new); "
                f"{len(self.warnings)} warnings; {self.seconds:.1f} s")


def _main_face(faces: list[dict[str, Any]]) -> dict[str, Any]:
    """The largest face: in a portrait the person is the big face, bystanders are small."""
    return max(faces, key=lambda f: (f["x2"] - f["x1"]) * (f["y2"] - f["y1"]))


def enroll(catalog: Catalog, known_dir: str | Path, config: ScanConfig | None = None, *,
           progress: Callable[[int, int], None] | None = None, log: Log = _quiet
           ) -> EnrollSummary:
    """Scan a known-people folder into the catalog and pin its faces to named persons.

    An image with several faces enrols its largest face (and warns); an image with none is
    skipped (and warns). A person whose name is already in the catalog gets the new faces;
    faces already pinned to that person are left alone, so enrolling twice is harmless.

    Parameters
    ----------
    catalog : Catalog
    known_dir : str or Path
        See :func:`known_people`.
    config : ScanConfig, optional
        How the images are scanned (detector, embedder, ``cropped``).
    progress : callable(done, total), optional
    log : callable(str), optional
        Receives one line per warning as it happens.

    Returns
    -------
    EnrollSummary
    """
    from faceatlas.pipeline import scan

    t0 = time.perf_counter()
    config = config or ScanConfig()
    people = known_people(known_dir)
    summary = EnrollSummary()
    all_files = [f for files in people.values() for f in files]
    summary.scan = scan(all_files, catalog, config, progress=progress).to_dict()
    faces_by_path: dict[str, list[dict[str, Any]]] = {}
    for f in catalog.faces():
        faces_by_path.setdefault(f["path"], []).append(f)
    embedded = set(catalog.embeddings(config.embedder)[0].tolist())
    by_name: dict[str, int] = {}
    for p in catalog.persons(with_empty=True):
        if p["name"]:
            by_name.setdefault(p["name"], p["id"])
    assigned = catalog.assignments()
    for name, files in people.items():
        chosen: list[int] = []
        for path in files:
            found = [f for f in faces_by_path.get(path, []) if f["id"] in embedded]
            if not found:
                msg = f"no face found in {path}: not enrolled"
                summary.warnings.append(msg)
                log(msg)
                continue
            if len(found) > 1:
                msg = (f"{len(found)} faces in {path}: enrolled the largest as {name}")
                summary.warnings.append(msg)
                log(msg)
            chosen.append(int(_main_face(found)["id"]))
        person_id = by_name.get(name)
        new = [f for f in chosen if not (
            person_id is not None and f in assigned and assigned[f]["person_id"] == person_id
            and assigned[f]["confirmed"])]
        if new:
            person_id = catalog.enroll_faces(new, person_id=person_id,
                                             name=None if person_id is not None else name)
            by_name[name] = person_id
        summary.people.append({"name": name, "person_id": person_id, "files": len(files),
                               "faces": len(chosen), "new_faces": len(new)})
    summary.seconds = time.perf_counter() - t0
    return summary


# --------------------------------------------------------------------------- search index
@dataclass
class IndexInfo:
    """How the catalog's faces are searched right now."""

    kind: str
    n_faces: int
    embedder: str
    path: str | None = None
    recall_at_10: float | None = None
    built: bool = False
    updated: int = 0
    build_seconds: float | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def line(self) -> str:
        parts = [f"{self.kind} search over {self.n_faces} faces ({self.embedder})"]
        if self.recall_at_10 is not None and self.kind != "exact":
            parts.append(f"recall@10 {self.recall_at_10:.3f} against exact search")
        if self.built:
            parts.append(f"built in {self.build_seconds:.1f} s")
        if self.updated:
            parts.append(f"{self.updated} new faces added")
        if self.reason:
            parts.append(self.reason)
        return "; ".join(parts)


def index_dir(catalog: Catalog) -> Path | None:
    """``<db>.index/`` next to the catalog file (None for an in-memory catalog)."""
    return None if catalog.path == ":memory:" else Path(catalog.path + ".index")


def catalog_index(catalog: Catalog, embedder: Embedder, *, kind: str = "auto",
                  exact_max: int | None = None, target_recall: float = 0.98,
                  rebuild: bool = False, log: Log = _quiet) -> tuple[Any, np.ndarray, IndexInfo]:
    """The search index over the catalog's faces of one embedder, built or updated as needed.

    Parameters
    ----------
    catalog : Catalog
    embedder : Embedder
    kind : {"auto", "exact", "ivf", "hnsw", "pca-kmeans"}, default="auto"
        "auto": exact below ``exact_max`` faces, else the faiss index that
        :func:`faceatlas.search.build_index` picks for that size.
    exact_max : int, optional
        Size from which "auto" builds an approximate index; default: the catalog setting
        ``index/exact_max``, else ``faceatlas.search.EXACT_MAX_SIZE`` (measured in
        bench/search.py).
    target_recall : float, default=0.98
        recall@10 against exact search the approximate index is tuned to.
    rebuild : bool, default=False
    log : callable(str)
        Receives the build report (with the measured recall).

    Returns
    -------
    index : object with ``search(Q, k) -> (D, I)``; I holds face ids
    face_ids : ndarray of int64
        The catalog's faces with a vector of ``embedder``.
    info : IndexInfo
    """
    from faceatlas import search

    if kind not in INDEX_KINDS:
        raise InputError(f"index kind must be one of {', '.join(INDEX_KINDS)}, got {kind!r}")
    if exact_max is None:
        exact_max = int(catalog.get_setting("index/exact_max", search.EXACT_MAX_SIZE))
    face_ids, X = catalog.embeddings(embedder.name)
    n = len(face_ids)
    want = kind
    if kind == "auto":
        want = "exact" if n < exact_max else search.AUTO_APPROXIMATE_KIND
    if want == "exact" or n == 0:
        index = search.ExactIndex().add(X, ids=face_ids) if n else search.ExactIndex()
        return index, face_ids, IndexInfo("exact", n, embedder.name, recall_at_10=1.0,
                                          reason=f"below {exact_max} faces" if kind == "auto"
                                          else "")
    folder = index_dir(catalog)
    stem = f"{embedder.name}-{embedder.version}-{want}"
    files = None if folder is None else (
        folder / f"{stem}.npz", folder / f"{stem}.json", folder / f"{stem}.ids.npy")
    info = IndexInfo(want, n, embedder.name, path=str(files[0]) if files else None)
    if not rebuild and files is not None and all(f.exists() for f in files):
        path, meta_path, ids_path = files
        meta = json.loads(meta_path.read_text())
        indexed = np.load(ids_path)
        current = set(face_ids.tolist())
        known = set(indexed.tolist())
        removed = len(known - current)
        added_mask = ~np.isin(face_ids, indexed)
        drift = (removed + int(added_mask.sum())) / max(meta["n_at_build"], 1)
        if drift <= DRIFT_FRACTION:
            index = search.load_index(path)
            if added_mask.any():
                index.add(X[added_mask], ids=face_ids[added_mask])
                indexed = np.concatenate([indexed, face_ids[added_mask]])
                index.save(path)
                np.save(ids_path, indexed)
                info.updated = int(added_mask.sum())
            info.recall_at_10 = meta.get("recall_at_10")
            if removed:
                info.reason = f"{removed} removed faces are filtered out of results"
            return _Filtered(index, current) if removed else index, face_ids, info
        info.reason = (f"rebuilt: {drift:.0%} of the faces changed since the last build "
                       f"(limit {DRIFT_FRACTION:.0%})")
    t0 = time.perf_counter()
    try:
        index = search.build_index(X, kind=want, ids=face_ids, target_recall=target_recall,
                                   k=10)
    except InputError as exc:
        # Too few faces for the index's clusters: exact search is exact and fast here.
        index = search.ExactIndex().add(X, ids=face_ids)
        return index, face_ids, IndexInfo("exact", n, embedder.name, recall_at_10=1.0,
                                          reason=f"no {want} index over {n} faces ({exc})")
    info.build_seconds = round(time.perf_counter() - t0, 3)
    info.built = True
    info.recall_at_10 = float(getattr(index, "recall_at_10_", float("nan")))
    log(f"built a {want} index of {n} faces in {info.build_seconds:.1f} s: recall@10 "
        f"{info.recall_at_10:.3f} against exact search (target {target_recall}, measured on "
        f"{min(n, 1000)} sampled faces)")
    if files is not None:
        path, meta_path, ids_path = files
        path.parent.mkdir(exist_ok=True)
        index.save(path)
        np.save(ids_path, face_ids)
        meta_path.write_text(json.dumps({
            "kind": want, "embedder": embedder.name, "version": embedder.version,
            "n_at_build": n, "recall_at_10": info.recall_at_10,
            "target_recall": target_recall, "build_seconds": info.build_seconds,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=2))
    return index, face_ids, info


class _Filtered:
    """An index whose results skip ids no longer in the catalog (until the next rebuild)."""

    def __init__(self, index: Any, valid: set[int]) -> None:
        self.index = index
        self.valid = valid

    def search(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        D, ids = self.index.search(Q, k * 2 + 10)
        ok = np.isin(ids, np.fromiter(self.valid, np.int64)) & (ids >= 0)
        outD = np.full((len(Q), k), -np.inf, np.float32)
        outI = np.full((len(Q), k), -1, np.int64)
        for r in range(len(Q)):
            keep = np.flatnonzero(ok[r])[:k]
            outD[r, :len(keep)] = D[r, keep]
            outI[r, :len(keep)] = ids[r, keep]
        return outD, outI


class _RowIndex:
    """Adapts an index returning face ids to one returning gallery rows (for identify)."""

    def __init__(self, index: Any, face_ids: np.ndarray) -> None:
        self.index = index
        order = np.argsort(face_ids)
        self.sorted_ids = face_ids[order]
        self.rows = order

    def search(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        D, ids = self.index.search(Q, k)
        pos = np.clip(np.searchsorted(self.sorted_ids, ids), 0, len(self.sorted_ids) - 1)
        found = (ids >= 0) & (self.sorted_ids[pos] == ids)
        return D, np.where(found, self.rows[pos], -1)


# --------------------------------------------------------------------------- who
def _embed_files(paths: Sequence[str], config: ScanConfig) -> list[dict[str, Any]]:
    """Detect and embed every face of some files without touching the catalog."""
    from faceatlas.pipeline import file_hash, process_file

    out: list[dict[str, Any]] = []
    for given in paths:
        path = os.path.abspath(given)
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
            frames.append({"frame_index": ph.frame_index, "time_s": ph.time_s,
                           "faces": ph.faces})
        out.append({"file": given, "path": path, "content_hash": digest, "error": error,
                    "frames": frames, "video": media_kind(path) == "video"})
    return out


def who(catalog: Catalog, paths: Sequence[str | Path], *, embedder: str | None = None,
        detector: str = "yunet", cropped: bool = False, threshold: float | None = None,
        same_image_threshold: float = SAME_IMAGE_THRESHOLD, video_every_s: float = 1.0,
        index_kind: str = "auto", exact_max: int | None = None, log: Log = _quiet
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
    emb = _embedder_of(catalog, embedder)
    config = ScanConfig(detector=detector, embedder=emb.name, cropped=cropped,
                        video_every_s=video_every_s, jobs=1)
    thr, source, stored = resolve_threshold(catalog, emb, threshold)
    gallery = catalog_gallery(catalog, emb)
    index = None
    if index_kind != "exact" and len(gallery):
        idx, _, info = catalog_index(catalog, emb, kind=index_kind, exact_max=exact_max,
                                     log=log)
        if info.kind != "exact":
            index = _RowIndex(idx, gallery.face_ids)
    files = _embed_files([str(p) for p in paths], config)
    slope_kw: dict[str, float] = {}
    if stored is not None and threshold is None:
        slope_kw = {"slope": stored["slope"], "intercept": stored["intercept"]}
    for f in files:
        faces_out = []
        recs = [(fr, face) for fr in f["frames"] for face in fr["faces"]]
        if recs:
            Q = np.stack([face.embedding for _, face in recs])
            hashes = [f["content_hash"]] * len(recs)
            results = identify(Q, gallery, thr, same_image_threshold, threshold_source=source,
                               query_hashes=hashes, index=index, **slope_kw)
            for (fr, face), res in zip(recs, results, strict=True):
                faces_out.append({"frame_index": fr["frame_index"], "time_s": fr["time_s"],
                                  "box": [round(float(v), 1) for v in face.box],
                                  **res.to_dict()})
        f["faces"] = faces_out
        for key in ("frames", "path", "content_hash"):
            f.pop(key, None)
    return {"threshold": thr, "threshold_source": source, "embedder": emb.name,
            "n_people": gallery.n_people, "same_image_threshold": same_image_threshold,
            "files": files}


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


# --------------------------------------------------------------------------- calibrate
def read_pairs(pairs_file: str | Path, root: str | Path | None = None
               ) -> list[tuple[str, str, bool]]:
    """Labelled pairs as ``(path_a, path_b, same)``.

    Two formats: LFW's ``pairs.txt`` (``name n1 n2`` for a same pair, ``name1 n1 name2
    n2`` for a different pair, an optional header line of counts; images at
    ``root/name/name_0001.jpg``), or a CSV with a header ``path_a,path_b,same`` (``same``
    1/0, true/false; relative paths are under ``root``, default the file's folder).
    """
    pairs_file = Path(pairs_file)
    if not pairs_file.is_file():
        raise InputError(f"pairs file {pairs_file} does not exist")
    base = Path(root) if root is not None else pairs_file.parent
    text = pairs_file.read_text(encoding="utf-8-sig")
    first = text.lstrip().split("\n", 1)[0]
    out: list[tuple[str, str, bool]] = []
    if "," in first:
        for i, row in enumerate(csv.DictReader(text.splitlines())):
            try:
                a, b, same = row["path_a"], row["path_b"], row["same"].strip().lower()
            except (KeyError, AttributeError):
                raise InputError(f"{pairs_file}: a CSV of pairs needs the columns path_a, "
                                 f"path_b, same (row {i + 2})") from None
            if same not in {"1", "0", "true", "false", "yes", "no"}:
                raise InputError(f"{pairs_file} row {i + 2}: same must be 1/0 or true/false, "
                                 f"got {row['same']!r}")
            out.append((str(base / a), str(base / b), same in {"1", "true", "yes"}))
        return out

    def lfw(name: str, num: str) -> str:
        return str(base / name / f"{name}_{int(num):04d}.jpg")

    for i, line in enumerate(text.splitlines()):
        parts = line.split()
        if not parts or (i == 0 and all(re.fullmatch(r"\d+", p) for p in parts)):
            continue
        if len(parts) == 3:
            out.append((lfw(parts[0], parts[1]), lfw(parts[0], parts[2]), True))
        elif len(parts) == 4:
            out.append((lfw(parts[0], parts[1]), lfw(parts[2], parts[3]), False))
        else:
            raise InputError(f"{pairs_file} line {i + 1}: expected 'name n1 n2' or "
                             f"'name1 n1 name2 n2', got {line!r}")
    return out


def _central_face(faces: list[Any], width: float, height: float) -> Any:
    """The face nearest the image centre (LFW's convention for its labelled face)."""
    def dist(box: Any) -> float:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        return float((cx - width / 2) ** 2 + (cy - height / 2) ** 2)
    return min(faces, key=lambda f: dist(f[0]))


def _vectors_of_paths(catalog: Catalog, paths: Sequence[str], emb: Embedder,
                      config: ScanConfig, progress: Callable[[int, int], None] | None
                      ) -> dict[str, np.ndarray]:
    """One vector per image (its central face): from the catalog when scanned, else embedded."""
    ids, X = catalog.embeddings(emb.name)
    row_of = {int(f): i for i, f in enumerate(ids.tolist())}
    by_path: dict[str, list[tuple[list[float], int]]] = {}
    size: dict[str, tuple[float, float]] = {}
    for f in catalog.faces():
        if f["frame_index"] < 0 and f["id"] in row_of:
            by_path.setdefault(f["path"], []).append(
                ([f["x1"], f["y1"], f["x2"], f["y2"]], row_of[f["id"]]))
            size[f["path"]] = (f["width"] or 0, f["height"] or 0)
    from faceatlas.pipeline import process_file

    out: dict[str, np.ndarray] = {}
    unique = sorted(set(paths))
    for done, p in enumerate(unique, 1):
        ap = os.path.abspath(p)
        if ap in by_path:
            _, row = _central_face(by_path[ap], *size[ap])
            out[p] = X[row]
        else:
            res = process_file(ap, config)
            ph = res.photos[0] if res.photos else None
            if ph is not None and ph.status == "done" and ph.faces:
                face = _central_face([(f.box, f) for f in ph.faces], ph.width or 0,
                                     ph.height or 0)[1]
                out[p] = face.embedding
        if progress:
            progress(done, len(unique))
    return out


def calibrate(catalog: Catalog, pairs_file: str | Path | None = None, *,
              root: str | Path | None = None, target_fmr: float = 0.001,
              target_fpir: float | None = None, embedder: str | None = None,
              detector: str = "yunet", store: bool = True, force: bool = False,
              progress: Callable[[int, int], None] | None = None) -> Calibration:
    """Choose and store the same-person threshold for a target false-match rate.

    Parameters
    ----------
    catalog : Catalog
    pairs_file : str or Path, optional
        Labelled pairs (see :func:`read_pairs`); images found in the catalog use their
        stored vectors, others are detected and embedded (not added). Without a file, all
        pairs among the faces pinned to named persons (enrolled or confirmed) are used.
    root : str or Path, optional
        Folder the pairs' paths are relative to.
    target_fmr : float, default=0.001
        Largest acceptable share of different-person *pairs* called the same.
    target_fpir : float, optional
        Instead, choose the threshold for open-set search: at most this share of
        strangers gets a name. Measured on the catalog's named people, each in turn
        searched against all the others. A per-pair FMR understates what a search sees (a
        stranger meets every enrolled face): on LFW with 158 enrolled people, a threshold
        at per-pair FMR 0.001 named 78 % of strangers, one at FPIR 0.01 named 0.9 %
        (docs/benchmarks.md, "## Recognition").
    embedder : str, optional
    detector : str, default="yunet"
    store : bool, default=True
        Save the result in the catalog; :func:`who` then uses it.
    force : bool, default=False
        Store even when there are fewer than ``1 / target_fmr`` different-person pairs,
        too few to measure that false-match rate (``cal.warnings`` says so either way).
    progress : callable(done, total), optional

    Returns
    -------
    Calibration
    """
    import datetime as dt

    emb = _embedder_of(catalog, embedder)
    if pairs_file is not None and target_fpir is not None:
        raise InputError("target_fpir needs the catalog's named people (who plays the "
                         "stranger against whom), not a pairs file")
    if pairs_file is not None:
        pairs = read_pairs(pairs_file, root)
        if not pairs:
            raise InputError(f"{pairs_file} holds no pairs")
        config = ScanConfig(detector=detector, embedder=emb.name, jobs=1)
        vecs = _vectors_of_paths(catalog, [p for a, b, _ in pairs for p in (a, b)], emb,
                                 config, progress)
        usable = [(a, b, s) for a, b, s in pairs if a in vecs and b in vecs]
        if len(usable) < len(pairs):
            missing = len(pairs) - len(usable)
            if missing > len(pairs) // 2:
                raise InputError(f"{missing} of {len(pairs)} pairs have an image without a "
                                 "face or that cannot be read; check --root")
        sims = np.array([float(vecs[a] @ vecs[b]) for a, b, _ in usable])
        same = np.array([s for _, _, s in usable])
        source = f"{len(usable)} labelled pairs from {Path(pairs_file).name}"
    else:
        gallery = catalog_gallery(catalog, emb)
        confirmed = {f for f, a in catalog.assignments().items() if a["confirmed"]}
        keep = np.array([int(f) in confirmed for f in gallery.face_ids.tolist()], bool) \
            & (gallery.person_ids >= 0)
        labels = gallery.person_ids[keep]
        if np.unique(labels).size < 2:
            raise InputError("calibration needs confirmed faces of at least 2 named people "
                             "(run `faceatlas enroll`), or labelled pairs (--pairs FILE)")
        sims, same = pairs_from_labels(gallery.X[keep], labels)
        if not same.any():
            raise InputError("calibration needs at least one person with 2 or more "
                             "confirmed faces")
        source = (f"{len(sims)} pairs of {int(keep.sum())} confirmed faces of "
                  f"{np.unique(labels).size} people")
    cal = calibrate_threshold(sims, same, target_fmr, source=source)
    if target_fpir is not None:
        with_open_set_threshold(cal, gallery.X[keep], labels, sims, same, target_fpir)
    elif cal.fmr_resolution > target_fmr:
        cal.warnings.append(
            f"only {cal.n_different} different-person pairs: an FMR of {target_fmr:g} needs at "
            f"least {int(np.ceil(1 / target_fmr))} to be measured, so this threshold is "
            "optimistic")
    if cal.warnings and store and not force:
        cal.warnings.append("not stored: pass --force (force=True) to store it anyway")
        store = False
    cal.stored = bool(store)
    if store:
        catalog.set_setting(_calibration_key(emb), {
            **cal.summary(), "embedder": emb.name, "version": emb.version,
            "calibrated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
    return cal


def plot_roc(cal: Calibration, path: str | Path) -> Path:
    """Save the ROC curve (log FMR axis) with the chosen operating point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    fmr = np.maximum(cal.roc_fmr, cal.fmr_resolution / 10)
    ax.semilogx(fmr, cal.roc_tmr, lw=1.5)
    ax.axvline(cal.target_fmr, color="grey", ls=":", lw=1)
    ax.plot([max(cal.fmr, cal.fmr_resolution / 10)], [cal.tmr], "o", color="C3")
    ax.annotate(f"threshold {cal.threshold:.3f}\nTMR {cal.tmr:.3f} at FMR {cal.fmr:.2g}",
                (max(cal.fmr, cal.fmr_resolution / 10), cal.tmr), textcoords="offset points",
                xytext=(8, -28), fontsize=8)
    ax.set_xlabel("false-match rate")
    ax.set_ylabel("true-match rate")
    ax.set_title(f"ROC (AUC {cal.auc:.4f}, EER {cal.eer:.4f})", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- similar
def _resolve_query(catalog: Catalog, query: str | int | Path, emb: Embedder,
                   config: ScanConfig) -> list[dict[str, Any]]:
    """Query vectors with what to leave out of their results."""
    if isinstance(query, Path) or (isinstance(query, str) and os.path.isfile(query)):
        files = _embed_files([str(query)], config)
        f = files[0]
        if f["error"]:
            raise InputError(f"cannot read {query}: {f['error']}")
        out = []
        for fr in f["frames"]:
            for face in fr["faces"]:
                out.append({"query": {"kind": "photo", "file": str(query),
                                      "frame_index": fr["frame_index"],
                                      "box": [round(float(v), 1) for v in face.box]},
                            "vector": face.embedding, "exclude": set()})
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
            raise InputError(f"query must be an image file, a face id, person:<id> or a "
                             f"person's name; nothing matches {text!r}")
        pid = int(named[0]["id"])
    faces = catalog.faces_of_person(pid)
    _, X = catalog.embeddings(emb.name, faces)
    if not len(X):
        raise NotFoundError(f"person {pid} has no faces with {emb.name} vectors")
    # The person's mean direction: look-alikes of the person, not of one photo of them.
    v = X.mean(axis=0)
    v /= max(float(np.linalg.norm(v)), 1e-12)
    return [{"query": {"kind": "person", "person_id": pid,
                       "name": catalog.person(pid)["name"]},
             "vector": v.astype(np.float32), "exclude": set(faces)}]


def similar(catalog: Catalog, query: str | int | Path, *, k: int = 10,
            min_similarity: float | None = None, embedder: str | None = None,
            detector: str = "yunet", index_kind: str = "auto", exact_max: int | None = None,
            log: Log = _quiet) -> dict[str, Any]:
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
        ``results`` (face_id, similarity, path, frame_index, box, person_id, name).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be an int >= 1, got {k!r}")
    if min_similarity is not None and not -1.0 <= float(min_similarity) <= 1.0:
        raise InputError(f"min_similarity must be in [-1, 1], got {min_similarity!r}")
    emb = _embedder_of(catalog, embedder)
    config = ScanConfig(detector=detector, embedder=emb.name, jobs=1)
    queries = _resolve_query(catalog, query, emb, config)
    index, _, info = catalog_index(catalog, emb, kind=index_kind, exact_max=exact_max,
                                   log=log)
    extra = max(len(q["exclude"]) for q in queries)
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
            results.append({"face_id": fid, "similarity": round(float(s), 6),
                            "path": f["path"], "frame_index": f["frame_index"],
                            "box": [round(f[c], 1) for c in ("x1", "y1", "x2", "y2")],
                            "person_id": pid, "name": name})
            if len(results) == k:
                break
        out.append({"query": q["query"], "results": results})
    return {"index": info.to_dict(), "embedder": emb.name, "queries": out}
