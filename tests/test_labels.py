"""Label readers (folders, CSV, Excel with row filters), path matching, labels in the catalog."""

from __future__ import annotations

import numpy as np
import pytest

from faceatlas.catalog import Catalog, FaceRecord, PhotoRecord
from faceatlas.exceptions import InputError
from faceatlas.labels import (
    import_labels,
    match_paths,
    parse_filter,
    read_label_folders,
    read_label_table,
)


def _xlsx(path, rows, sheet="Annotations"):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Cover"
    ws.append(["not the labels"])
    ws = wb.create_sheet(sheet)
    ws.append([])  # a blank row above the header, as hand-made sheets often have
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


# The layout of the design document's annotation file: No, File Name, ID, Mask.
SHEET = [
    ["No", "File Name", "ID", "Mask"],
    [1, "img_001.jpg", 3, "N"],
    [2, "img_002.jpg", 3, "Y"],  # masked: dropped
    [3, "img_003.jpg", 0, "N"],  # ID 0 = unknown person: dropped
    [4, "img_004.jpg", 7, "n"],  # case of the filter value does not matter
    [5, "img_005.jpg", 7.0, None],  # a float cell reads as 7; no Mask value
    [6, None, 9, "N"],  # no file name: blank
    [None, None, None, None],  # empty row: not counted
]


def test_excel_reader_with_filters(tmp_path):
    path = _xlsx(tmp_path / "annotations.xlsx", SHEET)
    rows = read_label_table(
        path,
        path_column="File Name",
        identity_column="ID",
        sheet="Annotations",
        drop=["Mask=Y", "ID=0"],
    )
    assert rows.rows == [("img_001.jpg", "3"), ("img_004.jpg", "7"), ("img_005.jpg", "7")]
    assert (rows.n_rows, rows.n_dropped, rows.n_blank) == (6, 2, 1)
    assert rows.base == str(tmp_path)
    assert "Mask=Y" in rows.source and "Annotations" in rows.source


def test_excel_default_columns_and_negated_filter(tmp_path):
    path = _xlsx(tmp_path / "a.xlsx", SHEET)
    # 'File Name' and 'ID' are found without being named; Mask!=N keeps only unmasked rows
    rows = read_label_table(path, sheet="Annotations", drop=["Mask!=N"])
    assert [r[0] for r in rows.rows] == ["img_001.jpg", "img_003.jpg", "img_004.jpg"]


def test_excel_errors_name_the_fix(tmp_path):
    path = _xlsx(tmp_path / "a.xlsx", SHEET)
    with pytest.raises(InputError, match=r"no sheet 'Nope'.*'Annotations'"):
        read_label_table(path, sheet="Nope")
    with pytest.raises(InputError, match=r"no column 'Person'.*'File Name'"):
        read_label_table(path, sheet="Annotations", identity_column="Person")
    with pytest.raises(InputError, match="no column 'Glasses'"):
        read_label_table(path, sheet="Annotations", drop=["Glasses=Y"])
    with pytest.raises(InputError, match="cannot tell which column"):
        read_label_table(path)  # the first sheet has no recognisable columns


@pytest.mark.parametrize(
    "text, column, value, negate",
    [
        ("Mask=Y", "Mask", "Y", False),
        (" ID = 0 ", "ID", "0", False),
        ("Mask!=N", "Mask", "N", True),
        ("Note=a=b", "Note", "a=b", False),
    ],
)
def test_parse_filter(text, column, value, negate):
    f = parse_filter(text)
    assert (f.column, f.value, f.negate) == (column, value, negate)


@pytest.mark.parametrize("bad", ["Mask", "=Y", ""])
def test_parse_filter_rejects(bad):
    with pytest.raises(InputError, match="COLUMN=VALUE"):
        parse_filter(bad)


def test_csv_reader(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("\ufeffpath,identity,extra\nalice/1.jpg,alice,x\nbob/2.jpg,bob,y\n,carol,z\n")
    rows = read_label_table(path)
    assert rows.rows == [("alice/1.jpg", "alice"), ("bob/2.jpg", "bob")]
    assert rows.n_blank == 1
    semi = tmp_path / "semi.csv"
    semi.write_text("photo;person\na.jpg;ann\n")
    assert read_label_table(semi).rows == [("a.jpg", "ann")]
    with pytest.raises(InputError, match="only for Excel"):
        read_label_table(path, sheet="x")


def test_folder_reader(tmp_path):
    for rel in [
        "alice/1.jpg",
        "alice/2019/2.png",
        "bob/3.jpeg",
        "bob/notes.txt",
        "loose.jpg",
        ".hidden/4.jpg",
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    rows = read_label_folders(tmp_path)
    assert sorted(rows.rows) == [
        ("alice/1.jpg", "alice"),
        ("alice/2019/2.png", "alice"),
        ("bob/3.jpeg", "bob"),
    ]
    assert rows.n_blank == 1  # loose.jpg has no person folder


def test_match_paths_exact_suffix_and_ambiguous():
    catalog = ["/p/2019/alice/1.jpg", "/p/2020/alice/1.jpg", "/p/bob/2.jpg", "/q/base/c.jpg"]
    matched, n = match_paths(
        [
            "2019/alice/1.jpg",
            "alice/1.jpg",
            "2.jpg",
            "bob\\2.jpg",
            "c.jpg",
            "zed.jpg",
            "/p/bob/2.jpg",
        ],
        catalog,
        base="/q/base",
    )
    assert matched == [
        "/p/2019/alice/1.jpg",
        None,
        "/p/bob/2.jpg",
        "/p/bob/2.jpg",
        "/q/base/c.jpg",
        None,
        "/p/bob/2.jpg",
    ]
    assert n == [1, 2, 1, 1, 1, 0, 1]
    # a suffix must cover whole path components: "ice/1.jpg" is not "alice/1.jpg"
    assert match_paths(["ice/1.jpg"], catalog)[0] == [None]


def _face(x: float, size: float = 20.0) -> FaceRecord:
    return FaceRecord(
        np.array([x, 0, x + size, size], np.float32),
        np.zeros((5, 2)),
        0.9,
        0.8,
        1.0,
        None,
        np.ones(4, np.float32) / 2,
    )


def _catalog_with(photos: dict[str, list[FaceRecord]]) -> Catalog:
    cat = Catalog(":memory:")
    for path, faces in photos.items():
        cat.replace_file(
            path, None, None, None, "fake", [PhotoRecord(path, faces=faces)], "fake", "1"
        )
    return cat


def test_import_and_labelled_faces(tmp_path):
    cat = _catalog_with(
        {
            "/photos/alice/1.jpg": [_face(0)],
            "/photos/alice/2.jpg": [_face(0)],
            "/photos/bob/1.jpg": [_face(0)],
            "/photos/group.jpg": [_face(0, 10), _face(50, 30)],
            "/photos/pair.jpg": [_face(0), _face(50)],
            "/photos/empty.jpg": [],
            "/photos/other.jpg": [_face(0)],
        }
    )
    csv_path = tmp_path / "l.csv"
    csv_path.write_text(
        "file,person\nalice/1.jpg,alice\n2.jpg,alice\nbob/1.jpg,bob\n"
        "group.jpg,carol\npair.jpg,alice;bob\nempty.jpg,dan\n"
        "missing.jpg,eve\n1.jpg,alice\n"
    )
    summary = import_labels(cat, read_label_table(csv_path))
    assert (summary.n_matched, summary.n_unmatched, summary.n_ambiguous_paths) == (6, 1, 1)
    assert summary.n_stored == 6 and summary.unmatched_examples == ["missing.jpg"]
    assert summary.faces == {
        "labelled": 3,
        "ambiguous": 4,
        "unlabelled": 1,
        "no_face_photos": 1,
        "labelled_photos": 6,
    }
    ids, who, counts = cat.labelled_faces()
    assert who.tolist() == ["alice", "alice", "bob"]
    # "largest": the one-person label of group.jpg goes to its bigger face; a two-person
    # label stays ambiguous
    ids2, who2, counts2 = cat.labelled_faces(multi_face="largest")
    assert sorted(who2.tolist()) == ["alice", "alice", "bob", "carol"]
    group_faces = [f for f in cat.faces() if f["path"] == "/photos/group.jpg"]
    big = max(group_faces, key=lambda f: f["x2"] - f["x1"])["id"]
    assert big in ids2 and counts2["ambiguous"] == 3
    # labels survive a rescan of the file (stored per path, not per face id)
    cat.replace_file(
        "/photos/bob/1.jpg",
        None,
        None,
        None,
        "fake",
        [PhotoRecord("/photos/bob/1.jpg", faces=[_face(5)])],
        "fake",
        "1",
    )
    assert cat.labelled_faces()[1].tolist() == ["alice", "alice", "bob"]
    # a second import with replace forgets the rest
    import_labels(cat, read_label_folders(tmp_path), replace=True)
    assert cat.labels() == {}
    with pytest.raises(InputError, match="multi_face"):
        cat.labelled_faces(multi_face="all")


def test_migration_recorded():
    with Catalog(":memory:") as cat:
        assert "0003_labels" in cat.applied_migrations()


def test_cli_label_import_xlsx(tmp_path):
    import json

    from click.testing import CliRunner

    from faceatlas.cli import main

    db = tmp_path / "c.db"
    with Catalog(db) as cat:
        for i in range(1, 6):
            path = f"/data/shots/img_{i:03d}.jpg"
            cat.replace_file(
                path, None, None, None, "fake", [PhotoRecord(path, faces=[_face(0)])], "fake", "1"
            )
    xlsx = _xlsx(tmp_path / "annotations.xlsx", SHEET)
    res = CliRunner().invoke(
        main,
        [
            "--db",
            str(db),
            "label",
            "import",
            str(xlsx),
            "--sheet",
            "Annotations",
            "--path-column",
            "File Name",
            "--identity-column",
            "ID",
            "--drop",
            "Mask=Y",
            "--drop",
            "ID=0",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["n_rows"], out["n_dropped"], out["n_blank"], out["n_matched"]) == (6, 2, 1, 3)
    assert out["faces"]["labelled"] == 3 and out["faces"]["unlabelled"] == 2
    bad = CliRunner().invoke(
        main, ["--db", str(db), "label", "import", str(xlsx), "--drop", "Mask"]
    )
    assert bad.exit_code == 1 and "COLUMN=VALUE" in bad.output
