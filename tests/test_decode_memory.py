"""Issue 17 point 2: large JPEGs are decoded into the RGB array without Pillow's 4-byte copy.

The compact path (OpenCV, for JPEGs of ``COMPACT_DECODE_PIXELS`` and more) must give the same
pixels as Pillow's path, EXIF turns included, and fail on a bad file with the same reason.
The images are small here (the threshold is lowered), so the comparison is quick; the memory
it saves is measured on a real 48 MP photo in ``tests/test_zoo.py``.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceatlas import images
from faceatlas.exceptions import ImageError, ImageTooLargeError
from faceatlas.images import load_image

REPO = Path(__file__).resolve().parents[1]


def _photo(shared_data: Path, w: int = 640, h: int = 480) -> Image.Image:
    """A real face photo enlarged onto a textured background (JPEG-like content)."""
    face = next((shared_data / "lfw" / "images").iterdir())
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 255, (h // 20, w // 20, 3), dtype=np.uint8)
    img = Image.fromarray(noise).resize((w, h), Image.Resampling.BICUBIC)
    img.paste(Image.open(next(face.glob("*.jpg"))), (w // 4, h // 8))
    return img


def _both(
    path: Path, monkeypatch: pytest.MonkeyPatch, *, compact_only: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The image as Pillow's path and as the compact path decode it.

    ``compact_only``: the second decode must not fall back to Pillow's path.
    """
    monkeypatch.setattr(images, "COMPACT_DECODE_PIXELS", 10**12)
    pillow = load_image(path)
    monkeypatch.setattr(images, "COMPACT_DECODE_PIXELS", 1)
    with monkeypatch.context() as m:
        if compact_only:

            def no_pillow(*args: object) -> None:
                raise AssertionError("took Pillow's path")

            m.setattr(images, "_decode_with_pillow", no_pillow)
        compact = load_image(path)
    return pillow, compact


@pytest.mark.parametrize("orientation", range(1, 9))
def test_the_compact_path_gives_pillows_pixels_with_every_exif_turn(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch, orientation: int
) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "turned.jpg"
    _photo(shared_data).save(path, quality=90, exif=exif.tobytes())
    pillow, compact = _both(path, monkeypatch)
    assert compact.flags["C_CONTIGUOUS"] and compact.dtype == np.uint8
    assert compact.shape == pillow.shape
    assert compact.shape[:2] == ((640, 480) if orientation >= 5 else (480, 640))
    assert np.array_equal(compact, pillow)


def test_the_compact_path_turns_by_xmp_as_pillow_does(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an orientation only in XMP (some editors write it there): Pillow turns by it, OpenCV
    # would not; the compact path takes Pillow's reading
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF>'
        b"</x:xmpmeta>"
    )
    path = tmp_path / "xmp.jpg"
    _photo(shared_data).save(path, quality=90, xmp=xmp)
    pillow, compact = _both(path, monkeypatch)
    assert pillow.shape == (640, 480, 3)
    assert np.array_equal(compact, pillow)


def test_the_compact_path_refuses_what_pillows_path_refuses(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the decoding budget (here made tiny) refuses a photo on the compact path as on
    # Pillow's, with the same message
    path = tmp_path / "p.jpg"
    _photo(shared_data).save(path, quality=90)
    monkeypatch.setattr(images, "COMPACT_DECODE_PIXELS", 1)
    monkeypatch.setattr(images, "DEFAULT_MAX_DECODED_BYTES", 256)
    with pytest.raises(ImageTooLargeError, match="MB to decode"):
        load_image(path, max_pixels=400_000)


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_the_compact_path_gives_pillows_pixels_for_grey_and_progressive(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    path = tmp_path / "p.jpg"
    _photo(shared_data).convert(mode).save(path, quality=85, progressive=True)
    pillow, compact = _both(path, monkeypatch)
    assert np.array_equal(compact, pillow)


def test_a_truncated_jpeg_fails_with_the_same_reason_on_both_paths(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    buf = io.BytesIO()
    _photo(shared_data).save(buf, "JPEG", quality=90)
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    reasons = []
    for threshold in (10**12, 1):
        monkeypatch.setattr(images, "COMPACT_DECODE_PIXELS", threshold)
        with pytest.raises(ImageError, match="truncated") as err:
            load_image(path)
        reasons.append(str(err.value))
    assert reasons[0] == reasons[1]


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_decoding_a_48_megapixel_photo_holds_no_pillow_copy(
    tmp_path: Path, shared_data: Path, suffix: str
) -> None:
    path = tmp_path / f"big{suffix}"
    _photo(shared_data, 8000, 6000).save(path, quality=90, compress_level=1)
    code = (
        "import sys\n"
        "from faceatlas.images import load_image, register_formats\n"
        "import cv2\n"
        "register_formats()\n"
        "def hwm():\n"
        "    s = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "    return int(s.split()[0]) // 1024\n"
        "before = hwm()\n"
        f"image = load_image({str(path)!r})\n"
        "print(before, hwm(), image.nbytes // 2**20)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, timeout=120, env=env
    )
    before, after, array_mb = map(int, out.stdout.split())
    assert array_mb == 137  # 8000 x 6000 x 3 bytes
    # OpenCV's decoded image and the array it is copied into (its Python binding copies),
    # the file's bytes and Pillow's check: JPEG 285 MB, PNG 312 MB measured; Pillow's path
    # took 357 MB (its 4-byte RGB image beside the array)
    file_mb = path.stat().st_size // 2**20
    assert after - before < 2 * array_mb + file_mb + 25, (before, after, file_mb)


@pytest.mark.parametrize("orientation", [1, 6])
def test_an_rgb_png_gives_pillows_pixels_whole_and_halved(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch, orientation: int
) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "p.png"
    _photo(shared_data).save(path, exif=exif.tobytes())
    pillow, compact = _both(path, monkeypatch)
    assert np.array_equal(compact, pillow)
    # over the working size: halved while decoding, as Pillow's reduce(2) halves it
    monkeypatch.setattr(images, "MAX_WORKING_PIXELS", 100_000)
    pillow, compact = _both(path, monkeypatch)
    assert pillow.shape[:2] == ((320, 240) if orientation == 6 else (240, 320))
    assert np.array_equal(compact, pillow)


@pytest.mark.parametrize("mode", ["RGBA", "P", "L"])
def test_other_pngs_keep_pillows_path(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    path = tmp_path / "p.png"
    img = _photo(shared_data).convert(mode)
    if mode == "RGBA":
        img.putalpha(Image.linear_gradient("L").resize(img.size))  # white where transparent
    img.save(path)
    pillow, compact = _both(path, monkeypatch, compact_only=False)
    assert np.array_equal(compact, pillow)


def test_a_broken_png_fails_with_pillows_reason_and_no_libpng_noise(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    buf = io.BytesIO()
    _photo(shared_data).save(buf, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) * 2 // 3])
    reasons = []
    for threshold in (10**12, 1):
        monkeypatch.setattr(images, "COMPACT_DECODE_PIXELS", threshold)
        with pytest.raises(ImageError, match="truncated") as err:
            load_image(path)
        reasons.append(str(err.value))
    assert reasons[0] == reasons[1]
    assert capfd.readouterr().err == ""
