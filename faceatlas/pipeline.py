"""Scan orchestration: walk -> hash -> decode -> detect -> align -> embed -> catalog.

The work on one file is a pure function (:func:`process_file`) from a path and a
:class:`ScanConfig` to :class:`PhotoRecord` objects, so it runs in worker processes (and
could run on a cluster); only the main process writes to the catalog, one transaction per
file. That is what makes a scan safe to kill at any moment and re-run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faceatlas import _heap
from faceatlas.align import face_quality
from faceatlas.catalog import Catalog, FaceRecord, PhotoRecord
from faceatlas.config import ScanConfig
from faceatlas.detect import Detections, Detector, get_detector
from faceatlas.detect_retries import detect_with_retries
from faceatlas.embed import Embedder, aligned_chips, get_embedder
from faceatlas.exceptions import CatalogError, FaceAtlasError, InputError
from faceatlas.executors import Executor
from faceatlas.images import iter_video_frames, load_image, media_kind, read_video_frame
from faceatlas.metadata import PhotoMeta, read_metadata
from faceatlas.quality import QualityBars, judge_face
from faceatlas.walk import Walk, file_hash, plan, under, walk

Progress = Callable[[int, int], None]


# -- the pure per-file work ----------------------------------------------------------------
_MODELS: dict[tuple[str, str, int], tuple[Detector, Embedder]] = {}
# images of this many bytes (12 MP and up) give back the heap their decoding freed
GIVE_BACK_ABOVE = 36_000_000


def _models(config: ScanConfig) -> tuple[Detector, Embedder]:
    """Detector and embedder of this process, loaded once per process."""
    key = (config.detector_name, config.embedder, config.detect_min_face)
    if key not in _MODELS:
        params: dict[str, Any] = {}
        if config.detector_name == "yunet":
            # 0: the single working size of faceatlas 0.1 (no small- or large-face pass)
            params["min_face"] = config.detect_min_face
            params["multi_scale"] = config.detect_min_face > 0
        _MODELS[key] = (
            get_detector(config.detector_name, **params),
            get_embedder(config.embedder),
        )
    return _MODELS[key]


def _encode_chip(chip: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(
        ".jpg", np.ascontiguousarray(chip[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90]
    )
    return buf.tobytes() if ok else b""


def faces_of_image(
    image: np.ndarray,
    detections: Detections,
    embedder: Embedder,
    bars: QualityBars | None = None,
) -> list[FaceRecord]:
    """Align, score, judge (usable or not, and why) and embed every detected face of one image.

    Unusable faces are embedded and stored all the same: the user sees them and why, and the
    clusterer reads the verdict (quality 0: ``Catalog.face_photo_quality``).
    """
    if len(detections) == 0:
        return []
    thumbs = aligned_chips(image, detections, 112)
    chips = thumbs if embedder.name == "sface" else embedder.chips(image, detections)
    X = embedder.embed(chips)
    out = []
    for i in range(len(detections)):
        quality, sharp = face_quality(detections.boxes[i], float(detections.scores[i]), thumbs[i])
        verdict = judge_face(
            detections.boxes[i],
            detections.landmarks[i],
            float(detections.scores[i]),
            thumbs[i],
            sharp,
            bars,
        )
        out.append(
            FaceRecord(
                box=detections.boxes[i],
                landmarks=detections.landmarks[i],
                det_score=float(detections.scores[i]),
                quality=quality,
                sharpness=sharp,
                chip_jpeg=_encode_chip(thumbs[i]),
                embedding=X[i],
                size=verdict.size,
                yaw=verdict.yaw_deg,
                roll=verdict.roll_deg,
                brightness=verdict.brightness,
                usable=verdict.usable,
                reason=verdict.reason or None,
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


def _photo_of(
    path: str,
    image: np.ndarray,
    config: ScanConfig,
    detector: Detector,
    embedder: Embedder,
    bars: QualityBars,
    meta: PhotoMeta,
    frame_index: int = -1,
    time_s: float | None = None,
) -> PhotoRecord:
    """One image's record: faces found (with the light and turn retries), judged, embedded."""
    h, w = image.shape[:2]
    found = detect_with_retries(
        detector, image, retry_light=config.retry_light, try_turns=config.try_turns
    )
    return PhotoRecord(
        path,
        frame_index,
        time_s,
        w,
        h,
        faces=faces_of_image(image, found.detections, embedder, bars),
        meta=meta.to_dict(),
        turn=found.turn,
        light_retry=found.light,
    )


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
    bars = config.quality_bars
    photos: list[PhotoRecord] = []
    try:
        kind = media_kind(path) or "image"
        meta = read_metadata(path, kind)
        if kind == "video":
            frames = iter_video_frames(
                path, every_s=config.video_every_s, max_pixels=config.max_pixels
            )
            photos.extend(
                _photo_of(
                    path,
                    frame.image,
                    config,
                    detector,
                    embedder,
                    bars,
                    meta.at_offset(frame.time_s),
                    frame.index,
                    frame.time_s,
                )
                for frame in frames
            )
        else:
            image = load_image(path, max_pixels=config.max_pixels)
            if image.size >= GIVE_BACK_ABOVE:  # what decoding freed (libheif: 30-70 MB)
                _heap.give_back()
            photos.append(_photo_of(path, image, config, detector, embedder, bars, meta))
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


def _init_worker() -> None:
    import cv2

    # One process per core does the parallelism; threads inside each would fight over cores.
    cv2.setNumThreads(1)


def _errors_part(errors: list[dict[str, str]], shown: int = 2) -> str:
    """``"0 errors"``, or the count with what the first ones were."""
    if not errors:
        return "0 errors"
    said = []
    for err in errors[:shown]:
        where = "" if err["path"] in err["error"] else f"{err['path']}: "
        said.append(f"{where}{err['error']}")
    more = f" and {len(errors) - shown} more" if len(errors) > shown else ""
    noun = "error" if len(errors) == 1 else "errors"
    return f"{len(errors)} {noun} ({'; '.join(said)}{more})"


@dataclass
class ScanSummary:
    """What a scan did; printed as one line and available as JSON."""

    files: int = 0
    unchanged: int = 0
    failed_unchanged: int = 0
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
    failure: str | None = None

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
            _errors_part(self.errors),
            f"{self.seconds:.1f} s",
            f"{self.faces_per_s:.1f} faces/s",
        ]
        if self.failed_unchanged:
            parts.insert(1, f"{self.failed_unchanged} failed before and unchanged (--retry-errors)")
        if self.embedded:
            parts.insert(3, f"{self.embedded} faces embedded again")
        if self.skipped_formats:
            skipped = ", ".join(f"{k} x{v}" for k, v in sorted(self.skipped_formats.items()))
            parts.append(f"skipped formats: {skipped}")
        if self.interrupted:
            parts.append("INTERRUPTED (run again to finish)")
        return "; ".join(parts)


def _failed_file(task: tuple[Any, ...], reason: str) -> FileResult:
    """A file whose task died on the cluster (it killed its workers): recorded as an error."""
    path, _, content_hash, size, mtime = task
    error = PhotoRecord(path, status="error", error=f"{path}: worker failed: {reason}")
    return FileResult(path, content_hash, size, mtime, [error], 0.0)


def _failed_embed(task: tuple[Any, ...], reason: str) -> tuple[list[int], None, str]:
    return [], None, f"{task[0]}: worker failed: {reason}"


def _pool(
    executor: Executor,
    fn: Callable[[Any], Any],
    tasks: list[Any],
    failed: Callable[[Any, str], Any],
    jobs: int,
) -> Iterator[Any]:
    """Local processes, or the Dask cluster of ``--scheduler`` (started when there is work)."""
    if executor.scheduler is None:
        return _run_pool(fn, tasks, jobs)
    if not tasks:  # an unchanged folder: no cluster to reach
        return iter(())
    return executor.start().map(fn, tasks, failed)


def _run_pool(fn: Callable[[Any], Any], tasks: list[Any], jobs: int) -> Iterator[Any]:
    """Map ``fn`` over tasks in ``jobs`` processes (inline for one job or few tasks)."""
    if jobs <= 1 or len(tasks) < 2:
        _init_worker()
        yield from map(fn, tasks)
        return
    # forkserver: workers start from a clean process, so no OpenMP or BLAS thread state
    # of the parent is inherited (a known cause of hangs with fork).
    ctx = multiprocessing.get_context("forkserver")
    with _caller_script_hidden():
        pool = ctx.Pool(min(jobs, len(tasks)), initializer=_init_worker)
    with pool:
        yield from pool.imap_unordered(fn, tasks, chunksize=1)


@contextlib.contextmanager
def _caller_script_hidden() -> Iterator[None]:
    """Start workers without running the caller's script again.

    multiprocessing re-imports ``__main__`` in every new worker (and in the fork server),
    so a plain script that calls :func:`scan` at its top level, as the README's example
    does, would scan again inside each worker. The workers only need faceatlas' own
    functions, so ``__main__``'s file and spec are hidden while they start.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved: dict[str, Any] = {
        k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__
    }
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def scan(
    paths: Iterable[str | Path],
    catalog: Catalog,
    config: ScanConfig | None = None,
    *,
    progress: Progress | None = None,
    retry_errors: bool = False,
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
    retry_errors : bool, default False
        Decode again the files that failed before although their size and time did not
        change (by default they are counted as ``failed_unchanged`` and not read).
    scheduler : str, optional
        Run the per-photo work on Dask: ``"tcp://HOST:PORT"`` (a running scheduler whose
        workers see the photos at the same paths) or ``"local:N"`` (N local worker
        processes); default: ``config.n_jobs`` local processes. See
        :mod:`faceatlas.executors`.

    Returns
    -------
    ScanSummary
        Its run is recorded as ``done``, ``interrupted`` (Ctrl-C) or ``failed`` (the scan
        stopped on an error, which is raised); a run whose process died stays ``running``
        until the next start finds the catalog's lock free and records it ``interrupted``.
    """
    config = config or ScanConfig()
    roots = [os.path.abspath(os.path.expanduser(os.fspath(p))) for p in paths]
    if not roots:
        raise InputError("paths must name at least one file or folder, got none")
    executor = Executor(scheduler)  # checks the scheduler before any work
    t0 = time.perf_counter()
    summary = ScanSummary()
    catalog.acquire_scan_lock()
    run_id = catalog.start_run("scan", {"paths": roots, **config.to_dict()})
    status = "failed"  # unless the loop below ends, a run is never recorded as done
    try:
        _scan_into(catalog, config, roots, summary, progress, retry_errors, executor)
        status = "done"
    except KeyboardInterrupt:
        summary.interrupted = True
        status = "interrupted"
    except BaseException as exc:
        summary.failure = " ".join(str(exc).split()) or type(exc).__name__
        raise
    finally:
        executor.close()
        summary.seconds = time.perf_counter() - t0
        try:
            catalog.finish_run(run_id, summary.to_dict(), status)
        except Exception:
            # a disk full before the job could set its reserve aside: the run stays
            # 'running' and shows interrupted (from the lock); the error that stopped the
            # scan is the one raised.
            if status == "done":
                raise
        finally:
            catalog.release_scan_lock()
    return summary


_OPENCV_NOISE = re.compile(r"OpenCV\([^)]*\) \S+:\d+: error: \(-?\d+:([^)]*)\)")


def _one_line(message: str | None) -> str:
    """A reason on one line (some libraries' messages span several), without OpenCV's
    version and source file (``OpenCV(4.x) /io/.../resize.cpp:4017: error: (-215:...)``)."""
    line = " ".join((message or "").split())
    return _OPENCV_NOISE.sub(lambda m: f"OpenCV could not process it ({m.group(1).strip()}):", line)


def _sanitise(res: FileResult) -> None:
    """Reasons on one line; faces whose box or landmarks are not finite numbers dropped.

    A detector fed an image of extreme shape can return NaN boxes; one such face must not
    stop the scan (the catalog refuses NaN), nor be kept.
    """
    for ph in res.photos:
        if ph.error:
            ph.error = _one_line(ph.error)
        ph.faces = [
            f
            for f in ph.faces
            if np.isfinite(np.asarray(f.box, np.float64)).all()
            and np.isfinite(np.asarray(f.landmarks, np.float64)).all()
        ]


def _record(catalog: Catalog, config: ScanConfig, res: FileResult, emb: Embedder) -> int:
    """Write one file's result; returns its number of faces."""
    _sanitise(res)
    mtime = res.mtime
    try:
        st = os.stat(res.path)
        if (st.st_size, st.st_mtime) != (res.size, res.mtime):
            mtime = None  # changed while it was read: the next scan reads it again
    except OSError:
        mtime = None
    record = (res.path, res.content_hash, res.size, mtime, config.detector_name)
    try:
        return catalog.replace_file(*record, res.photos, emb.name, emb.version)
    except CatalogError:
        raise  # the catalog itself (full disk, read-only, busy): no later file would fit
    except Exception as exc:  # noqa: BLE001 - values of one file the catalog refuses
        reason = f"{res.path}: could not be recorded ({_one_line(str(exc))})"
        res.photos = [PhotoRecord(res.path, status="error", error=reason)]
        return catalog.replace_file(*record, res.photos, emb.name, emb.version)


def _scan_into(
    catalog: Catalog,
    config: ScanConfig,
    roots: list[str],
    summary: ScanSummary,
    progress: Progress | None,
    retry_errors: bool,
    executor: Executor,
) -> None:
    found = walk(roots)
    summary.files = len(found.files)
    summary.skipped_formats = dict(found.skipped_formats)
    summary.errors += [{"path": p, "error": r} for p, r in found.errors]
    states = catalog.file_states()
    found_set = set(found.files)
    missing = {p for p in states if under(p, roots) and p not in found_set}
    todo_plan = plan(catalog, config, found, states, missing, retry_errors=retry_errors)
    todo = todo_plan.todo
    for key in ("unchanged", "failed_unchanged", "new", "changed", "moved"):
        setattr(summary, key, getattr(todo_plan, key))
    summary.errors += [{"path": p, "error": r} for p, r in todo_plan.errors]
    summary.deleted = catalog.delete_files(sorted(missing))
    if summary.deleted or summary.changed:
        # the saved search index holds copies of the vectors that just left
        catalog.erase_saved_index()

    # Faces found earlier (by this detector) that lack this embedder's vectors.
    todo_paths = {t[0] for t in todo}
    embed_todo = [
        (p, faces, config)
        for p, faces in catalog.faces_without_embedding(config.embedder).items()
        if under(p, roots) and p in found_set and p not in todo_paths
    ]
    total = len(todo) + len(embed_todo)
    done = 0
    if progress:
        progress(0, total)
    emb = get_embedder(config.embedder)
    for res in _pool(executor, _process_task, todo, _failed_file, config.n_jobs):
        n = _record(catalog, config, res, emb)
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
    for ids, X, err in _pool(executor, _embed_task, embed_todo, _failed_embed, config.n_jobs):
        if err:
            summary.errors.append({"path": err.split(": ", 1)[0], "error": _one_line(err)})
        elif X is not None:
            catalog.add_embeddings(emb.name, emb.version, ids, X)
            summary.embedded += len(ids)
        done += 1
        if progress:
            progress(done, total)


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
