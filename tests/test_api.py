"""The public API: what ``import faceatlas`` offers, and the verbs on arrays."""

from __future__ import annotations

import numpy as np
import pytest

import faceatlas
from faceatlas import Catalog, InputError, ScanConfig


def test_all_is_sorted_and_complete():
    assert faceatlas.__all__ == sorted(faceatlas.__all__)
    for name in faceatlas.__all__:
        assert hasattr(faceatlas, name), name
    public = {n for n in dir(faceatlas) if not n.startswith("_") and n[0].isupper()}
    exceptions = {n for n in public if n.endswith("Error")}
    assert exceptions <= set(faceatlas.__all__)


def test_verbs_on_a_real_photo(shared_data):
    path = shared_data / "face_recognition_examples/images/examples/two_people.jpg"
    image = faceatlas.load_image(path)
    found = faceatlas.detect_faces(image)
    assert len(found) == 2
    assert found.boxes.dtype == np.float32 and found.landmarks.shape == (2, 5, 2)
    X = faceatlas.embed_faces(image, found)
    assert X.shape == (2, 128) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1, rtol=1e-5)
    assert X[0] @ X[1] < 0.363  # Obama and Biden are different people


@pytest.mark.slow  # three real photos through detection and SFace
def test_same_person_across_photos(shared_data):
    root = shared_data / "face_recognition_examples/images/examples"
    vecs = []
    for name in ["obama.jpg", "obama2.jpg", "biden.jpg"]:
        image = faceatlas.load_image(root / name)
        vecs.append(faceatlas.embed_faces(image, faceatlas.detect_faces(image))[0])
    assert vecs[0] @ vecs[1] > 0.363 > vecs[0] @ vecs[2]


@pytest.mark.slow  # loads dlib's models
def test_dlib_pipeline_on_a_real_photo(shared_data):
    pytest.importorskip("dlib")
    import cv2

    image = faceatlas.load_image(
        shared_data / "face_recognition_examples/images/examples/two_people.jpg"
    )
    image = cv2.resize(image, None, fx=0.5, fy=0.5)  # dlib's CNN is slow on a CPU
    for det in ("dlib-hog", "dlib-cnn"):
        found = faceatlas.detect_faces(image, det)
        assert len(found) == 2, det
    X = faceatlas.embed_faces(image, found, "dlib")
    assert X.shape == (2, 128)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1, rtol=1e-5)


def test_scan_config_round_trips_and_rejects_unknown_keys():
    cfg = ScanConfig(detector="dlib-hog", embedder="dlib", jobs=2)
    assert ScanConfig.from_json(cfg.to_json()) == cfg
    assert "detector=dlib-hog" in str(cfg) and "\n" not in str(cfg)
    with pytest.raises(InputError, match="unknown ScanConfig keys: colour"):
        ScanConfig.from_dict({"colour": "red"})
    with pytest.raises(InputError, match="detector must be one of"):
        ScanConfig(detector="nope")


def test_catalog_records_its_migrations(tmp_path):
    db = tmp_path / "x.db"
    with Catalog(db) as cat:
        first = cat.applied_migrations()
        assert first[0].startswith("0001_")
        assert cat.integrity_check() == "ok"
    with Catalog(db) as cat:  # reopening applies nothing twice
        assert cat.applied_migrations() == first


def test_detector_input_is_validated():
    with pytest.raises(InputError, match=r"uint8 RGB array of shape \(h, w, 3\)"):
        faceatlas.detect_faces(np.zeros((10, 10), np.float32))
