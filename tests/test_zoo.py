"""Issue 17: never crash, never hang, never lie.

Every hostile input is generated here at run time (``tests/zoo.py``): names that are not
UTF-8, FIFOs, sockets, links to devices, broken and truncated files, extreme shapes, an
81 MP palette PNG; broken environments (a full disk and a read-only disk on small tmpfs
mounts when the tests run as root, another program's SQLite file, a catalog of a newer
version, ids at or above 2**63); and killed runs. The CLI runs in a subprocess under a time
limit, so a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceatlas.catalog import Catalog
from faceatlas.config import ScanConfig
from faceatlas.exceptions import CatalogError, ImageError, ImageTooLargeError
from faceatlas.images import load_image
from faceatlas.pipeline import scan

sys.path.insert(0, str(Path(__file__).parent))
from zoo import Zoo, build_zoo

REPO = Path(__file__).resolve().parents[1]
TIME_LIMIT_S = 180


def cli(*args: str, db: Path, timeout: float = TIME_LIMIT_S) -> subprocess.CompletedProcess:
    """``python -m faceatlas --db DB ARGS`` of this tree, under a time limit."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "faceatlas", "--db", str(db), *args],
        check=False,
        capture_output=True,
        timeout=timeout,
        env=env,
    )


def text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def assert_one_line_error(proc: subprocess.CompletedProcess, *words: str) -> str:
    """Exit 1, no traceback, one ``error:`` line on stderr that contains ``words``."""
    err = text(proc.stderr).strip()
    assert proc.returncode == 1, (proc.returncode, err)
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def lfw(shared_data: Path) -> Path:
    return shared_data / "lfw" / "images"


@pytest.fixture
def zoo(tmp_path: Path, lfw: Path) -> Iterator[Zoo]:
    z = build_zoo(tmp_path / "zoo", lfw)
    yield z
    z.close()


# -- 1 and 5: no input stops a scan ---------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_zoo_is_scanned_to_the_end(zoo: Zoo, tmp_path: Path, jobs: str) -> None:
    db = tmp_path / "zoo.db"
    proc = cli("scan", str(zoo.root), "--jobs", jobs, db=db)
    err = text(proc.stderr)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "OpenCV(" not in err
    # FIFOs, sockets and links to devices: named, with what they are, never opened
    for path, what in zoo.special.items():
        line = next(ln for ln in err.splitlines() if path in ln)
        assert what in line and "without reading" in line, line

    errors = json.loads(cli("photos", "--errors", "--json", db=db).stdout)
    by_path = {e["path"]: e["error"] for e in errors}
    assert set(by_path) == set(zoo.failed), set(by_path) ^ set(zoo.failed)
    for path, reason in zoo.failed.items():
        assert "\n" not in by_path[path] and "OpenCV(" not in by_path[path]
        assert reason in by_path[path], (path, by_path[path])

    # every good photo beside them is catalogued with its face, names kept exactly
    photos = json.loads(cli("photos", "--json", db=db).stdout)
    done = {p["path"]: p["faces"] for p in photos if p["status"] == "done"}
    for path in zoo.good:
        assert done.get(path, 0) >= 1, path
    runs = json.loads(cli("runs", "--json", db=db).stdout)
    assert runs[0]["status"] == "done"

    # shown escaped in text, never a crash on the bytes
    listing = cli("photos", db=db)
    assert listing.returncode == 0
    assert "caf\\xe9.jpg" in text(listing.stdout)
    assert "old-\\xff\\xfe-camera" in text(listing.stdout)
    assert "newline\\nin name.jpg" in text(listing.stdout)  # one line per photo
    assert len(text(listing.stdout).strip().splitlines()) == len(photos)


@pytest.mark.slow
def test_failed_files_are_retried_only_when_changed(zoo: Zoo, tmp_path: Path) -> None:
    db = tmp_path / "zoo.db"
    assert cli("scan", str(zoo.root), "--jobs", "1", db=db).returncode == 0
    again = json.loads(cli("scan", str(zoo.root), "--json", db=db).stdout)
    assert again["processed"] == 0 and again["new"] == 0 and again["changed"] == 0
    assert again["failed_unchanged"] == len(zoo.failed)
    # the summary line says how to retry them
    line = text(cli("scan", str(zoo.root), db=db).stdout)
    assert f"{len(zoo.failed)} failed before and unchanged (--retry-errors)" in line

    # a failed file that changes is read again (and now succeeds)
    fixed = zoo.root / "truncated.jpg"
    shutil.copyfile(zoo.good[0], fixed)
    changed = json.loads(cli("scan", str(zoo.root), "--json", db=db).stdout)
    assert changed["processed"] == 1 and changed["changed"] == 1
    assert changed["failed_unchanged"] == len(zoo.failed) - 1

    retried = json.loads(cli("scan", str(zoo.root), "--retry-errors", "--json", db=db).stdout)
    assert retried["processed"] == len(zoo.failed) - 1
    assert retried["failed_unchanged"] == 0


def test_files_that_vanish_or_turn_into_fifos_during_a_scan(
    tmp_path: Path, lfw: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import faceatlas.pipeline as pipeline
    from faceatlas.walk import walk as real_walk

    folder = tmp_path / "photos"
    folder.mkdir()
    people = sorted(p for p in lfw.iterdir() if p.is_dir())[:4]
    for i, person in enumerate(people):
        shutil.copyfile(next(person.glob("*.jpg")), folder / f"p{i}.jpg")

    def walk_then_change(paths):  # the disk changes between the listing and the reading
        found = real_walk(paths)
        (folder / "p0.jpg").unlink()
        (folder / "p1.jpg").unlink()
        os.mkfifo(folder / "p1.jpg")
        return found

    monkeypatch.setattr(pipeline, "walk", walk_then_change)
    with Catalog(tmp_path / "c.db") as cat:
        summary = scan([folder], cat, ScanConfig(detector="fake", embedder="fake", jobs=1))
        runs = cat.runs()
        paths = {p["path"] for p in cat.photos() if p["status"] == "done"}
    reasons = {Path(e["path"]).name: e["error"] for e in summary.errors}
    assert "vanished" in reasons["p0.jpg"]
    assert "FIFO" in reasons["p1.jpg"] and "not read" in reasons["p1.jpg"]
    assert paths == {str(folder / "p2.jpg"), str(folder / "p3.jpg")}
    assert runs[0]["status"] == "done"


def test_a_scan_that_stops_on_an_error_is_recorded_failed(
    tmp_path: Path, lfw: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copyfile(next(sorted(lfw.iterdir())[0].glob("*.jpg")), folder / "a.jpg")
    with Catalog(tmp_path / "c.db") as cat:

        def broken(*args, **kwargs):
            raise CatalogError("catalog c.db: the disk is full")

        monkeypatch.setattr(cat, "replace_file", broken)
        with pytest.raises(CatalogError, match="disk is full"):
            scan([folder], cat, ScanConfig(detector="fake", embedder="fake", jobs=1))
        run = cat.runs()[0]
    assert run["status"] == "failed"
    assert "disk is full" in run["summary"]["failure"]


# -- 2: bounded memory ----------------------------------------------------------------------
def test_decoding_is_bounded_by_bytes(tmp_path: Path) -> None:
    # a JPEG over the working size is decoded at a reduced scale (draft mode)
    Image.new("RGB", (9000, 6000), (90, 120, 150)).save(tmp_path / "big.jpg", quality=50)
    image = load_image(tmp_path / "big.jpg")
    assert image.shape[0] * image.shape[1] <= 50_000_000 and image.shape[2] == 3
    assert image.shape[1] * 6000 == image.shape[0] * 9000  # the shape is kept

    # an RGBA PNG whose decoded bytes exceed the budget (scaled with max_pixels) is refused
    Image.new("RGBA", (3000, 3000), (1, 2, 3, 4)).save(tmp_path / "rgba.png")
    with pytest.raises(ImageTooLargeError, match="MB to decode"):
        load_image(tmp_path / "rgba.png", max_pixels=10_000_000)
    # the same pixels in a palette take a quarter of that and are decoded, transparency white
    Image.new("P", (3000, 3000), 0).save(tmp_path / "pal.png", transparency=0)
    pal = load_image(tmp_path / "pal.png", max_pixels=10_000_000)
    assert pal.shape == (3000, 3000, 3) and pal.min() == 255


@pytest.mark.parametrize(("w", "h", "why"), [(20000, 1, "too thin"), (4000, 30, "strip")])
def test_extreme_shapes_are_refused_with_a_reason(tmp_path: Path, w: int, h: int, why: str):
    Image.new("RGB", (w, h)).save(tmp_path / "odd.png")
    with pytest.raises(ImageError, match=why):
        load_image(tmp_path / "odd.png")


def _big_photo(lfw: Path, path: Path, size: tuple[int, int]) -> None:
    """A phone-sized photo: LFW faces of 2-20 % of its width on an enlarged noise texture."""
    rng = np.random.default_rng(0)
    w, h = size
    img = Image.fromarray(rng.integers(0, 255, (h // 100, w // 100, 3), np.uint8))
    img = img.resize(size, Image.Resampling.BICUBIC)
    people = sorted(p for p in lfw.iterdir() if p.is_dir())[:4]
    for i, (person, part) in enumerate(zip(people, (0.02, 0.05, 0.1, 0.2), strict=True)):
        side = int(w * part)
        face = Image.open(next(person.glob("*.jpg"))).resize((side, side))
        img.paste(face, (int(w * (0.05 + 0.22 * i)), int(h * 0.3)))
    img.save(path, quality=90, compress_level=1)


# What one scan worker holds at most (VmHWM of `scan -j 1`: the worker is the process) on a
# folder of one LFW portrait and the big file. The portrait first makes the worker load the
# embedder before the big file is decoded, as in any real scan (a scan of the big file alone
# loads it only after detection, or never). The resident set counts the pages of the shared
# libraries a worker has mapped (OpenVINO, OpenCV, numpy: 80-135 MB, more on a fresh install,
# whose files are all in the page cache), the same pages for every worker; without them a
# worker's own memory is stable to a few MB. Bounds: measured + about 10 % (docs/benchmarks.md,
# "Peak memory of one worker", session 4: at most 502 MB resident in CI, 368 MB its own).
WORKER_PEAK_MB = 560
WORKER_OWN_MB = 410
BIG_FILES = ("palette81.png", "photo48.jpg", "rgb64.png")


@pytest.mark.slow
@pytest.mark.parametrize("name", BIG_FILES)
def test_the_peak_of_one_worker_on_the_largest_files(tmp_path: Path, lfw: Path, name: str) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copyfile(next(sorted(lfw.iterdir())[0].glob("*.jpg")), folder / "a-portrait.jpg")
    if name == "palette81.png":
        Image.new("P", (9000, 9000), 3).save(folder / name)  # 81 MP, ~30 KB
    elif name == "rgb64.png":  # the largest RGB PNG under the decoding budget
        _big_photo(lfw, folder / name, (8000, 8000))
    else:
        _big_photo(lfw, folder / name, (8000, 6000))
    code = (
        "import sys\n"
        "from faceatlas.cli import main\n"
        "try:\n"
        f"    main(['--db', {str(tmp_path / 'm.db')!r}, 'scan', {str(folder)!r}, '-j', '1'])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        # VmHWM, not ru_maxrss: after fork and exec, ru_maxrss keeps the parent's (pytest's)
        # high-water mark, VmHWM is this process's own
        "status = open('/proc/self/status').read().splitlines()\n"
        "print(*(l.split()[1] for l in status if l.startswith(('VmHWM', 'RssFile'))))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        timeout=TIME_LIMIT_S,
        env=env,
    )
    assert proc.returncode == 0, text(proc.stderr)
    with Catalog(tmp_path / "m.db") as cat:  # both photos were read, the portrait's face found
        assert cat.counts()["photos"] == 2 and cat.counts()["faces"] >= 1
    peak_mb, files_mb = (int(v) / 1024 for v in proc.stdout.split()[-2:])
    assert peak_mb < WORKER_PEAK_MB, f"peak {peak_mb:.0f} MB"
    # its own: the peak less the library pages mapped at the end (they only grow)
    assert peak_mb - files_mb < WORKER_OWN_MB, f"own peak {peak_mb - files_mb:.0f} MB"


# -- 3: broken environments -----------------------------------------------------------------
def test_another_programs_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    other = tmp_path / "notes.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    con.execute("INSERT INTO notes (body) VALUES ('mine')")
    con.commit()
    con.close()
    before = digest(other)
    for args in (("status",), ("scan", str(tmp_path)), ("cluster",)):
        assert_one_line_error(cli(*args, db=other), "not a faceatlas catalog", "notes")
    assert digest(other) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]  # no -wal, no lock


def test_a_catalog_of_a_newer_version_is_refused_with_both_versions(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    Catalog(db).close()
    con = sqlite3.connect(db)
    con.execute("INSERT INTO schema_migrations VALUES ('0099_from_the_future', 'x')")
    con.execute("PRAGMA user_version = 2003001")
    con.commit()
    con.close()
    before = digest(db)
    from importlib.metadata import version

    line = assert_one_line_error(cli("status", db=db), "2.3.1", version("faceatlas"))
    assert "0099_from_the_future" in line and "upgrade" in line
    assert digest(db) == before


@pytest.mark.slow
def test_ids_out_of_range_are_one_line_errors(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    Catalog(db).close()
    for args in (("person", str(2**63)), ("name", str(2**64), "Bob"), ("person", "-" + "9" * 30)):
        proc = cli(*args, db=db)
        assert proc.returncode in (1, 2), (args, text(proc.stderr))
        assert "Traceback" not in text(proc.stderr)
    assert_one_line_error(cli("person", str(2**63), db=db), "out of range")


def test_ids_out_of_range_are_404_in_the_gallery(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from faceatlas.web import create_app

    db = tmp_path / "c.db"
    Catalog(db).close()
    client = TestClient(create_app(db), base_url="http://127.0.0.1:8000")
    for url in (
        f"/person/{2**63}",
        f"/person/{2**63}.json",
        f"/photo/{2**64}.jpg",
        f"/face/{2**63}.jpg",
        f"/face/{10**30}/photo.jpg",
    ):
        r = client.get(url, headers={"accept": "application/json"})
        assert r.status_code == 404, (url, r.status_code, r.text)


@pytest.mark.slow
def test_symlinked_photos_are_shown_in_the_gallery(zoo: Zoo, tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from faceatlas.web import create_app

    db = tmp_path / "zoo.db"
    assert cli("scan", str(zoo.root), "--jobs", "1", db=db).returncode == 0
    with Catalog(db) as cat:
        ids = {p["path"]: p["id"] for p in cat.photos()}
    client = TestClient(create_app(db), base_url="http://127.0.0.1:8000")
    linked = ids[str(zoo.root / "linked.jpg")]
    assert client.get(f"/photo/{linked}.jpg").status_code == 200
    assert client.get(f"/photo/{ids[zoo.good[2]]}.jpg").status_code == 200  # not UTF-8
    # re-pointed since the scan: refused, the link no longer leads to what was scanned
    (zoo.root / "linked.jpg").unlink()
    secret = tmp_path / "secret.jpg"
    shutil.copyfile(zoo.good[0], secret)
    (zoo.root / "linked.jpg").symlink_to(secret)
    assert client.get(f"/photo/{linked}.jpg").status_code == 404


@pytest.mark.slow
def test_elbow_into_a_missing_folder_is_one_line(tmp_path: Path, zoo: Zoo) -> None:
    db = tmp_path / "zoo.db"
    assert cli("scan", str(zoo.root), "--jobs", "1", db=db).returncode == 0
    assert_one_line_error(cli("elbow", str(tmp_path / "no" / "such" / "e.png"), db=db), "no")


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``where`` (root only), unmounted afterwards."""
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        check=False,
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {text(done.stderr).strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


def _lfw_folder(lfw: Path, folder: Path, n: int) -> list[Path]:
    folder.mkdir()
    out = []
    for person in sorted(p for p in lfw.iterdir() if p.is_dir())[:n]:
        out.append(folder / f"{person.name}.jpg")
        shutil.copyfile(next(person.glob("*.jpg")), out[-1])
    return out


def _photos_in(db: Path) -> int:
    with contextlib.suppress(sqlite3.Error):
        con = sqlite3.connect(db)
        try:
            return int(con.execute("SELECT COUNT(*) FROM photos").fetchone()[0])
        finally:
            con.close()
    return 0


def _scan_under_way(db: Path, folder: Path, stderr: int) -> subprocess.Popen:
    """``faceatlas scan -j 1`` in its own process, returned once it has catalogued 3 photos."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "faceatlas", "--db", str(db), "scan", str(folder), "-j", "1"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    deadline = time.monotonic() + TIME_LIMIT_S
    while _photos_in(db) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    return proc


def _fill(disk: Path) -> Path:
    """Write ``disk/filler`` until the disk has no byte left (as another program would)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for chunk in (1 << 20, 1 << 16, 1 << 12, 1 << 9):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * chunk)
    finally:
        os.close(fd)
    return filler


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_the_next_run_completes(tmp_path: Path, lfw: Path) -> None:
    photos = _lfw_folder(lfw, tmp_path / "photos", 40)
    with tmpfs(tmp_path / "disk", "50m") as disk:
        db = disk / "c.db"
        proc = _scan_under_way(db, tmp_path / "photos", subprocess.PIPE)
        try:
            filler = _fill(disk)  # the disk fills up under the running scan
            _, err = proc.communicate(timeout=TIME_LIMIT_S)
        finally:
            proc.kill()
        assert proc.returncode == 1
        lines = text(err).strip().splitlines()
        assert len(lines) == 1 and "disk is full" in lines[0], lines
        with Catalog(db) as cat:  # what was written before is intact, the run says failed
            kept = cat.counts()["photos"]
            assert cat.integrity_check() == "ok"
            run = cat.runs()[0]
        # the process saw the error: "failed" with the reason (written in the space of the
        # job's reserve), not "interrupted" as if it had died, and never "done"
        assert run["status"] == "failed", run
        assert "disk is full" in run["summary"]["failure"]
        assert "failed: catalog" in text(cli("runs", db=db).stdout)
        assert not (disk / "c.db.reserve").exists()
        assert 3 <= kept < len(photos)
        filler.unlink()
        done = cli("scan", str(tmp_path / "photos"), "-j", "1", "--json", db=db)
        assert done.returncode == 0, text(done.stderr)
        assert json.loads(done.stdout)["unchanged"] == kept
        with Catalog(db) as cat:
            assert cat.counts()["photos"] == len(photos)
            assert [r["status"] for r in cat.runs()] == ["done", "failed"]
        assert not (disk / "c.db.reserve").exists()


@pytest.mark.slow
def test_a_read_only_catalog_reads_and_refuses_writes(tmp_path: Path, lfw: Path) -> None:
    _lfw_folder(lfw, tmp_path / "photos", 3)
    with tmpfs(tmp_path / "disk", "20m") as disk:
        db = disk / "c.db"
        assert cli("scan", str(tmp_path / "photos"), "-j", "1", db=db).returncode == 0
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        before = digest(db)
        status = cli("status", "--json", db=db)
        assert status.returncode == 0 and json.loads(status.stdout)["photos"] == 3
        assert cli("people", db=db).returncode == 0
        for args in (("scan", str(tmp_path / "photos")), ("cluster",)):
            assert_one_line_error(cli(*args, db=db), "read-only")
        assert digest(db) == before


# -- 4: honest records ----------------------------------------------------------------------
@pytest.mark.slow
def test_a_killed_scan_is_shown_interrupted(tmp_path: Path, lfw: Path) -> None:
    _lfw_folder(lfw, tmp_path / "photos", 60)
    db = tmp_path / "c.db"
    proc = _scan_under_way(db, tmp_path / "photos", subprocess.DEVNULL)
    assert proc.poll() is None, "the scan ended before it could be killed"
    proc.kill()
    proc.wait(timeout=30)
    runs = json.loads(cli("runs", "--json", db=db).stdout)
    assert runs[0]["status"] == "interrupted"
    assert cli("scan", str(tmp_path / "photos"), "-j", "1", db=db).returncode == 0
    statuses = [r["status"] for r in json.loads(cli("runs", "--json", db=db).stdout)]
    assert statuses == ["done", "interrupted"]


def test_the_busy_message_names_what_holds_the_catalog(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    Catalog(db).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time\n"
                "from faceatlas.catalog import Catalog\n"
                f"c = Catalog({str(db)!r}); c.acquire_scan_lock(); c.start_run('cluster', {{}})\n"
                "print('held', flush=True); time.sleep(60)\n"
            ),
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        line = assert_one_line_error(cli("scan", str(tmp_path), db=db), "busy")
        assert f"a cluster (run 1, pid {holder.pid})" in line
        runs = json.loads(cli("runs", "--json", db=db).stdout)
        assert runs[0]["status"] == "running"  # it holds the lock: it is alive
    finally:
        holder.kill()
        holder.wait(timeout=30)
    runs = json.loads(cli("runs", "--json", db=db).stdout)
    assert runs[0]["status"] == "interrupted"


def test_names_that_are_not_utf8_round_trip_through_the_catalog(tmp_path: Path) -> None:
    from faceatlas.catalog import PhotoRecord

    name = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"\xff\xfe-caf\xe9.jpg"))
    with Catalog(tmp_path / "c.db") as cat:
        cat.replace_file(name, "h", 1, 2.0, "fake", [PhotoRecord(name, error=f"{name}: x")])
        assert cat.file_states()[name].size == 1
        raw = sqlite3.connect(tmp_path / "c.db")
        raw.text_factory = bytes
        stored = raw.execute("SELECT path, error FROM photos").fetchone()
        raw.close()
        assert stored[0] == os.fsencode(name)  # the file name's own bytes
        assert stored[1] == os.fsencode(name) + b": x"
        assert cat.photos()[0]["path"] == name
        cat.move_file(name, name + ".moved", 3.0)
        assert list(cat.file_states()) == [name + ".moved"]
        assert cat.delete_files([name + ".moved"]) == 1
        assert cat.counts()["files"] == 0


def test_names_that_are_not_utf8_are_shown_escaped_in_the_gallery() -> None:
    from faceatlas.web._routes import displayable, jsonable

    name = os.fsdecode(b"/photos/caf\xe9.jpg")
    assert jsonable({"path": name}) == {"path": "/photos/caf\\xe9.jpg"}
    assert displayable({"faces": [{"path": name}]}) == {"faces": [{"path": "/photos/caf\\xe9.jpg"}]}


def test_load_image_never_opens_a_fifo_or_device(tmp_path: Path) -> None:
    import signal

    os.mkfifo(tmp_path / "fifo.jpg")
    (tmp_path / "zero.jpg").symlink_to("/dev/zero")
    signal.alarm(20)  # a regression would block on the FIFO: fail instead of hanging
    try:
        for name in ("fifo.jpg", "zero.jpg"):
            with pytest.raises(ImageError, match="not a regular file"):
                load_image(tmp_path / name)
    finally:
        signal.alarm(0)
