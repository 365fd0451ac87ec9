"""The bad-input zoo: every broken file is generated here, handled or reported with a reason."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from faceatlas import ImageError, ImageTooLargeError, load_image
from faceatlas.images import media_kind


def _save(path, img, **kw):
    img.save(path, **kw)
    return path


@pytest.fixture
def rgb():
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))


def test_formats_load_as_rgb_uint8(tmp_path, rgb):
    for suffix in ["jpg", "png", "gif", "bmp", "tiff", "webp", "ppm"]:
        img = load_image(_save(tmp_path / f"a.{suffix}", rgb))
        assert img.dtype == np.uint8 and img.shape == (40, 60, 3), suffix
    grey = load_image(_save(tmp_path / "g.pgm", rgb.convert("L")))
    assert grey.shape == (40, 60, 3)
    assert np.array_equal(grey[..., 0], grey[..., 1])


def test_sixteen_bit_is_scaled_not_crushed(tmp_path):
    arr = np.arange(40 * 60, dtype=np.uint16).reshape(40, 60) * 20
    path = tmp_path / "deep.png"
    Image.fromarray(arr).save(path)  # saved as mode I;16
    img = load_image(path)
    assert img.dtype == np.uint8
    assert img.max() == 255 and img.min() == 0


def test_cmyk_palette_and_alpha(tmp_path, rgb):
    assert load_image(_save(tmp_path / "c.jpg", rgb.convert("CMYK"))).shape == (40, 60, 3)
    assert load_image(_save(tmp_path / "p.png", rgb.convert("P"))).shape == (40, 60, 3)
    rgba = rgb.convert("RGBA")
    rgba.putalpha(0)  # fully transparent -> white, as a viewer shows it
    out = load_image(_save(tmp_path / "t.png", rgba))
    assert (out == 255).all()


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (60, 40), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif.tobytes())
    assert load_image(path).shape == (60, 40, 3)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_bytes(b"this is not an image at all"), "not an image"),
    ],
)
def test_broken_files_name_path_and_reason(tmp_path, make, reason):
    path = tmp_path / "bad.jpg"
    make(path)
    with pytest.raises(ImageError) as err:
        load_image(path)
    assert str(path) in str(err.value) and reason in str(err.value)


def test_truncated_jpeg(tmp_path, rgb):
    buf = io.BytesIO()
    rgb.resize((400, 300)).save(buf, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageError, match="truncated"):
        load_image(path)


def test_decompression_bomb_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("L", (5000, 5000)).save(path)  # 25 MP of zeros: a tiny file
    with pytest.raises(ImageTooLargeError, match="over the limit"):
        load_image(path, max_pixels=1_000_000)


def test_broken_symlink_and_permissions(tmp_path, rgb):
    link = tmp_path / "gone.jpg"
    os.symlink(tmp_path / "nowhere.jpg", link)
    with pytest.raises(ImageError, match="not found"):
        load_image(link)
    if os.geteuid() == 0:
        pytest.skip("root can read files without permission bits")
    locked = _save(tmp_path / "locked.jpg", rgb)
    locked.chmod(0)
    with pytest.raises(ImageError, match="permission denied"):
        load_image(locked)


def test_media_kind():
    assert media_kind("a/B.JPG") == "image"
    assert media_kind("clip.mp4") == "video"
    assert media_kind("notes.txt") is None


def test_permission_denied_is_reported_even_as_root(tmp_path, rgb, monkeypatch):
    # Tests run as root in CI, where chmod 000 does not stop reads: simulate the OS refusal.
    path = _save(tmp_path / "locked.jpg", rgb)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Image, "open", refuse)
    with pytest.raises(ImageError, match=r"locked\.jpg: permission denied"):
        load_image(path)
