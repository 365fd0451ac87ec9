"""The baseline embedders (pixels/eigenfaces, landmarks, cnn) next to sface and dlib."""

from __future__ import annotations

import csv
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faceatlas.detect import Detections, get_detector
from faceatlas.embed import get_embedder
from faceatlas.embed.landmarks import FEATURES, measurements
from faceatlas.embed.pixels import EigenfaceSpace, PixelsEmbedder, eigenface_space
from faceatlas.exceptions import InputError, ModelNotFoundError
from faceatlas.images import load_image

DIMS = {"sface": 128, "dlib": 128, "pixels": 56 * 56, "landmarks": len(FEATURES), "cnn": 1280}


@pytest.fixture(scope="module")
def lfw_faces(shared_data):
    """Three LFW photos (two of one person) with their YuNet detections."""
    names = [
        "George_W_Bush/George_W_Bush_0001.jpg",
        "George_W_Bush/George_W_Bush_0002.jpg",
        "Colin_Powell/Colin_Powell_0001.jpg",
    ]
    det = get_detector("yunet")
    out = []
    for n in names:
        img = load_image(shared_data / "lfw" / "images" / n)
        d = det.detect(img)
        i = int(np.argmax(d.scores))
        out.append(
            (img, Detections(d.boxes[i : i + 1], d.landmarks[i : i + 1], d.scores[i : i + 1]))
        )
    return out


# cnn loads torch and an EfficientNet (~10 s): slow tier.
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n == "cnn" else n for n in sorted(DIMS)]
)
def test_embedder_gives_unit_float32_vectors_of_its_dim(name, lfw_faces):
    emb = get_embedder(name)
    X = np.concatenate([emb.embed(emb.chips(img, d)) for img, d in lfw_faces])
    assert emb.dim == DIMS[name]
    assert X.shape == (3, DIMS[name])
    assert X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    assert emb.name == name and emb.version and emb.threshold_source
    # no face in, no vector out
    img, _ = lfw_faces[0]
    assert emb.embed(emb.chips(img, Detections.empty())).shape == (0, DIMS[name])


def test_identity_embedders_rank_same_person_first(lfw_faces):
    for name in ("sface", "dlib"):
        emb = get_embedder(name)
        X = np.concatenate([emb.embed(emb.chips(img, d)) for img, d in lfw_faces])
        assert X[0] @ X[1] > X[0] @ X[2], name


# -- pixels / eigenfaces ---------------------------------------------------------------------
def test_pixels_ignore_brightness_and_use_the_whole_cropped_image():
    rng = np.random.default_rng(0)
    img = rng.integers(20, 120, size=(112, 92, 3), dtype=np.uint8)
    det = get_detector("whole-image", use_landmarks=False).detect(img)
    emb = PixelsEmbedder()
    chips = emb.chips(img, det)
    assert chips.shape == (1, 112, 112, 3)
    brighter = (img.astype(np.int32) * 2).astype(np.uint8)
    a = emb.embed(chips)
    b = emb.embed(emb.chips(brighter, det))
    assert float(a[0] @ b[0]) > 0.999


def test_pixels_size_is_validated():
    assert PixelsEmbedder(size=32).dim == 1024
    with pytest.raises(InputError, match="size must be an int"):
        PixelsEmbedder(size=4)


@pytest.fixture(scope="module")
def orl_pixels(shared_data):
    with open(shared_data / "orl" / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    emb = PixelsEmbedder()
    det = get_detector("whole-image", use_landmarks=False)
    X = []
    for r in rows:
        img = load_image(shared_data / "orl" / r["path"])
        X.append(emb.embed(emb.chips(img, det.detect(img)))[0])
    labels = np.array([r["identity"] for r in rows])
    train = np.array([int(r["image_index"]) <= 5 for r in rows])
    return np.stack(X), labels, train


@pytest.mark.slow  # real data: the ORL faces (~4 s)
def test_eigenfaces_on_orl_5_5_reach_90_percent(orl_pixels):
    # The classic split: images 1-5 of each of the 40 people train, 6-10 test.
    # Published: 89.5 % (Lawrence et al. 1997); measured here 90.5 %.
    X, labels, train = orl_pixels
    space, _, _ = eigenface_space(X[train])
    G, Q = space.transform(X[train]), space.transform(X[~train])
    assert G.dtype == np.float32 and G.shape[1] == space.dim == 100
    np.testing.assert_allclose(np.linalg.norm(Q, axis=1), 1.0, atol=1e-5)
    acc = np.mean(labels[train][np.argmax(Q @ G.T, axis=1)] == labels[~train])
    assert acc >= 0.90


def test_eigenface_space_shapes_and_reconstruction(orl_pixels):
    X, _, train = orl_pixels
    space = EigenfaceSpace(n_components=500).fit(X[train][:30])
    assert space.n_components_ == 29  # capped: 30 centred faces span 29 directions
    mean, faces = space.eigenfaces(8)
    assert mean.shape == (56, 56) and faces.shape == (8, 56, 56)
    errors = [
        np.linalg.norm(space.reconstruct(X[:5], k).reshape(5, -1) - X[:5]) for k in (1, 10, 29)
    ]
    assert errors[0] > errors[1] > errors[2]
    with pytest.raises(InputError):
        EigenfaceSpace().fit(X[:1])


# -- landmarks ---------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(
    scale=st.floats(0.2, 5.0),
    angle=st.floats(-np.pi, np.pi),
    shift=st.tuples(st.floats(-100, 100), st.floats(-100, 100)),
)
def test_landmark_measurements_are_free_of_scale_rotation_and_position(scale, angle, shift):
    pts = np.random.default_rng(1).uniform(0, 100, size=(68, 2))
    c, s = np.cos(angle), np.sin(angle)
    moved = scale * pts @ np.array([[c, -s], [s, c]]).T + np.array(shift)
    np.testing.assert_allclose(measurements(moved), measurements(pts), rtol=1e-6, atol=1e-9)


def test_landmark_measurements_by_hand():
    pts = np.zeros((68, 2))
    pts[0], pts[16] = (0, 0), (10, 0)  # jaw width 10
    pts[27], pts[8] = (5, 0), (5, 12)  # face height 12
    pts[31], pts[35], pts[33] = (4, 6), (6, 6), (5, 4)  # nose width 2, length 4
    m = dict(zip(FEATURES, measurements(pts), strict=True))
    assert m["jaw_ratio"] == pytest.approx(1.2)
    assert m["nose_ratio"] == pytest.approx(2.0)
    assert m["nose_size"] == pytest.approx(0.4)
    assert m["nose_width"] == pytest.approx(0.2)


# -- cnn -----------------------------------------------------------------------------------
def test_cnn_without_its_extra_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    emb = get_embedder("cnn")
    with pytest.raises(ModelNotFoundError, match=r"pip install 'faceatlas\[cnn\]'"):
        emb.embed(np.zeros((1, 224, 224, 3), np.uint8))


@pytest.mark.slow  # torch and an EfficientNet (~7 s)
def test_cnn_pca_to_100_dims(lfw_faces):
    emb = get_embedder("cnn", n_components=100)
    assert emb.dim == 100
    with pytest.raises(InputError, match="fit_pca"):
        emb.reduce(np.ones((1, 1280), np.float32))
    F = np.random.default_rng(0).normal(size=(150, 1280)).astype(np.float32)
    emb.fit_pca(F)
    img, d = lfw_faces[0]
    X = emb.embed(emb.chips(img, d))
    assert X.shape == (1, 100) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
