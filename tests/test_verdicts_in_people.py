"""Faces the scan judged not usable never found a person and are never enrolled references."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceatlas.catalog import Catalog
from faceatlas.cli import main

pytestmark = pytest.mark.slow


def _run(*args: object) -> str:
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.output


def _photos(shared_data: Path, dest: Path, n: int = 4) -> Path:
    for person in ("George_W_Bush", "Colin_Powell"):
        folder = dest / person
        folder.mkdir(parents=True)
        for src in sorted((shared_data / "lfw" / "images" / person).glob("*.jpg"))[:n]:
            shutil.copy(src, folder / src.name)
    return dest


def test_unusable_faces_found_no_person(shared_data: Path, tmp_path: Path) -> None:
    photos = _photos(shared_data, tmp_path / "photos")
    good, bad = tmp_path / "good.db", tmp_path / "bad.db"
    _run("--db", good, "scan", photos, "--jobs", "1")
    # the same photos, every face under a face-size bar no face reaches: all unusable
    _run("--db", bad, "scan", photos, "--jobs", "1", "--min-face-size", "10000")
    with Catalog(bad) as cat:
        assert cat.unusable_faces() and all(f["reason"] for f in cat.unusable_faces())
    _run("--db", good, "cluster")
    _run("--db", bad, "cluster")
    with Catalog(good) as cat:
        assert len(cat.persons()) >= 2
    with Catalog(bad) as cat:
        assert cat.face_people() == {}


def test_unusable_faces_are_not_enrolled(shared_data: Path, tmp_path: Path) -> None:
    from faceatlas.config import ScanConfig
    from faceatlas.known import enroll

    known = _photos(shared_data, tmp_path / "known", n=2)
    with Catalog(tmp_path / "k.db") as cat:
        summary = enroll(cat, known, ScanConfig(jobs=1, min_face_size=10000))
        assert sum("not usable" in w for w in summary.warnings) == 4
        assert cat.face_people() == {}
