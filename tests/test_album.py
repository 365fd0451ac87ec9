"""The album owner's workflow: photos of people, export, the review queue, the demo, `~`.

End-to-end tests run the real CLI on copies of real photos (face_recognition's examples and
an LFW subset, copied into the test's folder so their dates can be set and the originals
checked untouched); a few fast tests pin the date bounds, `~` and the error summary.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceatlas.album import parse_date, photo_time, photos_of_people
from faceatlas.catalog import Catalog, PhotoRecord
from faceatlas.cli import main
from faceatlas.exceptions import InputError
from faceatlas.people import answer_review, review_questions
from faceatlas.pipeline import ScanSummary

REPO = Path(__file__).resolve().parents[1]
LFW_PEOPLE = {"Colin_Powell": 2021, "Tony_Blair": 2022, "Gerhard_Schroeder": 2022}


def cli(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def cli_json(*args: str) -> object:
    return json.loads(cli(*args, "--json"))


def _digest(path: Path) -> tuple[str, float]:
    return hashlib.blake2b(path.read_bytes()).hexdigest(), path.stat().st_mtime


# -- fast: the pieces ---------------------------------------------------------------------
def test_parse_date_bounds() -> None:
    assert parse_date("2024", "x") == datetime(2024, 1, 1)
    assert parse_date("2024", "x", end=True) == datetime(2024, 12, 31, 23, 59, 59, 999999)
    assert parse_date("2024-02", "x", end=True) == datetime(2024, 2, 29, 23, 59, 59, 999999)
    assert parse_date("2024-12-31", "x", end=True).date() == datetime(2024, 12, 31).date()
    assert parse_date(None, "x") is None
    with pytest.raises(InputError, match="--from must be a date"):
        parse_date("last week", "--from")
    with pytest.raises(InputError, match="not a valid date"):
        parse_date("2024-02-30", "--to")


def test_photo_time_prefers_the_capture_time() -> None:
    mtime = datetime(2020, 5, 6, 7, 8, 9).timestamp()
    assert photo_time({"mtime": mtime}) == (datetime(2020, 5, 6, 7, 8, 9), "file")
    cap = {"mtime": mtime, "capture_time": "2019-01-02T03:04:05+02:00"}
    assert photo_time(cap) == (datetime(2019, 1, 2, 3, 4, 5), "capture")
    assert photo_time({**cap, "capture_guess": 1})[1] == "file"
    assert photo_time({}) == (None, "none")


def test_dates_come_from_the_capture_time(tmp_path) -> None:
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    with Catalog(":memory:") as cat:
        cat.replace_file(str(photo), None, 1, 0.0, "test", [PhotoRecord(str(photo))])
        cat.db.execute("UPDATE photos SET taken_at = '2018-07-01T12:00:00'")
        rows = photos_of_people(cat, [], "2018-07", "2018-07")
        assert [(r["date"], r["date_source"]) for r in rows] == [("2018-07-01T12:00:00", "capture")]
        assert photos_of_people(cat, [], "2019") == []


def test_tilde_is_the_home_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with Catalog("~/album.db") as cat:
        assert cat.path == str(tmp_path / "album.db")
    assert (tmp_path / "album.db").exists()


def test_scan_summary_says_what_the_errors_were() -> None:
    s = ScanSummary(errors=[{"path": "/a/b.jpg", "error": "/a/b.jpg: truncated JPEG"}])
    assert "1 error (/a/b.jpg: truncated JPEG)" in s.line()
    s.errors.append({"path": "/x", "error": "no such file or folder"})
    s.errors.append({"path": "/y", "error": "no such file or folder"})
    assert "3 errors (/a/b.jpg: truncated JPEG; /x: no such file or folder and 1 more)" in (
        s.line()
    )
    assert "0 errors" in ScanSummary().line()


# -- real photos through the CLI -------------------------------------------------------------
@pytest.fixture(scope="module")
def album(shared_data, tmp_path_factory) -> dict:
    """Copies of real photos with set file dates, scanned and clustered; Obama and Biden named.

    face_recognition's examples (photos and a video) are dated 2020 and 2021, the LFW
    people by :data:`LFW_PEOPLE`.
    """
    root = tmp_path_factory.mktemp("album")
    photos = root / "photos"
    examples = shared_data / "face_recognition_examples" / "images" / "examples"
    dates: dict[str, datetime] = {}
    # the video's small, turned faces are the ones whose person is uncertain
    names = ("obama.jpg", "obama2.jpg", "biden.jpg", "two_people.jpg", "short_hamilton_clip.mp4")
    for name in names:
        dst = photos / "family" / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(examples / name, dst)
        dates[str(dst)] = datetime(2020, 6, 1 + len(dates))
    knn = examples / "knn_examples" / "test" / "obama_and_biden.jpg"
    shutil.copy(knn, photos / "family" / "obama_and_biden.jpg")
    dates[str(photos / "family" / "obama_and_biden.jpg")] = datetime(2021, 3, 4)
    for person, year in LFW_PEOPLE.items():
        for img in sorted((shared_data / "lfw" / "images" / person).glob("*.jpg"))[:6]:
            dst = photos / "lfw" / img.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(img, dst)
            dates[str(dst)] = datetime(year, 1 + len(dates) % 12, 15)
    for path, when in dates.items():
        os.utime(path, (when.timestamp(), when.timestamp()))
    db = root / "album.db"
    cli("--db", str(db), "scan", str(photos), "--jobs", "2")
    # a capture time the camera wrote (EXIF) wins over the file's date
    for row in cli_json("--db", str(db), "photos"):
        if row.get("taken_at") and not row.get("taken_guess") and row["path"] in dates:
            dates[row["path"]] = datetime.fromisoformat(row["taken_at"]).replace(tzinfo=None)
    cli("--db", str(db), "cluster")
    faces = cli_json("--db", str(db), "faces")
    person_of = {Path(f["path"]).name: f["person_id"] for f in faces if f["person_id"]}
    cli("--db", str(db), "name", str(person_of["obama.jpg"]), "Barack Obama")
    cli("--db", str(db), "name", str(person_of["biden.jpg"]), "Joe Biden")
    return {
        "db": db,
        "photos": photos,
        "dates": dates,
        "obama": person_of["obama.jpg"],
        "biden": person_of["biden.jpg"],
    }


def _photos_with(db: Path, *people: int) -> set[str]:
    """From `faces --json`, independently: the files holding a face of every person."""
    holders: dict[str, set[int]] = defaultdict(set)
    for f in cli_json("--db", str(db), "faces"):
        if f["person_id"] is not None:
            holders[f["path"]].add(f["person_id"])
    return {p for p, who in holders.items() if set(people) <= who}


@pytest.mark.slow
def test_photos_of_one_and_of_two_people(album) -> None:
    db = str(album["db"])
    obama = cli_json("--db", db, "photos", "--person", "barack_OBAMA")
    assert {r["path"] for r in obama} == _photos_with(album["db"], album["obama"])
    assert len(obama) >= 4
    together = cli_json(
        "--db", db, "photos", "--person", "Barack Obama", "--person", str(album["biden"])
    )
    paths = {r["path"] for r in together}
    assert paths == _photos_with(album["db"], album["obama"], album["biden"])
    assert {Path(p).name for p in paths} >= {"two_people.jpg"}  # the pair's own photo
    for r in together:
        assert [p["person_id"] for p in r["people"]] == [album["obama"], album["biden"]]
        assert r["faces"] >= 2 and r["date_source"] == "file"
    dates = [r["date"] for r in obama]
    assert dates == sorted(dates)  # oldest first
    # the table and the CSV tell the same photos
    table = cli("--db", db, "photos", "--person", "Barack Obama", "--person", "Joe Biden")
    assert all(p in table for p in paths) and f"{len(paths)} photos" in table
    rows = cli("--db", db, "photos", "--person", "Joe Biden", "--person", "Barack Obama", "--csv")
    lines = rows.strip().splitlines()
    assert lines[0].startswith("photo_id,path,frame_index,date,date_source,faces,people")
    assert len(lines) == 1 + len(paths)
    assert "Joe Biden; Barack Obama" in lines[1]


@pytest.mark.slow
def test_photos_between_dates(album) -> None:
    db = str(album["db"])
    everyone = cli_json("--db", db, "photos", "--from", "1990")
    in_2022 = cli_json("--db", db, "photos", "--from", "2022", "--to", "2022-12-31")
    expected = {p for p, d in album["dates"].items() if d.year == 2022}
    assert {r["path"] for r in in_2022} == expected & {r["path"] for r in everyone}
    assert len(in_2022) >= 6
    obama_2020 = cli_json("--db", db, "photos", "--person", "Barack Obama", "--to", "2020-12")
    assert obama_2020 and all(r["date"][:7] <= "2020-12" for r in obama_2020)
    assert all(r["date"][:10] == f"{album['dates'][r['path']]:%Y-%m-%d}" for r in obama_2020)
    assert len(obama_2020) < len(cli_json("--db", db, "photos", "--person", "Barack Obama"))
    result = CliRunner().invoke(main, ["--db", db, "photos", "--from", "2022-13"])
    assert result.exit_code == 2 and "--from" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = CliRunner().invoke(main, ["--db", db, "photos", "--person", "Nobody Atall"])
    assert result.exit_code == 1 and "Nobody Atall" in result.output
    with Catalog(db) as cat, pytest.raises(InputError, match="after"):
        photos_of_people(cat, ["Barack Obama"], "2023", "2022")


@pytest.mark.slow
def test_export_links_copies_by_date_and_originals_untouched(album, tmp_path) -> None:
    db = str(album["db"])
    originals = {p: _digest(Path(p)) for p in album["dates"]}
    out = cli("--db", db, "export", "Barack Obama", str(tmp_path / "links"))
    expected = {Path(p).name for p in _photos_with(album["db"], album["obama"])}
    assert f"{len(expected)} links written" in out and str(tmp_path / "links") in out
    made = {p.name: p for p in (tmp_path / "links").iterdir()}
    assert set(made) == expected
    for p in made.values():
        assert p.is_symlink() and os.path.realpath(p) in {os.path.realpath(o) for o in originals}
    again = cli_json("--db", db, "export", "Barack Obama", str(tmp_path / "links"))
    assert again["written"] == [] and len(again["unchanged"]) == len(expected)

    copies = cli_json("--db", db, "export", str(album["obama"]), str(tmp_path / "c"), "--copy")
    for entry in copies["written"]:
        target, source = Path(entry["target"]), Path(entry["source"])
        assert not target.is_symlink() and target.read_bytes() == source.read_bytes()

    by_date = cli_json("--db", db, "export", "Barack Obama", str(tmp_path / "d"), "--by-date")
    for entry in by_date["written"]:
        when = album["dates"][entry["source"]]
        assert Path(entry["target"]).parent == tmp_path / "d" / f"{when:%Y}" / f"{when:%m}"

    # a different file in the way is never overwritten
    blocker = tmp_path / "e" / "obama.jpg"
    blocker.parent.mkdir()
    blocker.write_bytes(b"mine")
    res = cli_json("--db", db, "export", "Barack Obama", str(tmp_path / "e"))
    assert blocker.read_bytes() == b"mine"
    assert [s["reason"] for s in res["skipped"]] == ["another file is in the way"]
    # exporting into the originals' own folder skips them, never rewrites them
    res = cli_json("--db", db, "export", "Barack Obama", str(album["photos"] / "family"), "--copy")
    assert {p: _digest(Path(p)) for p in album["dates"]} == originals
    assert res["written"] == []


@pytest.mark.slow
def test_review_questions_and_answers_become_corrections(album, tmp_path) -> None:
    db = tmp_path / "review.db"
    shutil.copy(album["db"], db)
    # make a merge question for sure: one of Obama's faces moved to a person of its own
    with Catalog(db) as cat:
        obama_faces = cat.faces_of_person(album["obama"])
    moved = cli_json("--db", str(db), "move", str(obama_faces[-1]), "new")
    questions = cli_json("--db", str(db), "review", "--limit", "50")
    assert questions, "a catalog with uncertain faces and a split person has questions"
    for q in questions:
        assert q["kind"] in ("is_this", "same_person")
        assert {"face_id", "person_id", "similarity", "why", "path"} <= set(q)
        assert -1.0 <= q["similarity"] <= 1.0 and q["why"]
    values = [q["value"] for q in questions]
    assert values == sorted(values, reverse=True)
    pair = [q for q in questions if q["kind"] == "same_person"]
    assert any(
        {q["person_id"], q["other_person_id"]} == {album["obama"], moved["person"]} for q in pair
    )
    with Catalog(db) as cat:
        q = next(q for q in pair if moved["person"] in (q["person_id"], q["other_person_id"]))
        res = answer_review(cat, q, "y")
        assert res["stored"] and cat.corrections(1)[0]["kind"] == "confirm"
        assert obama_faces[-1] in cat.faces_of_person(album["obama"])
        faces = [q for q in review_questions(cat, 50) if q["kind"] == "is_this"]
        assert faces, "real photos leave some faces near the threshold"
        first = faces[0]
        answer_review(cat, first, "no")
        kinds = [c["kind"] for c in cat.corrections(1)]
        assert kinds == ["reject"]
        assert any(
            c["face_a"] == first["face_id"] and c["person_id"] == first["person_id"]
            for c in cat.constraints("not_person")
        )
        again = review_questions(cat, 50)
        assert all(
            (g["face_id"], g["person_id"]) != (first["face_id"], first["person_id"]) for g in again
        )
        if len(faces) > 1:  # yes pins the face to the person asked about
            second = next(g for g in again if g["kind"] == "is_this")
            answer_review(cat, second, "yes")
            pinned = cat.assignments([second["face_id"]])[second["face_id"]]
            assert pinned["person_id"] == second["person_id"] and pinned["confirmed"]
        assert answer_review(cat, q, "s")["stored"] is False
        with pytest.raises(InputError, match="answer must be"):
            answer_review(cat, q, "maybe")


@pytest.mark.slow
def test_review_in_the_terminal_stores_one_answer_per_key(album, tmp_path) -> None:
    db = tmp_path / "keys.db"
    shutil.copy(album["db"], db)
    with Catalog(db) as cat:
        before = len(cat.corrections(1000))
        n_questions = len(review_questions(cat, 20))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "faceatlas", "--db", str(db), "review"],
        input="n\ns\nq\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with Catalog(db) as cat:
        after = cat.corrections(1000)
    if n_questions == 0:
        assert "nothing to review" in done.stdout
        return
    assert len(after) == before + 1 and after[0]["kind"] in ("reject", "dismiss")
    assert re.search(r"0 yes, 1 no, \d skipped", done.stdout)


# -- the README's example and the demo ------------------------------------------------------
@pytest.mark.slow
def test_readme_python_example_runs_as_written(tmp_path) -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    code = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    (tmp_path / "example.py").write_text(code, encoding="utf-8")
    (tmp_path / "samples").symlink_to(REPO / "samples")
    done = subprocess.run(
        [sys.executable, "example.py"],
        cwd=tmp_path,
        env={**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "1 face(s)" in done.stdout
    missing = tmp_path / "no-such-folder"
    assert f"1 error ({missing}: no such file or folder)" in done.stdout
    assert "100 faces embedded" in done.stdout  # the ORL sample, scanned once (not per worker)


@pytest.mark.slow
def test_demo_names_people_answers_who_and_ends_with_the_report(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "demo.py"), "--db", "demo.db", "--out", "demo"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    noise = [w for w in ("WARNING", "Traceback", "setuptools", "pip ") if w in out + done.stderr]
    assert noise == [], done.stderr
    assert "is now Grace Hopper" in out and "is now Eileen Collins" in out
    who = out.split(" who ", 1)[1].split("$ faceatlas", 1)[0]
    assert "Grace Hopper  distance" in who and "Eileen Collins  distance" in who
    assert re.search(r"Grace Hopper, Eileen Collins .*page-03\.jpg", out)
    last = out.strip().splitlines()[-2:]
    report = Path(last[0].removeprefix("Report: "))
    assert report.is_file() and report.name == "index.html"
    assert "serve" in last[1]
    assert not list((REPO / "samples").glob("**/page-*.jpg"))  # composed, never in the repo
