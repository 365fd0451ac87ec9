"""Forgetting (issue 15): no byte of a forgotten face vector stays in any file faceatlas wrote.

Each test first finds the vectors' bytes in the files (so the search can fail), then forgets,
then searches the catalog, its ``-wal`` and ``-shm``, the saved search index and the report
folder again.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceatlas.catalog import Catalog

EXAMPLES = Path("face_recognition_examples/images/examples")
NAMES = ("obama.jpg", "obama2.jpg", "biden.jpg", "two_people.jpg")


def _cli(*args: str) -> object:
    from faceatlas.cli import main

    return CliRunner().invoke(main, list(args))


def _files_beside(db: Path, *extra: Path) -> list[Path]:
    """The catalog, its journal files, the saved index, and any other folders given."""
    found = [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]
    for folder in (Path(f"{db}.index"), *extra):
        if folder.is_dir():
            found += sorted(p for p in folder.rglob("*") if p.is_file())
    return found


def _holding(blobs: list[bytes], files: list[Path]) -> list[str]:
    """``file: blob #i`` for every blob found inside a file."""
    out = []
    contents = {f: f.read_bytes() for f in files}
    for i, blob in enumerate(blobs):
        out += [f"{f.name}: blob {i}" for f, data in contents.items() if blob in data]
    return out


@pytest.fixture
def catalog_with_people(shared_data: Path, tmp_path: Path) -> tuple[Path, Path, dict]:
    from faceatlas.config import ScanConfig
    from faceatlas.embed import get_embedder
    from faceatlas.known import catalog_index
    from faceatlas.people import move_face, name_person
    from faceatlas.pipeline import scan
    from faceatlas.report import write_report

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in NAMES:
        shutil.copy(shared_data / EXAMPLES / name, folder / name)
    db = tmp_path / "cat.db"
    report = tmp_path / "report"
    with Catalog(db) as cat:
        scan([str(folder)], cat, ScanConfig(jobs=1))
        faces = {Path(f["path"]).name: f["id"] for f in sorted(cat.faces(), key=lambda f: f["x1"])}
        obama = int(move_face(cat, faces["obama.jpg"], None)["person"])
        name_person(cat, obama, "Barack Obama")
        move_face(cat, faces["obama2.jpg"], obama)
        biden = int(move_face(cat, faces["biden.jpg"], None)["person"])
        name_person(cat, biden, "Joe Biden")
        # a saved approximate index: a copy of every vector on disk
        catalog_index(cat, get_embedder("sface"), kind="hnsw")
        write_report(cat, report, n_jobs=1)
        people = {}
        for pid in (obama, biden):
            ids = cat.faces_of_person(pid)
            _, X = cat.embeddings("sface", ids)
            chips = [cat.face_chip(i) for i in ids]
            people[pid] = {"faces": ids, "vectors": [x.tobytes() for x in X], "chips": chips}
    return db, report, people


@pytest.mark.slow
def test_forget_person_leaves_no_byte_behind(catalog_with_people: tuple) -> None:
    db, report, people = catalog_with_people
    obama, biden = list(people)
    gone = people[obama]["vectors"]
    kept = people[biden]["vectors"]
    files = _files_beside(db, report)
    assert any(f.parent.name.endswith(".index") for f in files), "an index was saved"
    where = _holding(gone, files)
    assert any(".index" not in w for w in where), "the vectors are in the catalog to begin with"
    assert any(w.startswith("sface-") for w in where), "and in the saved index"
    assert _holding(people[obama]["chips"], _files_beside(db, report)), "chips in the report"

    res = _cli("--db", str(db), "forget", "Barack Obama", "--yes", "--report-dir", str(report))
    assert res.exit_code == 0, res.output
    assert "forgot person" in res.output and "2 faces" in res.output

    files = _files_beside(db, report)
    assert _holding(gone, files) == []
    assert _holding(people[obama]["chips"], files) == []
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
    # the rest of the catalog stays: the other person's vectors and every photo
    assert _holding(kept, [db]) != []
    with Catalog(db) as cat:
        assert [p["name"] for p in cat.persons()] == ["Joe Biden"]
        assert cat.counts()["files"] == len(NAMES)
        assert cat.db.execute("PRAGMA secure_delete").fetchone()[0] == 1
        assert cat.integrity_check() == "ok"
        assert "Barack Obama" not in " ".join(
            r[0] for r in cat.query("SELECT payload FROM corrections")
        )
    # a search after forgetting rebuilds from what is left
    found = _cli("--db", str(db), "similar", "Joe Biden", "--json")
    assert found.exit_code == 0, found.output


@pytest.mark.slow
def test_forget_all_and_a_rescan_does_not_bring_faces_back(catalog_with_people: tuple) -> None:
    db, report, people = catalog_with_people
    every = [v for p in people.values() for v in p["vectors"]]
    with Catalog(db) as cat:
        _, X = cat.embeddings("sface")
        every += [x.tobytes() for x in X]
        folder = Path(cat.faces()[0]["path"]).parent
    assert _holding(every, _files_beside(db))

    assert _cli("--db", str(db), "forget", "--all").exit_code == 2, "asks for --yes"
    res = _cli("--db", str(db), "forget", "--all", "--yes", "--report-dir", str(report))
    assert res.exit_code == 0, res.output
    assert _holding(every, _files_beside(db, report)) == []
    assert not list((report / "chips").iterdir())
    with Catalog(db) as cat:
        assert cat.counts()["faces"] == 0 and cat.persons(with_empty=True) == []
        assert cat.counts()["files"] == len(NAMES)
    assert _cli("--db", str(db), "scan", str(folder)).exit_code == 0
    with Catalog(db) as cat:
        assert cat.counts()["faces"] == 0, "unchanged photos are not scanned again"


@pytest.mark.slow
def test_a_scan_erases_the_saved_index_when_photos_leave(catalog_with_people: tuple) -> None:
    db, _report, people = catalog_with_people
    obama = next(iter(people))
    with Catalog(db) as cat:
        paths = {f["path"] for f in cat.faces(people[obama]["faces"])}
    assert _holding(people[obama]["vectors"], _files_beside(db))
    for p in paths:
        Path(p).unlink()
    folder = Path(next(iter(paths))).parent
    res = _cli("--db", str(db), "scan", str(folder))
    assert res.exit_code == 0, res.output
    assert not Path(f"{db}.index").exists()
    index_files = [f for f in _files_beside(db) if ".index" in str(f.parent)]
    assert index_files == []


def test_forget_bad_input_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "cat.db"
    Catalog(db).close()
    res = _cli("--db", str(db), "forget", "Nobody", "--yes")
    assert res.exit_code == 1
    assert res.output.startswith("error:") and "'Nobody'" in res.output
    res = _cli("--db", str(db), "forget", "--yes")
    assert res.exit_code == 2 and "give one PERSON or --all" in res.output
    res = _cli("--db", str(db), "forget", "1", "--yes", "--report-dir", str(tmp_path))
    assert res.exit_code == 1


@pytest.mark.slow
def test_a_hidden_person_stays_out_of_similar(catalog_with_people: tuple) -> None:
    import json

    db, _report, people = catalog_with_people
    obama, biden = list(people)

    def found_people() -> set:
        res = _cli("--db", str(db), "similar", "Barack Obama", "--json", "-k", "10")
        assert res.exit_code == 0, res.output
        return {r["person_id"] for q in json.loads(res.output)["queries"] for r in q["results"]}

    assert biden in found_people()
    assert _cli("--db", str(db), "hide", str(biden)).exit_code == 0
    assert biden not in found_people()
