"""Large photos decoded straight into one 3-byte array (issue 17): the same image as Pillow's path.

Each file is decoded twice: as ``load_image`` does it (through OpenCV or libheif, checked by a
spy on ``faceatlas._images_compact``) and through Pillow's path (the size threshold raised out
of reach). Most files are small with the thresholds lowered (the rules do not depend on the
size); the real-size ones are 25 MP photos made from LFW faces on an enlarged noise texture.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceatlas import ImageError, _images_compact, images, load_image


@pytest.fixture
def lfw(shared_data: Path) -> Path:
    return shared_data / "lfw" / "images"


def _photo(lfw: Path, w: int, h: int) -> Image.Image:
    """LFW faces of 5-20 % of the width on an enlarged noise texture (bench/peak_memory.py)."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (max(2, h // 100), max(2, w // 100), 3), dtype=np.uint8)
    img = Image.fromarray(noise).resize((w, h), Image.Resampling.BICUBIC)
    people = sorted(p for p in lfw.iterdir() if p.is_dir())[:3]
    for i, (person, part) in enumerate(zip(people, (0.05, 0.1, 0.2), strict=True)):
        side = int(w * part)
        face = Image.open(next(person.glob("*.jpg"))).resize((side, side))
        img.paste(face, (int(w * (0.05 + 0.3 * i)), int(h * 0.3)))
    return img


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the compact decoders ``load_image`` called."""
    seen: list[str] = []
    for name in ("read_rgb", "read_heif"):
        real = getattr(_images_compact, name)

        def spy(*args, _real=real, _name=name, **kw):
            seen.append(_name)
            return _real(*args, **kw)

        monkeypatch.setattr(_images_compact, name, spy)
    return seen


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thresholds lowered 20-fold: a 1.2 MP file takes the compact path, 2.5 MP is reduced."""
    monkeypatch.setattr(images, "COMPACT_DECODE_PIXELS", 1_000_000)
    monkeypatch.setattr(images, "MAX_WORKING_PIXELS", 2_500_000)


def _pillows(path: Path, monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    """``path`` decoded through Pillow's path, as every file was before."""
    with monkeypatch.context() as m:
        m.setattr(images, "COMPACT_DECODE_PIXELS", 10**15)
        return load_image(path)


def _near(a: np.ndarray, b: np.ndarray) -> None:
    """Same shape, pixels a level or two apart at most (libjpeg builds may round apart)."""
    assert a.shape == b.shape and a.dtype == b.dtype == np.uint8
    diff = np.abs(a.astype(np.int16) - b)
    assert diff.mean() < 0.5 and np.percentile(diff, 99.9) <= 3, (diff.mean(), diff.max())


def _with_orientation(jpeg: bytes, orientation: int) -> bytes:
    """The same JPEG with an EXIF APP1 segment carrying ``orientation`` after its SOI."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    body = exif.tobytes()  # starts with b"Exif\0\0"
    return jpeg[:2] + b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[2:]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_as_on_pillows_path(
    tmp_path, lfw, small, calls, monkeypatch, orientation
) -> None:
    buf = io.BytesIO()
    _photo(lfw, 1500, 1000).save(buf, "JPEG", quality=90)
    path = tmp_path / f"o{orientation}.jpg"
    path.write_bytes(_with_orientation(buf.getvalue(), orientation))
    assert Image.open(path).getexif()[0x0112] == orientation
    image = load_image(path)
    assert calls == ["read_rgb"]
    _near(image, _pillows(path, monkeypatch))
    assert image.shape == ((1500, 1000, 3) if orientation >= 5 else (1000, 1500, 3))


@pytest.mark.slow
def test_a_turned_phone_photo_at_full_size(tmp_path, lfw, calls, monkeypatch) -> None:
    """25 MP, EXIF orientation 6 (a phone held upright), the default thresholds."""
    buf = io.BytesIO()
    _photo(lfw, 6000, 4200).save(buf, "JPEG", quality=90)
    path = tmp_path / "upright.jpg"
    path.write_bytes(_with_orientation(buf.getvalue(), 6))
    image = load_image(path)
    assert calls == ["read_rgb"] and image.shape == (6000, 4200, 3)
    _near(image, _pillows(path, monkeypatch))


def test_an_orientation_only_in_xmp_is_applied(tmp_path, lfw, small, calls, monkeypatch) -> None:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><tiff:Orientation>8</tiff:Orientation></x:xmpmeta>'
    path = tmp_path / "xmp.jpg"
    _photo(lfw, 1500, 1000).save(path, quality=90, xmp=xmp)
    image = load_image(path)
    assert calls == ["read_rgb"] and image.shape == (1500, 1000, 3)
    _near(image, _pillows(path, monkeypatch))


@pytest.mark.parametrize(
    ("name", "save"),
    [
        ("grey.jpg", lambda img, p: img.convert("L").save(p, quality=90)),
        ("rgb.png", lambda img, p: img.save(p, compress_level=1)),
        ("grey.png", lambda img, p: img.convert("L").save(p, compress_level=1)),
        ("interlaced.png", lambda img, p: img.save(p, compress_level=1, interlace=1)),
        ("two.mpo", lambda img, p: img.save(p, "MPO", save_all=True, append_images=[img])),
    ],
)
def test_grey_png_and_multi_picture_files_as_on_pillows_path(
    tmp_path, lfw, small, calls, monkeypatch, name: str, save: Callable
) -> None:
    path = tmp_path / name
    save(_photo(lfw, 1500, 1000), path)
    image = load_image(path)
    assert calls == ["read_rgb"] and image.shape == (1000, 1500, 3)
    assert np.array_equal(image[..., 0], image[..., 2]) == name.startswith("grey")
    _near(image, _pillows(path, monkeypatch))


def test_transparent_pixels_stay_white_at_full_size(tmp_path, calls) -> None:
    """A 25 MP RGBA PNG keeps Pillow's path: transparent pixels white, not black."""
    rgba = Image.new("RGBA", (6000, 4200), (10, 20, 30, 255))
    rgba.paste((0, 0, 0, 0), (0, 0, 3000, 4200))  # the left half fully transparent
    rgba.save(tmp_path / "half.png", compress_level=1)
    image = load_image(tmp_path / "half.png")
    assert calls == [] and image.shape == (4200, 6000, 3)
    assert (image[:, :3000] == 255).all() and (image[:, 3000:] == (10, 20, 30)).all()


@pytest.mark.parametrize("kind", ["rgb-trns", "palette", "exif", "sixteen-bit", "cmyk"])
def test_what_opencv_would_decode_otherwise_keeps_pillows_path(
    tmp_path, lfw, small, calls, monkeypatch, kind: str
) -> None:
    img = _photo(lfw, 1500, 1000)
    path = tmp_path / f"{kind}.png"
    if kind == "rgb-trns":  # one colour transparent through a tRNS chunk (kept, as before)
        img.save(path, transparency=(7, 8, 9))
    elif kind == "palette":
        img.convert("P").save(path)
    elif kind == "exif":  # a PNG that Pillow would turn; OpenCV reads no orientation there
        exif = Image.Exif()
        exif[0x0112] = 6
        img.save(path, exif=exif.tobytes())
    elif kind == "sixteen-bit":
        img.convert("I;16").save(path)
    else:
        path = tmp_path / "cmyk.jpg"
        img.convert("CMYK").save(path, quality=90)
    image = load_image(path)
    assert calls == []
    assert np.array_equal(image, _pillows(path, monkeypatch))
    if kind == "exif":
        assert image.shape == (1500, 1000, 3)


def test_reduced_sizes_as_on_pillows_path(tmp_path, lfw, small, calls, monkeypatch) -> None:
    # 3001x2001 = 6 MP: a JPEG is decoded at 1/2 (1501x1001), a PNG halved after decoding
    # (sides rounded up); 5001x3001 = 15 MP: a JPEG at 1/2 (3.8 MP) is halved again
    for name, size, expected in [
        ("a.jpg", (3001, 2001), (1001, 1501, 3)),
        ("b.png", (3001, 2001), (1001, 1501, 3)),
        ("c.jpg", (5001, 3001), (751, 1251, 3)),
    ]:
        calls.clear()
        path = tmp_path / name
        _photo(lfw, *size).save(path, quality=90, compress_level=1)
        image = load_image(path)
        assert calls == ["read_rgb"] and image.shape == expected, name
        pillows = _pillows(path, monkeypatch)
        assert pillows.shape == expected, name
        # box averages of libjpeg's and cv2's reductions against Pillow's reduce
        assert np.abs(image.astype(np.int16) - pillows).mean() < 2, name


def test_heic_as_on_pillows_path(tmp_path, lfw, small, calls, monkeypatch) -> None:
    images.register_formats()
    exif = Image.Exif()
    exif[0x0112] = 6  # written by pillow-heif as a turn, applied by libheif on both paths
    path = tmp_path / "turned.heic"
    _photo(lfw, 1500, 1000).save(path, quality=80, exif=exif.tobytes())
    image = load_image(path)
    assert calls == ["read_heif"] and image.shape == (1500, 1000, 3)
    assert not image.flags.writeable  # libheif's own buffer: no copy
    assert np.array_equal(image, _pillows(path, monkeypatch))
    with pytest.raises(ValueError, match="read-only"):
        image[0, 0] = 0


def test_a_name_that_is_not_utf8_is_decoded(tmp_path, lfw, small, calls) -> None:
    path = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.jpg"))
    _photo(lfw, 1500, 1000).save(path, quality=90)
    assert load_image(path).shape == (1000, 1500, 3) and calls == ["read_rgb"]


def _one_line_error(path: Path, words: str) -> None:
    with pytest.raises(ImageError) as info:
        load_image(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and words in message, message


def test_truncated_and_corrupt_large_files_are_one_line_errors(tmp_path, lfw, small) -> None:
    img = _photo(lfw, 1500, 1000)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    jpeg = buf.getvalue()
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])  # Pillow refuses it, as before
    _one_line_error(tmp_path / "cut.jpg", "truncated or corrupt image data")
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    png = buf.getvalue()
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    _one_line_error(tmp_path / "cut.png", "truncated")
    # whole chunks, scrambled pixel data: OpenCV's libpng fails on it
    idat = png.index(b"IDAT") + 4
    broken = png[: idat + 100] + bytes(200) + png[idat + 300 :]
    (tmp_path / "scrambled.png").write_bytes(broken)
    _one_line_error(tmp_path / "scrambled.png", "truncated or corrupt image data")


def test_a_truncated_photo_at_full_size_is_refused(tmp_path, lfw) -> None:
    """25 MP cut in the middle of its scan: refused with one line, in seconds, no grey fill."""
    buf = io.BytesIO()
    _photo(lfw, 6000, 4200).save(buf, "JPEG", quality=90)
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[: buf.tell() * 2 // 3])
    _one_line_error(tmp_path / "cut.jpg", "truncated or corrupt image data")


def test_jpeg_walk_finds_the_end_of_progressive_and_restart_files(tmp_path, lfw) -> None:
    img = _photo(lfw, 600, 400)
    for name, kw in [("p.jpg", {"progressive": True}), ("r.jpg", {"restart_marker_rows": 2})]:
        img.save(tmp_path / name, quality=90, **kw)
        data = (tmp_path / name).read_bytes()
        assert _images_compact.jpeg_is_whole(tmp_path / name), name
        (tmp_path / name).write_bytes(data[:-2])  # no end-of-image marker
        assert not _images_compact.jpeg_is_whole(tmp_path / name), name
        (tmp_path / name).write_bytes(data + b"\xff\xd8 a trailer, another image")
        assert _images_compact.jpeg_is_whole(tmp_path / name), name


@pytest.mark.parametrize("mode", ["P", "L", "1", "CMYK"])
def test_other_modes_turn_rgb_strip_by_strip_as_whole(mode: str) -> None:
    """Pillow's path converts a palette, grey or CMYK image strip by strip (no whole RGB copy
    in 4 bytes a pixel beside the array): the same pixels as one whole conversion."""
    rng = np.random.default_rng(1)
    img = Image.fromarray(rng.integers(0, 255, (5000, 2000, 3), np.uint8)).convert(mode)
    assert np.array_equal(images._to_rgb(img), np.asarray(img.convert("RGB")))


def test_a_palette_png_reduced_is_freed_before_it_turns_rgb(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(images, "MAX_WORKING_PIXELS", 2_500_000)
    Image.new("P", (3001, 2001), 3).save(tmp_path / "pal.png")
    closed: list[tuple[int, int]] = []
    real = Image.Image.close

    def close(self):
        closed.append(self.size)
        real(self)

    monkeypatch.setattr(Image.Image, "close", close)
    image = load_image(tmp_path / "pal.png")
    assert image.shape == (1000, 1500, 3) and closed[0] == (3001, 2001)
