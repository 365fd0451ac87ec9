"""The classic-methods commands end to end: pca (songs), eigenfaces and nearest (Yale)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from faceatlas.cli import main


def run(*args: str) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


# -- pca -------------------------------------------------------------------------------------
def test_pca_songs_reproduces_the_talk(shared_data, tmp_path):
    songs = shared_data / "songs" / "songdata.csv"
    plot = tmp_path / "songs.png"
    out = json.loads(
        run(
            "pca",
            songs,
            "--columns",
            "energy",
            "loudness",
            "--belongs",
            "1",
            "--plot",
            plot,
            "--json",
        )
    )
    np.testing.assert_allclose(out["singular_values"], [1.46530621, 0.09094177], atol=1e-6)
    c1 = np.array(out["components"][0])
    c1 *= np.sign(c1[1]) * -1  # the sign of a component is arbitrary
    np.testing.assert_allclose(c1, [-0.0616217, -0.99809958], atol=1e-6)
    first = out["projections"][0]
    assert first["label"] == "Love The Way You Lie"
    np.testing.assert_allclose(np.abs(first["p"]), [0.215, 0.207], atol=5e-4)
    assert len(out["projections"]) == 49
    assert out["belongs"]["in_circle"] and out["belongs"]["in_ellipse"]
    assert plot.stat().st_size > 1000


def test_pca_text_and_a_point_that_does_not_belong(shared_data):
    songs = shared_data / "songs" / "songdata.csv"
    text = run("pca", songs, "--columns", "energy", "loudness", "--values", "0.5", "-30")
    assert "1.46530621" in text and "0.09094177" in text
    assert "does not belong" in text and "outside" in text


def test_pca_names_non_numeric_columns(shared_data):
    result = CliRunner().invoke(
        main, ["pca", str(shared_data / "songs" / "songdata.csv"), "--columns", "name", "energy"]
    )
    assert result.exit_code == 1
    assert "name" in result.output and "numeric" in result.output


# -- eigenfaces and nearest on the talk's Yale split --------------------------------------
@pytest.fixture(scope="module")
def yale_db(shared_data, tmp_path_factory):
    root = shared_data / "yale"
    with open(root / "making_faces_split.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    db = tmp_path_factory.mktemp("yale") / "yale.db"
    train = [root / r["path"] for r in rows if r["split"] == "train"]
    run("--db", db, "scan", "--cropped", "--embedder", "pixels", "--jobs", "1", *train)
    tests = {r["expected"]: root / r["path"] for r in rows if r["split"] == "test"}
    return db, tests


def test_nearest_sorts_the_talks_three_test_images(yale_db):
    db, tests = yale_db
    order = ["known_image", "known_person", "stranger"]
    out = json.loads(run("--db", db, "nearest", *[tests[k] for k in order], "--json"))
    faces = [f["faces"][0] for f in out["files"]]
    assert [f["outcome"] for f in faces] == ["same_image", "known_person", "stranger"]
    assert faces[0]["distance"] == pytest.approx(0.0, abs=1e-6)
    assert faces[0]["path"].endswith("subject01.sad.gif")
    # The talk's nearest training images: subject03.sleepy and subject03.surprised.
    assert faces[1]["path"].endswith("subject03.sleepy.gif")
    assert faces[2]["path"].endswith("subject03.surprised.gif")
    assert faces[1]["distance"] < 1 - out["threshold"] < faces[2]["distance"]
    assert out["n_faces"] == 20 and out["n_components"] == 19
    text = run("--db", db, "nearest", tests["stranger"])
    assert "stranger" in text


def test_nearest_threshold_is_user_settable(yale_db):
    db, tests = yale_db
    out = json.loads(run("--db", db, "nearest", tests["stranger"], "--threshold", "0.5", "--json"))
    assert out["files"][0]["faces"][0]["outcome"] == "known_person"
    assert out["threshold_source"] == "given"


def test_eigenfaces_saves_the_figures(yale_db, tmp_path):
    db, _ = yale_db
    out = json.loads(run("--db", db, "eigenfaces", tmp_path / "eig", "-n", "8", "--json"))
    for key in ("mean_face", "eigenfaces", "explained_variance", "reconstructions"):
        assert (tmp_path / "eig" / f"{key}.png").stat().st_size > 1000, key
    assert out["n_faces"] == 20 and out["n_components"] == 19
    assert sum(out["explained_variance_ratio"]) == pytest.approx(1.0, abs=1e-4)


def test_eigenfaces_without_pixel_vectors_says_how_to_get_them(tmp_path):
    from faceatlas import Catalog

    Catalog(tmp_path / "empty.db").close()  # a catalog without pixel vectors
    result = CliRunner().invoke(
        main, ["--db", str(tmp_path / "empty.db"), "eigenfaces", str(tmp_path / "out")]
    )
    assert result.exit_code == 1
    assert "--embedder pixels" in result.output
