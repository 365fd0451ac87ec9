"""A PNG's EXIF is read from its eXIf chunk, before or after the pixels, without decoding them."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from faceatlas.metadata import read_image_metadata

TAKEN = "2019:07:14 16:05:09"


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0110] = "Pixel 3"  # Model
    exif.get_ifd(0x8769)[0x9003] = TAKEN  # DateTimeOriginal
    return exif


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def _png(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(
        len(d).to_bytes(4, "big") + k + d + zlib.crc32(k + d).to_bytes(4, "big") for k, d in chunks
    )
    return b"\x89PNG\r\n\x1a\n" + body


@pytest.fixture
def with_exif(tmp_path: Path) -> Path:
    path = tmp_path / "before.png"
    noise = np.random.default_rng(0).integers(0, 255, (300, 400, 3), np.uint8)
    Image.fromarray(noise).save(path, exif=_exif())
    return path


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_pngs_exif_is_read_before_or_after_the_pixels(
    with_exif: Path, tmp_path: Path, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks = _chunks(with_exif.read_bytes())
    kinds = [k for k, _ in chunks]
    assert b"eXIf" in kinds and kinds.index(b"eXIf") < kinds.index(b"IDAT")  # Pillow's place
    path = with_exif
    if where == "after":  # moved behind the pixels, where a PNG may also carry it
        exif = chunks.pop(kinds.index(b"eXIf"))
        chunks.insert(len(chunks) - 1, exif)
        path = tmp_path / "after.png"
        path.write_bytes(_png(chunks))
        assert Image.open(path).getexif().get(0x0110) == "Pixel 3"  # Pillow reads it too

    def no_decode(self: Image.Image) -> None:
        raise AssertionError("the pixels were decoded to read the metadata")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", no_decode)
    plain = tmp_path / "plain.png"  # most PNGs: no EXIF at all, and still no decode
    Image.new("RGB", (64, 48)).save(plain)
    assert read_image_metadata(plain).taken_guess
    meta = read_image_metadata(path)
    assert meta.camera_model == "Pixel 3"
    assert meta.taken_at == "2019-07-14T16:05:09"
    assert meta.taken_source == "exif:DateTimeOriginal" and not meta.taken_guess
