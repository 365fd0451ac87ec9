"""End to end through the CLI: enroll, who (table, JSON, face_recognition's CSV), calibrate,
similar; and the catalog's search index (approximate recall against exact search)."""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from faceatlas.catalog import Catalog
from faceatlas.cli import main

KNN = Path("face_recognition_examples") / "images" / "examples" / "knn_examples"

# What face_recognition's knn example says is in each test photo (folder names become
# names with spaces for underscores, issue 12).
EXPECTED = {
    "alex_lacamoire1.jpg": ["alex lacamoire"],
    "johnsnow_test1.jpg": ["kit harington"],
    "kit_with_rose.jpg": ["kit harington", "rose leslie"],
    "obama1.jpg": ["obama"],
    "obama_and_biden.jpg": ["biden", "obama"],
}


@pytest.fixture(scope="module")
def knn_db(shared_data, tmp_path_factory):
    db = str(tmp_path_factory.mktemp("knn") / "knn.db")
    res = CliRunner().invoke(
        main, ["--db", db, "enroll", str(shared_data / KNN / "train"), "--jobs", "1", "--json"]
    )
    assert res.exit_code == 0, res.output
    return db


def _run(*args: str) -> str:
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code == 0, res.output
    return res.stdout


def test_enroll_makes_named_confirmed_people(knn_db, shared_data):
    with Catalog(knn_db) as cat:
        people = {p["name"]: p for p in cat.persons()}
        assert set(people) == {"alex lacamoire", "biden", "kit harington", "obama", "rose leslie"}
        assert {n: p["n_confirmed"] for n, p in people.items()} == {
            "alex lacamoire": 1,
            "biden": 2,
            "kit harington": 2,
            "obama": 2,
            "rose leslie": 2,
        }
        sources = {a["source"] for a in cat.assignments().values()}
        assert sources == {"enroll"}
    # Enrolling again adds nothing.
    again = json.loads(
        _run("--db", knn_db, "enroll", str(shared_data / KNN / "train"), "--jobs", "1", "--json")
    )
    assert sum(p["new_faces"] for p in again["people"]) == 0


def _face_recognition_print_result():
    """face_recognition's own ``print_result``, taken from its installed CLI source.

    The package cannot be imported here (it needs pkg_resources at import), so the one
    function is compiled from the file.
    """
    spec = importlib.util.find_spec("face_recognition")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("face_recognition is not installed")
    src = Path(spec.submodule_search_locations[0]) / "face_recognition_cli.py"
    tree = ast.parse(src.read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "print_result")
    scope: dict = {}
    exec(compile(ast.Module([fn], type_ignores=[]), str(src), "exec"), scope)
    return scope["print_result"]


def test_who_csv_is_face_recognition_format(knn_db, shared_data, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (64, 48), (200, 200, 200)).save(blank)
    files = [str(shared_data / KNN / "test" / n) for n in sorted(EXPECTED)] + [str(blank)]
    out = _run("--db", knn_db, "who", "--csv", *files)
    lines = out.splitlines()
    found: dict[str, list[str]] = {}
    for line in lines:
        file, name, distance = line.rsplit(",", 2)
        assert file in files
        found.setdefault(Path(file).name, []).append(name)
        if name in ("unknown_person", "no_persons_found"):
            assert distance == "None"
        else:
            assert 0 <= float(distance) < 1 - 0.363
    for photo, names in EXPECTED.items():
        # obama_and_biden.jpg has a third, small face in the background: a stranger.
        assert sorted(n for n in found[photo] if n != "unknown_person") == names, photo
    assert found["blank.png"] == ["no_persons_found"]

    # Byte for byte what face_recognition prints for the same (file, name, distance).
    print_result = _face_recognition_print_result()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        for line in lines:
            file, name, distance = line.rsplit(",", 2)
            print_result(file, name, None if distance == "None" else float(distance), True)
    assert buf.getvalue() == out


def test_who_table_and_json(knn_db, shared_data):
    photo = str(shared_data / KNN / "test" / "kit_with_rose.jpg")
    table = _run("--db", knn_db, "who", photo)
    assert "threshold 0.3630 (SFace's published" in table
    assert "kit harington  distance" in table and "runner-up rose leslie" in table
    data = json.loads(_run("--db", knn_db, "who", "--json", photo))
    assert data["threshold_source"].startswith("SFace's published")
    faces = data["files"][0]["faces"]
    assert {f["outcome"] for f in faces} == {"known_person"}
    for f in faces:
        assert len(f["box"]) == 4 and 0 < f["confidence"] <= 1
        assert f["distance"] == pytest.approx(1 - f["similarity"])
    # A catalogued photo is the same image.
    enrolled = str(shared_data / KNN / "train" / "biden" / "biden.jpg")
    data = json.loads(_run("--db", knn_db, "who", "--json", enrolled))
    face = data["files"][0]["faces"][0]
    assert face["outcome"] == "same_image" and face["name"] == "biden"


def test_calibrate_cli_refuses_too_few_pairs_then_forces(knn_db, tmp_path):
    plot = tmp_path / "roc.png"
    res = CliRunner().invoke(main, ["--db", knn_db, "calibrate", "--plot", str(plot)])
    assert res.exit_code == 0, res.output
    assert "not stored" in res.stdout and "warning: only" in res.stderr
    assert plot.stat().st_size > 1000
    data = json.loads(
        _run("--db", knn_db, "calibrate", "--target-fmr", "0.1", "--json", "--dry-run")
    )
    assert data["n_same"] == 4 and data["n_different"] == 32 and data["stored"] is False


def test_calibrate_from_pairs_csv(knn_db, shared_data, tmp_path):
    train = shared_data / KNN / "train"
    pairs = tmp_path / "pairs.csv"
    rows = [
        "path_a,path_b,same",
        "obama/obama.jpg,obama/obama2.jpg,1",
        "biden/biden.jpg,biden/biden2.jpg,1",
        "obama/obama.jpg,biden/biden.jpg,0",
        "kit_harington/john1.jpeg,rose_leslie/img1.jpg,0",
    ]
    pairs.write_text("\n".join(rows) + "\n")
    data = json.loads(
        _run(
            "--db",
            knn_db,
            "calibrate",
            "--pairs",
            str(pairs),
            "--root",
            str(train),
            "--target-fmr",
            "0.4",
            "--json",
            "--dry-run",
        )
    )
    assert (data["n_same"], data["n_different"]) == (2, 2)
    assert data["tmr"] == 1.0 and "pairs.csv" in data["source"]


def test_calibrate_says_which_pairs_it_left_out_and_why(knn_db, shared_data, tmp_path):
    from PIL import Image

    train = shared_data / KNN / "train"
    blank = tmp_path / "blank.jpg"
    Image.new("RGB", (120, 120), (128, 128, 128)).save(blank)
    pairs = tmp_path / "pairs.csv"
    rows = [
        "path_a,path_b,same",
        "obama/obama.jpg,obama/obama2.jpg,1",
        "biden/biden.jpg,biden/biden2.jpg,1",
        "obama/obama.jpg,biden/nobody.jpg,0",  # line 4: no such file
        f"{blank},biden/biden.jpg,0",  # line 5: no face
        "obama/obama.jpg,biden/biden.jpg,0",
        "kit_harington/john1.jpeg,rose_leslie/img1.jpg,0",
    ]
    pairs.write_text("\n".join(rows) + "\n")
    args = ["--db", knn_db, "calibrate", "--pairs", str(pairs), "--root", str(train)]
    args += ["--target-fmr", "0.4", "--dry-run"]
    data = json.loads(_run(*args, "--json"))
    assert (data["n_same"], data["n_different"]) == (2, 2)
    info = data["pairs"]
    assert (info["in_file"], info["used"], info["dropped"]) == (6, 4, 2)
    (line4, why4), (line5, why5) = ((d["line"], d["reason"]) for d in info["dropped_pairs"])
    assert line4 == 4 and "nobody.jpg" in why4
    assert line5 == 5 and why5 == f"no face found in {blank}"
    text = _run(*args)
    assert "left out 2 of 6 pairs" in text
    assert "  line 4: " in text and f"  line 5: no face found in {blank}" in text

    from faceatlas.cli._known import _dropped_lines

    many = _dropped_lines([(n, "no face found in x.jpg") for n in range(2, 12)], 40)
    assert many.count("  line ") == 5 and "... and 5 more (--json lists all)" in many


def test_similar_face_person_and_photo(knn_db, shared_data):
    with Catalog(knn_db) as cat:
        obama = next(p for p in cat.persons() if p["name"] == "obama")
        face = cat.faces_of_person(obama["id"])[0]
    data = json.loads(_run("--db", knn_db, "similar", str(face), "-k", "3", "--json"))
    res = data["queries"][0]["results"]
    assert len(res) == 3 and face not in [r["face_id"] for r in res]
    assert res[0]["name"] == "obama"
    assert [r["similarity"] for r in res] == sorted((r["similarity"] for r in res), reverse=True)
    data = json.loads(_run("--db", knn_db, "similar", "obama", "--json"))
    assert all(r["name"] != "obama" for r in data["queries"][0]["results"])
    data = json.loads(
        _run(
            "--db", knn_db, "similar", f"person:{obama['id']}", "--min-similarity", "0.99", "--json"
        )
    )
    assert data["queries"][0]["results"] == []
    photo = str(shared_data / KNN / "test" / "obama1.jpg")
    text = _run("--db", knn_db, "similar", photo, "-k", "2")
    assert re.search(r"exact search over 9 faces", text) and "(obama)" in text
    # one threshold: similar names the bar cluster and who use, and marks faces above it
    data = json.loads(_run("--db", knn_db, "similar", photo, "-k", "2", "--json"))
    assert "same-person threshold" in text and data["threshold_source"]
    top = data["queries"][0]["results"][0]
    assert top["name"] == "obama" and top["same_person"] is True
    assert re.search(r"\d\.\d{3}\* face", text)
    res = CliRunner().invoke(main, ["--db", knn_db, "similar", "nobody-by-this-name"])
    assert res.exit_code == 1 and "nothing matches" in res.stderr


def test_people_named_after_clustering_count_as_enrolled(knn_db, shared_data):
    photo = (
        shared_data / "face_recognition_examples" / "images" / "examples" / "lin-manuel-miranda.png"
    )
    _run("--db", knn_db, "scan", str(photo), "--jobs", "1")
    with Catalog(knn_db) as cat:
        face = next(f["id"] for f in cat.faces() if f["path"] == str(photo))
        run = cat.start_run("cluster", {})
        (pid,) = cat.apply_clustering(run, {}, [[face]])
        assert (
            json.loads(_run("--db", knn_db, "who", "--json", str(photo)))["files"][0]["faces"][0][
                "name"
            ]
            is None
        )  # unnamed: not recognisable
        with cat.correction("name", {}) as c:
            c.update_person(pid, name="lin")
    face_out = json.loads(_run("--db", knn_db, "who", "--json", str(photo)))["files"][0]["faces"][0]
    assert face_out["outcome"] == "same_image" and face_out["name"] == "lin"


# --------------------------------------------------------------------------- the index
def _synthetic_catalog(path: str, n_people: int, per: int, seed: int = 0) -> Catalog:
    """A catalog of identity-clustered 128-d vectors (no images), one face per photo."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_people, 128))
    X = np.repeat(centres, per, axis=0) + 0.8 * rng.normal(size=(n_people * per, 128))
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    cat = Catalog(path)
    _add_faces(cat, X, start=0)
    return cat


def _add_faces(cat: Catalog, X: np.ndarray, start: int) -> None:
    lm = np.zeros((5, 2), np.float32)
    with cat.transaction() as db:
        for i, x in enumerate(X, start):
            cur = db.execute(
                "INSERT INTO photos (path, status, scanned_at) VALUES (?, 'done', 'now')",
                (f"/synthetic/{i}.jpg",),
            )
            fcur = db.execute(
                "INSERT INTO faces (photo_id, face_index, x1, y1, x2, y2, landmarks, det_score, "
                "quality, sharpness) VALUES (?, 0, 0, 0, 10, 10, ?, 1, 1, 1)",
                (cur.lastrowid, lm.tobytes()),
            )
            db.execute(
                "INSERT INTO embeddings (face_id, embedder, version, dim, vector) "
                "VALUES (?, 'sface', '2021dec-int8bq', 128, ?)",
                (fcur.lastrowid, x.tobytes()),
            )


@pytest.mark.slow  # ~10 s: builds and updates an index over a large catalog
def test_catalog_index_recall_against_exact_and_updates(tmp_path):
    from faceatlas import get_embedder
    from faceatlas.known import catalog_index
    from faceatlas.search import recall_at_k

    sface = get_embedder("sface")
    cat = _synthetic_catalog(str(tmp_path / "syn.db"), 150, 10)
    ids, X = cat.embeddings("sface")
    exact, _, info = catalog_index(cat, sface, kind="exact")
    assert info.kind == "exact"
    Q = X[::37]
    _, I_exact = exact.search(Q, 10)
    logs: list[str] = []
    for kind in ("ivf", "hnsw", "pca-kmeans"):
        index, _, info = catalog_index(cat, sface, kind=kind, log=logs.append)
        assert info.built and info.kind == kind and Path(info.path).exists()
        _, I_approx = index.search(Q, 10)
        measured = recall_at_k(I_approx, I_exact, 10)
        if kind == "pca-kmeans":
            # The design documents' coarse index is kept to show its recall, whatever it is.
            assert 0 < info.recall_at_10 <= 1
        else:
            assert info.recall_at_10 >= 0.98 and measured >= 0.95, (kind, measured)
    assert all("recall@10" in m for m in logs)
    # "auto" with a small exact_max switches to the approximate index.
    _, _, info = catalog_index(cat, sface, kind="auto", exact_max=1000)
    assert info.kind != "exact"

    # Reopened: loaded, not rebuilt; new faces are added; big drift rebuilds.
    _, _, info = catalog_index(cat, sface, kind="hnsw")
    assert not info.built and info.updated == 0
    rng = np.random.default_rng(9)
    new = rng.normal(size=(30, 128)).astype(np.float32)
    _add_faces(cat, new / np.linalg.norm(new, axis=1, keepdims=True), start=10_000)
    index, _, info = catalog_index(cat, sface, kind="hnsw")
    assert not info.built and info.updated == 30
    newest = cat.embeddings("sface")[0].max()
    _, I_new = index.search(cat.embeddings("sface", [int(newest)])[1], 1)
    assert I_new[0, 0] == newest
    more = rng.normal(size=(500, 128)).astype(np.float32)
    _add_faces(cat, more / np.linalg.norm(more, axis=1, keepdims=True), start=20_000)
    _, _, info = catalog_index(cat, sface, kind="hnsw")
    assert info.built and "rebuilt" in info.reason
    cat.close()
