"""PCA on any matrix: the talk's song figures, invariants, incremental fitting, eigenfaces."""

from __future__ import annotations

import csv
import itertools
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from faceatlas.exceptions import InputError
from faceatlas.reduce import PCA, eigenfaces

SONG_SINGULAR_VALUES = np.array([1.46530621, 0.09094177])
SONG_FIRST_COMPONENT = np.array([-0.0616217, -0.99809958])


def _songs(shared_data):
    path = shared_data / "songs" / "songdata.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return np.array([[float(r["energy"]), float(r["loudness"])] for r in rows])


def test_song_figures_with_sqrt_n_scale(shared_data):
    M = _songs(shared_data)
    pca = PCA(scale="sqrt_n").fit(M)
    np.testing.assert_allclose(pca.singular_values_, SONG_SINGULAR_VALUES, atol=1e-6)
    c = pca.components_[0]
    sign = np.sign(c @ SONG_FIRST_COMPONENT)
    np.testing.assert_allclose(sign * c, SONG_FIRST_COMPONENT, atol=1e-6)
    # Projections are of the centred M, not M / sqrt(n).
    p = pca.transform(M[:1])[0] * np.sign(pca.components_ @ [-0.0616217, -0.99809958])
    assert abs(abs(p[0]) - 0.215) < 5e-4 and abs(abs(p[1]) - 0.207) < 5e-4


def test_scale_conventions_relate_by_sqrt_n():
    X = np.random.default_rng(0).normal(size=(40, 3))
    raw = PCA(scale="none").fit(X).singular_values_
    np.testing.assert_allclose(PCA(scale="sqrt_n").fit(X).singular_values_, raw / np.sqrt(40))
    s1 = PCA(scale="sqrt_n_minus_1").fit(X)
    np.testing.assert_allclose(s1.singular_values_**2, s1.explained_variance_)


def test_auto_solver_rule():
    rng = np.random.default_rng(0)
    big = rng.normal(size=(600, 20))
    assert PCA(n_components=5).fit(big).svd_solver_ == "randomized"
    assert PCA(n_components=19).fit(big).svd_solver_ == "full"  # 19 >= 0.8 * 20
    assert PCA(n_components=0.9).fit(big).svd_solver_ == "full"
    assert PCA(n_components=5).fit(big[:100]).svd_solver_ == "full"  # small input


def test_whiten_and_inverse_round_trip():
    X = np.random.default_rng(1).normal(size=(200, 4)) * [5, 2, 1, 0.5]
    pca = PCA(whiten=True).fit(X)
    Z = pca.transform(X)
    np.testing.assert_allclose(Z.var(axis=0, ddof=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(pca.inverse_transform(Z), X, atol=1e-9)
    np.testing.assert_allclose(pca.fit_transform(X), Z)


def _low_rank(seed: int, n: int = 3000, d: int = 30, rank: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scales = np.array([10.0, 7.0, 5.0, 3.0, 2.0])[:rank]
    basis = np.linalg.qr(rng.normal(size=(d, rank)))[0].T
    return rng.normal(size=(n, rank)) * scales @ basis + 0.05 * rng.normal(size=(n, d)) + 3.0


@pytest.mark.slow  # ~3 s
def test_incremental_fit_close_to_full_fit():
    X = _low_rank(0)
    full = PCA(n_components=5).fit(X)
    inc = PCA(n_components=5).fit_batches(np.array_split(X, 23))
    assert inc.svd_solver_ == "incremental"
    np.testing.assert_allclose(inc.mean_, full.mean_, atol=1e-9)
    np.testing.assert_allclose(inc.explained_variance_, full.explained_variance_, rtol=1e-3)
    cos = np.abs(np.sum(inc.components_ * full.components_, axis=1))
    assert cos.min() > 0.9999
    # partial_fit one batch at a time is the same thing.
    step = PCA(n_components=5)
    for batch in np.array_split(X, 10):
        step.partial_fit(batch)
    np.testing.assert_allclose(step.explained_variance_, full.explained_variance_, rtol=1e-3)


def test_incremental_fraction_and_small_first_batches():
    X = _low_rank(1)[:600]
    full = PCA(n_components=0.95).fit(X)
    # Batches of 3 rows: fit_batches joins them until the first is big enough.
    inc = PCA(n_components=0.95).fit_batches(iter(np.array_split(X, 200)))
    assert inc.n_components_ == full.n_components_
    assert inc.explained_variance_ratio_.sum() >= 0.95
    with pytest.raises(InputError, match="first batch must have at least n_components = 5"):
        PCA(n_components=5).partial_fit(X[:3])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"n_components": 0},
            "n_components must be an int >= 1, a float in \\(0, 1\\) or None, got 0",
        ),
        ({"n_components": 1.5}, "n_components must be"),
        ({"n_components": True}, "n_components must be"),
        ({"svd_solver": "arpack"}, "svd_solver must be one of auto, full, randomized"),
        ({"scale": "n"}, "scale must be one of"),
    ],
)
def test_bad_parameters(params, message):
    with pytest.raises(InputError, match=message):
        PCA(**params).fit(np.random.default_rng(0).normal(size=(10, 3)))


def test_bad_inputs():
    with pytest.raises(InputError, match="2-D"):
        PCA().fit(np.zeros(5))
    with pytest.raises(InputError, match="NaN"):
        PCA().fit(np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(InputError, match="zero variance"):
        PCA().fit(np.ones((4, 3)))
    with pytest.raises(InputError, match="n_components must be <= min"):
        PCA(n_components=4).fit(np.random.default_rng(0).normal(size=(10, 3)))
    with pytest.raises(InputError, match="not fitted"):
        PCA().transform(np.zeros((1, 3)))
    pca = PCA().fit(np.random.default_rng(0).normal(size=(10, 3)))
    with pytest.raises(InputError, match="X has 2 features, but the PCA was fitted with 3"):
        pca.transform(np.zeros((1, 2)))
    with pytest.raises(InputError, match="k must be an int in \\[0, 3\\]"):
        pca.reconstruct(np.zeros((1, 3)), 4)


matrices = st.tuples(st.integers(3, 25), st.integers(2, 8)).flatmap(
    lambda shape: arrays(
        np.float64, shape, elements=st.floats(-100, 100, allow_nan=False, width=32)
    )
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(X=matrices)
def test_invariants(X):
    assume(np.ptp(X, axis=0).max() > 1e-3)
    pca = PCA().fit(X)
    C = pca.components_
    np.testing.assert_allclose(C @ C.T, np.eye(len(C)), atol=1e-8)
    assert pca.explained_variance_ratio_.sum() <= 1 + 1e-9
    assert np.all(np.diff(pca.explained_variance_) <= 1e-9 * pca.explained_variance_[0])
    errors = [np.linalg.norm(X - pca.reconstruct(X, k)) for k in range(pca.n_components_ + 1)]
    scale = np.linalg.norm(X - X.mean(axis=0)) + 1
    assert all(b <= a + 1e-9 * scale for a, b in itertools.pairwise(errors))
    assert errors[-1] <= 1e-6 * scale


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(X=matrices, fraction=st.floats(0.05, 0.99))
def test_fraction_keeps_at_least_that_fraction(X, fraction):
    assume(np.ptp(X, axis=0).max() > 1e-3)
    pca = PCA(n_components=fraction).fit(X)
    assert pca.explained_variance_ratio_.sum() >= fraction - 1e-9
    # ...and no more components than needed.
    assert pca.explained_variance_ratio_[:-1].sum() < fraction + 1e-9


def test_eigenfaces_on_synthetic_images():
    rng = np.random.default_rng(0)
    h, w = 6, 5
    X = rng.normal(size=(50, h * w))
    pca = PCA(n_components=10).fit(X)
    mean_face, faces = eigenfaces(pca, (h, w))
    assert mean_face.shape == (h, w) and faces.shape == (10, h, w)
    np.testing.assert_allclose(faces.reshape(10, -1), pca.components_)
    assert eigenfaces(pca, (h, w), n=3)[1].shape == (3, h, w)
    with pytest.raises(InputError, match="does not match"):
        eigenfaces(pca, (5, 5))
    np.testing.assert_allclose(pca.reconstruct(X, 0), np.broadcast_to(pca.mean_, X.shape))


@pytest.mark.slow  # real data: the ORL faces
def test_eigenfaces_on_orl(shared_data):
    from PIL import Image

    orl = shared_data / "orl"
    paths = sorted(orl.rglob("*.pgm"))[:80]
    if not paths:
        pytest.skip("no ORL images")
    X = np.stack([np.asarray(Image.open(p), dtype=np.float64).reshape(-1) for p in paths])
    h, w = np.asarray(Image.open(paths[0])).shape
    pca = PCA(n_components=40, random_state=0).fit(X)
    mean_face, faces = eigenfaces(pca, (h, w))
    assert mean_face.shape == (h, w) and faces.shape == (40, h, w)
    err = [pca.reconstruction_error(X, k).mean() for k in (0, 5, 20, 40)]
    assert err == sorted(err, reverse=True)
    assert err[-1] < 0.5 * err[0]


def test_import_does_not_load_scikit_learn():
    # `import faceatlas` imports PCA; scikit-learn is loaded by the first fit only
    code = "import sys, faceatlas.reduce; print('sklearn' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"
