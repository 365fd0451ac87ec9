"""People by name (issue 12): one normal form, find_person, naming rules, enrolment joins."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from faceatlas import people as P
from faceatlas.catalog import Catalog, FaceRecord, PhotoRecord
from faceatlas.cli import main
from faceatlas.exceptions import InputError, NotFoundError

DIM = 64


def _record(v: np.ndarray) -> FaceRecord:
    return FaceRecord(
        box=np.array([0, 0, 40, 40], np.float32),
        landmarks=np.zeros((5, 2), np.float32),
        det_score=0.9,
        quality=0.9,
        sharpness=1.0,
        chip_jpeg=None,
        embedding=v.astype(np.float32),
    )


def _world(path: str | Path = ":memory:", n_people: int = 3, n_photos: int = 8) -> Catalog:
    """``n_people`` synthetic people (cosine ~0.97 within, ~0 between), one face a photo."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(n_people, DIM))
    cat = Catalog(path)
    for i in range(n_people * n_photos):
        v = centres[i % n_people] + 0.15 * rng.normal(size=DIM)
        p = f"/photos/{i}.jpg"
        cat.replace_file(
            p,
            None,
            None,
            None,
            "fake",
            [PhotoRecord(path=p, faces=[_record(v / np.linalg.norm(v))])],
            "fake",
            "1",
        )
    P.cluster_people(cat, "fake", threshold=0.5)
    return cat


def _people(cat: Catalog) -> list[int]:
    return sorted(p["id"] for p in cat.persons())


def test_normalize_name_folds_case_underscores_and_spaces():
    assert P.normalize_name("Tony_Blair") == P.normalize_name("  tony   BLAIR ") == "tony blair"
    assert P.normalize_name("__") == ""
    assert P.display_name(" Tony__Blair ") == "Tony Blair"


def test_find_person_by_id_or_name():
    cat = _world()
    a, b, _ = _people(cat)
    P.name_person(cat, a, "Tony Blair")
    assert P.find_person(cat, a) == a
    assert P.find_person(cat, str(b)) == b
    for text in ("Tony Blair", "tony_blair", " TONY  blair "):
        assert P.find_person(cat, text) == a
    with pytest.raises(NotFoundError, match="'Nobody'"):
        P.find_person(cat, "Nobody")
    with pytest.raises(NotFoundError, match="999"):
        P.find_person(cat, 999)
    with pytest.raises(InputError, match="empty"):
        P.find_person(cat, "  ")


def test_an_ambiguous_name_lists_the_candidates():
    cat = _world()
    a, b, _ = _people(cat)
    # two people of one name: only an older catalog (or a direct write) has them now
    with cat.correction("name", {}) as c:
        c.update_person(a, name="Ann")
        c.update_person(b, name="ann")
    with pytest.raises(InputError, match=rf"ambiguous: {a} \(Ann, \d+ faces\), {b} \(ann"):
        P.find_person(cat, "ANN")


def test_a_taken_name_is_refused_with_the_hint_or_merged_on_request():
    cat = _world()
    a, b, _ = _people(cat)
    P.name_person(cat, a, "Tony Blair")
    n_a, n_b = cat.person(a)["n_faces"], cat.person(b)["n_faces"]
    with pytest.raises(InputError, match=rf"already person {a}'s.*faceatlas merge {a} {b}"):
        P.name_person(cat, b, "tony_blair")
    assert cat.person(b)["name"] is None
    out = P.name_person(cat, b, "tony_blair", merge=True)
    assert out["id"] == a and out["n_faces"] == n_a + n_b and out["name"] == "Tony Blair"
    assert cat.faces_of_person(b) == []
    # renaming a person to its own name (another spelling) is no clash
    assert P.name_person(cat, a, "TONY BLAIR")["name"] == "TONY BLAIR"


def test_an_empty_person_gives_up_its_name():
    cat = _world()
    a, b, _ = _people(cat)
    P.name_person(cat, a, "Ann")
    P.merge_people(cat, b, a)  # a is now empty; its name went to b
    assert cat.person(b)["name"] == "Ann"
    P.undo(cat)
    for f in cat.faces_of_person(a):
        P.move_face(cat, f, b)
    assert cat.person(a)["n_faces"] == 0 and cat.person(a)["name"] == "Ann"
    P.name_person(cat, b, "Ann")
    assert cat.person(a)["name"] is None and cat.person(b)["name"] == "Ann"
    P.undo(cat)
    assert cat.person(a)["name"] == "Ann" and cat.person(b)["name"] is None


def test_naming_confirms_so_no_recluster_empties_a_named_person():
    cat = _world()
    a, b, _ = _people(cat)
    faces_a = cat.faces_of_person(a)
    P.name_person(cat, a, "Hugo Chavez")
    assert cat.person(a)["n_confirmed"] == len(faces_a)
    for kw in ({"all": True}, {"all": True, "threshold": 0.99}, {"k": 8}, {"k": 1}):
        P.cluster_people(cat, "fake", **kw)
        # its confirmed faces stay (k=1 may add the others to it: that is what k=1 says)
        assert set(faces_a) <= set(cat.faces_of_person(a)), kw
        assert cat.person(a)["name"] == "Hugo Chavez"


def test_a_face_moved_to_a_new_person_does_not_take_its_old_group_along():
    """The issue's first sequence, on an unnamed and on a named person."""
    for named in (False, True):
        cat = _world()
        a = _people(cat)[0]
        faces_a = cat.faces_of_person(a)
        if named:
            P.name_person(cat, a, "Hugo Chavez")
        moved = faces_a[0]
        new = P.move_face(cat, moved, None)["person"]
        P.cluster_people(cat, "fake", all=True, threshold=0.5)
        assert cat.faces_of_person(new) == [moved], named
        assert cat.faces_of_person(a) == faces_a[1:], named


def test_a_face_moved_between_named_people_moves_alone_and_undo_repairs():
    """The issue's second sequence: name two people, move one face of the second into the
    first, cluster --all; then undo and cluster --all again."""
    cat = _world()
    a, b, _ = _people(cat)
    P.name_person(cat, a, "Ann")
    P.name_person(cat, b, "Bob")
    fa, fb = cat.faces_of_person(a), cat.faces_of_person(b)
    P.move_face(cat, fb[0], a)
    P.cluster_people(cat, "fake", all=True, threshold=0.5)
    assert cat.faces_of_person(a) == sorted([*fa, fb[0]])
    assert cat.faces_of_person(b) == fb[1:]
    assert (cat.person(a)["name"], cat.person(b)["name"]) == ("Ann", "Bob")
    P.undo(cat)
    P.cluster_people(cat, "fake", all=True, threshold=0.5)
    assert (cat.faces_of_person(a), cat.faces_of_person(b)) == (fa, fb)


def test_the_cli_takes_names(tmp_path: Path):
    db = str(tmp_path / "c.db")
    _world(db).close()
    with Catalog(db) as cat:
        a, b, c = _people(cat)
    run = CliRunner()

    def ok(*args: str) -> dict:
        res = run.invoke(main, ["--db", db, *args, "--json"])
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)

    assert ok("name", str(a), "Tony_Blair")["name"] == "Tony_Blair"
    assert ok("name", str(b), "Gordon Brown")["name"] == "Gordon Brown"
    assert ok("person", "tony blair")["id"] == a
    res = run.invoke(main, ["--db", db, "name", str(c), "TONY BLAIR"])
    assert res.exit_code != 0 and "merge" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    merged = ok("merge", "Tony Blair", "gordon_brown")
    assert merged["id"] == a and merged["merged"] == b
    assert ok("hide", "tony_blair")["hidden"] is True
    face = ok("person", str(c))["faces"][0]["face_id"]
    assert ok("move", str(face), "Tony Blair")["person"] == a
    assert ok("reject", str(face), "tony blair")["person"] == a
    res = run.invoke(main, ["--db", db, "merge", "Nobody", str(c)])
    assert res.exit_code != 0 and "'Nobody'" in res.output


@pytest.mark.slow
def test_enroll_joins_by_name_without_duplicates(shared_data: Path, tmp_path: Path):
    """known/Tony_Blair/ joins "Tony Blair"; a photo of the library is not added twice;
    enrolling again changes nothing; its faces are shown as references."""
    lfw = shared_data / "lfw" / "images"
    lib = tmp_path / "photos"
    lib.mkdir()
    blair = sorted((lfw / "Tony_Blair").glob("*.jpg"))[:6]
    for f in blair[:4]:
        shutil.copy2(f, lib / f.name)
    db = str(tmp_path / "c.db")
    run = CliRunner()
    assert run.invoke(main, ["--db", db, "scan", str(lib), "--jobs", "1"]).exit_code == 0
    assert run.invoke(main, ["--db", db, "cluster"]).exit_code == 0
    with Catalog(db) as cat:
        pid = max(cat.persons(), key=lambda p: p["n_faces"])["id"]
        P.name_person(cat, pid, "Tony Blair")
        n_photos = cat.counts()["photos"]
    known = tmp_path / "known" / "Tony_Blair"
    known.mkdir(parents=True)
    shutil.copy2(blair[0], known / "same_as_library.jpg")  # content already catalogued
    shutil.copy2(blair[5], known / "new.jpg")
    res = run.invoke(main, ["--db", db, "enroll", str(tmp_path / "known"), "--jobs", "1"])
    assert res.exit_code == 0, res.output
    with Catalog(db) as cat:
        assert [p["name"] for p in cat.persons() if p["name"]] == ["Tony Blair"]
        assert cat.counts()["photos"] == n_photos + 1  # only new.jpg was scanned
        refs = cat.reference_faces()
        assert len(refs) == 2 and all(cat.assignments()[f]["person_id"] == pid for f in refs)
        before = (cat.assignments(), cat.persons(with_empty=True), len(cat.corrections(100)))
    res = run.invoke(main, ["--db", db, "enroll", str(tmp_path / "known"), "--jobs", "1"])
    assert res.exit_code == 0, res.output
    with Catalog(db) as cat:
        assert (cat.assignments(), cat.persons(with_empty=True), len(cat.corrections(100))) == (
            before
        )
    shown = run.invoke(main, ["--db", db, "person", "tony_blair"]).output
    assert shown.count("[reference]") == 2


# -- one photo, one person twice ----------------------------------------------------------
def _sheet(paths: list[Path], out: Path, mirror: bool = False) -> Path:
    """A contact sheet: the photos' faces side by side in one image (the last mirrored)."""
    from PIL import Image, ImageOps

    # the middle of an LFW photo: its own face, without the bystanders at the edges
    ims = [Image.open(p).convert("RGB").crop((45, 45, 205, 205)) for p in paths]
    if mirror:
        ims[-1] = ImageOps.mirror(ims[-1])
    sheet = Image.new("RGB", (sum(i.width for i in ims), max(i.height for i in ims)))
    x = 0
    for im in ims:
        sheet.paste(im, (x, 0))
        x += im.width
    sheet.save(out, quality=95)
    return out


@pytest.mark.slow
def test_a_contact_sheet_gives_one_person_per_individual(shared_data: Path, tmp_path: Path):
    lfw = shared_data / "lfw" / "images"
    a = sorted((lfw / "Colin_Powell").glob("*.jpg"))[:2]
    b = sorted((lfw / "Tony_Blair").glob("*.jpg"))[:2]
    lib = tmp_path / "album"
    lib.mkdir()
    # one scanned album page: A, A mirrored, B, B (two shots each)
    _sheet([a[0], a[0], b[0], b[0]], lib / "page.jpg", mirror=True)
    db = str(tmp_path / "c.db")
    run = CliRunner()
    assert run.invoke(main, ["--db", db, "scan", str(lib), "--jobs", "1"]).exit_code == 0
    res = run.invoke(main, ["--db", db, "cluster", "--json"])
    s = json.loads(res.stdout)
    with Catalog(db) as cat:
        assert cat.counts()["faces"] == 4
        groups = sorted(len(cat.faces_of_person(p["id"])) for p in cat.persons())
    # the page shows two people twice each: two people, not none
    assert groups == [2, 2], s
    assert s["n_repeat_photos"] == 1 and s["n_photo_pairs_relaxed"] >= 2
    assert s["n_photo_pairs_apart"] >= 4  # A and B faces of the page stay apart
    assert "kept apart" in run.invoke(main, ["--db", db, "cluster", "--all"]).output


@pytest.mark.slow
def test_a_run_with_no_people_says_why(shared_data: Path, tmp_path: Path):
    lfw = shared_data / "lfw" / "images"
    faces = [sorted((lfw / n).glob("*.jpg"))[0] for n in ("Colin_Powell", "Tony_Blair")]
    lib = tmp_path / "group"
    lib.mkdir()
    _sheet(faces, lib / "group.jpg")  # two different people in one photo
    db = str(tmp_path / "c.db")
    run = CliRunner()
    assert run.invoke(main, ["--db", db, "scan", str(lib), "--jobs", "1"]).exit_code == 0
    out = run.invoke(main, ["--db", db, "cluster"]).output
    assert "no people: all 2 faces are in one photo" in out
    with Catalog(db) as cat:
        f0, f1 = (f["id"] for f in cat.faces())
    # a move that puts the two together is the user's word: never refused
    assert run.invoke(main, ["--db", db, "move", str(f0), "new"]).exit_code == 0
    with Catalog(db) as cat:
        pid = cat.assignments()[f0]["person_id"]
    res = run.invoke(main, ["--db", db, "move", str(f1), str(pid)])
    assert res.exit_code == 0, res.output
    with Catalog(db) as cat:
        assert cat.faces_of_person(pid) == [f0, f1]


@pytest.mark.slow
def test_who_names_a_photo_as_an_assignment_with_confidence_at_the_threshold(
    shared_data: Path, tmp_path: Path
):
    from faceatlas.known import who

    lfw = shared_data / "lfw" / "images"
    known = tmp_path / "known"
    for name in ("Colin_Powell", "Tony_Blair"):
        (known / name).mkdir(parents=True)
        for f in sorted((lfw / name).glob("*.jpg"))[:3]:
            shutil.copy2(f, known / name / f.name)
    db = str(tmp_path / "c.db")
    run = CliRunner()
    assert run.invoke(main, ["--db", db, "enroll", str(known), "--jobs", "1"]).exit_code == 0
    powell = sorted((lfw / "Colin_Powell").glob("*.jpg"))
    blair = sorted((lfw / "Tony_Blair").glob("*.jpg"))
    bush = sorted((lfw / "George_W_Bush").glob("*.jpg"))
    # Powell beside a stranger; at a threshold so low that the stranger's nearest named
    # person (Powell or Blair) "matches" too, a per-face argmax names two faces alike:
    # the assignment gives each person one face of the photo at most
    pair = _sheet([powell[5], bush[0]], tmp_path / "powell_and_bush.jpg")
    twice = _sheet([blair[5], blair[5]], tmp_path / "one_blair_twice.jpg", mirror=True)
    with Catalog(db) as cat:
        P.hide_person(cat, P.find_person(cat, "tony blair"))  # Powell is the only one
        low = who(cat, [pair], threshold=-0.3)
        P.undo(cat)
        res = who(cat, [pair, twice])
    got = [f["person_id"] for f in low["files"][0]["faces"] if f["outcome"] == "known_person"]
    assert len(low["files"][0]["faces"]) == 2 and len(got) == len(set(got)) == 1
    t = res["threshold"]
    names = [[f["name"] for f in r["faces"]] for r in res["files"]]
    assert sorted(n or "" for n in names[0]) == ["", "Colin Powell"], names
    assert names[1] == ["Tony Blair", "Tony Blair"], names  # one man shown twice: one name
    faces = [f for r in res["files"] for f in r["faces"]]
    for f in faces:
        assert f["threshold"] == t
        if f["outcome"] == "known_person":
            assert f["similarity"] >= t and f["confidence"] >= 0.5
    known_faces = sorted(
        (f for f in faces if f["outcome"] == "known_person"), key=lambda f: f["similarity"]
    )
    conf = [f["confidence"] for f in known_faces]
    assert conf == sorted(conf)  # rises with similarity
    from faceatlas.recognize import confidence_of

    assert abs(float(confidence_of(np.float32(t), t)) - 0.5) < 1e-6
