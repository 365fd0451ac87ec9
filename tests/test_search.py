"""Nearest faces: exact and approximate indexes, padding, recall, tuning, persistence."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from faceatlas.exceptions import InputError
from faceatlas.search import (
    ExactIndex,
    HNSWIndex,
    IVFIndex,
    PCAKMeansIndex,
    build_index,
    load_index,
    recall_at_k,
    search,
)

D_DIM = 32


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One thread for faiss and BLAS: on a shared 2-core machine, spinning OpenMP and BLAS
    threads fighting each other made these small tests several times slower."""
    import faiss
    from threadpoolctl import threadpool_limits

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    with threadpool_limits(1):
        yield
    faiss.omp_set_num_threads(before)


def _clustered(n_identities: int, per: int, seed: int, d: int = D_DIM, noise: float = 0.7):
    """Identity centres on the sphere, faces = centre + noise; queries = fresh faces."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_identities, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    X = np.repeat(centres, per, axis=0) + noise * rng.normal(
        size=(n_identities * per, d)
    ) / np.sqrt(d)
    picks = rng.integers(0, n_identities, size=300)
    Q = centres[picks] + noise * rng.normal(size=(300, d)) / np.sqrt(d)
    return X.astype(np.float32), Q.astype(np.float32)


@pytest.fixture(scope="module")
def data():
    return _clustered(800, 10, seed=0)


@pytest.fixture(scope="module")
def exact(data):
    X, Q = data
    return ExactIndex().add(X).search(Q, 10)


APPROX = [
    pytest.param(lambda: IVFIndex(nprobe=16), id="ivf"),
    pytest.param(lambda: IVFIndex(pca_dims=24, nprobe=16, refine_factor=8), id="ivf-pca"),
    pytest.param(lambda: HNSWIndex(ef_search=64), id="hnsw"),
    pytest.param(lambda: PCAKMeansIndex(n_probe=6), id="pca-kmeans"),
]


def test_exact_matches_numpy(data):
    X, Q = data
    D, I = ExactIndex().add(X).search(Q[:5], 4)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    Qn = Q[:5] / np.linalg.norm(Q[:5], axis=1, keepdims=True)
    S = Qn @ Xn.T
    np.testing.assert_array_equal(I, np.argsort(-S, axis=1)[:, :4])
    np.testing.assert_allclose(D, np.sort(S, axis=1)[:, ::-1][:, :4], atol=1e-5)
    assert D.dtype == np.float32 and I.dtype == np.int64


@pytest.mark.parametrize("make", APPROX)
def test_shapes_ids_and_recall(make, data, exact):
    X, Q = data
    _, Ie = exact
    ids = np.arange(len(X), dtype=np.int64) * 7 + 3
    index = make().add(X, ids=ids)
    assert index.ntotal == len(X)
    D, I = index.search(Q, 10)
    assert D.shape == I.shape == (len(Q), 10)
    assert np.all(np.diff(D, axis=1) <= 1e-6)  # best first
    assert set(np.unique(I)) <= set(ids)
    recall = recall_at_k((I - 3) // 7, Ie, 10)
    assert recall >= 0.9, recall
    # Scores are true cosines of the returned vectors.
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    rows = (I[:20] - 3) // 7
    np.testing.assert_allclose(D[:20], np.einsum("qd,qkd->qk", Qn[:20], Xn[rows]), atol=1e-4)


@pytest.mark.parametrize("make", [pytest.param(lambda: ExactIndex(), id="exact"), *APPROX])
def test_padding_when_k_exceeds_ntotal(make):
    X, Q = _clustered(2, 10, seed=1)
    index = make().add(X)
    D, I = index.search(Q[:2], 25)
    assert D.shape == I.shape == (2, 25)
    assert np.all(I[:, 20:] == -1) and np.all(np.isneginf(D[:, 20:]))
    for row in I:
        found = row[row >= 0]
        assert len(set(found.tolist())) == len(found)  # no duplicates


def test_empty_index_and_single_query():
    D, I = ExactIndex().search(np.zeros((3, 4)), 2)
    assert I.shape == (3, 2) and np.all(I == -1)
    X, Q = _clustered(5, 4, seed=2)
    D, I = ExactIndex().add(X).search(Q[0], 3)  # a 1-D query is one row
    assert I.shape == (1, 3)


@pytest.mark.parametrize("make", [pytest.param(lambda: ExactIndex(), id="exact"), *APPROX])
def test_save_load_round_trip(make, data, tmp_path):
    X, Q = data
    index = (
        make()
        .add(X[:4000], ids=np.arange(4000) + 100)
        .add(X[4000:], ids=np.arange(4000, 8000) + 100)
    )
    D, I = index.search(Q, 10)
    path = index.save(tmp_path / "faces.index")  # no .npz suffix appended
    assert path.exists() and path.name == "faces.index"
    loaded = type(index).load(path)
    assert type(loaded) is type(index) and loaded.ntotal == index.ntotal
    D2, I2 = loaded.search(Q, 10)
    np.testing.assert_array_equal(I2, I)
    np.testing.assert_allclose(D2, D, atol=1e-6)
    # Adding after loading keeps numbering and the trained structure.
    loaded.add(Q[:1], ids=[99999])
    assert loaded.search(Q[:1], 1)[1][0, 0] == 99999


def test_load_rejects_wrong_files(tmp_path, data):
    X, _ = data
    path = ExactIndex().add(X[:10]).save(tmp_path / "e.npz")
    with pytest.raises(InputError, match="holds a 'exact' index, not 'hnsw'"):
        HNSWIndex.load(path)
    (tmp_path / "junk").write_bytes(b"not an index")
    with pytest.raises(InputError, match="not a faceatlas index file"):
        load_index(tmp_path / "junk")
    with pytest.raises(InputError, match="no such file"):
        load_index(tmp_path / "nope")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: IVFIndex(nprobe=1), id="ivf"),
        pytest.param(lambda: HNSWIndex(ef_search=2), id="hnsw", marks=pytest.mark.slow),  # ~5 s
        pytest.param(lambda: PCAKMeansIndex(n_probe=1), id="pca-kmeans"),
    ],
)
def test_tune_reaches_target(make, data, exact):
    X, Q = data
    index = make().add(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        index.tune(target_recall=0.95, k=10, sample=300)
    assert index.recall_at_10_ >= 0.95
    knob = index._get_knob()
    curve = index.tuning_curve_
    assert curve[knob] == index.recall_at_10_
    # Smallest value: the one just below it was tried and missed (unless it is the first).
    if knob > min(index._knob_values()):
        assert curve[knob - 1] < 0.95
    again = make().add(X).tune(target_recall=0.95, k=10, sample=300)
    assert again._get_knob() == knob  # deterministic
    # And on held-out queries it is close to the target too.
    _, I = index.search(Q, 10)
    assert recall_at_k(I, exact[1], 10) >= 0.9


def test_tune_warns_when_target_unreachable():
    X, _ = _clustered(100, 10, seed=3)
    index = IVFIndex(pca_dims=2, refine_factor=1).add(X)
    with pytest.warns(UserWarning, match="below target_recall"):
        index.tune(target_recall=0.999, sample=100)
    assert index.nprobe == index.nlist_


def test_recall_at_k_hand_worked():
    exact = np.array([[1, 2, 3], [4, 5, -1], [-1, -1, -1]])
    approx = np.array([[3, 9, 1], [5, 6, 7], [1, 2, 3]])
    # (2/3 + 1/2) / 2: the empty third row is left out.
    assert recall_at_k(approx, exact) == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert recall_at_k(approx, exact, 1) == pytest.approx(0.0)
    assert recall_at_k(exact, exact) == 1.0
    with pytest.raises(InputError, match="same number of rows"):
        recall_at_k(approx[:2], exact)


def test_build_index_and_friendly_search(data, exact):
    X, Q = data
    auto = build_index(X)
    assert isinstance(auto, ExactIndex) and auto.recall_at_10_ == 1.0
    hnsw = build_index(X, kind="hnsw", target_recall=0.95, tune_sample=200)
    assert isinstance(hnsw, HNSWIndex) and hnsw.recall_at_10_ >= 0.95
    D, I = search(X, Q, 10)
    np.testing.assert_array_equal(I, exact[1])
    with pytest.raises(InputError, match="kind must be one of auto, exact, ivf, hnsw, pca-kmeans"):
        build_index(X, kind="lsh")


def test_build_index_auto_switches_at_threshold(monkeypatch, data):
    import faceatlas.search as search_module

    X, _ = data
    monkeypatch.setattr(search_module, "EXACT_MAX_SIZE", 1000)
    index = build_index(X, target_recall=0.9, tune_sample=100)
    assert index.kind == search_module.AUTO_APPROXIMATE_KIND
    assert isinstance(build_index(X[:999]), ExactIndex)


def test_validation(data):
    X, Q = data
    index = ExactIndex().add(X)
    with pytest.raises(InputError, match="Q must have 32 columns like the index, got 5"):
        index.search(np.zeros((1, 5)), 3)
    with pytest.raises(InputError, match="k must be an int >= 1, got 0"):
        index.search(Q, 0)
    with pytest.raises(InputError, match="ids must be >= 0"):
        ExactIndex().add(X[:2], ids=[0, -1])
    with pytest.raises(InputError, match="ids must be ints of shape \\(2,\\)"):
        ExactIndex().add(X[:2], ids=[0])
    with pytest.raises(InputError, match="NaN"):
        ExactIndex().add(np.full((2, 3), np.nan))
    with pytest.raises(InputError, match="nprobe must be an int >= 1, got 0"):
        IVFIndex(nprobe=0).add(X)
    with pytest.raises(InputError, match="M must be an int >= 2"):
        HNSWIndex(M=1).add(X)
    with pytest.raises(InputError, match="n_clusters"):
        PCAKMeansIndex(n_clusters=50).add(X[:10])


def test_package_exports_what_the_module_did():
    """The split into faceatlas/search/ keeps every public name of the old module."""
    import faceatlas.search as search_module

    old = {
        "AUTO_APPROXIMATE_KIND",
        "EXACT_MAX_SIZE",
        "ExactIndex",
        "HNSWIndex",
        "IVFIndex",
        "PCAKMeansIndex",
        "build_index",
        "load_index",
        "recall_at_k",
        "search",
    }
    assert set(search_module.__all__) == old
    assert search_module.__all__ == sorted(search_module.__all__)
    assert all(hasattr(search_module, name) for name in old)
    assert callable(search_module.search)  # the verb, while faceatlas.search stays the module
