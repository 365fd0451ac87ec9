"""Large detection passes run in overlapping tiles: every face found once, memory bounded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceatlas.detect import TILE_MAX_PIXELS, TILE_OVERLAP, YuNetDetector, _tile_grid

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("offset", [-300, -120, 0, 120, 300])
def test_a_face_across_a_tile_edge_is_found_once(shared_data: Path, offset: int) -> None:
    face = Image.open(shared_data / "lfw" / "images" / "Colin_Powell" / "Colin_Powell_0001.jpg")
    canvas = Image.new("RGB", (4000, 4000), (90, 110, 120))
    det = YuNetDetector()
    scale = 0.65  # the working scale of a 4000 x 4000 photo (faces down to 20 px)
    assert (4000 * scale) ** 2 > TILE_MAX_PIXELS  # so the working pass is tiled
    _, _, xs, tw = _tile_grid(2600, 2600)
    edge = tw / scale  # the first tile's right edge, in the photo
    big = face.resize((500, 500))
    x = int(edge - 250 + offset)
    canvas.paste(big, (x, 1500))
    found = det.detect(np.asarray(canvas))
    assert len(found) == 1, found.boxes
    x1, y1, x2, y2 = found.boxes[0]
    assert x < (x1 + x2) / 2 < x + 500 and 1500 < (y1 + y2) / 2 < 2000


def test_the_overlap_holds_the_largest_face_yunet_finds() -> None:
    from faceatlas.detect import YUNET_MAX_FACE

    assert TILE_OVERLAP > YUNET_MAX_FACE


def test_the_light_retry_of_a_large_dark_photo_finds_the_face_in_the_photos_frame(
    shared_data: Path,
) -> None:
    from faceatlas.detect_retries import detect_with_retries

    face = Image.open(shared_data / "lfw" / "images" / "Colin_Powell" / "Colin_Powell_0001.jpg")
    canvas = Image.new("RGB", (6000, 4000), (40, 40, 40))
    canvas.paste(face.resize((400, 400)), (3000, 1000))
    dark = (255 * 0.05 * (np.asarray(canvas) / 255.0) ** 2.5).astype(np.uint8)
    det = YuNetDetector()
    assert len(det.detect(dark)) == 0
    found = detect_with_retries(det, dark)
    assert found.light and len(found.detections) == 1
    x1, y1, x2, y2 = found.detections.boxes[0]
    assert 3000 < (x1 + x2) / 2 < 3400 and 1000 < (y1 + y2) / 2 < 1400


def test_a_tiled_pass_is_resized_tile_by_tile_like_the_whole_photo(shared_data: Path) -> None:
    import cv2

    from faceatlas.detect import _ResizedInTiles

    face = Image.open(shared_data / "lfw" / "images" / "Colin_Powell" / "Colin_Powell_0001.jpg")
    photo = np.asarray(face.resize((3000, 2250)))
    size = (1950, 1462)  # 0.65
    whole = cv2.cvtColor(cv2.resize(photo, size, interpolation=cv2.INTER_LINEAR), cv2.COLOR_RGB2BGR)
    tiles = _ResizedInTiles(photo, size)
    assert tiles.shape == whole.shape
    for y, x in ((0, 0), (300, 700), (1000, 1200)):
        tile = tiles[y : y + 400, x : x + 700]
        assert tile.shape == (min(400, 1462 - y), min(700, 1950 - x), 3)
        ref = whole[y : y + 400, x : x + 700].astype(int)
        inner = np.abs(tile.astype(int) - ref)[2:-2, 2:-2]
        assert inner.mean() < 1.0 and np.percentile(inner, 99) <= 6
