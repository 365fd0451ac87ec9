"""Large photos decoded straight into one 3-byte RGB array (issue 17, bounded memory).

Pillow keeps RGB in 4 bytes a pixel and the package's image contract is a 3-byte array, so a
photo decoded through Pillow exists twice at the peak (7 bytes a pixel: 336 MB for 48 MP).
Here JPEG and PNG are decoded by OpenCV into an array allocated once, HEIC by libheif into
its own buffer. :func:`faceatlas.images.load_image` decides from Pillow's header which files
come here and keeps every check, limit and message of its own; the checks below only say
whether a file is one whose result equals Pillow's path (whole, no transparency, no
orientation OpenCV would miss).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

# A file's chunks or markers are walked at most this many times: a PNG of 100,000 chunks is
# 800 MB at libpng's 8 KB a chunk; anything longer is left to Pillow rather than walked.
_MAX_STEPS = 100_000
# PNG text chunks Pillow reads an orientation from (getexif: EXIF as hex text, XMP)
_ORIENTATION_TEXT = (b"Raw profile type exif", b"XML:com.adobe.xmp")


def jpeg_is_whole(path: Path) -> bool:
    """True when the JPEG's markers lead from SOI to EOI, every segment inside the file.

    libjpeg inside OpenCV fills a truncated scan with grey and only warns on stderr, where
    Pillow refuses it; a JPEG that fails this walk goes Pillow's way and keeps today's
    message. Data after the first EOI (a multi-picture file's second image, a motion
    photo's video) is not looked at.
    """
    data = np.fromfile(path, np.uint8)
    n = data.size
    if n < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return False
    # every 0xFF that starts a marker inside entropy-coded data: not a stuffed 0xFF00, a
    # restart marker (0xFFD0-D7) or a fill byte before the marker
    ff = np.flatnonzero(data[:-1] == 0xFF)
    after = data[ff + 1]
    markers = ff[(after != 0x00) & (after != 0xFF) & ((after < 0xD0) | (after > 0xD7))]
    del ff, after
    pos = 2
    for _ in range(_MAX_STEPS):
        if pos + 2 > n or data[pos] != 0xFF:
            return False
        code = int(data[pos + 1])
        if code == 0xD9:  # end of image
            return True
        if code == 0xFF or 0xD0 <= code <= 0xD7 or code == 0x01:  # fill, standalone
            pos += 1 if code == 0xFF else 2
            continue
        if pos + 4 > n:
            return False
        pos += 2 + (int(data[pos + 2]) << 8 | int(data[pos + 3]))
        if code == 0xDA:  # start of scan: its entropy-coded data runs to the next marker
            i = int(np.searchsorted(markers, pos))
            if i == markers.size:
                return False
            pos = int(markers[i])
    return False


def png_chunks(f: BinaryIO) -> Iterator[tuple[bytes, int]]:
    """``(kind, length)`` of each chunk of the PNG open in ``f``, up to ``IEND``.

    Walks the chunk headers only: when a chunk is yielded the file stands at its data, which
    the caller may read; the walk then seeks past it. Stops early (no ``IEND``) at a wrong
    signature, a chunk that runs past the end of the file, or after :data:`_MAX_STEPS`.
    """
    size = os.fstat(f.fileno()).st_size
    if f.read(8) != b"\x89PNG\r\n\x1a\n":
        return
    pos = 8
    for _ in range(_MAX_STEPS):
        head = f.read(8)
        if len(head) < 8:
            return
        length, kind = struct.unpack(">I4s", head)
        if pos + 12 + length > size:
            return
        yield kind, length
        if kind == b"IEND":
            return
        pos += 12 + length
        f.seek(pos)


def png_is_plain(path: Path) -> bool:
    """True for a whole 8-bit grey or RGB PNG with no transparency, animation or orientation.

    A PNG with a ``tRNS`` chunk (its transparent pixels must turn white), an animation, EXIF
    or XMP (Pillow would turn it by an orientation found there), 16-bit samples, or chunks
    that run past the end of the file goes Pillow's way.
    """
    with open(path, "rb") as f:
        for step, (kind, length) in enumerate(png_chunks(f)):
            if step == 0:
                ihdr = f.read(13)
                bit_depth, color_type = ihdr[8], ihdr[9]
                if kind != b"IHDR" or length != 13 or bit_depth != 8 or color_type not in (0, 2):
                    return False
            elif kind == b"IEND":
                return True
            elif kind in (b"tRNS", b"acTL", b"eXIf") or (
                kind in (b"tEXt", b"zTXt", b"iTXt")
                and f.read(min(length, 80)).split(b"\0", 1)[0] in _ORIENTATION_TEXT
            ):
                return False
    return False


def read_rgb(path: Path, size: tuple[int, int], scale: int) -> np.ndarray | None:
    """A JPEG or PNG decoded by OpenCV into one new RGB array of ``size`` (w, h).

    A JPEG is decoded at 1/``scale`` (1, 2, 4 or 8) by libjpeg itself; EXIF orientation is
    not applied (the caller applies Pillow's). The array is allocated here and handed to
    ``cv2.imread`` to fill: ``cv2.imdecode`` returns a new array only by copying OpenCV's
    own (twice the image at the peak). The path goes as bytes, so any file name works.
    None when OpenCV cannot decode the file.
    """
    import cv2

    # the REDUCED_* flags are a scale bit (16, 32, 64) plus a colour bit; the scale bit of the
    # grey ones with IMREAD_COLOR_RGB decodes in RGB at that scale (REDUCED_COLOR is BGR)
    scale_bit = {
        1: 0,
        2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
        4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
        8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
    }[scale]
    out = np.empty((size[1], size[0], 3), np.uint8)
    flags = scale_bit | cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION
    # bytes, as the file system has the name (the stubs say str; a str of a name that is not
    # UTF-8 would not encode)
    image = cv2.imread(os.fsencode(path), out, flags)  # type: ignore[call-overload]
    if image is None or image.size == 0 or image.ndim != 3:
        return None
    return image


def read_heif(path: Path) -> np.ndarray | None:
    """The primary image of a HEIF file, 8-bit RGB, in libheif's own buffer (no copy).

    libheif applies the file's rotation and mirroring as it decodes, as on Pillow's path
    (pillow-heif then sets the EXIF orientation to 1). The array is read-only: it is
    libheif's memory; a copy would cost the image once more at the peak. None when
    libheif cannot decode the file or it is not 8-bit RGB.
    """
    import pillow_heif

    try:
        heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=True)
        if heif.mode != "RGB":
            return None
        width = heif.size[0]
        image = np.asarray(heif)
    except RuntimeError:  # libheif's other errors; ValueError/EOFError are the caller's
        return None
    image = image[:, :width]  # rows may be padded to libheif's stride
    return image if image.flags.c_contiguous else np.ascontiguousarray(image)


def reduce_by(image: np.ndarray, factor: int) -> np.ndarray:
    """Shrink by a whole factor with box averaging, sides rounded up as Pillow's ``reduce``."""
    import cv2

    h, w = image.shape[:2]
    size = (-(-w // factor), -(-h // factor))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation as Pillow's ``exif_transpose`` does.

    Flips happen in place; the turns by 90 degrees need a new array (the old one is freed
    as soon as the caller drops it).
    """
    import cv2

    if orientation in (2, 3, 4):
        code = {2: 1, 3: -1, 4: 0}[orientation]  # left-right, 180 degrees, top-bottom
        return cv2.flip(image, code, dst=image if image.flags.writeable else None)
    if orientation == 6:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 8:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    if orientation in (5, 7):
        turned = cv2.transpose(image)
        return cv2.flip(turned, -1, dst=turned) if orientation == 7 else turned
    return image
