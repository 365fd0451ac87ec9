"""Issue 11: real photos in, every face out.

Large faces, EXIF orientations 1-8, photos turned without a tag, HEIC and AVIF, capture dates,
video frame times, hard light and the quality verdicts, end to end through the CLI on real
LFW and Yale photos and on files made here from them (never committed).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from faceatlas import Catalog
from faceatlas.cli import main
from faceatlas.detect import YuNetDetector, detection_scales, non_max_suppression
from faceatlas.detect_retries import detect_with_retries, turn_image, unturn_points
from faceatlas.images import load_image, media_kind, raw_supported
from faceatlas.metadata import parse_exif_time, read_image_metadata, read_video_metadata
from faceatlas.quality import judge_face, pose

PERSON = "Aaron_Peirsol/Aaron_Peirsol_0001.jpg"
# Pillow's transpose that stores an upright image under each EXIF tag (the inverse of what
# a viewer applies).
STORE_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def run_cli(*args: str) -> dict | list:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def iou(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0) * max(h, 0)
    area = lambda x: (x[2] - x[0]) * (x[3] - x[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


@pytest.fixture(scope="module")
def face(shared_data) -> np.ndarray:
    return load_image(shared_data / "lfw" / "images" / PERSON)


@pytest.fixture(scope="module")
def wide(face) -> np.ndarray:
    """A 400 x 300 photo (not square, so a turn shows in its size) with the LFW face."""
    canvas = np.full((300, 400, 3), 120, np.uint8)
    canvas[25:275, 100:350] = face
    return canvas


# -- every face size -----------------------------------------------------------------------
def test_frame_filling_face_is_found_once(face):
    import cv2

    big = cv2.resize(face, (2800, 2800), interpolation=cv2.INTER_LINEAR)
    assert len(YuNetDetector(multi_scale=False).detect(big)) == 0  # the bug of issue 11
    found = YuNetDetector().detect(big)
    assert len(found) == 1  # one box although two scales saw it
    small = YuNetDetector().detect(face)
    assert iou(found.boxes[0] / 11.2, small.boxes[0]) > 0.7


@pytest.mark.slow
def test_passport_crop_on_12_megapixels(face):
    import cv2

    crop = cv2.resize(face[55:200, 60:190], (3000, 4000), interpolation=cv2.INTER_LINEAR)
    found = YuNetDetector().detect(crop)
    assert len(found) == 1
    w = found.boxes[0, 2] - found.boxes[0, 0]
    assert w > 0.5 * 3000


@pytest.mark.slow
def test_small_faces_in_a_large_photo(face):
    import cv2

    canvas = np.full((3000, 4000, 3), 110, np.uint8)
    # five faces 20 px wide (YuNet's box of this photo is ~106 px wide per 250 px)
    s = 20 / 106
    tiny = cv2.resize(face, (round(250 * s), round(250 * s)), interpolation=cv2.INTER_AREA)
    for i in range(5):
        y, x = 400 + 450 * i, 500 + 600 * i
        canvas[y : y + tiny.shape[0], x : x + tiny.shape[1]] = tiny
    assert len(YuNetDetector(multi_scale=False).detect(canvas)) == 0  # shrunk to ~10 px
    found = YuNetDetector().detect(canvas)
    assert len(found) == 5
    assert np.all(np.abs(found.boxes[:, 2] - found.boxes[:, 0] - 20) < 3)


def test_scales_keep_lfw_at_one_pass():
    assert detection_scales(250, 250) == [1.0]
    assert detection_scales(243, 320) == [1.0]
    twelve = detection_scales(3000, 4000)
    assert len(twelve) == 2 and twelve[0] == pytest.approx(0.65) and twelve[1] < 0.2


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    keep = non_max_suppression(boxes, np.array([0.8, 0.9, 0.7]))
    assert keep.tolist() == [1, 2]


# -- orientation ---------------------------------------------------------------------------
@pytest.mark.slow
def test_exif_orientations_give_upright_faces_in_the_displayed_frame(wide, tmp_path):
    det = YuNetDetector()
    upright = det.detect(wide)
    assert len(upright) == 1
    for tag, op in STORE_AS.items():
        stored = Image.fromarray(wide)
        if op is not None:
            stored = stored.transpose(op)
        exif = Image.Exif()
        exif[0x0112] = tag
        path = tmp_path / f"o{tag}.jpg"
        stored.save(path, quality=95, exif=exif)
        shown = load_image(path)
        assert shown.shape == wide.shape, tag
        found = det.detect(shown)
        assert len(found) == 1, tag
        assert iou(found.boxes[0], upright.boxes[0]) > 0.8, tag
        assert read_image_metadata(path).orientation == tag


def test_unturn_points_round_trip():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    for turn in (90, 180, 270):
        turned = turn_image(img, turn)
        # pixel centres: a pixel at (x, y) of the turned image is the pixel of the original
        # whose centre maps there
        y, x = 7, 11
        back = unturn_points(np.array([x + 0.5, y + 0.5]), turn, 30, 40)
        assert (turned[y, x] == img[int(back[1]), int(back[0])]).all(), turn


@pytest.mark.slow
def test_try_turns_finds_the_upright_face_and_records_the_turn(wide, tmp_path):
    from faceatlas.embed import aligned_chips, get_embedder

    det, emb = YuNetDetector(), get_embedder("sface")
    ref = det.detect(wide)
    v_ref = emb.embed(aligned_chips(wide, ref, 112))[0]
    for k, needed in ((1, 90), (2, 180), (3, 270)):
        sideways = np.ascontiguousarray(np.rot90(wide, k))  # counter-clockwise, no EXIF
        found = detect_with_retries(det, sideways, try_turns=True)
        assert found.turn == needed
        # boxes are in the file's frame; the chip made from them is upright again
        assert found.detections.boxes[0, 2] <= sideways.shape[1]
        v = emb.embed(aligned_chips(sideways, found.detections, 112))[0]
        assert float(v @ v_ref) > 0.8
    Image.fromarray(np.ascontiguousarray(np.rot90(wide, 1))).save(tmp_path / "side.jpg")
    db = str(tmp_path / "t.db")
    run_cli("--db", db, "scan", str(tmp_path / "side.jpg"), "--try-turns", "--json")
    rows = run_cli("--db", db, "photos", "--json")
    assert rows[0]["turn"] == 90 and rows[0]["faces"] == 1


# -- hard light ----------------------------------------------------------------------------
def test_light_retry_finds_faces_in_the_dark(face):
    dark = (255 * 0.04 * (face / 255.0) ** 1.5).astype(np.uint8)  # a night shot
    det = YuNetDetector()
    assert len(det.detect(dark)) == 0
    found = detect_with_retries(det, dark)
    assert len(found.detections) == 1 and found.light
    assert not detect_with_retries(det, dark, retry_light=False).light


# -- formats, dates, metadata --------------------------------------------------------------
def _exif(when: str | None = None, offset: str | None = None, gps: bool = False) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Apple", "iPhone 12"
    if when:
        sub = exif.get_ifd(0x8769)
        sub[0x9003] = when
        if offset:
            sub[0x9011] = offset
    if gps:
        g = exif.get_ifd(0x8825)
        g[1], g[2], g[3], g[4] = "S", (33.0, 51.0, 36.0), "W", (70.0, 39.0, 0.0)
    return exif


@pytest.mark.slow
def test_heic_avif_and_dates_end_to_end(face, tmp_path):
    album = tmp_path / "album"
    album.mkdir()
    img = Image.fromarray(face)
    img.save(album / "a.heic", exif=_exif("2021:06:05 14:03:22", "+02:00", gps=True).tobytes())
    img.save(album / "b.avif", exif=_exif("2019:01:02 08:00:00").tobytes())
    img.save(album / "c.jpg", exif=_exif("2020:03:04 10:00:00", "-05:00"))
    img.save(album / "d.jpg")  # no EXIF: the file time, marked as a guess
    old = dt.datetime(2018, 7, 1, 12, 0, tzinfo=dt.UTC).timestamp()
    os.utime(album / "d.jpg", (old, old))
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
        b'xmp:CreateDate="2017-05-06T07:08:09+01:00"/></rdf:RDF></x:xmpmeta>'
    )
    img.save(album / "e.jpg", xmp=xmp)
    db = str(tmp_path / "m.db")
    s = run_cli("--db", db, "scan", str(album), "--json")
    assert (s["photos"], s["faces"], s["errors"], s["skipped_formats"]) == (5, 5, [], {})
    rows = {Path(r["path"]).name: r for r in run_cli("--db", db, "photos", "--json")}
    a = rows["a.heic"]
    assert a["taken_at"] == "2021-06-05T14:03:22+02:00"
    assert a["taken_source"] == "exif:DateTimeOriginal" and a["taken_guess"] is False
    assert (a["camera_make"], a["camera_model"]) == ("Apple", "iPhone 12")
    assert a["gps_lat"] == pytest.approx(-33.86) and a["gps_lon"] == pytest.approx(-70.65)
    assert rows["b.avif"]["taken_at"] == "2019-01-02T08:00:00"
    assert rows["d.jpg"]["taken_source"] == "file:mtime" and rows["d.jpg"]["taken_guess"]
    assert rows["d.jpg"]["taken_ts"] == pytest.approx(old)
    assert rows["e.jpg"]["taken_source"] == "xmp:CreateDate"
    by_date = [
        Path(r["path"]).name for r in run_cli("--db", db, "photos", "--sort", "date", "--json")
    ]
    assert by_date == ["e.jpg", "d.jpg", "b.avif", "c.jpg", "a.heic"]
    text = CliRunner().invoke(main, ["--db", db, "photos", "--sort", "date"]).output
    assert "2018-07-01T12:00:00+00:00?" in text  # the guess is marked


@pytest.mark.slow
def test_video_frames_carry_their_time(face, tmp_path):
    import cv2

    path = tmp_path / "clip.mp4"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (250, 250))
    for _ in range(25):
        out.write(np.ascontiguousarray(face[:, :, ::-1]))
    out.release()
    meta = read_video_metadata(path)
    assert meta.taken_at is not None
    db = str(tmp_path / "v.db")
    run_cli("--db", db, "scan", str(path), "--video-every", "1", "--json")
    frames = run_cli("--db", db, "photos", "--json")
    assert [f["time_s"] for f in frames] == [0.0, 1.0, 2.0]
    ts = [f["taken_ts"] for f in frames]
    assert ts[1] - ts[0] == pytest.approx(1.0) and ts[2] - ts[0] == pytest.approx(2.0)


def test_exif_time_parsing():
    t = parse_exif_time("2021:06:05 14:03:22", "-03:30")
    assert t.isoformat() == "2021-06-05T14:03:22-03:30"
    assert parse_exif_time("0000:00:00 00:00:00") is None
    assert parse_exif_time("   ") is None


def test_raw_files_are_images_only_with_the_extra():
    assert media_kind("x.heic") == "image" and media_kind("x.AVIF") == "image"
    assert media_kind("x.cr2") == ("image" if raw_supported() else None)


# -- quality verdicts ----------------------------------------------------------------------
def test_pose_from_landmarks():
    frontal = np.array([[38, 52], [74, 52], [56, 72], [42, 92], [70, 92]], float)
    yaw, roll = pose(frontal)
    assert abs(yaw) < 5 and abs(roll) < 1
    turned = frontal.copy()
    turned[2, 0] = 80  # the nose past the right eye: a profile
    assert abs(pose(turned)[0]) > 45


@pytest.mark.slow
def test_verdicts_and_reasons_end_to_end(face, tmp_path):
    import cv2

    album = tmp_path / "q"
    album.mkdir()
    Image.fromarray(face).save(album / "good.png")
    small = cv2.resize(face, (70, 70), interpolation=cv2.INTER_AREA)  # face ~27 px
    canvas = np.full((250, 250, 3), 120, np.uint8)
    canvas[90:160, 90:160] = small
    Image.fromarray(canvas).save(album / "small.png")
    Image.fromarray(cv2.GaussianBlur(face, (0, 0), 4)).save(album / "blurred.png")
    db = str(tmp_path / "q.db")
    run_cli("--db", db, "scan", str(album), "--json")
    reasons = {
        Path(r["path"]).name: r["reason"]
        for r in run_cli("--db", db, "faces", "--reasons", "--json")
    }
    assert "good.png" not in reasons
    assert "too small" in reasons["small.png"]
    assert "blurred" in reasons["blurred.png"]
    with Catalog(db) as cat:
        ids, usable = cat.face_usability()
        by_path = {f["id"]: Path(f["path"]).name for f in cat.faces()}
    assert {by_path[i] for i, u in zip(ids, usable, strict=True) if not u} == set(reasons)
    # the bar is a setting: a lower --min-face-size makes the small face usable
    db2 = str(tmp_path / "q2.db")
    run_cli("--db", db2, "scan", str(album / "small.png"), "--min-face-size", "10", "--json")
    left = run_cli("--db", db2, "faces", "--reasons", "--json")
    assert all("too small" not in r["reason"] for r in left)


def test_judge_face_names_every_failed_bar():
    chip = np.full((112, 112, 3), 10, np.uint8)
    marks = np.array([[38, 52], [74, 52], [56, 72], [42, 92], [70, 92]], float)
    q = judge_face(np.array([0, 0, 12, 12]), marks, 0.5, chip, 5.0)
    assert not q.usable
    assert q.reason == "too small, blurred, low score, too dark"


def test_old_catalogs_are_upgraded(tmp_path, face):
    import sqlite3

    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    from faceatlas.catalog._photos import MIGRATIONS

    con.executescript(
        MIGRATIONS[0][1]
        + "CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL);"
        + f"INSERT INTO schema_migrations VALUES ('{MIGRATIONS[0][0]}', 'x');"
        + "INSERT INTO photos (path, status, scanned_at) VALUES ('/x.jpg', 'done', 'x');"
    )
    con.close()
    with Catalog(db) as cat:
        assert "0006_photo_metadata_face_quality" in cat.applied_migrations()
        rows = cat.photos(sort="date")
        assert rows[0]["path"] == "/x.jpg" and rows[0]["taken_at"] is None
        assert rows[0]["turn"] == 0
