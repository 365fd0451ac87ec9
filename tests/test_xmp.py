"""Face regions in and out (issue 15): XMP sidecars, embedded XMP, Picasa; read back by ExifTool.

ExifTool (Debian's ``libimage-exiftool-perl``, installed by ``.ci/run``) is the independent
reader of what faceatlas writes and the writer of what faceatlas reads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from faceatlas.catalog import Catalog
from faceatlas.xmp import (
    Region,
    merge_regions,
    overlap,
    parse_regions,
    picasa_regions,
    to_displayed,
    to_stored,
)

EXAMPLES = Path("face_recognition_examples/images/examples")


def _exiftool() -> str:
    found = shutil.which("exiftool")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but exiftool is missing (apt-get install libimage-exiftool-perl)")
        pytest.skip("exiftool not installed (apt-get install libimage-exiftool-perl)")
    return found


def exiftool(*args: str) -> str:
    done = subprocess.run(
        [_exiftool(), *args], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def read_back(path: Path) -> dict:
    return json.loads(exiftool("-struct", "-j", "-G1", str(path)))[0]


# -- the stage, on hand-worked values -----------------------------------------------------------
def test_orientation_maps_hand_worked() -> None:
    box = (0.1, 0.2, 0.3, 0.5)
    # 6 = rotate 90 clockwise to display: stored (u, v) shows at (1 - v, u)
    assert to_displayed(box, 6) == pytest.approx((0.5, 0.1, 0.8, 0.3))
    assert to_displayed(box, 8) == pytest.approx((0.2, 0.7, 0.5, 0.9))
    assert to_displayed(box, 3) == pytest.approx((0.7, 0.5, 0.9, 0.8))
    assert to_displayed(box, 1) == pytest.approx(box)
    for o in range(1, 9):
        assert to_stored(to_displayed(box, o), o) == pytest.approx(box), o


def test_overlap_is_share_of_smaller_box() -> None:
    assert overlap((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert overlap((0, 0, 10, 10), (2, 2, 4, 4)) == 1.0  # held entirely
    assert overlap((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(0.5)
    assert overlap((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0


def test_picasa_rect64_and_contacts(tmp_path: Path) -> None:
    # left 0.25, top 0.5, right 0.75, bottom 1.0 as 16-bit fractions of 65535
    parts = [round(v * 65535) for v in (0.25, 0.5, 0.75, 1.0)]
    hexa = "".join(f"{p:04x}" for p in parts).lstrip("0")  # Picasa drops leading zeros
    (tmp_path / ".picasa.ini").write_text(
        f"[a.jpg]\nfaces=rect64({hexa}),c1;rect64({hexa}),ffffffffffffffff\n"
        "[b.jpg]\nfaces=rect64(0000000080008000),c2\n"
        "[Contacts2]\nc2=From Ini;;\n"
    )
    (tmp_path / "contacts.xml").write_text(
        '<contacts><contact id="c1" name="Ada Lovelace" display="Ada"/></contacts>'
    )
    found = picasa_regions(tmp_path)
    assert [r.name for r in found["a.jpg"]] == ["Ada Lovelace", None]
    assert found["a.jpg"][0].box == pytest.approx((0.25, 0.5, 0.75, 1.0), abs=1e-4)
    assert found["b.jpg"][0].name == "From Ini"
    assert found["b.jpg"][0].box == pytest.approx((0, 0, 0.5, 0.5), abs=1e-4)
    assert picasa_regions(tmp_path / "nothing") == {}


def test_attribute_serialisation_as_exiv2_writes_it() -> None:
    """digiKam (exiv2) writes struct fields as attributes of nested rdf:Description nodes."""
    text = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
      xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
     <rdf:Description rdf:about=""
      xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
      xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#"
      xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#">
      <mwg-rs:Regions rdf:parseType="Resource">
       <mwg-rs:AppliedToDimensions stDim:w="400" stDim:h="200" stDim:unit="pixel"/>
       <mwg-rs:RegionList><rdf:Bag><rdf:li><rdf:Description mwg-rs:Name="Eve" mwg-rs:Type="Face">
        <mwg-rs:Area stArea:x="0.5" stArea:y="0.5" stArea:w="0.2" stArea:h="0.4"
         stArea:unit="normalized"/>
       </rdf:Description></rdf:li>
       <rdf:li><rdf:Description mwg-rs:Name="Px" mwg-rs:Type="Face">
        <mwg-rs:Area stArea:x="100" stArea:y="50" stArea:w="40" stArea:h="20"
         stArea:unit="pixel"/>
       </rdf:Description></rdf:li></rdf:Bag></mwg-rs:RegionList>
      </mwg-rs:Regions></rdf:Description></rdf:RDF></x:xmpmeta>"""
    eve, px = parse_regions(text)
    assert eve.name == "Eve" and eve.box == pytest.approx((0.4, 0.3, 0.6, 0.7))
    # pixel units are fractions of AppliedToDimensions: centre (100, 50) of 400 x 200
    assert px.name == "Px" and px.box == pytest.approx((0.2, 0.2, 0.3, 0.3))


def test_exiftool_regions_parse_and_merge_keeps_other_content(tmp_path: Path) -> None:
    side = tmp_path / "x.xmp"
    exiftool(
        "-q",
        "-o",
        str(side),
        "-XMP-dc:Title=keep me",
        "-XMP-mwg-rs:RegionInfo={AppliedToDimensions={W=200,H=100,Unit=pixel},"
        "RegionList=[{Area={X=0.3,Y=0.4,W=0.2,H=0.2,Unit=normalized},Name=Ann,Type=Face},"
        "{Area={X=0.5,Y=0.5,W=0.1,H=0.1,Unit=normalized},Type=Focus}]}",
        "-XMP-MP:RegionInfoMP={Regions=[{PersonDisplayName=Bo,Rectangle=0.7|, 0.1|, 0.1|, 0.2}]}",
    )
    text = side.read_text()
    regions = parse_regions(text)
    assert [(r.name, r.kind, r.source) for r in regions] == [
        ("Ann", "Face", "mwg"),
        (None, "Focus", "mwg"),
        ("Bo", "Face", "mp"),
    ]
    assert regions[0].box == pytest.approx((0.2, 0.3, 0.4, 0.5))
    assert regions[2].box == pytest.approx((0.7, 0.1, 0.8, 0.3))
    # faceatlas names Ann's face Cy (same place) and adds Di elsewhere
    merged = merge_regions(
        text, [Region("Cy", (0.21, 0.31, 0.41, 0.49)), Region("Di", (0.0, 0.6, 0.1, 0.8))], 200, 100
    )
    side.write_text(merged)
    got = read_back(side)
    assert got["XMP-dc:Title"] == "keep me"
    mwg = got["XMP-mwg-rs:RegionInfo"]
    assert mwg["AppliedToDimensions"] == {"W": 200, "H": 100, "Unit": "pixel"}
    names = [(r.get("Name"), r.get("Type")) for r in mwg["RegionList"]]
    assert sorted(names, key=str) == sorted(
        [(None, "Focus"), ("Cy", "Face"), ("Di", "Face")], key=str
    )
    mp = {r["PersonDisplayName"] for r in got["XMP-MP:RegionInfoMP"]["Regions"]}
    assert mp == {"Bo", "Cy", "Di"}
    assert merge_regions(merged, parse_regions(merged)[-2:], 200, 100).count("Cy") == 2


# -- the workflows on real photos -----------------------------------------------------------------
@pytest.fixture
def photos(shared_data: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("obama.jpg", "biden.jpg", "two_people.jpg"):
        shutil.copy(shared_data / EXAMPLES / name, folder / name)
    return folder


def _scan(db: Path, *paths: Path) -> None:
    from faceatlas.config import ScanConfig
    from faceatlas.pipeline import scan

    with Catalog(db) as cat:
        scan([str(p) for p in paths], cat, ScanConfig(jobs=1))


def _name_face(cat: Catalog, face_id: int, name: str) -> int:
    from faceatlas.people import move_face, name_person

    pid = int(move_face(cat, face_id, None)["person"])
    name_person(cat, pid, name)
    return pid


def _faces_of(cat: Catalog, path: Path) -> list[dict]:
    return sorted((f for f in cat.faces() if f["path"] == str(path)), key=lambda f: f["x1"])


def _cli(*args: str) -> object:
    from faceatlas.cli import main

    return CliRunner().invoke(main, list(args))


@pytest.mark.slow
def test_export_xmp_round_trip_through_exiftool(photos: Path, tmp_path: Path) -> None:
    db = tmp_path / "cat.db"
    _scan(db, photos)
    with Catalog(db) as cat:
        obama = _faces_of(cat, photos / "obama.jpg")[0]
        left, right = _faces_of(cat, photos / "two_people.jpg")
        _name_face(cat, obama["id"], "Barack Obama")
        _name_face(cat, left["id"], "Left Person")
        hidden = _name_face(cat, right["id"], "Hidden Person")
        from faceatlas.people import hide_person, move_face

        (biden,) = _faces_of(cat, photos / "biden.jpg")
        move_face(cat, biden["id"], hidden)
        hide_person(cat, hidden)
    # a photo of the hidden person only, whose sidecar (another tool's) names them
    exiftool(
        "-q",
        "-o",
        str(photos / "biden.jpg.xmp"),
        "-XMP-dc:Subject=speech",
        "-XMP-mwg-rs:RegionInfo={AppliedToDimensions={W=970,H=2204,Unit=pixel},RegionList=["
        "{Area={X=0.5,Y=0.2,W=0.3,H=0.2,Unit=normalized},Name=Hidden Person,Type=Face}]}",
        str(photos / "biden.jpg"),
    )
    # a sidecar another tool wrote earlier: its other content must stay
    side = photos / "two_people.jpg.xmp"
    exiftool(
        "-q",
        "-o",
        str(side),
        "-XMP-dc:Subject=holiday",
        "-XMP-mwg-rs:RegionInfo={AppliedToDimensions={W=1126,H=661,Unit=pixel},RegionList=["
        "{Area={X=0.5,Y=0.9,W=0.05,H=0.05,Unit=normalized},Name=Dog,Type=Pet},"
        "{Area={X=0.767,Y=0.23,W=0.13,H=0.31,Unit=normalized},Name=Hidden Person,Type=Face}]}",
    )
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in photos.glob("*.jpg")}

    dry = _cli("--db", str(db), "export-xmp", "--dry-run", str(photos))
    assert dry.exit_code == 0, dry.output
    assert "would write 2 named face regions into 3 sidecars" in dry.output
    assert not (photos / "obama.jpg.xmp").exists()

    res = _cli("--db", str(db), "export-xmp", "--json", str(photos))
    assert res.exit_code == 0, res.output
    actions = {Path(f["path"]).name: f["action"] for f in json.loads(res.output)["files"]}
    assert actions == {"obama.jpg": "create", "two_people.jpg": "update", "biden.jpg": "update"}
    biden_side = read_back(photos / "biden.jpg.xmp")
    assert biden_side["XMP-dc:Subject"] in ("speech", ["speech"])
    assert "Hidden Person" not in (photos / "biden.jpg.xmp").read_text()
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in photos.glob("*.jpg")}
    assert after == before, "the photos themselves are never written"

    got = read_back(photos / "obama.jpg.xmp")
    mwg = got["XMP-mwg-rs:RegionInfo"]
    assert mwg["AppliedToDimensions"] == {"W": 910, "H": 1137, "Unit": "pixel"}
    (region,) = mwg["RegionList"]
    assert region["Name"] == "Barack Obama" and region["Type"] == "Face"
    area = region["Area"]
    want = (
        (obama["x1"] + obama["x2"]) / 2 / 910,
        (obama["y1"] + obama["y2"]) / 2 / 1137,
        (obama["x2"] - obama["x1"]) / 910,
        (obama["y2"] - obama["y1"]) / 1137,
    )
    assert (area["X"], area["Y"], area["W"], area["H"]) == pytest.approx(want, abs=1e-5)
    (mp,) = got["XMP-MP:RegionInfoMP"]["Regions"]
    assert mp["PersonDisplayName"] == "Barack Obama"
    x, y, w, h = (float(v) for v in mp["Rectangle"].split(","))
    assert (x + w / 2, y + h / 2, w, h) == pytest.approx(want, abs=1e-5)

    two = read_back(side)
    assert two["XMP-dc:Subject"] in ("holiday", ["holiday"])
    kinds = {(r.get("Name"), r["Type"]) for r in two["XMP-mwg-rs:RegionInfo"]["RegionList"]}
    # the other tool's pet stays; the hidden person's name leaves the file
    assert kinds == {("Dog", "Pet"), ("Left Person", "Face")}
    assert "Hidden Person" not in side.read_text()

    again = _cli("--db", str(db), "export-xmp", "--json", str(photos))
    assert {f["action"] for f in json.loads(again.output)["files"]} == {"unchanged"}

    stem = _cli("--db", str(db), "export-xmp", "--sidecar-name", "stem", str(photos / "obama.jpg"))
    assert stem.exit_code == 0, stem.output
    assert read_back(photos / "obama.xmp")["XMP-mwg-rs:RegionInfo"]["RegionList"][0]["Name"] == (
        "Barack Obama"
    )


@pytest.mark.slow
def test_export_boxes_follow_the_mwg_orientation_rule(shared_data: Path, tmp_path: Path) -> None:
    """A photo stored sideways with Orientation 6 gets the regions of its stored pixels."""
    from PIL import Image

    upright = tmp_path / "upright.jpg"
    turned = tmp_path / "turned.jpg"
    shutil.copy(shared_data / EXAMPLES / "obama.jpg", upright)
    # the camera's way: pixels stored lying on their side, Orientation 6 stands them up
    with Image.open(upright) as img:
        img.rotate(90, expand=True).save(turned, quality=95)
    exiftool("-q", "-overwrite_original", "-Orientation#=6", str(turned))
    db = tmp_path / "cat.db"
    _scan(db, upright, turned)
    with Catalog(db) as cat:
        (a,) = _faces_of(cat, upright)
        (b,) = _faces_of(cat, turned)
        assert (b["width"], b["height"]) == (910, 1137), "detected on the displayed image"
        _name_face(cat, a["id"], "Barack Obama")
        from faceatlas.people import move_face

        move_face(cat, b["id"], cat.assignments([a["id"]])[a["id"]]["person_id"])
    assert _cli("--db", str(db), "export-xmp", str(tmp_path)).exit_code == 0
    ra = read_back(tmp_path / "upright.jpg.xmp")["XMP-mwg-rs:RegionInfo"]
    rb = read_back(tmp_path / "turned.jpg.xmp")["XMP-mwg-rs:RegionInfo"]
    assert ra["AppliedToDimensions"] == {"W": 910, "H": 1137, "Unit": "pixel"}
    assert rb["AppliedToDimensions"] == {"W": 1137, "H": 910, "Unit": "pixel"}, "stored size"
    area_a, area_b = ra["RegionList"][0]["Area"], rb["RegionList"][0]["Area"]
    # by hand: turning the upright box 90 degrees counter-clockwise, as the pixels were
    # stored, puts its centre (x, y) at (y, 1 - x) and swaps width and height
    want = {"X": area_a["Y"], "Y": 1 - area_a["X"], "W": area_a["H"], "H": area_a["W"]}
    for k in "XYWH":  # up to the detector's jitter on a re-encoded JPEG
        assert area_b[k] == pytest.approx(want[k], abs=0.02), k
    # and reading it back puts it on the displayed face again
    with Catalog(db) as cat:
        from faceatlas.regions import import_xmp

        summary = import_xmp(cat, [turned])
    assert (summary.matched, summary.added_faces, summary.already) == (1, 0, 1)


@pytest.mark.slow
def test_import_regions_written_by_exiftool(photos: Path, tmp_path: Path) -> None:
    db = tmp_path / "cat.db"
    _scan(db, photos)
    with Catalog(db) as cat:
        (obama,) = _faces_of(cat, photos / "obama.jpg")
        (biden,) = _faces_of(cat, photos / "biden.jpg")
        left, right = _faces_of(cat, photos / "two_people.jpg")
        # the detector "missed" the right face: its row is gone, the region must bring it back
        ids, X = cat.embeddings("sface", [right["id"]])
        old_vector = X[0]
        cat.forget_faces([right["id"]])
        n_faces = cat.counts()["faces"]

    def centre(f: dict, W: int, H: int) -> str:
        return (
            f"X={(f['x1'] + f['x2']) / 2 / W:.4f},Y={(f['y1'] + f['y2']) / 2 / H:.4f},"
            f"W={(f['x2'] - f['x1']) / W:.4f},H={(f['y2'] - f['y1']) / H:.4f}"
        )

    # 1. an MWG sidecar (digiKam's name for it), two faces, one the catalog lacks
    exiftool(
        "-q",
        "-o",
        str(photos / "two_people.jpg.xmp"),
        "-XMP-mwg-rs:RegionInfo={AppliedToDimensions={W=1126,H=661,Unit=pixel},RegionList=["
        f"{{Area={{{centre(left, 1126, 661)},Unit=normalized}},Name=Joe Biden,Type=Face}},"
        f"{{Area={{{centre(right, 1126, 661)},Unit=normalized}},Name=Barack Obama,Type=Face}},"
        f"{{Area={{{centre(left, 1126, 661)},Unit=normalized}},Name=Somebody Else,Type=Face}}]}}",
    )
    # 2. Microsoft regions embedded in the JPEG itself (a copy: the test's own file)
    x, y = obama["x1"] / 910, obama["y1"] / 1137
    w, h = (obama["x2"] - obama["x1"]) / 910, (obama["y2"] - obama["y1"]) / 1137
    exiftool(
        "-q",
        "-overwrite_original",
        f"-XMP-MP:RegionInfoMP={{Regions=[{{PersonDisplayName=Barack Obama,"
        f"Rectangle={x:.4f}|, {y:.4f}|, {w:.4f}|, {h:.4f}}}]}}",
        str(photos / "obama.jpg"),
    )
    # 3. Picasa: rect64 in the folder's .picasa.ini, the name in contacts.xml
    parts = [
        round(v * 65535)
        for v in (biden["x1"] / 970, biden["y1"] / 2204, biden["x2"] / 970, biden["y2"] / 2204)
    ]
    (photos / ".picasa.ini").write_text(
        "[biden.jpg]\nfaces=rect64(" + "".join(f"{p:04x}" for p in parts) + "),9f3a\n"
    )
    contacts = tmp_path / "contacts.xml"
    contacts.write_text('<contacts><contact id="9f3a" name="Joe Biden"/></contacts>')

    res = _cli("--db", str(db), "import-xmp", "--json", "--contacts", str(contacts), str(photos))
    assert res.exit_code == 0, res.output
    s = json.loads(res.output)
    assert (s["photos"], s["regions"], s["matched"], s["added_faces"]) == (3, 5, 3, 1)
    assert s["named"] == 4 and s["conflicts"] == []
    (unplaced,) = s["unplaced"]
    assert unplaced["name"] == "Somebody Else" and "already named" in unplaced["reason"]

    with Catalog(db) as cat:
        assert cat.counts()["faces"] == n_faces + 1
        by_name = {p["name"]: p for p in cat.persons()}
        assert set(by_name) == {"Barack Obama", "Joe Biden"}
        assert by_name["Barack Obama"]["n_confirmed"] == 2
        assert by_name["Joe Biden"]["n_confirmed"] == 2
        (added,) = [f for f in _faces_of(cat, photos / "two_people.jpg") if f["x1"] > 500]
        _, X = cat.embeddings("sface", [added["id"]])
        # the added face is the same face the detector had found: its vector agrees
        assert float(X[0] @ old_vector) > 0.8
        n_corrections = len(cat.query("SELECT id FROM corrections"))

    again = _cli("--db", str(db), "import-xmp", "--json", "--contacts", str(contacts), str(photos))
    s2 = json.loads(again.output)
    assert (s2["matched"], s2["added_faces"], s2["named"], s2["already"]) == (4, 0, 0, 4)
    with Catalog(db) as cat:
        assert cat.counts()["faces"] == n_faces + 1
        assert len(cat.query("SELECT id FROM corrections")) == n_corrections

    # names survive a re-cluster: they are confirmed corrections
    with Catalog(db) as cat:
        from faceatlas.people import cluster_people

        cluster_people(cat)
        assert {p["name"]: p["n_confirmed"] for p in cat.persons() if p["name"]} == {
            "Barack Obama": 2,
            "Joe Biden": 2,
        }


@pytest.mark.slow
def test_import_reads_xmp_embedded_in_png(shared_data: Path, tmp_path: Path) -> None:
    png = tmp_path / "alex.png"
    shutil.copy(shared_data / EXAMPLES / "alex-lacamoire.png", png)
    db = tmp_path / "cat.db"
    _scan(db, png)
    with Catalog(db) as cat:
        (face,) = _faces_of(cat, png)
    W, H = face["width"], face["height"]
    cx, cy = (face["x1"] + face["x2"]) / 2 / W, (face["y1"] + face["y2"]) / 2 / H
    fw, fh = (face["x2"] - face["x1"]) / W, (face["y2"] - face["y1"]) / H
    exiftool(
        "-q",
        "-overwrite_original",
        f"-XMP-mwg-rs:RegionInfo={{AppliedToDimensions={{W={W},H={H},Unit=pixel}},"
        f"RegionList=[{{Area={{X={cx:.4f},Y={cy:.4f},W={fw:.4f},H={fh:.4f},Unit=normalized}},"
        "Name=Alex Lacamoire,Type=Face}]}",
        str(png),
    )
    with Catalog(db) as cat:
        from faceatlas.regions import import_xmp

        s = import_xmp(cat, [png])
        assert (s.matched, s.named, s.unplaced) == (1, 1, [])
        (p,) = cat.persons()
        assert p["name"] == "Alex Lacamoire" and p["n_confirmed"] == 1


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "cat.db"
    Catalog(db).close()
    res = _cli("--db", str(db), "import-xmp", str(tmp_path / "missing"))
    assert res.exit_code == 1
    assert res.output.startswith("error:") and "no such file or folder" in res.output
    assert len(res.output.strip().splitlines()) == 1
    res = _cli("--db", str(db), "export-xmp", "--sidecar-name", "wrong")
    assert res.exit_code == 2
    bad = tmp_path / "bad.jpg.xmp"
    bad.write_text("<x:xmpmeta xmlns:x='adobe:ns:meta/'><unclosed></x:xmpmeta>")
    with pytest.raises(Exception, match="not valid XMP"):
        parse_regions(bad.read_text(), where=str(bad))
    assert np.isfinite(overlap((0, 0, 1, 1), (0, 0, 1, 1)))


@pytest.mark.slow
def test_import_reads_regions_inside_a_heic_photo(shared_data: Path, tmp_path: Path) -> None:
    from PIL import Image

    from faceatlas.images import register_formats

    register_formats()
    folder = tmp_path / "phone"
    folder.mkdir()
    photo = folder / "cp.heic"
    Image.open(shared_data / "lfw" / "images" / "Colin_Powell" / "Colin_Powell_0001.jpg").save(
        photo
    )
    exiftool(
        "-overwrite_original",
        "-XMP-mwg-rs:RegionAppliedToDimensionsW=250",
        "-XMP-mwg-rs:RegionAppliedToDimensionsH=250",
        "-XMP-mwg-rs:RegionAppliedToDimensionsUnit=pixel",
        "-XMP-mwg-rs:RegionList=[{Area={X=0.5,Y=0.45,W=0.35,H=0.45,Unit=normalized},"
        "Name=Colin Powell,Type=Face}]",
        str(photo),
    )
    db = tmp_path / "h.db"
    res = _cli("--db", str(db), "import-xmp", str(folder))
    assert res.exit_code == 0, res.output
    with Catalog(db) as cat:
        [person] = [p for p in cat.persons() if p["name"] == "Colin Powell"]
        assert len(cat.faces_of_person(person["id"])) == 1
