"""Tests of faceatlas.recognize (arrays) and faceatlas.known (catalog-level recognition)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from faceatlas.catalog import Catalog
from faceatlas.config import ScanConfig
from faceatlas.evaluate import open_set_rates, rank1_accuracy, tmr_at_fmr
from faceatlas.exceptions import InputError
from faceatlas.recognize import (
    Gallery,
    calibrate_threshold,
    identify,
    leave_one_person_out,
    open_set_report,
    open_set_threshold,
    pairs_from_labels,
    threshold_for_fpir,
)


def _unit(rng: np.random.Generator, n: int, d: int = 16) -> np.ndarray:
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _people(
    rng: np.random.Generator, n_people: int, per: int, spread: float = 0.2, d: int = 16
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Identity-clustered unit vectors: (X, labels, centres)."""
    centres = _unit(rng, n_people, d)
    X = np.repeat(centres, per, axis=0) + spread * rng.normal(size=(n_people * per, d)) / np.sqrt(d)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(np.float32), np.repeat(np.arange(n_people), per), centres


# --------------------------------------------------------------------------- identify
def test_three_outcomes_hand_worked():
    e = np.eye(4, dtype=np.float32)
    g = Gallery(e[:3], person_ids=[0, 1, -1], names=["ann", "bob", None], face_ids=[10, 11, 12])
    near_ann = np.array([0.8, 0.6, 0, 0], np.float32)  # 0.8 to ann, 0.6 to bob
    res = identify(
        np.stack([e[0], near_ann, e[3], e[2]]), g, threshold=0.5, threshold_source="test"
    )
    assert [r.outcome for r in res] == ["same_image", "known_person", "stranger", "same_image"]
    assert res[0].name == "ann" and res[0].face_id == 10 and res[0].confidence == 1.0
    known = res[1]
    assert (known.name, known.face_id, known.runner_up_name) == ("ann", 10, "bob")
    assert known.similarity == pytest.approx(0.8) and known.distance == pytest.approx(0.2)
    assert known.runner_up_similarity == pytest.approx(0.6)
    assert 0 < known.confidence < 1
    assert res[2].name is None and res[2].nearest_name in {"ann", "bob"}
    # A copy of a face of nobody: same image, but no name.
    assert res[3].person_id is None and res[3].face_id == 12
    assert all(r.threshold == 0.5 and r.threshold_source == "test" for r in res)


def test_content_hash_makes_same_image_whatever_the_similarity():
    e = np.eye(3, dtype=np.float32)
    g = Gallery(e[:2], person_ids=[0, 1], content_hashes=["aa", "bb"])
    q = np.array([[0.1, 0.9, 0.1]], np.float32)
    assert identify(q, g, 0.5)[0].outcome == "known_person"
    res = identify(q, g, 0.5, query_hashes=["aa"])[0]
    assert res.outcome == "same_image" and res.face_id == 0 and res.person_id == 0


def test_best_person_uses_best_face_and_runner_up_is_another_person():
    rng = np.random.default_rng(0)
    X, y, centres = _people(rng, 6, 5)
    g = Gallery(X, person_ids=y, names=[f"p{i}" for i in y])
    Q = centres + 0.05 * rng.normal(size=centres.shape)
    res = identify(Q, g, threshold=0.3)
    S = (Q / np.linalg.norm(Q, axis=1, keepdims=True)) @ X.T
    for i, r in enumerate(res):
        per_person = np.array([S[i, y == p].max() for p in range(6)])
        order = np.argsort(-per_person)
        assert r.person_id == order[0] and r.runner_up_person_id == order[1]
        assert r.similarity == pytest.approx(per_person[order[0]], abs=1e-5)
        assert y[r.face_id] == r.person_id


def test_index_path_matches_exact():
    from faceatlas.search import ExactIndex

    rng = np.random.default_rng(1)
    X, y, centres = _people(rng, 5, 4)
    g = Gallery(X, person_ids=y)
    Q = np.r_[X[:3], centres]
    a = identify(Q, g, 0.3)
    b = identify(Q, g, 0.3, index=ExactIndex().add(X))
    assert [r.to_dict() for r in a] == [r.to_dict() for r in b]


def test_empty_and_unnamed_gallery_calls_everyone_a_stranger():
    g = Gallery(np.eye(3, dtype=np.float32), person_ids=[-1, -1, -1])
    res = identify(np.array([[0.6, 0.8, 0]], np.float32), g, 0.3)
    assert res[0].outcome == "stranger" and res[0].nearest_person_id is None
    assert identify(np.zeros((0, 3), np.float32), g, 0.3) == []


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"threshold": 2.0}, "threshold must be a number in"),
        ({"threshold": float("nan")}, "threshold must be"),
        ({"threshold": 0.3, "same_image_threshold": "x"}, "same_image_threshold"),
        ({"threshold": 0.3, "query_hashes": ["a", "b"]}, "query_hashes must have one entry"),
    ],
)
def test_identify_validates(kwargs, match):
    g = Gallery(np.eye(3, dtype=np.float32), person_ids=[0, 1, 2])
    with pytest.raises(InputError, match=match):
        identify(np.eye(3, dtype=np.float32)[:1], g, **kwargs)


def test_gallery_validates():
    with pytest.raises(InputError, match="person_ids must be ints of shape"):
        Gallery(np.eye(3), person_ids=[0, 1])
    with pytest.raises(InputError, match="names must have one entry per face"):
        Gallery(np.eye(3), person_ids=[0, 1, 2], names=["a"])
    with pytest.raises(InputError, match="Q must have 3 columns"):
        identify(np.ones((1, 4)), Gallery(np.eye(3), person_ids=[0, 1, 2]), 0.3)


# --------------------------------------------------------------------------- calibration
def test_calibrate_threshold_meets_target_and_agrees_with_evaluate():
    rng = np.random.default_rng(2)
    same = np.r_[np.ones(2000, bool), np.zeros(20000, bool)]
    s = np.where(same, rng.normal(0.7, 0.1, same.size), rng.normal(0.0, 0.1, same.size))
    cal = calibrate_threshold(s, same, target_fmr=0.001)
    assert np.mean(s[~same] >= cal.threshold) <= 0.001
    assert cal.fmr <= 0.001 and cal.fmr_resolution == pytest.approx(1 / 20000)
    tmr, thr = tmr_at_fmr(s, same, 0.001)
    assert (cal.tmr, cal.threshold) == (pytest.approx(tmr), pytest.approx(thr))
    assert cal.auc > 0.99 and cal.slope > 0
    # P(same) is 0.5 between the two distributions.
    assert 0.2 < -cal.intercept / cal.slope < 0.5
    assert cal.roc_fmr.shape == cal.roc_tmr.shape == cal.roc_thresholds.shape
    assert "threshold" in cal.line() and "roc_fmr" not in cal.summary()


def test_calibrate_threshold_validates():
    with pytest.raises(InputError, match="target_fmr must be a rate in"):
        calibrate_threshold([0.1, 0.9], [False, True], target_fmr=0)
    with pytest.raises(InputError, match="both"):
        calibrate_threshold([0.1, 0.9], [True, True])


def test_pairs_from_labels_all_and_sampled():
    rng = np.random.default_rng(3)
    X, y, _ = _people(rng, 4, 3)
    s, same = pairs_from_labels(X, y)
    assert len(s) == 12 * 11 // 2 and same.sum() == 4 * 3
    s2, same2 = pairs_from_labels(X, y, max_pairs=30)
    assert same2.sum() == 12 and len(s2) <= 30


def test_open_set_report_matches_evaluate_on_the_face_matrix():
    rng = np.random.default_rng(4)
    X, y, _ = _people(rng, 8, 6, spread=0.6)
    gal = y < 5  # people 5..7 are strangers
    first = np.r_[True, y[1:] != y[:-1]] | (np.arange(len(y)) % 2 == 0)
    g_rows = np.flatnonzero(gal & first)
    p_rows = np.setdiff1d(np.arange(len(y)), g_rows)
    g = Gallery(X[g_rows], person_ids=y[g_rows])
    rep = open_set_report(X[p_rows], y[p_rows], g, threshold=0.5)
    S = X[p_rows] @ X[g_rows].T
    ref = open_set_rates(S, y[g_rows], y[p_rows], 0.5)
    for key, value in ref.items():
        assert rep[key] == pytest.approx(value, nan_ok=True), key
    assert rep["rank1"] == pytest.approx(rank1_accuracy(S, y[g_rows], y[p_rows]))


def test_open_set_threshold_bounds_false_identifications():
    rng = np.random.default_rng(5)
    X, y, _ = _people(rng, 30, 4, spread=0.5)
    g = Gallery(X[y < 10], person_ids=y[y < 10])
    strangers = X[y >= 10]
    t = open_set_threshold(strangers, g, target_fpir=0.05)
    rep = open_set_report(strangers, y[y >= 10], g, t)
    assert rep["false_identification_rate"] <= 0.05
    # Just below it, more strangers would be named.
    looser = open_set_report(strangers, y[y >= 10], g, t - 1e-3)
    assert looser["false_identification_rate"] >= rep["false_identification_rate"]


def test_threshold_for_fpir_hand_worked():
    best = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
    # 10 strangers, FPIR 0.1: one may be named (0.9), the second (0.8) must not.
    t = threshold_for_fpir(best, 0.1)
    assert 0.8 < t <= 0.9
    assert threshold_for_fpir(best, 0.05) > 0.9
    with pytest.raises(InputError, match="target_fpir must be a rate in"):
        threshold_for_fpir(best, 1.5)


def test_leave_one_person_out_ignores_own_person():
    X = np.array([[1, 0], [1, 0], [0, 1], [0.6, 0.8]], np.float32)
    best = leave_one_person_out(X, [0, 0, 1, 2])
    assert best == pytest.approx([0.6, 0.6, 0.8, 0.8])


# --------------------------------------------------------------------------- Yale split
@pytest.fixture(scope="module")
def yale_catalog(shared_data, tmp_path_factory):
    """Subjects 01-05 (sad, happy, sleepy, surprised) enrolled from a people folder."""
    split = shared_data / "yale" / "making_faces_split.csv"
    rows = list(csv.DictReader(split.open()))
    known = tmp_path_factory.mktemp("yale_known")
    for r in rows:
        if r["split"] == "train":
            folder = known / r["identity"]
            folder.mkdir(exist_ok=True)
            # Symlinks, not copies: the data's terms forbid copying it around.
            (folder / r["path"].split("/")[-1]).symlink_to(shared_data / "yale" / r["path"])
    from faceatlas.known import enroll

    cat = Catalog(str(tmp_path_factory.mktemp("yale_db") / "yale.db"))
    summary = enroll(cat, known, ScanConfig(jobs=1))
    assert [p["faces"] for p in summary.people] == [4] * 5 and not summary.warnings
    tests = {
        r["expected"]: str(shared_data / "yale" / r["path"]) for r in rows if r["split"] == "test"
    }
    yield cat, tests
    cat.close()


def test_yale_three_outcomes(yale_catalog):
    from faceatlas.known import who

    cat, tests = yale_catalog
    order = ["known_image", "known_person", "stranger"]
    result = who(cat, [tests[k] for k in order])
    faces = [f["faces"] for f in result["files"]]
    assert [len(f) for f in faces] == [1, 1, 1]
    same, known, stranger = (f[0] for f in faces)
    assert same["outcome"] == "same_image" and same["name"] == "subject01"
    assert known["outcome"] == "known_person" and known["name"] == "subject03"
    assert known["runner_up_name"] not in (None, "subject03")
    assert stranger["outcome"] == "stranger" and stranger["name"] is None
    assert stranger["similarity"] < result["threshold"] <= known["similarity"]
    assert result["threshold"] == pytest.approx(0.363)
    assert "SFace" in result["threshold_source"]


def test_yale_calibrate_from_confirmed_people(yale_catalog):
    from faceatlas import get_embedder
    from faceatlas.known import calibrate, resolve_threshold

    cat, _ = yale_catalog
    sface = get_embedder("sface")
    cal = calibrate(cat, target_fmr=0.001)
    # 5 people x 4 faces: 30 same and 160 different pairs, all separable with SFace.
    assert (cal.n_same, cal.n_different) == (30, 160)
    assert cal.tmr == 1.0 and cal.auc == 1.0
    # 160 different pairs cannot measure an FMR of 0.001: warned, and not stored.
    assert cal.warnings and not cal.stored
    assert resolve_threshold(cat, sface)[2] is None
    cal = calibrate(cat, target_fmr=0.01)
    assert not cal.warnings and cal.stored
    thr, source, stored = resolve_threshold(cat, sface)
    assert thr == pytest.approx(cal.threshold) and "calibrated on" in source
    assert resolve_threshold(cat, sface, 0.5)[:2] == (0.5, "given on the command line")
    # Open set: each person plays the stranger against the other four.
    cal = calibrate(cat, target_fpir=0.1, store=False)
    assert cal.target_fpir == 0.1 and cal.fpir <= 0.1 and cal.tmr == 1.0
    assert "open-set FPIR" in cal.line()
    cat.delete_setting("calibration/sface/2021dec-int8bq")


def test_calibrate_returns_the_dropped_pairs_with_line_and_reason(
    yale_catalog, shared_data, tmp_path
):
    from faceatlas.known import calibrate

    cat, _ = yale_catalog
    pairs = tmp_path / "pairs.txt"
    # LFW layout under root: name/name_0001.jpg (symlinks, not copies, of Yale faces);
    # the last pair names a file that is not there
    root = tmp_path / "root"
    for name, subject in (("a", "subject01"), ("b", "subject02")):
        (root / name).mkdir(parents=True)
        for n, mood in ((1, "sad"), (2, "happy")):
            image = shared_data / "yale" / "images" / f"{subject}.{mood}.gif"
            (root / name / f"{name}_{n:04d}.jpg").symlink_to(image)
    pairs.write_text("2\t1\na 1 2\nb 1 2\na 1 b 1\na 1 b 9\n")
    cal = calibrate(cat, pairs, root=root, target_fmr=0.5, store=False)
    assert (cal.n_same, cal.n_different) == (2, 1)
    assert cal.dropped == [(5, cal.dropped[0][1])]
    assert "b_0009.jpg" in cal.dropped[0][1]
    assert "dropped" not in cal.summary()  # never stored with the threshold


def test_known_people_folder_layouts(shared_data, tmp_path):
    from faceatlas.known import known_people

    examples = shared_data / "face_recognition_examples" / "images" / "examples"
    (tmp_path / "Barack Obama.jpg").symlink_to(examples / "obama.jpg")
    (tmp_path / "biden").mkdir()
    (tmp_path / "biden" / "a.jpg").symlink_to(examples / "biden.jpg")
    (tmp_path / "biden" / "notes.txt").write_text("not an image")
    (tmp_path / "empty").mkdir()
    found = known_people(tmp_path)
    assert sorted(found) == ["Barack Obama", "biden"]
    assert len(found["biden"]) == 1
    with pytest.raises(InputError, match="holds no images"):
        known_people(tmp_path / "empty")
    with pytest.raises(InputError, match="no such folder"):
        known_people(tmp_path / "missing")


def test_package_exports_what_the_module_did():
    """The split into faceatlas/recognize/ keeps every public name of the old module."""
    import faceatlas.recognize as rec

    old = {
        "OUTCOMES",
        "SAME_IMAGE_THRESHOLD",
        "Calibration",
        "Gallery",
        "Identification",
        "calibrate_threshold",
        "confidence_of",
        "identify",
        "open_set_report",
        "leave_one_person_out",
        "open_set_threshold",
        "pairs_from_labels",
        "threshold_for_fpir",
        "with_open_set_threshold",
    }
    assert set(rec.__all__) == old | {"DEFAULT_LOGISTIC_SLOPE"}
    assert rec.__all__ == sorted(rec.__all__, key=lambda name: (not name.isupper(), name))
    assert all(hasattr(rec, name) for name in rec.__all__)
