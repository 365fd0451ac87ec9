"""End-to-end: labels, eval, compare, cluster --use-recommended and eval-pairs on real faces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceatlas.catalog import Catalog
from faceatlas.cli import main
from faceatlas.cluster import DEFAULT_METHOD

pytestmark = pytest.mark.slow


def cli(*args: str, ok: bool = True):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def cli_json(*args: str):
    return json.loads(cli(*args, "--json").stdout)


@pytest.fixture(scope="module")
def orl_db(samples, tmp_path_factory) -> str:
    """samples/orl (10 people x 10 faces) scanned once with SFace."""
    db = str(tmp_path_factory.mktemp("eval") / "orl.db")
    cli("--db", db, "scan", str(samples / "orl"), "--jobs", "1")
    return db


def test_eval_needs_labels(orl_db, tmp_path):
    db = str(tmp_path / "copy.db")
    with Catalog(orl_db) as src, Catalog(db) as dst:
        src.db.backup(dst.db)
    res = cli("--db", db, "eval", ok=False)
    assert res.exit_code == 1 and "faceatlas label import" in res.output


def test_folders_eval_compare_and_recommended(orl_db, samples, tmp_path):
    imported = cli_json(
        "--db", orl_db, "label", "import-folders", str(samples / "orl"), "--replace"
    )
    assert imported["n_stored"] == 100 and imported["n_people"] == 10
    assert imported["faces"]["labelled"] == 100 and imported["faces"]["unlabelled"] == 0

    cli("--db", orl_db, "cluster", "--all")
    rep = cli_json("--db", orl_db, "eval")
    assert rep["n_faces"] == 100 and rep["n_people"] == 10
    # SFace + the default clustering separate the 10 ORL people (nearly) perfectly
    assert rep["bcubed_f"] > 0.9 and rep["accuracy"] > 0.9
    assert rep["last_cluster_run"]["method"] == DEFAULT_METHOD

    chart = tmp_path / "compare.png"
    cmp_ = cli_json(
        "--db",
        orl_db,
        "compare",
        "--methods",
        "adaptive-linkage,chinese-whispers,kmeans",
        "--chart",
        str(chart),
    )
    assert [r["method"] for r in cmp_["rows"]] == ["adaptive-linkage", "chinese-whispers", "kmeans"]
    assert chart.stat().st_size > 1000
    for r in cmp_["rows"]:
        assert 0 <= r["bcubed_f"] <= 1 and r["seconds"] >= 0 and r["n_faces"] == 100
    assert cmp_["rows"][2]["threshold"] is None  # kmeans: k from the elbow, no threshold
    # the sweep tried 7 thresholds for each graph method, 1 run of kmeans
    assert len(cmp_["sweep"]) == 7 + 7 + 1
    best_bf = max(r["bcubed_f"] for r in cmp_["rows"])
    assert cmp_["rows"][cmp_["best"]["bcubed_f"][0]]["bcubed_f"] == best_bf
    rec = cmp_["recommendation"]
    assert rec["score"] == best_bf and rec["text"].startswith("sface + ")

    text = cli(
        "--db",
        orl_db,
        "compare",
        "--methods",
        "chinese-whispers",
        "--thresholds",
        "0.3,0.4",
        "--no-store",
    ).output
    assert "recommended: sface + chinese-whispers" in text and "*" in text

    summary = cli_json("--db", orl_db, "cluster", "--all", "--use-recommended")
    assert summary["method"] == rec["method"] and summary["embedder"] == "sface"
    if rec["threshold"] is not None:
        assert summary["threshold"] == pytest.approx(rec["threshold"])


def test_csv_labels_with_filters_leave_faces_unlabelled(orl_db, samples, tmp_path):
    files = sorted((samples / "orl").glob("s*/*.pgm"))
    assert len(files) == 100
    csv_path = tmp_path / "labels.csv"
    lines = ["File Name,Person,Mask"]
    for i, f in enumerate(files):
        # the sheet lists bare file names under their folder, like a hand-made one
        lines.append(f"{f.parent.name}/{f.name},{f.parent.name},{'Y' if i % 4 == 0 else 'N'}")
    csv_path.write_text("\n".join(lines) + "\n")
    imported = cli_json(
        "--db",
        orl_db,
        "label",
        "import",
        str(csv_path),
        "--replace",
        "--path-column",
        "file name",
        "--identity-column",
        "person",
        "--drop",
        "Mask=Y",
    )
    assert imported["n_dropped"] == 25 and imported["n_matched"] == 75
    assert imported["faces"] == {
        "labelled": 75,
        "ambiguous": 0,
        "unlabelled": 25,
        "no_face_photos": 0,
        "labelled_photos": 75,
    }
    rep = cli_json("--db", orl_db, "eval")
    assert rep["n_faces"] == 75 and rep["faces"]["unlabelled"] == 25
    status = cli_json("--db", orl_db, "label", "status")
    assert status["faces"]["labelled"] == 75 and "Mask=Y" in status["sources"][0]["source"]


@pytest.fixture(scope="module")
def small_pairs(shared_data, tmp_path_factory) -> tuple[Path, Path]:
    """20 LFW pairs in pairs.txt layout: 2 folds of 5 same + 5 different pairs."""
    lfw = shared_data / "lfw"
    lines = (lfw / "pairs.txt").read_text().splitlines()
    same, diff = lines[1:11], lines[301:311]
    out = ["2\t5", *same[:5], *diff[:5], *same[5:], *diff[5:]]
    path = tmp_path_factory.mktemp("pairs") / "pairs20.txt"
    path.write_text("\n".join(out) + "\n")
    return path, lfw / "images"


def test_eval_pairs_on_real_lfw(small_pairs, tmp_path):
    pairs, images = small_pairs
    db = str(tmp_path / "pairs.db")
    r = cli_json("--db", db, "eval-pairs", str(pairs), str(images), "--jobs", "1")
    assert r["n_pairs"] == 20 and r["n_same"] == 10 and len(r["folds"]) == 2
    assert all(f["n_pairs"] == 10 for f in r["folds"])
    assert r["n_no_face"] == 0 and r["n_pairs_no_face"] == 0
    assert r["accuracy_mean"] >= 0.9 and r["auc_mean"] >= 0.95
    # the threshold chosen on one fold of 10 LFW pairs is near SFace's published 0.363
    assert 0.1 < r["threshold_mean"] < 0.7
    # the embeddings are cached in the catalog: the second run embeds nothing
    n_images = r["n_images"]
    with Catalog(db) as cat:
        assert cat.counts()["files"] == n_images
    again = cli_json("--db", db, "eval-pairs", str(pairs), str(images))
    assert again["accuracy_mean"] == r["accuracy_mean"] and again["embed_seconds"] < 1.0
    text = cli("eval-pairs", str(pairs), str(images), "--jobs", "1").output
    assert "accuracy" in text and "2 folds" in text


# -- the scoring helpers on synthetic data (no models) ---------------------------------------
def test_pair_folds_follow_the_file(tmp_path):
    import numpy as np

    from faceatlas.evaluation import pair_folds

    declared = tmp_path / "p.txt"
    declared.write_text("2\t3\n" + "x 1 2\n" * 12)
    same = np.array([1, 1, 1, 0, 0, 0] * 2, bool)
    assert pair_folds(declared, same).tolist() == [0] * 6 + [1] * 6
    # no header (pairsDevTrain.txt: all same pairs, then all different): both kinds per fold
    plain = tmp_path / "q.txt"
    plain.write_text("x 1 2\n" * 8)
    same = np.array([1] * 4 + [0] * 4, bool)
    folds = pair_folds(plain, same, n_folds=2)
    assert folds.tolist() == [0, 0, 1, 1, 0, 0, 1, 1]
    from faceatlas.exceptions import InputError

    with pytest.raises(InputError, match="at least 5 same"):
        pair_folds(plain, same, n_folds=5)
    with pytest.raises(InputError, match="n_folds must be an int >= 2, got 1"):
        pair_folds(plain, same, n_folds=1)
    # a header declaring one set: refused, with the way out (not an IndexError later)
    one_set = tmp_path / "one.txt"
    one_set.write_text("1\t4\n" + "x 1 2\n" * 8)
    with pytest.raises(InputError) as info:
        pair_folds(one_set, same)
    message = str(info.value)
    assert "one.txt: its first line '1\\t4' declares 1 set of pairs" in message
    assert "at least 2 folds" in message and "Drop that line" in message


def test_threshold_grid_scales_the_distance():
    from faceatlas.evaluation import threshold_grid

    assert threshold_grid(0.363) == [0.172, 0.236, 0.299, 0.363, 0.427, 0.49, 0.554]
    grid = threshold_grid(0.93)
    assert len(grid) == 7 and max(grid) < 1 and 0.93 in grid


def test_compare_on_a_synthetic_catalog():
    import numpy as np

    from faceatlas.catalog import FaceRecord, PhotoRecord
    from faceatlas.evaluation import compare_configurations, evaluate_people, recommended_settings
    from faceatlas.exceptions import InputError

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 32))
    cat = Catalog(":memory:")
    labels = {}
    for person in range(4):
        for k in range(6):
            v = centres[person] + 0.2 * rng.normal(size=32)
            v = (v / np.linalg.norm(v)).astype(np.float32)
            face = FaceRecord(
                np.array([0, 0, 10, 10], np.float32), np.zeros((5, 2)), 0.9, 0.9, 1.0, None, v
            )
            path = f"/p/{person}/{k}.jpg"
            cat.replace_file(
                path, None, None, None, "fake", [PhotoRecord(path, faces=[face])], "fake", "1"
            )
            labels[path] = f"person{person}"
    with pytest.raises(InputError, match="no labels"):
        evaluate_people(cat)
    cat.set_labels(labels, source="test")
    rep = evaluate_people(cat)  # nobody clustered yet: every face is its own singleton
    assert rep["n_clusters"] == 0 and rep["n_unassigned"] == 24 and rep["pairwise_recall"] == 0
    with pytest.raises(InputError, match="compare"):
        recommended_settings(cat)
    result = compare_configurations(
        cat, methods=["chinese-whispers", "agglomerative"], thresholds=[0.5, 0.7]
    )
    assert len(result.rows) == 2 and len(result.sweep) == 4
    assert all(r["bcubed_f"] == pytest.approx(1.0) for r in result.rows)
    rec = recommended_settings(cat)
    assert rec["embedder"] == "fake" and rec["method"] in ("chinese-whispers", "agglomerative")
    with pytest.raises(InputError, match="no vectors of sface"):
        compare_configurations(cat, embedders=["sface"])
    with pytest.raises(InputError, match="methods must be among"):
        compare_configurations(cat, methods=["nope"])
