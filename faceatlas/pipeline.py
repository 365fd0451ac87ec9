"""Scan orchestration: walk -> hash -> decode -> detect -> align -> embed -> catalog.

The work on one file is a pure function (:func:`process_file`) from a path and a
:class:`ScanConfig` to :class:`PhotoRecord` objects, so it runs in worker processes (and
could run on a cluster); only the main process writes to the catalog, one transaction per
file. That is what makes a scan safe to kill at any moment and re-run.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faceatlas.align import face_quality
from faceatlas.catalog import Catalog, FaceRecord, FileState, PhotoRecord
from faceatlas.config import ScanConfig
from faceatlas.detect import Detections, Detector, get_detector
from faceatlas.embed import Embedder, aligned_chips, get_embedder
from faceatlas.exceptions import FaceAtlasError, InputError
from faceatlas.executors import Executor
from faceatlas.images import iter_video_frames, load_image, media_kind, read_video_frame

Progress = Callable[[int, int], None]


# -- the pure per-file work ----------------------------------------------------------------
_MODELS: dict[tuple[str, str], tuple[Detector, Embedder]] = {}


def _models(config: ScanConfig) -> tuple[Detector, Embedder]:
    """Detector and embedder of this process, loaded once per process."""
    key = (config.detector_name, config.embedder)
    if key not in _MODELS:
        _MODELS[key] = (get_detector(config.detector_name), get_embedder(config.embedder))
    return _MODELS[key]


def _encode_chip(chip: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(
        ".jpg", np.ascontiguousarray(chip[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90]
    )
    return buf.tobytes() if ok else b""


def faces_of_image(
    image: np.ndarray, detections: Detections, embedder: Embedder
) -> list[FaceRecord]:
    """Align, score and embed every detected face of one image."""
    if len(detections) == 0:
        return []
    thumbs = aligned_chips(image, detections, 112)
    chips = thumbs if embedder.name == "sface" else embedder.chips(image, detections)
    X = embedder.embed(chips)
    out = []
    for i in range(len(detections)):
        quality, sharp = face_quality(detections.boxes[i], float(detections.scores[i]), thumbs[i])
        out.append(
            FaceRecord(
                box=detections.boxes[i],
                landmarks=detections.landmarks[i],
                det_score=float(detections.scores[i]),
                quality=quality,
                sharpness=sharp,
                chip_jpeg=_encode_chip(thumbs[i]),
                embedding=X[i],
            )
        )
    return out


@dataclass
class FileResult:
    """What one worker returns for one file."""

    path: str
    content_hash: str | None
    size: int | None
    mtime: float | None
    photos: list[PhotoRecord]
    seconds: float


def process_file(
    path: str,
    config: ScanConfig,
    content_hash: str | None = None,
    size: int | None = None,
    mtime: float | None = None,
) -> FileResult:
    """Decode one image (or sample one video), find, align and embed every face.

    Never raises for bad input: an unreadable file becomes a photo with status ``error``
    and a one-line reason.
    """
    t0 = time.perf_counter()
    detector, embedder = _models(config)
    photos: list[PhotoRecord] = []
    try:
        if media_kind(path) == "video":
            for frame in iter_video_frames(
                path, every_s=config.video_every_s, max_pixels=config.max_pixels
            ):
                h, w = frame.image.shape[:2]
                faces = faces_of_image(frame.image, detector.detect(frame.image), embedder)
                photos.append(PhotoRecord(path, frame.index, frame.time_s, w, h, faces=faces))
        else:
            image = load_image(path, max_pixels=config.max_pixels)
            h, w = image.shape[:2]
            faces = faces_of_image(image, detector.detect(image), embedder)
            photos.append(PhotoRecord(path, -1, None, w, h, faces=faces))
    except FaceAtlasError as exc:
        photos = [PhotoRecord(path, status="error", error=str(exc))]
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop a scan of thousands
        photos = [PhotoRecord(path, status="error", error=f"{path}: {type(exc).__name__}: {exc}")]
    return FileResult(path, content_hash, size, mtime, photos, time.perf_counter() - t0)


def _process_task(task: tuple[str, ScanConfig, str | None, int | None, float | None]) -> FileResult:
    return process_file(*task)


def embed_existing(
    path: str, faces: list[dict[str, Any]], config: ScanConfig
) -> tuple[list[int], np.ndarray | None, str | None]:
    """Embed already-detected faces of one file with another embedder (no detection)."""
    _, embedder = _models(config)
    ids: list[int] = []
    vecs: list[np.ndarray] = []
    try:
        by_frame: dict[int, list[dict[str, Any]]] = {}
        for f in faces:
            by_frame.setdefault(f["frame_index"], []).append(f)
        for frame_index, group in by_frame.items():
            image = (
                load_image(path, max_pixels=config.max_pixels)
                if frame_index < 0
                else read_video_frame(path, frame_index)
            )
            det = Detections(
                np.stack([g["box"] for g in group]),
                np.stack([g["landmarks"] for g in group]),
                np.array([g["det_score"] for g in group], np.float32),
                group[0]["detector"],
            )
            vecs.append(embedder.embed(embedder.chips(image, det)))
            ids += [g["face_id"] for g in group]
    except Exception as exc:  # noqa: BLE001 - the file changed or vanished since
        return [], None, f"{path}: {exc}"
    return ids, np.concatenate(vecs) if vecs else None, None


def _embed_task(
    task: tuple[str, list[dict[str, Any]], ScanConfig],
) -> tuple[list[int], np.ndarray | None, str | None]:
    return embed_existing(*task)


def _failed_file(task: tuple[Any, ...], reason: str) -> FileResult:
    """A file whose task died on the cluster (it killed its workers): recorded as an error."""
    path, _, content_hash, size, mtime = task
    error = PhotoRecord(path, status="error", error=f"{path}: worker failed: {reason}")
    return FileResult(path, content_hash, size, mtime, [error], 0.0)


def _failed_embed(task: tuple[Any, ...], reason: str) -> tuple[list[int], None, str]:
    return [], None, f"{task[0]}: worker failed: {reason}"


# -- walking and deciding ------------------------------------------------------------------
def file_hash(path: str | Path) -> str:
    """blake2b-128 of a file's content, to recognise unchanged, moved and copied files."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class Walk:
    """Files found under the scanned paths."""

    files: list[str] = field(default_factory=list)
    skipped_formats: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[str, str]] = field(default_factory=list)


def walk(paths: Iterable[str | Path]) -> Walk:
    """Find supported images and videos under files and folders, recursively.

    Symlinked files are followed (a broken one is reported by the scan); symlinked folders
    are not, so a link loop cannot make a scan run forever.
    """
    out = Walk()
    seen: set[str] = set()

    def take(p: str) -> None:
        if p in seen:
            return
        seen.add(p)
        if media_kind(p) is None:
            out.skipped_formats[Path(p).suffix.lower() or "(no suffix)"] += 1
        else:
            out.files.append(p)

    for root in paths:
        root_s = os.path.abspath(os.fspath(root))
        if os.path.isfile(root_s) or (os.path.islink(root_s) and not os.path.isdir(root_s)):
            take(root_s)
            continue
        if not os.path.isdir(root_s):
            out.errors.append((root_s, "no such file or folder"))
            continue
        for dirpath, dirnames, filenames in os.walk(
            root_s,
            onerror=lambda e: out.errors.append((e.filename, f"cannot list folder: {e.strerror}")),
        ):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not name.startswith("."):
                    take(os.path.join(dirpath, name))
    out.files.sort()
    return out


@dataclass
class ScanSummary:
    """What a scan did; printed as one line and available as JSON."""

    files: int = 0
    unchanged: int = 0
    new: int = 0
    changed: int = 0
    moved: int = 0
    deleted: int = 0
    processed: int = 0
    photos: int = 0
    faces: int = 0
    embedded: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    skipped_formats: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def faces_per_s(self) -> float:
        return self.faces / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["faces_per_s"] = round(self.faces_per_s, 2)
        d["seconds"] = round(self.seconds, 3)
        return d

    def line(self) -> str:
        parts = [
            (
                f"{self.files} files ({self.new} new, {self.changed} changed, "
                f"{self.unchanged} unchanged, {self.moved} moved, {self.deleted} deleted)"
            ),
            f"{self.photos} photos",
            f"{self.faces} faces",
            f"{len(self.errors)} errors",
            f"{self.seconds:.1f} s",
            f"{self.faces_per_s:.1f} faces/s",
        ]
        if self.embedded:
            parts.insert(3, f"{self.embedded} faces embedded again")
        if self.skipped_formats:
            skipped = ", ".join(f"{k} x{v}" for k, v in sorted(self.skipped_formats.items()))
            parts.append(f"skipped formats: {skipped}")
        if self.interrupted:
            parts.append("INTERRUPTED (run again to finish)")
        return "; ".join(parts)


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _triage(
    catalog: Catalog,
    config: ScanConfig,
    files: list[str],
    states: dict[str, FileState],
    missing: set[str],
    summary: ScanSummary,
) -> list[tuple[str, ScanConfig, str | None, int | None, float | None]]:
    """The found files to process; counts the unchanged, moved, new and changed ones.

    A missing file whose content reappears under a new path is recorded as moved and taken
    out of ``missing`` (in place), so its faces and corrections are kept.
    """
    missing_by_hash: dict[str, str] = {}
    for p in missing:
        h = states[p].content_hash
        if h:
            missing_by_hash.setdefault(h, p)

    todo: list[tuple[str, ScanConfig, str | None, int | None, float | None]] = []
    for p in files:
        size: int | None
        mtime: float | None
        try:
            st = os.stat(p)
            size, mtime = st.st_size, st.st_mtime
        except OSError:
            size = mtime = None
        old = states.get(p)
        same_detector = old is not None and old.detector == config.detector_name
        if (
            old is not None
            and old.status == "done"
            and same_detector
            and old.size == size
            and old.mtime == mtime
        ):
            summary.unchanged += 1
            continue
        try:
            digest = file_hash(p) if size is not None else None
        except OSError:
            digest = None  # unreadable: process_file records the reason
        if (
            old is not None
            and old.status == "done"
            and same_detector
            and digest
            and digest == old.content_hash
        ):
            catalog.touch_file(p, mtime)
            summary.unchanged += 1
            continue
        if old is None and digest in missing_by_hash:
            src = missing_by_hash.pop(digest)
            missing.discard(src)
            if states[src].detector == config.detector_name:
                catalog.move_file(src, p, mtime)
                summary.moved += 1
                continue
        if old is None:
            summary.new += 1
        else:
            summary.changed += 1
        todo.append((p, config, digest, size, mtime))
    return todo


def scan(
    paths: Iterable[str | Path],
    catalog: Catalog,
    config: ScanConfig | None = None,
    *,
    progress: Progress | None = None,
    scheduler: str | None = None,
) -> ScanSummary:
    """Scan files and folders into the catalog; incremental and safe to interrupt.

    Unchanged files (same size and mtime, or same content hash) cost no detection or
    embedding; changed files are redone; files with known content under a new path are
    recorded as moved (keeping their faces and corrections); catalogued files under the
    scanned folders that are gone are forgotten.

    Parameters
    ----------
    paths : iterable of str or Path
        Files and folders.
    catalog : Catalog
    config : ScanConfig, optional
    progress : callable(done, total), optional
    scheduler : str, optional
        Run the per-photo work on Dask: ``"tcp://HOST:PORT"`` (a running scheduler whose
        workers see the photos at the same paths) or ``"local:N"`` (N local worker
        processes); default: ``config.n_jobs`` local processes. See
        :mod:`faceatlas.executors`.

    Returns
    -------
    ScanSummary
    """
    config = config or ScanConfig()
    roots = [os.path.abspath(os.fspath(p)) for p in paths]
    if not roots:
        raise InputError("paths must name at least one file or folder, got none")
    executor = Executor(scheduler, config.n_jobs)  # checks the scheduler before any work
    t0 = time.perf_counter()
    summary = ScanSummary()
    catalog.acquire_scan_lock()
    run_id = catalog.start_run("scan", {"paths": roots, **config.to_dict()})
    try:
        found = walk(roots)
        summary.files = len(found.files)
        summary.skipped_formats = dict(found.skipped_formats)
        summary.errors += [{"path": p, "error": r} for p, r in found.errors]
        states = catalog.file_states()
        found_set = set(found.files)
        missing = {p for p in states if _under(p, roots) and p not in found_set}
        todo = _triage(catalog, config, found.files, states, missing, summary)
        summary.deleted = catalog.delete_files(sorted(missing))

        # Faces found earlier (by this detector) that lack this embedder's vectors.
        embed_todo = [
            (p, faces, config)
            for p, faces in catalog.faces_without_embedding(config.embedder).items()
            if _under(p, roots) and p in found_set and p not in {t[0] for t in todo}
        ]
        total = len(todo) + len(embed_todo)
        done = 0
        if progress:
            progress(0, total)
        emb = get_embedder(config.embedder)
        if todo or embed_todo:
            executor.start()
        for res in executor.map(_process_task, todo, _failed_file):
            n = catalog.replace_file(
                res.path,
                res.content_hash,
                res.size,
                res.mtime,
                config.detector_name,
                res.photos,
                emb.name,
                emb.version,
            )
            summary.processed += 1
            summary.faces += n
            for ph in res.photos:
                if ph.status == "error":
                    summary.errors.append({"path": res.path, "error": ph.error or ""})
                else:
                    summary.photos += 1
            done += 1
            if progress:
                progress(done, total)
        for ids, X, err in executor.map(_embed_task, embed_todo, _failed_embed):
            if err:
                summary.errors.append({"path": err.split(": ", 1)[0], "error": err})
            elif X is not None:
                catalog.add_embeddings(emb.name, emb.version, ids, X)
                summary.embedded += len(ids)
            done += 1
            if progress:
                progress(done, total)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        executor.close()
        summary.seconds = time.perf_counter() - t0
        try:
            catalog.finish_run(
                run_id, summary.to_dict(), "interrupted" if summary.interrupted else "done"
            )
        finally:
            catalog.release_scan_lock()
    return summary


def scan_folder(
    paths: str | Path | Sequence[str | Path], db: str | Path = "faceatlas.db", **settings: Any
) -> ScanSummary:
    """Friendly one-call scan: ``scan_folder("photos/", db="my.db", jobs=2)``."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    with Catalog(db) as cat:
        return scan(paths, cat, ScanConfig(**settings))


__all__ = [
    "FileResult",
    "ScanSummary",
    "Walk",
    "embed_existing",
    "file_hash",
    "faces_of_image",
    "process_file",
    "scan",
    "scan_folder",
    "walk",
]
