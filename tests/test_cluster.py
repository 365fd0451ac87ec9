"""Tests of faceatlas.cluster on synthetic identities: blobs of unit vectors on the sphere."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faceatlas.cluster import (
    DEFAULT_METHOD,
    DEFAULT_THRESHOLD,
    METHODS,
    AdaptiveLinkage,
    FaceKMeans,
    assign_to_clusters,
    cluster_faces,
    enforce_cannot_link,
    kmeans_curve,
    knn_graph,
    make_clusterer,
    pair_threshold,
)
from faceatlas.evaluate import adjusted_rand_index
from faceatlas.exceptions import InputError

D = 128


def blobs(n_people=6, per_person=8, n_strangers=0, spread=0.07, seed=0):
    """People as tight blobs on the unit sphere (within-person cosine ~0.7), plus strangers.

    Returns X (float32, unit rows) and true labels (-1 for strangers).
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_people, D))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = spread * rng.normal(size=(n_people * per_person, D))
    X = np.repeat(centres, per_person, axis=0) + noise
    y = np.repeat(np.arange(n_people), per_person)
    if n_strangers:
        X = np.vstack([X, rng.normal(size=(n_strangers, D))])
        y = np.r_[y, np.full(n_strangers, -1)]
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(np.float32), y


def params(method, n_people):
    # k-means cannot decide the number of people; give it the truth
    return {"n_clusters": n_people} if method == "kmeans" else {}


def same_partition(a, b):
    """Label-permutation-invariant equality (the -1 faces must match exactly)."""
    a, b = np.asarray(a), np.asarray(b)
    if not np.array_equal(a == -1, b == -1):
        return False
    m = a != -1
    return adjusted_rand_index(a[m], b[m]) == pytest.approx(1.0) if m.any() else True


@pytest.fixture(scope="module")
def people():
    return blobs(n_people=6, per_person=8, n_strangers=5, seed=1)


# ------------------------------------------------------------------ every method


@pytest.mark.parametrize("method", METHODS)
def test_recovers_people_and_strangers_stay_unsorted(method, people):
    X, y = people
    labels = cluster_faces(X, method, **params(method, 6))
    assert labels.dtype == np.int64 and labels.shape == y.shape
    known = y >= 0
    assert same_partition(labels[known], y[known])
    if method != "kmeans":
        # isolated points match nobody
        assert np.all(labels[~known] == -1)


@pytest.mark.parametrize("method", METHODS)
def test_labels_numbered_by_size_and_deterministic(method):
    X, y = blobs(n_people=3, per_person=6, seed=2)
    X = np.vstack([X, X[:4] * 0.999])  # make person 0 the largest
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    a = cluster_faces(X, method, random_state=3, **params(method, 3))
    b = cluster_faces(X, method, random_state=3, **params(method, 3))
    assert np.array_equal(a, b)
    counts = np.bincount(a[a >= 0])
    assert np.all(np.diff(counts) <= 0)


@pytest.mark.parametrize("method", METHODS)
def test_min_cluster_size(method):
    X, y = blobs(n_people=4, per_person=3, seed=4)
    labels = cluster_faces(X, method, min_cluster_size=4, **params(method, 4))
    assert np.all(labels == -1)


def _pairs(draw, n, max_size):
    return draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1]),
            min_size=1,
            max_size=max_size,
        )
    )


@st.composite
def cannot_links(draw, n):
    return np.array(_pairs(draw, n, 12), dtype=np.int64)


X_SMALL, Y_SMALL = blobs(n_people=4, per_person=6, n_strangers=2, seed=5)


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cl=cannot_links(len(Y_SMALL)))
def test_cannot_link_obeyed(method, cl):
    labels = cluster_faces(X_SMALL, method, cannot_link=cl, **params(method, 4))
    a, b = labels[cl[:, 0]], labels[cl[:, 1]]
    assert not np.any((a == b) & (a >= 0))


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_must_link_obeyed(method, data):
    n = len(Y_SMALL)
    ml = np.array(_pairs(data.draw, n, 6), dtype=np.int64)
    labels = cluster_faces(X_SMALL, method, must_link=ml, **params(method, 4))
    assert np.all(labels[ml[:, 0]] == labels[ml[:, 1]])
    assert np.all(labels[ml[:, 0]] >= 0)


@pytest.mark.parametrize("method", METHODS)
def test_same_photo_faces_split_even_inside_one_blob(method):
    X, y = blobs(n_people=2, per_person=10, seed=6)
    cl = np.array([[0, 1], [2, 3], [10, 11]])
    labels = cluster_faces(X, method, cannot_link=cl, **params(method, 2))
    assert labels[0] != labels[1] or labels[0] == -1
    # the rest of the blob stays together
    assert len(set(labels[4:10].tolist())) == 1 and labels[4] >= 0


@pytest.mark.parametrize("method", METHODS)
def test_low_quality_never_founds_a_cluster(method):
    X, y = blobs(n_people=3, per_person=6, seed=7)
    quality = np.ones(len(y))
    quality[y == 2] = 0.1  # person 2 only in poor photos
    quality[[0, 1, 2]] = 0.2  # some poor photos of person 0 as well
    labels = cluster_faces(X, method, quality=quality, **params(method, 3))
    assert np.all(labels[y == 2] == -1)
    # poor faces of a person that good faces founded join that person
    assert len(set(labels[y == 0].tolist())) == 1 and labels[0] >= 0


def test_must_and_cannot_link_contradiction():
    X, _ = blobs(n_people=2, per_person=4)
    with pytest.raises(InputError, match="cannot_link"):
        cluster_faces(X, must_link=[[0, 1], [1, 2]], cannot_link=[[0, 2]])


# ------------------------------------------------------------------ pieces


def test_enforce_cannot_link_keeps_better_attached_face():
    X, y = blobs(n_people=2, per_person=5, seed=8)
    # face 9 is person 1; pretend it was put with person 0 and shares a photo with face 0
    labels = y.copy()
    labels[9] = 0
    out = enforce_cannot_link(X, labels, [[0, 9]])
    assert out[0] == 0  # well attached, stays
    assert out[9] == 1  # moved to its own person (within the threshold)


def test_enforce_cannot_link_detaches_to_unsorted_when_nothing_fits():
    X, _ = blobs(n_people=1, per_person=4, seed=9)
    out = enforce_cannot_link(X, np.zeros(4, np.int64), [[0, 1], [0, 2], [0, 3]])
    # no other cluster exists, so whoever is detached ends unsorted
    assert all(o == -1 or o != out[0] for o in out[1:])
    assert set(out.tolist()) <= {0, -1}


def test_knn_graph_exact_and_ivf():
    X, _ = blobs(n_people=20, per_person=10, seed=10)
    De, Ie = knn_graph(X, 5, index="exact")
    assert De.shape == Ie.shape == (200, 5)
    assert not np.any(Ie == np.arange(200)[:, None])
    assert np.all(np.diff(De, axis=1) <= 1e-6)
    Di, Ii = knn_graph(X, 5, index="ivf", nprobe=8)
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(Ie, Ii, strict=True)])
    assert recall > 0.9


def test_knn_graph_duplicates_drop_self():
    X, _ = blobs(n_people=2, per_person=3)
    X = np.vstack([X, X])
    _, idx = knn_graph(X, 3)
    assert not np.any(idx == np.arange(len(X))[:, None])


def test_assign_to_clusters_members_and_centroids():
    X, y = blobs(n_people=5, per_person=10, n_strangers=4, seed=11)
    members, new = np.arange(0, 50, 2), np.r_[np.arange(1, 50, 2), np.arange(50, 54)]
    for how in ("max", "mean"):
        lab, sim = assign_to_clusters(X[new], X[members], labels=y[members], how=how)
        assert np.array_equal(lab, y[new])
        assert np.all(sim[-4:] < DEFAULT_THRESHOLD)
    centroids = np.stack([X[members][y[members] == k].mean(0) for k in range(5)])
    lab, _ = assign_to_clusters(X[new], centroids)
    assert np.array_equal(lab, y[new])
    # a threshold above every similarity leaves everyone unsorted
    lab, _ = assign_to_clusters(X[new], centroids, threshold=1.0)
    assert np.all(lab == -1)


def test_kmeans_curve_and_auto():
    X, y = blobs(n_people=5, per_person=12, seed=12)
    curve = kmeans_curve(X, [2, 3, 4, 5, 6, 8, 10, 15])
    assert curve["k"] == [2, 3, 4, 5, 6, 8, 10, 15]
    assert all(a >= b for a, b in zip(curve["inertia"], curve["inertia"][1:], strict=False))
    assert curve["best_k"] == 5
    est = FaceKMeans(k_values=[2, 3, 4, 5, 6, 8, 10, 15]).fit(X)
    assert est.n_clusters_ == 5 and est.curve_["best_k"] == 5
    assert same_partition(est.labels_, y)


def test_pair_threshold_is_above_verification_threshold():
    X, _ = blobs(n_people=30, per_person=5, seed=13)
    t1 = pair_threshold(X)
    assert DEFAULT_THRESHOLD <= t1 <= 1.0
    est = AdaptiveLinkage().fit(X)
    assert est.pair_threshold_ == pytest.approx(t1)


def test_default_method_and_factory():
    assert DEFAULT_METHOD in METHODS
    assert type(make_clusterer("auto")) is type(make_clusterer(DEFAULT_METHOD))
    with pytest.raises(InputError, match="method must be one of"):
        make_clusterer("spectral")
    with pytest.raises(InputError, match="bad parameter"):
        make_clusterer("dbscan", n_clusters=3)
    assert "threshold=None" in repr(make_clusterer("agglomerative"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_cluster_size": 0}, "min_cluster_size must be an int >= 1, got 0"),
        ({"threshold": 3}, "threshold must be a cosine similarity"),
        ({"cannot_link": [[0, 99]]}, "cannot_link indices"),
        ({"must_link": [0, 1]}, "must_link must be an int array of shape"),
        ({"quality": [1.0]}, "quality must be"),
    ],
)
def test_validation_messages(kwargs, message):
    X, _ = blobs(n_people=2, per_person=3)
    with pytest.raises(InputError, match=message):
        cluster_faces(X, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "said"),
    [
        ({"threshold": 1.0}, "(threshold 1, edge_threshold='auto')"),
        ({"edge_threshold": 1.0}, "edge_threshold=1.0"),
    ],
)
def test_dbscan_radius_from_the_threshold_is_explained(kwargs, said):
    # eps is derived (1 - edge threshold), never set: the message gives the derived value
    # and the way out, not "got None"
    X, _ = blobs(n_people=2, per_person=3)
    with pytest.raises(InputError) as info:
        cluster_faces(X, "dbscan", **kwargs)
    message = str(info.value)
    assert "eps = 1 - edge threshold = 0 is outside (0, 2]" in message
    assert "the edge threshold is 1 " in message
    assert said in message
    assert "lower the threshold" in message and "pass eps" in message
    assert "None" not in message


def test_dbscan_explicit_eps_out_of_range():
    X, _ = blobs(n_people=2, per_person=3)
    with pytest.raises(InputError, match=r"eps must be a cosine distance in \(0, 2\], got 0"):
        cluster_faces(X, "dbscan", eps=0.0)


def test_bad_X():
    with pytest.raises(InputError, match="2-d"):
        cluster_faces(np.zeros(5))
    with pytest.raises(InputError, match="all-zero"):
        cluster_faces(np.zeros((3, 4)))


def test_all_names_every_public_estimator_and_function():
    import faceatlas.cluster as package

    for name in package.__all__:
        assert hasattr(package, name), name
    for module in ("_base", "_constraints", "_density", "_kmeans", "_knn", "_linkage", "_whispers"):
        mod = importlib.import_module(f"faceatlas.cluster.{module}")
        for name, obj in vars(mod).items():
            defined_here = getattr(obj, "__module__", None) == mod.__name__
            if (
                defined_here
                and not name.startswith("_")
                and (inspect.isclass(obj) or inspect.isfunction(obj))
            ):
                assert name in package.__all__, f"{module}.{name} is not re-exported"


def test_import_loads_no_heavy_library():
    # scikit-learn, scipy's csgraph and faiss cost ~1 s of start-up: only a fit pays it
    code = (
        "import sys, faceatlas.cluster\n"
        "print(sorted(m for m in ('sklearn', 'faiss', 'scipy.sparse.csgraph') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"
