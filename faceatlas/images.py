"""Decode files into images: formats, EXIF orientation, size limits, and video frames.

Every function returns the package's image contract: a ``uint8`` array of shape
``(h, w, 3)`` in RGB order with EXIF orientation already applied.
"""

from __future__ import annotations

import functools
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from faceatlas.exceptions import ImageError, ImageTooLargeError

IMAGE_SUFFIXES = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".bmp",
        ".tif",
        ".tiff",
        ".webp",
        ".pgm",
        ".ppm",
        ".pbm",
        ".pnm",
        # HEIF/HEIC (iPhones since 2017) through pillow-heif; AVIF through Pillow itself
        # (>= 11.3 reads it) or pillow-heif builds that still carry it.
        ".heic",
        ".heif",
        ".hif",
        ".avif",
    }
)
# Camera RAW files, decoded by rawpy (LibRaw) when the optional `raw` extra is installed;
# without it they are counted as skipped formats by the scan.
RAW_SUFFIXES = frozenset({".dng", ".cr2", ".cr3", ".nef", ".nrw", ".arw", ".raf", ".orf", ".rw2"})
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm"})

# 100 megapixels: larger than any camera photo users are likely to have (a 61 MP full-frame
# sensor is 9504x6336); decoding is bounded by DEFAULT_MAX_DECODED_BYTES below.
DEFAULT_MAX_PIXELS = 100_000_000

# Pillow's own bomb check warns at 89 MP and raises at 179 MP; faceatlas applies its own
# limit (configurable) before decoding, so Pillow's is switched off here.
Image.MAX_IMAGE_PIXELS = None

# 256 MB: what one image may take while it is decoded, at the default pixel limit (the
# budget grows in proportion when --max-pixels is raised). Pillow holds RGB in 4 bytes a
# pixel, so a 64 MP RGB PNG fits, a 100 MP one does not; a JPEG always fits, since it is
# reduced while decoding (draft mode). What a scan worker then holds at most, with its models
# loaded, is measured in docs/benchmarks.md ("Peak memory of one worker").
DEFAULT_MAX_DECODED_BYTES = 256 * 1024 * 1024

# 50 MP: images above this are reduced (by a whole factor, while decoding where the format
# allows) before they become arrays; a 48 MP phone photo (8000x6000) keeps every pixel.
MAX_WORKING_PIXELS = 50_000_000

# 20 MP decoded: from here on, JPEG, PNG and HEIC are decoded straight into the one 3-byte
# array the package returns (OpenCV, libheif), not through Pillow, which holds RGB in 4 bytes
# a pixel beside that array (7 bytes a pixel at the peak: +140 MB at 20 MP, +336 MB at
# 48 MP, over the ~245 MB a warm scan worker holds; issue 17's target is 500 MB a worker).
# Below it Pillow's path stays exactly as it was, pixel for pixel: 12 MP phone photos, LFW
# crops, thumbnails. 20 MP takes in 20-24 MP cameras and a 96 MP JPEG decoded at 1/2.
COMPACT_DECODE_PIXELS = 20_000_000

# A face needs more than this on both sides; thinner images (a line of pixels, a sliver of
# a banner) are refused with that reason instead of reaching the detector's resize.
MIN_IMAGE_SIDE = 16
# A panorama is up to ~20:1; beyond 100:1 an image is a strip whose detector input would be
# a few pixels high.
MAX_ASPECT_RATIO = 100


# -- formats beyond Pillow's own -------------------------------------------------------------
_REGISTERED: list[bool] = []


def register_formats() -> None:
    """Teach Pillow HEIF/HEIC (and AVIF where Pillow lacks it) once per process.

    pillow-heif is a core dependency; it is imported here, on the first decode, not at import
    time, so commands that only read the catalog stay quick to start.
    """
    if _REGISTERED:
        return
    _REGISTERED.append(True)
    from PIL import features

    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - a core dependency; HEIC files then fail one by one
        return
    pillow_heif.register_heif_opener()
    if not features.check("avif") and hasattr(pillow_heif, "register_avif_opener"):
        pillow_heif.register_avif_opener()  # pragma: no cover - depends on the Pillow build


@functools.cache
def raw_supported() -> bool:
    """True when the optional ``raw`` extra (rawpy) is installed."""
    import importlib.util

    return importlib.util.find_spec("rawpy") is not None


def _load_raw(path: Path) -> Image.Image:
    """Develop a camera RAW file with LibRaw at half size (faces need no more; 4x faster)."""
    import rawpy

    try:
        with rawpy.imread(str(path)) as raw:
            rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
    except (rawpy.LibRawError, OSError) as exc:
        raise ImageError(f"{path}: cannot decode camera RAW ({exc})") from None
    return Image.fromarray(rgb)


def media_kind(path: str | Path) -> str | None:
    """Return ``"image"``, ``"video"`` or ``None`` (not a supported format) from the suffix."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in RAW_SUFFIXES and raw_supported():
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to 8-bit RGB."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grey: scale by the actual range so dark 16-bit scans are not crushed to 0.
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        grey = ((arr - lo) * scale).clip(0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        grey = ((arr - lo) * (255.0 / (hi - lo) if hi > lo else 0.0)).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent pixels become white, as a viewer shows them, not black: pasted on a
        # white RGB canvas through the alpha band (no second RGBA copy).
        rgba = img if mode == "RGBA" else img.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        img = canvas
    return _as_array(img)


def _as_array(img: Image.Image) -> np.ndarray:
    """A Pillow image as a new RGB ``(h, w, 3)`` array, converted and copied a strip at a time.

    ``np.asarray(img)`` goes through ``tobytes()``, which holds the pixels twice more
    while it joins its chunks: for a 48 MP photo that was 300 MB over the image itself.
    Modes other than RGB (palette without transparency, grey, CMYK: conversions pixel by
    pixel) turn RGB strip by strip, so no whole RGB image in 4 bytes a pixel is made beside
    the array (a 81 MP palette PNG reduced to 20 MP: 81 MB less at the peak).
    """
    w, h = img.size
    out = np.empty((h, w, 3), np.uint8)
    rows = max(1, (1 << 22) // max(w, 1))  # strips of about 4 MP
    for y in range(0, h, rows):
        strip = img.crop((0, y, w, min(h, y + rows)))
        out[y : y + rows] = np.asarray(strip if strip.mode == "RGB" else strip.convert("RGB"))
        del strip  # before the next one is cut: one strip at a time (16 MB in 4 bytes a pixel)
    return out


def _bytes_per_pixel(mode: str) -> int:
    """Bytes Pillow keeps per pixel of ``mode`` (RGB is stored in 4)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def _working_factor(width: int, height: int) -> int:
    """The whole factor that brings ``width x height`` within :data:`MAX_WORKING_PIXELS`."""
    factor = 1
    while (width // factor) * (height // factor) > MAX_WORKING_PIXELS:
        factor += 1
    return factor


def _check_and_draft(img: Image.Image, path: Path, max_pixels: int) -> int:
    """Refuse what cannot be decoded within bounds; set a JPEG's draft scale, and return it.

    Refuses shapes no face fits in and images whose decoded bytes would exceed the budget
    (:data:`DEFAULT_MAX_DECODED_BYTES`, scaled with ``max_pixels``). A JPEG larger than
    :data:`MAX_WORKING_PIXELS` is to be decoded at 1/2, 1/4 or 1/8 scale (draft mode: Pillow
    then reports the reduced size), so the full image never exists; 1 for any other file.
    """
    width, height = img.size
    if min(width, height) < MIN_IMAGE_SIDE:
        raise ImageError(
            f"{path}: {width}x{height} pixels is too thin to hold a face "
            f"(a side under {MIN_IMAGE_SIDE} px)"
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise ImageError(
            f"{path}: {width}x{height} pixels is a strip, not a photo "
            f"(sides more than {MAX_ASPECT_RATIO}:1)"
        )
    pixels = width * height
    factor = 1
    while pixels / (factor * factor) > MAX_WORKING_PIXELS:
        factor += 1
    scale = 1
    if img.format == "JPEG" and factor > 1:
        # libjpeg scales by 1/2, 1/4 or 1/8 while decoding: the full image never exists.
        drafted = img.draft("RGB", (width // factor, height // factor))
        if drafted is not None:
            scale = round(width / drafted[1][2])  # the box is the original size / scale
    budget = DEFAULT_MAX_DECODED_BYTES * max_pixels / DEFAULT_MAX_PIXELS
    decoded = img.size[0] * img.size[1] * _bytes_per_pixel(img.mode)
    if decoded > budget:
        raise ImageTooLargeError(
            f"{path}: {width}x{height} in mode {img.mode} would take {decoded / 2**20:,.0f} MB "
            f"to decode, over the budget of {budget / 2**20:,.0f} MB "
            "(it grows with --max-pixels)"
        )
    return scale


def _decode_bounded(img: Image.Image) -> Image.Image:
    """Decode ``img`` (checked and drafted), reduced by a whole factor if still too large.

    Any format but a drafted JPEG is reduced right after decoding, in its own compact mode (a
    palette image stays 1 byte a pixel), so no full-size RGB(A) copy is ever made.
    """
    img.load()
    w, h = img.size
    factor = _working_factor(w, h)
    if factor == 1:
        return img
    if img.mode in ("1", "P") or img.mode.startswith("I;16"):
        # no averaging in these modes: nearest keeps the palette and costs no conversion
        return img.resize((w // factor, h // factor), Image.Resampling.NEAREST)
    return img.reduce(factor)


def _decode_compact(img: Image.Image, path: Path, scale: int) -> np.ndarray | None:
    """A large JPEG, PNG or HEIC decoded straight into one 3-byte RGB array; else None.

    Only for :data:`COMPACT_DECODE_PIXELS` or more, and only where the result equals Pillow's
    path (JPEG pixels may differ by a level or two): 8-bit RGB or grey, no transparency (a
    palette or alpha stays with Pillow, whose transparent pixels turn white), no CMYK. A JPEG
    is turned by the orientation Pillow reads (EXIF, else XMP); a PNG carrying any
    orientation data and a JPEG that is not whole (truncated: Pillow refuses it, as before)
    go Pillow's way. Reduced by a whole factor as on Pillow's path (sides rounded up).
    """
    width, height = img.size  # after the draft: the size that will be decoded
    # OpenCV refuses files over 2**30 pixels (OPENCV_IO_MAX_IMAGE_PIXELS)
    if width * height < COMPACT_DECODE_PIXELS or width * height * scale * scale >= 1 << 30:
        return None
    from faceatlas import _images_compact as compact

    orientation = 1
    if img.format in ("JPEG", "MPO") and img.mode in ("RGB", "L"):
        if not compact.jpeg_is_whole(path):
            return None
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
        image = compact.read_rgb(path, (width, height), scale)
    elif img.format == "PNG" and img.mode in ("RGB", "L") and compact.png_is_plain(path):
        image = compact.read_rgb(path, (width, height), 1)
    elif img.format == "HEIF" and img.mode == "RGB":
        image = compact.read_heif(path)  # libheif applies the turns, as on Pillow's path
    else:
        return None
    if image is None:
        raise ImageError(f"{path}: truncated or corrupt image data")
    factor = _working_factor(image.shape[1], image.shape[0])
    if factor > 1:
        image = compact.reduce_by(image, factor)
    return compact.upright(image, orientation)


def _decode_opened(img: Image.Image, path: Path, max_pixels: int) -> np.ndarray:
    """An opened (not yet decoded) image as RGB within the limits, compactly if it is large."""
    width, height = img.size
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{path}: {width}x{height} = {width * height:,} pixels is over the limit "
            f"of {max_pixels:,} (raise it with --max-pixels)"
        )
    scale = _check_and_draft(img, path, max_pixels)
    compact = _decode_compact(img, path, scale)
    if compact is not None:
        return compact
    decoded = _decode_bounded(img)
    if decoded is not img:  # reduced: the full-size image is freed at once
        img.close()
    # in place: otherwise Pillow returns a full copy even of an upright photo
    ImageOps.exif_transpose(decoded, in_place=True)
    return _to_rgb(decoded)


def load_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file into an RGB array with EXIF orientation applied.

    Parameters
    ----------
    path : str or Path
        JPEG, PNG, GIF (first frame), BMP, TIFF, WebP or PGM/PPM file.
    max_pixels : int, default 100_000_000
        Larger images are refused before they are decoded (decompression bombs).

    Returns
    -------
    image : ndarray of shape (h, w, 3), dtype uint8, RGB
        Read-only for a HEIC of 20 MP or more (libheif's own buffer, not copied; ``.copy()``
        it to write into it).

    Raises
    ------
    ImageError
        With the path and a one-line reason: missing, unreadable, empty, truncated, not an image.
    ImageTooLargeError
        If ``width * height > max_pixels``.
    """
    path = Path(path).expanduser()
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImageError(f"{path}: file not found (or a broken symlink)") from None
    except PermissionError:
        raise ImageError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
        raise ImageError(f"{path}: not a regular file (a FIFO, socket or device); not read")
    if st.st_size == 0:
        raise ImageError(f"{path}: empty file (0 bytes)")
    if path.suffix.lower() in RAW_SUFFIXES and raw_supported():
        return _to_rgb(_load_raw(path))
    register_formats()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's EXIF/ICC chatter is not the user's concern
            with Image.open(path) as img:
                return _decode_opened(img, path, max_pixels)
    except ImageError:
        raise
    except PermissionError:
        raise ImageError(f"{path}: permission denied") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image, or a format Pillow cannot read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = str(exc) or type(exc).__name__
        if "truncated" in reason.lower():
            reason = "truncated or corrupt image data"
        raise ImageError(f"{path}: {reason}") from None
    except Image.DecompressionBombError as exc:  # pragma: no cover - limit is disabled above
        raise ImageTooLargeError(f"{path}: {exc}") from None


@dataclass(frozen=True)
class VideoFrame:
    """One sampled frame of a video."""

    index: int
    time_s: float
    image: np.ndarray


def iter_video_frames(
    path: str | Path, *, every_s: float = 1.0, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Iterator[VideoFrame]:
    """Yield one frame every ``every_s`` seconds of a video, as RGB images.

    Raises
    ------
    ImageError
        If the file cannot be opened as a video or has no decodable frame.
    """
    import cv2

    if every_s <= 0:
        raise ValueError(f"every_s must be > 0 seconds, got {every_s}")
    path = Path(path).expanduser()
    if not path.is_file():
        raise ImageError(f"{path}: file not found (or a broken symlink)")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ImageError(f"{path}: cannot open as a video")
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        step = max(1, round(fps * every_s))
        index = 0
        yielded = 0
        while True:
            ok = cap.grab()
            if not ok:
                break
            if index % step == 0:
                ok, bgr = cap.retrieve()
                if ok and bgr is not None:
                    h, w = bgr.shape[:2]
                    if h * w > max_pixels:
                        raise ImageTooLargeError(f"{path}: frames of {w}x{h} are over the limit")
                    yielded += 1
                    yield VideoFrame(index, index / fps, np.ascontiguousarray(bgr[:, :, ::-1]))
            index += 1
        if yielded == 0:
            raise ImageError(f"{path}: no decodable video frame")
    finally:
        cap.release()


def read_video_frame(path: str | Path, index: int) -> np.ndarray:
    """Decode one frame (by index) of a video as RGB."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = cap.read()
        if not ok or bgr is None:
            raise ImageError(f"{path}: cannot decode frame {index}")
        return np.ascontiguousarray(bgr[:, :, ::-1])
    finally:
        cap.release()
