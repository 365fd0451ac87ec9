"""End-to-end: the CLI on the bundled samples and on real photos from ../shared/data."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceatlas.cli import main

pytestmark = pytest.mark.slow


def run_cli(*args: str) -> dict | list:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def lfw_subset(shared_data, tmp_path_factory) -> Path:
    """300 LFW images (symlinked, never copied), 2-3 per person for the first people."""
    root = tmp_path_factory.mktemp("lfw300")
    with open(shared_data / "lfw" / "labels.csv") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows[:300]:
        src = shared_data / "lfw" / row["path"]
        dst = root / row["identity"] / src.name
        dst.parent.mkdir(exist_ok=True)
        os.symlink(src, dst)
    return root


@pytest.fixture(scope="session")
def lfw_reference(lfw_subset, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("ref") / "ref.db"
    summary = run_cli("--db", str(db), "scan", str(lfw_subset), "--jobs", "2", "--json")
    assert summary["photos"] == 300 and not summary["errors"]
    return db


def test_demo_samples(samples, tmp_path):
    db = str(tmp_path / "demo.db")
    s = run_cli("--db", db, "scan", str(samples), "--jobs", "2", "--json")
    # 100 ORL faces and the two colour portraits of samples/portraits
    assert (s["photos"], s["faces"], len(s["errors"])) == (102, 102, 0)
    assert s["skipped_formats"] == {".txt": 1}
    status = run_cli("--db", db, "status", "--json")
    assert status["faces"] == 102 and status["embedders"][0]["embedder"] == "sface"
    again = run_cli("--db", db, "scan", str(samples), "--json")
    assert (again["unchanged"], again["faces"]) == (102, 0)


def test_multi_face_photos_and_video(shared_data, tmp_path):
    db = str(tmp_path / "fr.db")
    root = shared_data / "face_recognition_examples" / "images"
    s = run_cli("--db", db, "scan", str(root), "--jobs", "2", "--video-every", "2", "--json")
    assert not s["errors"]
    photos = run_cli("--db", db, "photos", "--json")
    faces_of = {Path(p["path"]).name: p["faces"] for p in photos if p["frame_index"] < 0}
    assert faces_of["two_people.jpg"] == 2
    assert faces_of["kit_with_rose.jpg"] == 2
    assert faces_of["obama-1080p.jpg"] == 1 and faces_of["obama_small.jpg"] == 1
    frames = [p for p in photos if p["path"].endswith(".mp4")]
    assert len(frames) >= 4 and all(p["frame_index"] >= 0 for p in frames)
    table = run_cli("--db", db, "faces", "--json")
    assert len(table) == s["faces"] and {"face_id", "path", "x1", "person_id"} <= set(table[0])


def test_lfw_subset_finds_the_labelled_faces(lfw_reference):
    with sqlite3.connect(lfw_reference) as db:
        with_face = db.execute(
            "SELECT COUNT(*) FROM photos p WHERE EXISTS "
            "(SELECT 1 FROM faces f WHERE f.photo_id = p.id)"
        ).fetchone()[0]
    assert with_face >= 297  # YuNet misses at most 1 % of LFW's (frontal, centred) faces


def _face_set(db_path: Path) -> list[tuple]:
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return db.execute(
            "SELECT p.path, f.face_index, ROUND(f.x1), ROUND(f.y1), e.embedder FROM faces f "
            "JOIN photos p ON p.id = f.photo_id JOIN embeddings e ON e.face_id = f.id "
            "ORDER BY 1, 2"
        ).fetchall()


def test_kill_at_any_moment_then_resume(lfw_subset, lfw_reference, tmp_path):
    db = tmp_path / "killed.db"
    cmd = [
        sys.executable,
        "-m",
        "faceatlas",
        "--db",
        str(db),
        "scan",
        str(lfw_subset),
        "--jobs",
        "2",
    ]
    for delay in (1.5, 3.0, 4.5):  # before the first commit, mid-scan, later
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)  # the workers die too
        proc.wait()
    done = subprocess.run(cmd + ["--json"], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["errors"] == []
    resumed, reference = _face_set(db), _face_set(lfw_reference)
    assert len(resumed) == len(set(resumed)), "duplicate faces after resume"
    assert resumed == reference, "faces lost or added by the interruption"


def test_photos_errors_lists_bad_files(tmp_path, samples):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "text.png").write_text("not an image")
    os.symlink(samples / "orl" / "s1" / "1.pgm", folder / "ok.pgm")
    db = str(tmp_path / "m.db")
    s = run_cli("--db", db, "scan", str(folder), "--jobs", "1", "--json")
    assert (s["faces"], len(s["errors"])) == (1, 2)
    errors = run_cli("--db", db, "photos", "--errors", "--json")
    assert sorted(Path(e["path"]).name for e in errors) == ["text.png", "zero.jpg"]
    result = CliRunner().invoke(main, ["--db", db, "photos", "--errors"])
    assert "zero.jpg: empty file" in result.output


def test_errors_are_one_line_without_traceback(tmp_path):
    # scan creates catalogs (read-only commands refuse a missing one instead)
    result = CliRunner().invoke(
        main, ["--db", str(tmp_path / "no" / "x.db"), "scan", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot create catalog")
