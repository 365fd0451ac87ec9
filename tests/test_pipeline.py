"""Scan behaviour with the model-free fake detector and embedder: fast and exact."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from faceatlas import Catalog, CatalogBusyError, ScanConfig, scan
from faceatlas.detect import FakeDetector
from faceatlas.embed.fake import FakeEmbedder
from faceatlas.images import load_image
from faceatlas.pipeline import faces_of_image, walk

FAKE = ScanConfig(detector="fake", embedder="fake", jobs=1)


def _photo(path, seed, size=(120, 90)):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def album(tmp_path):
    root = tmp_path / "album"
    (root / "trip").mkdir(parents=True)
    for i in range(4):
        _photo(root / f"p{i}.jpg", i)
    _photo(root / "trip" / "t0.png", 10)
    (root / "notes.txt").write_text("not a photo")
    return root


@pytest.fixture
def cat():
    with Catalog(":memory:") as c:
        yield c


def test_first_scan_records_every_face(album, cat):
    s = scan([album], cat, FAKE)
    assert (s.files, s.new, s.photos, s.faces, len(s.errors)) == (5, 5, 5, 5, 0)
    assert s.skipped_formats == {".txt": 1}
    ids, X = cat.embeddings("fake")
    assert X.shape == (5, 16) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    assert cat.runs()[0]["command"] == "scan"


def test_every_face_in_a_photo_not_only_the_first(tmp_path):
    image = load_image(_photo(tmp_path / "group.jpg", 3, size=(300, 100)))
    found = FakeDetector(faces_per_image=3).detect(image)
    faces = faces_of_image(image, found, FakeEmbedder())
    assert len(faces) == 3
    assert all(f.chip_jpeg and 0 <= f.quality <= 1 for f in faces)
    assert len({f.embedding.tobytes() for f in faces}) == 3


def test_rescan_does_no_work_for_unchanged_files(album, cat):
    scan([album], cat, FAKE)
    s = scan([album], cat, FAKE)
    assert (s.unchanged, s.processed, s.faces) == (5, 0, 0)


def test_touched_but_identical_file_is_not_redone(album, cat):
    scan([album], cat, FAKE)
    os.utime(album / "p0.jpg", (1, 1))
    s = scan([album], cat, FAKE)
    assert (s.unchanged, s.processed) == (5, 0)


def test_changed_new_moved_and_deleted_files(album, cat):
    scan([album], cat, FAKE)
    face_of_p1 = [f["id"] for f in cat.faces() if f["path"].endswith("p1.jpg")]
    _photo(album / "p0.jpg", 99)  # changed content
    _photo(album / "new.jpg", 7)  # new
    shutil.move(album / "p1.jpg", album / "trip" / "renamed.jpg")  # moved
    (album / "p2.jpg").unlink()  # deleted
    s = scan([album], cat, FAKE)
    assert (s.changed, s.new, s.moved, s.deleted) == (1, 1, 1, 1)
    moved = [f["id"] for f in cat.faces() if f["path"].endswith("renamed.jpg")]
    assert moved == face_of_p1, "a moved file keeps its face ids (and their corrections)"
    assert cat.counts()["faces"] == 5
    assert cat.duplicate_face_count() == 0


def test_bad_files_are_recorded_and_the_scan_goes_on(album, cat):
    (album / "empty.jpg").write_bytes(b"")
    (album / "fake.png").write_text("hello")
    data = (album / "p3.jpg").read_bytes()
    (album / "cut.jpg").write_bytes(data[: len(data) // 3])
    os.symlink(album / "missing.jpg", album / "dangling.jpg")
    Image.new("L", (3000, 3000)).save(album / "bomb.png")
    s = scan(
        [album], cat, ScanConfig(detector="fake", embedder="fake", jobs=1, max_pixels=4_000_000)
    )
    reasons = {os.path.basename(e["path"]): e["error"] for e in s.errors}
    assert set(reasons) == {"empty.jpg", "fake.png", "cut.jpg", "dangling.jpg", "bomb.png"}
    assert "empty file" in reasons["empty.jpg"]
    assert "over the limit" in reasons["bomb.png"]
    assert s.faces == 5
    errors = cat.photos(errors_only=True)
    assert len(errors) == 5 and all(e["error"] for e in errors)
    assert cat.integrity_check() == "ok"


def test_second_embedder_reuses_detections(album, cat):
    scan([album], cat, FAKE)
    from faceatlas.embed import get_embedder
    from faceatlas.embed.fake import FakeEmbedder

    # A second "embedder" under another name: the same fake, renamed.
    class Other(FakeEmbedder):
        pass

    other = Other()
    other.name = "other"
    import faceatlas.pipeline as pl

    orig_get, orig_models = pl.get_embedder, dict(pl._MODELS)
    pl.get_embedder = lambda name: other if name == "other" else get_embedder(name)
    pl._MODELS.clear()
    try:
        # ScanConfig validates names, so bypass it the way a plugin would register one.
        cfg = ScanConfig(detector="fake", embedder="fake", jobs=1)
        object.__setattr__(cfg, "embedder", "other")
        s = scan([album], cat, cfg)
    finally:
        pl.get_embedder = orig_get
        pl._MODELS.clear()
        pl._MODELS.update(orig_models)
    assert s.processed == 0 and s.embedded == 5
    assert cat.embeddings("other")[1].shape == (5, 16)


def test_a_second_scan_is_told_the_catalog_is_busy(album, tmp_path):
    db = tmp_path / "c.db"
    with Catalog(db) as first, Catalog(db) as second:
        first.acquire_scan_lock()
        with pytest.raises(CatalogBusyError, match="busy"):
            scan([album], second, FAKE)
        first.release_scan_lock()
        assert scan([album], second, FAKE).faces == 5


def test_walk_skips_hidden_and_reports_missing(tmp_path):
    (tmp_path / ".hidden").mkdir()
    _photo(tmp_path / ".hidden" / "x.jpg", 1)
    _photo(tmp_path / "y.jpg", 2)
    w = walk([tmp_path, tmp_path / "nope"])
    assert [os.path.basename(f) for f in w.files] == ["y.jpg"]
    assert w.errors and "no such file" in w.errors[0][1]
