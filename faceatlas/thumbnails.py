"""Pictures for the report and the gallery: photo thumbnails with a box, contact sheets.

A stage: pure functions of files and bytes (no catalog), so the report can run them in
worker processes (:func:`write_thumbnails`, :func:`write_chip_sheets`) and the web app can
call them per request (:func:`photo_thumbnail`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from faceatlas.exceptions import FaceAtlasError
from faceatlas.images import load_image, read_video_frame

__all__ = [
    "chip_sheet",
    "copy_if_small_jpeg",
    "decode_chips",
    "photo_thumbnail",
    "save_jpeg",
    "write_chip_sheets",
    "write_thumbnails",
]

#: ``progress(done, total)``, called as batches finish.
Progress = Callable[[int, int], None]

#: Box colour on thumbnails: a saturated orange that stays visible on skin, sky and grey.
BOX_RGB = (255, 120, 0)


def photo_thumbnail(
    path: str | Path,
    frame_index: int = -1,
    box: Sequence[float] | None = None,
    max_side: int = 320,
    *,
    max_pixels: int = 100_000_000,
) -> Image.Image:
    """The photo (or video frame) shrunk to ``max_side``, with ``box`` drawn on it.

    Parameters
    ----------
    path : str or Path
    frame_index : int, default -1
        -1 for a still image, else the video frame the face was found in.
    box : sequence of 4 float, optional
        ``x1, y1, x2, y2`` in the pixels of the full-size photo (EXIF orientation applied,
        as the scan saw it).
    max_side : int, default 320
    max_pixels : int, default 100_000_000
        Larger images are refused before decoding (see :func:`faceatlas.images.load_image`).

    Returns
    -------
    PIL.Image.Image
        RGB.
    """
    if frame_index is not None and frame_index >= 0:
        img = Image.fromarray(read_video_frame(path, frame_index))
        full = img.size
    elif Path(path).suffix.lower() in {".jpg", ".jpeg"}:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > max_pixels:
                load_image(path, max_pixels=max_pixels)  # raises ImageTooLargeError
            # JPEG draft mode decodes at 1/2, 1/4 or 1/8 scale: several times faster than
            # a full decode followed by a resize, for the same thumbnail.
            full = (h, w) if _rotated(im) else (w, h)
            im.draft("RGB", (max_side, max_side))
            im.load()
            img = (ImageOps.exif_transpose(im) or im).convert("RGB")
    else:
        img = Image.fromarray(load_image(path, max_pixels=max_pixels))
        full = img.size
    scale = min(1.0, max_side / max(img.size))
    if scale < 1.0:
        img = img.resize(
            (max(1, round(img.width * scale)), max(1, round(img.height * scale))),
            Image.Resampling.BILINEAR,
        )
    if box is not None:
        sx, sy = img.width / full[0], img.height / full[1]
        x1, y1, x2, y2 = (float(v) for v in box)
        width = max(2, round(max(img.size) / 120))
        ImageDraw.Draw(img).rectangle(
            [x1 * sx, y1 * sy, x2 * sx, y2 * sy], outline=BOX_RGB, width=width
        )
    return img


def copy_if_small_jpeg(path: str | Path, dest: str | Path, max_side: int) -> bool:
    """Copy a JPEG that is already thumbnail-sized and upright; False if it is not one.

    Decoding and re-encoding such a file only loses quality and costs two milliseconds,
    which is most of a report's time on 13,000 LFW photos.
    """
    import shutil

    if Path(path).suffix.lower() not in {".jpg", ".jpeg"}:
        return False
    with Image.open(path) as im:  # reads the header only
        if (
            im.format != "JPEG"
            or max(im.size) > max_side
            or im.mode not in ("RGB", "L")
            or _orientation(im) != 1
        ):
            return False
    tmp = Path(dest).with_name(Path(dest).name + ".part")
    shutil.copyfile(path, tmp)
    tmp.replace(dest)
    return True


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - unreadable EXIF: upright, as the scan read it
        return 1


def _rotated(im: Image.Image) -> bool:
    """Whether the EXIF orientation swaps width and height."""
    try:
        return im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Exception:  # noqa: BLE001 - unreadable EXIF: treat as not rotated, as the scan did
        return False


def save_jpeg(img: Image.Image, path: str | Path, quality: int = 82) -> None:
    """Write atomically (a temporary name, then rename), so a killed run leaves no half file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    img.save(tmp, "JPEG", quality=quality, optimize=False)
    tmp.replace(path)


def chip_sheet(
    chips: Sequence[bytes | None],
    *,
    tile: int = 64,
    columns: int = 8,
) -> Image.Image:
    """Face chips (JPEG bytes) tiled into one image, ``columns`` per row.

    A missing chip (``None``, or bytes that do not decode) becomes a grey tile.
    """
    n = max(1, len(chips))
    cols = min(columns, n)
    rows = -(-n // cols)
    sheet = Image.new("RGB", (cols * tile, rows * tile), (230, 230, 230))
    for i, data in enumerate(chips):
        if not data:
            continue
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.draft("RGB", (tile, tile))
                face = im.convert("RGB").resize((tile, tile), Image.Resampling.BILINEAR)
        except OSError:
            continue
        sheet.paste(face, ((i % cols) * tile, (i // cols) * tile))
    return sheet


def decode_chips(chips: Sequence[bytes | None], size: int = 112) -> np.ndarray:
    """JPEG chips as a uint8 RGB array ``(n, size, size, 3)``; undecodable ones are grey."""
    out = np.full((len(chips), size, size, 3), 128, np.uint8)
    for i, data in enumerate(chips):
        if not data:
            continue
        try:
            with Image.open(io.BytesIO(data)) as im:
                rgb = im.convert("RGB")
                if rgb.size != (size, size):
                    rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
                out[i] = np.asarray(rgb)
        except OSError:
            continue
    return out


# -- many pictures, in worker processes --------------------------------------------------------
def write_thumbnails(
    tasks: Sequence[tuple[str, int, str, int]], *, n_jobs: int = 1, progress: Progress | None = None
) -> list[str | None]:
    """Write one thumbnail per task ``(photo path, frame_index, dest, max_side)``.

    Small upright JPEGs are copied (:func:`copy_if_small_jpeg`), the rest decoded, shrunk and
    saved atomically. Returns one error message (or None) per task, in order: a photo that
    cannot be read is reported, not raised, so one bad file does not stop a report.
    """
    return _run_batches(_thumb_batch, list(tasks), n_jobs, progress)


def write_chip_sheets(tasks: Sequence[tuple[Sequence[str], str]], *, n_jobs: int = 1) -> None:
    """Write one contact sheet per task ``(chip files, dest)``; a missing chip is a grey tile."""
    _run_batches(_sheet_batch, list(tasks), n_jobs, None, batch=32)


def _thumb_batch(tasks: Sequence[tuple[str, int, str, int]]) -> list[str | None]:
    """Make thumbnails; one error message (or None) per task. Runs in a worker process."""
    out: list[str | None] = []
    for path, frame, dest, side in tasks:
        try:
            if frame >= 0 or not copy_if_small_jpeg(path, dest, side):
                save_jpeg(photo_thumbnail(path, frame, None, side), dest)
            out.append(None)
        except (OSError, FaceAtlasError, ValueError) as exc:
            out.append(f"{path}: {exc}")
    return out


def _sheet_batch(tasks: Sequence[tuple[Sequence[str], str]]) -> list[None]:
    for chip_files, dest in tasks:
        chips: list[bytes | None] = []
        for f in chip_files:
            try:
                chips.append(Path(f).read_bytes())
            except OSError:
                chips.append(None)
        save_jpeg(chip_sheet(chips), dest)
    return [None] * len(tasks)


def _run_batches(
    fn: Callable[[Any], list[Any]],
    tasks: list[Any],
    n_jobs: int,
    progress: Progress | None,
    batch: int = 64,
) -> list[Any]:
    batches = [tasks[i : i + batch] for i in range(0, len(tasks), batch)]
    out: list[Any] = []
    if not batches:
        return out
    if n_jobs <= 1 or len(batches) == 1:
        for b in batches:
            out += fn(b)
            if progress:
                progress(len(out), len(tasks))
        return out
    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        for res in pool.map(fn, batches):
            out += res
            if progress:
                progress(len(out), len(tasks))
    return out
