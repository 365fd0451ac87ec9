"""Scale-out: scan throughput on a Dask cluster against local processes, and catalog writes.

On the same LFW photos (symlinked), one after the other:

- the per-photo work alone: :func:`faceatlas.pipeline.process_file` in this process, one
  thread (the work a cluster must not add much to);
- ``faceatlas scan --jobs 1`` and ``--jobs 2`` (local processes, fresh SQLite catalog);
- ``faceatlas scan --scheduler tcp://...`` on a real ``dask scheduler`` with 1, then 2,
  ``dask worker --nthreads 1`` processes on 127.0.0.1 (warm: the workers have loaded their
  models on a few other photos first, as on a long-running cluster);
- the catalog's write rate: the same real face records written file by file
  (``replace_file``, one transaction each) into SQLite (WAL) and into a PostgreSQL server
  (Debian's package, started here with its shipped durability: fsync on), and into
  PostgreSQL by two writer processes at once.

The cluster overhead per photo is (Dask 1-worker wall time - the per-photo work) / photos,
as a share of the per-photo work: what shipping tasks and results costs.

    python bench/scale_out.py --n 300
    python bench/scale_out.py --n 300 --json scale.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from _common import REPO, lfw_paths, machine  # noqa: E402

from faceatlas import Catalog, ScanConfig, scan  # noqa: E402
from faceatlas.pipeline import FileResult, process_file  # noqa: E402

DASK = Path(sys.executable).parent / "dask"
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def _link(paths: list[Path], root: Path) -> Path:
    root.mkdir(parents=True)
    for i, p in enumerate(paths):
        os.symlink(p, root / f"{i:05d}_{p.name}")
    return root


def per_photo_work(folder: Path) -> tuple[float, int, list[FileResult]]:
    import cv2

    cv2.setNumThreads(1)
    config = ScanConfig(jobs=1)
    files = sorted(str(p) for p in folder.iterdir())
    process_file(files[0], config)  # models loaded outside the timing
    t0 = time.perf_counter()
    results = [process_file(f, config) for f in files]
    seconds = time.perf_counter() - t0
    faces = sum(len(ph.faces) for r in results for ph in r.photos)
    return seconds, faces, results


def timed_scan(folder: Path, db: Path, **kwargs) -> tuple[float, dict]:
    t0 = time.perf_counter()
    with Catalog(db) as cat:
        summary = scan([folder], cat, ScanConfig(jobs=kwargs.pop("jobs", 1)), **kwargs)
    return time.perf_counter() - t0, summary.to_dict()


class Cluster:
    """A real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1."""

    def __init__(self) -> None:
        from pg_server import free_port

        self.address = f"tcp://127.0.0.1:{free_port()}"
        port = self.address.rsplit(":", 1)[1]
        self.procs = [
            self._spawn("scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard")
        ]

    def _spawn(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [str(DASK), *args],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def add_worker(self) -> None:
        self.procs.append(
            self._spawn(
                "worker",
                self.address,
                "--nthreads",
                "1",
                "--nworkers",
                "1",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
            )
        )
        from distributed import Client

        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(len(self.procs) - 1, timeout=120)

    def stop(self) -> None:
        import signal

        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def _write_files(
    url: str, results: list[FileResult], copies: int, tag: str
) -> tuple[float, int, float, float]:
    """``replace_file`` of every result ``copies`` times under new paths.

    Returns (seconds, faces, wall-clock start, end): writers in other processes are timed
    from the first start to the last end, without their start-up.
    """
    faces = 0
    with Catalog(url) as cat:
        start = time.time()
        t0 = time.perf_counter()
        for c in range(copies):
            for r in results:
                path = f"/bench/{tag}/{c}/{r.path}"
                photos = [type(ph)(**{**ph.__dict__, "path": path}) for ph in r.photos]
                faces += cat.replace_file(
                    path, r.content_hash, r.size, r.mtime, "yunet", photos, "sface", "bench"
                )
        return time.perf_counter() - t0, faces, start, time.time()


def _writer_process(
    args: tuple[str, list[FileResult], int, str],
) -> tuple[float, int, float, float]:
    return _write_files(*args)


def write_rates(results: list[FileResult], copies: int, tmp: Path) -> dict[str, dict]:
    from pg_server import PostgresServer

    out = {}
    n_files = len(results) * copies
    secs, faces, _, _ = _write_files(str(tmp / "write.db"), results, copies, "sqlite")
    out["sqlite"] = {"files_per_s": n_files / secs, "faces_per_s": faces / secs}
    server = PostgresServer(durable=True).start()
    try:
        url = server.new_database()
        Catalog(url).close()  # tables first
        secs, faces, _, _ = _write_files(url, results, copies, "pg1")
        out["postgresql"] = {"files_per_s": n_files / secs, "faces_per_s": faces / secs}
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(2) as pool:
            parts = pool.map(
                _writer_process, [(url, results, copies, f"pg2-{i}") for i in range(2)]
            )
        secs = max(p[3] for p in parts) - min(p[2] for p in parts)
        faces = sum(p[1] for p in parts)
        with Catalog(url) as cat:
            assert cat.duplicate_face_count() == 0
            assert cat.counts()["files"] == 3 * n_files, "a concurrent write was lost"
        out["postgresql, 2 writers at once"] = {
            "files_per_s": 2 * n_files / secs,
            "faces_per_s": faces / secs,
        }
    finally:
        server.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=300, help="LFW photos")
    ap.add_argument("--copies", type=int, default=4, help="write-rate: times each file")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="faceatlas-scale-"))
    load_before = os.getloadavg()
    rows: dict[str, dict] = {}
    try:
        photos = _link(lfw_paths(args.n), tmp / "photos")
        warm = _link(lfw_paths(args.n + 8)[-8:], tmp / "warm")

        work_s, faces, results = per_photo_work(photos)
        rows["per-photo work, in process (1 core)"] = {"seconds": work_s, "faces": faces}
        for jobs in (1, 2):
            secs, s = timed_scan(photos, tmp / f"jobs{jobs}.db", jobs=jobs)
            rows[f"scan --jobs {jobs}"] = {"seconds": secs, "faces": s["faces"]}
        cluster = Cluster()
        try:
            for workers in (1, 2):
                cluster.add_worker()
                timed_scan(warm, tmp / f"warm{workers}.db", scheduler=cluster.address)
                secs, s = timed_scan(photos, tmp / f"dask{workers}.db", scheduler=cluster.address)
                rows[f"scan --scheduler (Dask, {workers} worker{'s' * (workers > 1)})"] = {
                    "seconds": secs,
                    "faces": s["faces"],
                }
        finally:
            cluster.stop()
        writes = write_rates(results[: min(len(results), 100)], args.copies, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    n = args.n
    for r in rows.values():
        r["photos_per_s"] = n / r["seconds"]
        r["faces_per_s"] = r["faces"] / r["seconds"]
    d1 = rows["scan --scheduler (Dask, 1 worker)"]["seconds"]
    d2 = rows["scan --scheduler (Dask, 2 workers)"]["seconds"]
    overhead = (d1 - work_s) / n
    report = {
        "machine": machine(),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "photos": n,
        "scans": rows,
        "dask_2_over_1": d1 / d2,
        "jobs_2_over_1": rows["scan --jobs 1"]["seconds"] / rows["scan --jobs 2"]["seconds"],
        "per_photo_work_ms": 1000 * work_s / n,
        "cluster_overhead_ms_per_photo": 1000 * overhead,
        "cluster_overhead_share": overhead / (work_s / n),
        "writes": writes,
    }
    print(f"{machine()}; load average before {load_before[0]:.1f}, after "
          f"{report['load_after'][0]:.1f}")  # fmt: skip
    print(f"\n{n} LFW photos, {faces} faces\n")
    print("| run | seconds | photos/s | faces/s |\n|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['seconds']:.1f} | {r['photos_per_s']:.2f} | {r['faces_per_s']:.2f} |")
    print(
        f"\nDask 2 workers / 1 worker: {report['dask_2_over_1']:.2f}x (target >= 1.8x); "
        f"--jobs 2 / --jobs 1: {report['jobs_2_over_1']:.2f}x"
    )
    print(
        f"per-photo work {report['per_photo_work_ms']:.1f} ms; cluster overhead "
        f"{report['cluster_overhead_ms_per_photo']:.1f} ms per photo = "
        f"{100 * report['cluster_overhead_share']:.1f} % (target < 10 %)"
    )
    print("\n| catalog | files/s | faces/s |\n|---|---|---|")
    for name, w in writes.items():
        print(f"| {name} | {w['files_per_s']:.0f} | {w['faces_per_s']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
