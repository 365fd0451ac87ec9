"""Past one machine: scans on a real Dask cluster, catalogs in a real PostgreSQL server.

The cluster is a real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, the
photos are real LFW photos (symlinked from ../shared/data), the models are the real ones.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from faceatlas import Catalog, ScanConfig, scan
from faceatlas.cli import main
from faceatlas.exceptions import InputError
from faceatlas.executors import (
    Executor,
    batch_size,
    check_scheduler,
    cluster_environment,
    dask_pool,
)

REPO = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).parent / "dask"
# the workers import faceatlas from this tree, and _poison from this file
ENV = {**os.environ, **cluster_environment(), "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests'}"}


# -- helpers -----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _face_rows(cat: Catalog) -> list[tuple]:
    """(path, frame, face index, box, embedding) of every face, sorted: what a scan found."""
    rows = cat.query(
        "SELECT p.path, p.frame_index, f.face_index, f.x1, f.y1, f.x2, f.y2, e.vector "
        "FROM faces f JOIN photos p ON p.id = f.photo_id "
        "JOIN embeddings e ON e.face_id = f.id AND e.embedder = 'sface' "
        "ORDER BY p.path, p.frame_index, f.face_index"
    )
    return [(r[0], r[1], r[2], (r[3], r[4], r[5], r[6]), bytes(r[7])) for r in rows]


def assert_same_faces(got: list[tuple], want: list[tuple]) -> None:
    assert [g[:3] for g in got] == [w[:3] for w in want], "different faces were found"
    np.testing.assert_allclose([g[3] for g in got], [w[3] for w in want], atol=1e-3)
    X = np.array([np.frombuffer(g[4], np.float32) for g in got])
    Y = np.array([np.frombuffer(w[4], np.float32) for w in want])
    np.testing.assert_allclose(X, Y, atol=1e-5)


def run_cli(*args: str) -> dict | list:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def scan_cmd(db: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "faceatlas", "--db", db, "scan", *args]


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lfw60(shared_data, tmp_path_factory) -> Path:
    """60 real LFW photos (symlinks) in two folders, and one broken file."""
    root = tmp_path_factory.mktemp("lfw60")
    with open(shared_data / "lfw" / "labels.csv") as fh:
        rows = list(csv.DictReader(fh))[:60]
    for i, row in enumerate(rows):
        dst = root / ("a" if i < 30 else "b") / Path(row["path"]).name
        dst.parent.mkdir(exist_ok=True)
        os.symlink(shared_data / "lfw" / row["path"], dst)
    (root / "a" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


@pytest.fixture(scope="module")
def local_reference(lfw60, tmp_path_factory) -> list[tuple]:
    """The faces a plain local scan (one process) finds: what every other scan must match."""
    db = tmp_path_factory.mktemp("ref") / "ref.db"
    with Catalog(db) as cat:
        s = scan([lfw60], cat, ScanConfig(jobs=1))
        assert s.photos == 60 and len(s.errors) == 1
        return _face_rows(cat)


class DaskCluster:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, each in its own group."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.scheduler = self._spawn(
            [
                str(DASK),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-dashboard",
            ]
        )

    def _spawn(self, cmd: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(
            cmd,
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def add_worker(self, name: str) -> subprocess.Popen:
        return self._spawn(
            [
                str(DASK),
                "worker",
                self.address,
                "--nthreads",
                "1",
                "--nworkers",
                "1",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
                "--name",
                name,
            ]
        )

    def wait_for_workers(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(n, timeout=120)

    def n_workers(self) -> int:
        from distributed import Client

        with Client(self.address, timeout="30s") as client:
            return len(client.nthreads())

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)  # the nanny and its worker process alike
        proc.wait()

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                self.kill(proc)


@pytest.fixture(scope="module")
def cluster():
    """A real Dask scheduler with two one-thread workers on 127.0.0.1."""
    c = DaskCluster()
    try:
        c.add_worker("w1")
        c.add_worker("w2")
        c.wait_for_workers(2)
        yield c
    finally:
        c.stop()


def _wait_for_faces(count, at_least: int, proc: subprocess.Popen, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while count() < at_least:
        assert proc.poll() is None, "the scan ended before it could be interrupted"
        assert time.monotonic() < deadline, "the scan made no progress"
        time.sleep(0.05)


def _sqlite_faces(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return int(con.execute("SELECT COUNT(*) FROM faces").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


# -- the scheduler option ------------------------------------------------------------------------
def test_scheduler_spec_is_checked_before_any_work(tmp_path):
    for good in ("tcp://127.0.0.1:8786", "tcp://scheduler.lan:8786", "local:2"):
        assert check_scheduler(good) == good
    for bad in ("8786", "tcp://host", "local:", "local:0", "http://h:1", ""):
        with pytest.raises(InputError, match="scheduler"):
            check_scheduler(bad)
    result = CliRunner().invoke(
        main, ["--db", str(tmp_path / "x.db"), "scan", str(tmp_path), "--scheduler", "lots"]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        (
            "error: scheduler must be tcp://HOST:PORT (a running `dask scheduler`) or local:N "
            "(N local worker processes), got 'lots'"
        )
    ]


@pytest.mark.slow
def test_unreachable_scheduler_is_one_line(samples, tmp_path):
    port = _free_port()  # nobody listens there
    cmd = scan_cmd(
        str(tmp_path / "x.db"),
        str(samples / "orl" / "s1"),
        "--scheduler",
        f"tcp://127.0.0.1:{port}",
    )
    done = subprocess.run(cmd, check=False, env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"
    ), done.stderr


# -- point 1: the scan on a cluster ------------------------------------------------------------
@pytest.mark.slow
def test_cluster_scan_equals_local_scan_and_is_incremental(
    cluster, lfw60, local_reference, tmp_path
):
    db = tmp_path / "dask.db"
    cmd = scan_cmd(str(db), str(lfw60), "--scheduler", cluster.address, "--json")
    done = subprocess.run(cmd, check=False, env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["files"], summary["new"], summary["photos"]) == (61, 61, 60)
    assert [Path(e["path"]).name for e in summary["errors"]] == ["broken.jpg"]
    assert summary["faces"] == len(local_reference) and summary["faces_per_s"] > 0
    with Catalog(db) as cat:
        assert_same_faces(_face_rows(cat), local_reference)
        assert [Path(p["path"]).name for p in cat.photos(errors_only=True)] == ["broken.jpg"]
    # incremental: nothing is sent to the cluster again (the bad file is not retried)
    again = subprocess.run(cmd, check=False, env=ENV, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    s2 = json.loads(again.stdout)
    assert (s2["unchanged"], s2["failed_unchanged"], s2["processed"], s2["faces"]) == (60, 1, 0, 0)
    # the bad file read again on request, with the summary line of a local scan
    retry = subprocess.run(
        [*cmd[:-1], "--retry-errors"], check=False, env=ENV, capture_output=True, text=True
    )
    assert retry.returncode == 0, retry.stderr
    assert "broken.jpg" in retry.stderr and "60 unchanged" in retry.stdout


@pytest.mark.slow
def test_a_worker_killed_mid_scan_loses_nothing(cluster, lfw60, local_reference, pg_url):
    """Into a PostgreSQL catalog: a third worker dies half-way; its tasks run elsewhere."""
    doomed = cluster.add_worker("doomed")
    cluster.wait_for_workers(3)
    proc = subprocess.Popen(
        scan_cmd(pg_url, str(lfw60), "--scheduler", cluster.address, "--json"),
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def count() -> int:
        try:
            with Catalog(pg_url) as cat:
                return cat.counts()["faces"]
        except Exception:  # noqa: BLE001 - the scan may still be creating the tables
            return 0

    _wait_for_faces(count, 10, proc)
    cluster.kill(doomed)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert cluster.n_workers() == 2, "the killed worker is still registered"
    summary = json.loads(out)
    assert summary["photos"] == 60 and len(summary["errors"]) == 1
    with Catalog(pg_url) as cat:
        assert_same_faces(_face_rows(cat), local_reference)
        assert cat.duplicate_face_count() == 0


def _server_faces(url: str) -> int:
    with Catalog(url) as cat:
        return cat.counts()["faces"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_killed_client_resumes_where_it_stopped(
    cluster, lfw60, local_reference, tmp_path, backend, request
):
    db = tmp_path / "killed.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    faces = (lambda: _sqlite_faces(db)) if backend == "sqlite" else (lambda: _server_faces(db))
    cmd = scan_cmd(str(db), str(lfw60), "--scheduler", cluster.address)
    proc = subprocess.Popen(
        cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    _wait_for_faces(faces, 10, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = faces()
    assert 0 < partial < len(local_reference)
    with Catalog(db) as cat:  # the dead run is told from a live one (as the server notices)
        deadline = time.monotonic() + 10
        while [r["status"] for r in cat.runs()] != ["interrupted"]:
            assert time.monotonic() < deadline, cat.runs()
            time.sleep(0.05)
    done = subprocess.run(
        cmd + ["--json"], check=False, env=ENV, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["unchanged"] > 0 and summary["new"] + summary["unchanged"] == 61
    with Catalog(db) as cat:
        assert_same_faces(_face_rows(cat), local_reference)
        assert cat.duplicate_face_count() == 0
        assert [r["status"] for r in cat.runs()] == ["done", "interrupted"]


@pytest.mark.slow
def test_local_cluster_of_two_workers(lfw60, local_reference, tmp_path):
    with Catalog(tmp_path / "local.db") as cat:
        s = scan([lfw60 / "a"], cat, ScanConfig(), scheduler="local:2")
        assert (s.photos, len(s.errors)) == (30, 1)
        got = _face_rows(cat)
    assert_same_faces(got, [r for r in local_reference if f"{os.sep}a{os.sep}" in r[0]])


@pytest.mark.slow
def test_executor_reports_a_task_that_kills_its_workers(cluster):
    with Executor(cluster.address) as ex:
        assert ex.describe().endswith("2 workers, 2 threads")
        out = list(ex.map(os._exit, [3], lambda task, why: ("failed", why)))
    assert out[0][0] == "failed" and "KilledWorker" in out[0][1]
    cluster.wait_for_workers(2)  # the nannies bring the workers back


def _poison(x: int) -> int:
    """A file whose decoding kills the process, among good ones."""
    if x == 3:
        os._exit(3)
    return 10 * x


@pytest.mark.slow
def test_a_batch_with_a_file_that_kills_workers_is_split(cluster):
    with Executor(cluster.address) as ex:
        out = list(dask_pool(ex.client, _poison, [1, 2, 3, 4, 5], lambda t, why: -t, batch=5))
    assert sorted(out) == [-3, 10, 20, 40, 50]
    cluster.wait_for_workers(2)


def test_batches_are_small_enough_to_balance_and_big_enough_to_pay():
    assert batch_size(10, 2) == 1  # few files: one per task
    assert batch_size(300, 2) == 18
    assert batch_size(1_000_000, 64) == 32  # never more than about a second of work
    assert batch_size(5, 0) == 1


# -- point 2: PostgreSQL ---------------------------------------------------------------------------
@pytest.mark.slow
def test_two_scans_at_once_into_one_postgres_catalog(lfw60, local_reference, pg_url):
    """Two machines' scans: one folder each plus one folder both scan; nothing lost or doubled."""
    with Catalog(pg_url):
        pass  # the tables exist before both start (they would wait for each other anyway)
    procs = [
        subprocess.Popen(
            scan_cmd(pg_url, str(lfw60 / part), str(lfw60 / "b"), "--jobs", "1", "--json"),
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for part in ("a", "a")
    ]
    outs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    with Catalog(pg_url) as cat:
        assert_same_faces(_face_rows(cat), local_reference)
        assert cat.duplicate_face_count() == 0
        assert cat.counts() == {
            "files": 61,
            "photos": 60,
            "errors": 1,
            "faces": len(local_reference),
        }
        assert [r["command"] for r in cat.runs()] == ["scan", "scan"]


@pytest.mark.slow
def test_every_command_on_a_postgres_catalog(samples, pg_url, tmp_path):
    db = ("--db", pg_url)
    s = run_cli(*db, "scan", str(samples), "--jobs", "2", "--json")
    assert s["photos"] == s["faces"] >= 100 and not s["errors"]
    status = run_cli(*db, "status", "--json")
    assert status["faces"] == s["faces"] and status["db"] == pg_url
    assert status["migrations"] == Catalog(":memory:").applied_migrations()
    assert len(run_cli(*db, "photos", "--json")) == s["photos"]
    assert len(run_cli(*db, "faces", "--json")) == s["faces"]
    run_cli(*db, "cluster", "--json")
    people = run_cli(*db, "people", "--json")
    first, second = people["people"][0]["id"], people["people"][1]["id"]
    run_cli(*db, "name", str(first), "Ada", "--json")
    run_cli(*db, "merge", str(first), str(second), "--json")
    assert run_cli(*db, "person", str(first), "--json")["name"] == "Ada"
    run_cli(*db, "undo", "--json")
    assert run_cli(*db, "person", str(second), "--json")["id"] == second
    similar = run_cli(*db, "similar", "1", "--json")
    assert similar
    report = tmp_path / "report"
    result = CliRunner().invoke(main, [*db, "report", str(report)])
    assert result.exit_code == 0, result.output
    assert (report / "index.html").is_file()
    assert [r["command"] for r in run_cli(*db, "runs", "--json")][:2] == ["cluster", "scan"]


def test_postgres_catalog_speaks_the_sqlite_dialect(pg_url):
    """The translation rules on their own: upserts, ids, blobs, named parameters, errors."""
    with Catalog(pg_url) as cat:
        with cat.transaction() as db:
            db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v REAL, b BLOB)")
            first = db.execute("INSERT INTO t (k, v, b) VALUES (?, ?, ?)", ("a", 0.1, b"\x00\x01"))
            db.execute("INSERT OR REPLACE INTO t (k, v) VALUES (?, ?)", ("a", 1.0 / 3.0))
            db.execute("INSERT OR IGNORE INTO t (k, v) VALUES (:k, :v)", {"k": "a", "v": 9.0})
            db.execute("INSERT INTO t (id, k, v) VALUES (?, ?, ?)", (10, "ten", 10.0))
            nxt = db.execute("INSERT INTO t (k) VALUES (?)", ("next",))
        assert first.lastrowid == 1 and nxt.lastrowid == 11
        rows = cat.query("SELECT id, k, v, b FROM t WHERE k LIKE ? ORDER BY id", ("%A%",))
        # REPLACE: the row is what was inserted (b back to its default), under its old id
        assert [dict(r) for r in rows] == [{"id": 1, "k": "a", "v": 1.0 / 3.0, "b": None}]
        row = cat.query("SELECT IFNULL(NULL, k), MAX(id, 5), MIN(id, 5) FROM t WHERE id = 10")
        assert tuple(row[0]) == ("ten", 10, 5)
        assert cat.query("SELECT COUNT(*) FROM t WHERE id IN ()")[0][0] == 0
        assert cat.integrity_check() == "ok"
        with pytest.raises(sqlite3.IntegrityError), cat.transaction() as db:
            db.execute("INSERT INTO t (k) VALUES (?)", ("a",))
        assert cat.query("SELECT COUNT(*) FROM t")[0][0] == 3  # rolled back, still usable


def test_postgres_answers_what_other_mixins_ask(pg_url):
    """PRAGMAs read for an answer, SQLite's date functions, and who is scanning."""
    with Catalog(pg_url) as cat, Catalog(pg_url) as other:
        cols = [r[1] for r in cat.db.execute("PRAGMA table_info(photos)")]
        assert cols[:3] == ["id", "path", "frame_index"]
        assert cat.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone() == (0, 0, 0)
        assert cat.db.execute("PRAGMA page_count").fetchone()[0] > 0
        cat.db.execute("PRAGMA secure_delete=ON")  # a setting of SQLite's file: nothing
        day = cat.query("SELECT datetime(86400.5, 'unixepoch'), datetime('now')")[0]
        assert day[0] == "1970-01-02 00:00:00" and day[1][:2] == "20"
        names = {r[0] for r in cat.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"photos", "faces", "schema_migrations"} <= names
        cat.acquire_scan_lock()
        other.acquire_scan_lock()  # scans from two machines at once
        mine, theirs = cat.start_run("scan", {}), other.start_run("scan", {})
        with Catalog(pg_url) as third:
            assert [r["status"] for r in third.runs()] == ["running", "running"]
        assert [r["status"] for r in cat.runs()] == ["running", "running"]  # its own too
        other.close()  # its connection gone, as when its process is killed
        deadline = time.monotonic() + 10  # the server drops a session's locks as it ends
        while (status := {r["id"]: r["status"] for r in cat.runs()})[theirs] == "running":
            assert time.monotonic() < deadline, "the closed session's run still looks alive"
            time.sleep(0.05)
        assert status == {theirs: "interrupted", mine: "running"}  # the live one goes on
        cat.finish_run(mine, {})
        assert [r["status"] for r in cat.runs()] == ["interrupted", "done"]


def test_names_that_are_not_utf8_round_trip_through_a_postgres_catalog(
    shared_data, pg_url, tmp_path
):
    """PostgreSQL's text holds only UTF-8: such a name is stored escaped and read back exact."""
    from faceatlas.catalog import PhotoRecord

    folder = tmp_path / "old camera"
    folder.mkdir()
    photo = os.path.join(os.fsencode(folder), b"\xff\xfe-caf\xe9.jpg")
    with open(shared_data / "lfw" / "labels.csv") as fh:
        first = next(csv.DictReader(fh))["path"]
    with open(shared_data / "lfw" / first, "rb") as src, open(photo, "wb") as dst:
        dst.write(src.read())
    name = os.fsdecode(photo)
    s = run_cli("--db", pg_url, "scan", str(folder), "--jobs", "1", "--json")
    assert s["photos"] == 1 and s["faces"] == 1 and not s["errors"]
    assert run_cli("--db", pg_url, "photos", "--json")[0]["path"] == name
    again = run_cli("--db", pg_url, "scan", str(folder), "--jobs", "1", "--json")
    assert again["unchanged"] == 1 and again["processed"] == 0, again  # the same name, unchanged
    with Catalog(pg_url) as cat:
        cat.replace_file(
            name + "2", "h", 1, 2.0, "fake", [PhotoRecord(name + "2", error=f"{name}: x")]
        )
        assert cat.file_states()[name + "2"].size == 1
        errors = [p["error"] for p in cat.photos() if p["path"] == name + "2"]
        assert errors == [f"{name}: x"]
        cat.move_file(name + "2", name + ".moved", 3.0)
        assert sorted(cat.file_states()) == [name, name + ".moved"]
        assert cat.delete_files([name, name + ".moved"]) == 2
        assert cat.counts()["files"] == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_dask_workers_trim_setting_no_longer_maps_every_photo_afresh():
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_; init_worker gives glibc its adaptive mmap back."""
    code = (
        "import resource, sys, numpy as np\n"
        "from faceatlas.executors import init_worker\n"
        "if sys.argv[1] == 'init': init_worker()\n"
        "a = np.ones(4 << 20, np.uint8); del a\n"  # a 4 MB photo, freed
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(50):\n"
        "    a = np.ones(4 << 20, np.uint8); del a\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
    )
    env = {**ENV, "MALLOC_TRIM_THRESHOLD_": "65536"}
    faults = {
        how: int(
            subprocess.run(
                [sys.executable, "-c", code, how],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for how in ("plain", "init")
    }
    # mapped afresh: each 4 MB array faults its 1,024 pages in again; reused: hardly any
    assert faults["plain"] > 50 * 500 and faults["init"] < 50 * 50, faults
