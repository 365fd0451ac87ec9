"""End-to-end: people commands through the CLI, on ORL samples and real group photos."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceatlas.catalog import Catalog
from faceatlas.cli import main
from faceatlas.cluster import METHODS

pytestmark = pytest.mark.slow


def cli(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result.output


def cli_json(*args: str) -> dict | list:
    return json.loads(cli(*args, "--json"))


def faces_by_person(db: Path) -> dict[int, list[dict]]:
    rows = cli_json("--db", str(db), "faces")
    out: dict[int, list[dict]] = defaultdict(list)
    for r in rows:
        if r["person_id"] is not None:
            out[r["person_id"]].append(r)
    return out


@pytest.fixture(scope="module")
def orl_incremental(samples, tmp_path_factory) -> tuple[Path, dict, dict]:
    """ORL subjects s1-s9 (8 images each) scanned and clustered, then the other 28 images.

    Returns the catalog and the JSON summaries of the two cluster runs.
    """
    root = tmp_path_factory.mktemp("orl")
    db = root / "people.db"
    photos = root / "photos"
    late = []
    for subject in sorted((samples / "orl").glob("s*")):
        for img in sorted(subject.glob("*.pgm")):
            n = int(img.stem)
            dst = photos / subject.name / img.name
            if subject.name == "s10" or n > 8:
                late.append((img, dst))
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(img, dst)
    cli("--db", str(db), "scan", str(photos), "--jobs", "2")
    first = cli_json("--db", str(db), "cluster")
    for src, dst in late:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
    cli("--db", str(db), "scan", str(photos), "--jobs", "2")
    second = cli_json("--db", str(db), "cluster")
    return db, first, second


def test_orl_demo_finds_ten_people_incrementally(orl_incremental):
    db, first, second = orl_incremental
    assert first["n_people"] == 9 and first["n_faces"] == 72
    # the second run gives the 18 new faces of known subjects to their people and
    # clusters only the rest (subject s10)
    assert second["n_faces"] == 100 and second["mode"] == "incremental"
    assert second["n_matched_existing"] == 18
    assert second["n_clustered"] == 10 and second["n_new_people"] == 1
    assert second["n_people"] == 10 and second["n_unassigned"] == 0
    groups = faces_by_person(db)
    assert len(groups) == 10
    for rows in groups.values():
        subjects = Counter(Path(r["path"]).parent.name for r in rows)
        assert len(subjects) == 1 and sum(subjects.values()) == 10
    text = cli("--db", str(db), "people")
    assert text.startswith("10 people, 0 unsorted groups")
    listed = cli_json("--db", str(db), "people")
    assert [p["n_faces"] for p in listed["people"]] == [10] * 10


def test_corrections_through_the_cli(orl_incremental, tmp_path):
    db = tmp_path / "copy.db"
    shutil.copy(orl_incremental[0], db)
    d = ("--db", str(db))
    people = cli_json(*d, "people")["people"]
    a, b = people[0]["id"], people[1]["id"]
    assert cli_json(*d, "name", str(a), "Ann")["name"] == "Ann"
    merged = cli_json(*d, "merge", str(a), str(b))
    assert merged["n_faces"] == 20 and merged["n_confirmed"] == 20
    assert cli(*d, "undo").startswith("undid merge")
    split = cli_json(*d, "split", str(a))
    (c,) = split["new_people"]
    top = cli_json(*d, "suggest")[0]
    assert {top["person_a"], top["person_b"]} == {a, c}
    cli(*d, "suggest", "--dismiss", str(a), str(c))
    assert all({s["person_a"], s["person_b"]} != {a, c} for s in cli_json(*d, "suggest"))
    face = cli_json(*d, "person", str(b))["faces"][0]["face_id"]
    assert cli_json(*d, "move", str(face), str(a))["from"] == b
    assert cli_json(*d, "reject", str(face), str(a))["was_assigned"]
    assert cli_json(*d, "move", str(face), "new")["person"] not in (a, b, c)
    cli(*d, "hide", str(b))
    out = cli_json(*d, "cluster", "--all")
    assert out["mode"] == "all"
    # every correction held through the full re-cluster
    detail = cli_json(*d, "person", str(a))
    assert detail["name"] == "Ann" and face in detail["rejected_faces"]
    assert all(f["face_id"] != face for f in detail["faces"])
    assert b not in {p["id"] for p in cli_json(*d, "people")["people"]}
    # the exported faces carry person ids and names
    rows = list(csv.DictReader(io.StringIO(cli(*d, "faces", "--csv"))))
    assert len(rows) == 100 and any(r["person_name"] == "Ann" for r in rows)
    for _ in range(7):
        cli(*d, "undo")
    assert cli(*d, "undo").strip() == "nothing to undo"
    assert cli(*d, "person", "9999", ok=False).startswith("error: person 9999 is not")


def test_kmeans_and_elbow(orl_incremental, tmp_path):
    db = tmp_path / "copy.db"
    shutil.copy(orl_incremental[0], db)
    out = cli_json("--db", str(db), "cluster", "--all", "--k", "10")
    assert out["method"] == "kmeans" and out["n_people"] == 10
    png = tmp_path / "elbow.png"
    curve = cli_json("--db", str(db), "elbow", str(png))
    assert png.read_bytes()[:4] == b"\x89PNG" and curve["elbow_k"] in curve["k"]
    assert "must be an int or 'auto'" in cli("--db", str(db), "cluster", "--k", "x", ok=False)


@pytest.fixture(scope="module")
def group_photos(shared_data, tmp_path_factory) -> Path:
    """The face_recognition examples (group photos, a video) scanned once."""
    db = tmp_path_factory.mktemp("groups") / "groups.db"
    cli(
        "--db",
        str(db),
        "scan",
        str(shared_data / "face_recognition_examples" / "images"),
        "--jobs",
        "2",
    )
    return db


@pytest.mark.parametrize("method", METHODS)
def test_no_person_holds_two_faces_of_one_photo(group_photos, tmp_path, method):
    db = tmp_path / "copy.db"
    shutil.copy(group_photos, db)
    extra = ["--k", "auto"] if method == "kmeans" else []
    out = cli_json("--db", str(db), "cluster", "--all", "--method", method, *extra)
    assert out["n_cannot_link"] > 0  # the examples hold photos with two or more faces
    assert out["n_people"] >= 2
    seen = set()
    for pid, rows in faces_by_person(db).items():
        for r in rows:
            key = (pid, r["path"], r["frame_index"])
            assert key not in seen, f"person {pid} holds two faces of {key[1:]}"
            seen.add(key)
    with Catalog(db) as cat:
        assert cat.people_overlapping_photos() == []
