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
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from _common import REPO, lfw_paths, machine  # noqa: E402

from faceatlas import Catalog, ScanConfig, scan  # noqa: E402
from faceatlas.executors import cluster_environment  # noqa: E402
from faceatlas.pipeline import FileResult, process_file  # noqa: E402

DASK = Path(sys.executable).parent / "dask"
# the workers start as docs/usage.md says: faceatlas importable, the quiet Dask settings
ENV = {**os.environ, **cluster_environment(), "PYTHONPATH": str(REPO)}


def _link(paths: list[Path], root: Path) -> Path:
    root.mkdir(parents=True)
    for i, p in enumerate(paths):
        os.symlink(p, root / f"{i:05d}_{p.name}")
    return root


def per_photo_work(folder: Path) -> tuple[float, float, int, list[FileResult]]:
    """The per-photo work alone, one thread: (seconds, CPU seconds, faces, results)."""
    import cv2

    cv2.setNumThreads(1)
    config = ScanConfig(jobs=1)
    files = sorted(str(p) for p in folder.iterdir())
    process_file(files[0], config)  # models loaded outside the timing
    cpu0, t0 = _cpu_self(), time.perf_counter()
    results = [process_file(f, config) for f in files]
    seconds, cpu = time.perf_counter() - t0, _cpu_self() - cpu0
    faces = sum(len(ph.faces) for r in results for ph in r.photos)
    return seconds, cpu, faces, results


def _cpu_self() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed_scan(
    folder: Path, db: Path, cluster: Cluster | None = None, jobs: int = 1
) -> tuple[float, float | None, dict, dict[str, float]]:
    """(wall seconds, CPU seconds of every process involved or None, summary, CPU by part).

    CPU is counted for the inline scan (this process) and for a Dask scan (this process,
    the scheduler and the workers); a ``--jobs 2`` pool's processes are not ours to count.
    For a Dask scan the parts (:func:`cpu_parts`) say where the CPU went.
    """
    parts0 = cpu_parts(cluster) if cluster else {}
    cpu0 = _cpu_self() + (cluster.cpu() if cluster else 0.0)
    t0 = time.perf_counter()
    with Catalog(db) as cat:
        config = ScanConfig(jobs=jobs)
        summary = scan([folder], cat, config, scheduler=cluster.address if cluster else None)
    wall = time.perf_counter() - t0
    cpu = _cpu_self() + (cluster.cpu() if cluster else 0.0) - cpu0
    parts = {}
    if cluster:
        parts1 = cpu_parts(cluster)
        parts = {k: parts1[k] - parts0.get(k, 0.0) for k in parts1}
    return wall, (cpu if cluster or jobs == 1 else None), summary.to_dict(), parts


def _threads(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of a process, by thread id."""
    import psutil

    return {t.id: t.user_time + t.system_time for t in psutil.Process(pid).threads()}


def cpu_parts(cluster: Cluster) -> dict[str, float]:
    """CPU seconds so far, by thread: ``client:main``, ``client:<tid>``, ``sched:<tid>``...

    Kept by thread so that a scan's CPU can be split into the photos' work (the thread of
    each worker that ran the tasks) and everything the cluster adds around it.
    """
    import psutil

    out = {f"client:{'main' if t == threading.get_native_id() else t}": c
           for t, c in _threads(os.getpid()).items()}  # fmt: skip
    for role, p in zip(cluster.roles, cluster.procs, strict=True):
        try:
            tree = psutil.Process(p.pid)
            for i, proc in enumerate([tree, *tree.children(recursive=True)]):
                for t, c in _threads(proc.pid).items():
                    out[f"{role}{i}:{proc.pid}:{t}"] = c
        except psutil.NoSuchProcess:
            pass
    return out


def overhead_split(parts: dict[str, float], workers: int) -> dict[str, float]:
    """A Dask scan's CPU seconds split into ``work`` and what the cluster adds around it.

    ``work``: on each worker, its busiest thread (the one that ran the tasks; Dask's event
    loop and monitors run in the others). ``client writes``: this process's main thread,
    which decodes nothing and writes the catalog as a local scan does, yet also waits on
    futures. Everything else is the cluster's: the scheduler, the nannies, the workers'
    other threads, the client's Dask threads.
    """
    worker_threads: dict[str, list[float]] = {}
    for key, cpu in parts.items():
        if key.startswith("worker") and not key.startswith(("worker0:",)):
            proc = key.rsplit(":", 1)[0]
            worker_threads.setdefault(proc, []).append(cpu)
    busiest = sorted((max(v) for v in worker_threads.values()), reverse=True)[:workers]
    work = sum(busiest)
    writes = parts.get("client:main", 0.0)
    total = sum(parts.values())
    return {"work": work, "client writes": writes, "cluster": total - work - writes}


class Cluster:
    """A real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1."""

    def __init__(self, workers: int) -> None:
        from pg_server import free_port

        self.address = f"tcp://127.0.0.1:{free_port()}"
        port = self.address.rsplit(":", 1)[1]
        self.roles = ["sched"] + ["worker"] * workers
        self.procs = [
            self._spawn("scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard")
        ]
        for _ in range(workers):
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
            client.wait_for_workers(workers, timeout=180)

    def _spawn(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [str(DASK), *args],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def cpu(self) -> float:
        """CPU seconds so far of the scheduler and the workers (nannies and their processes)."""
        import psutil

        total = 0.0
        for p in self.procs:
            try:
                tree = psutil.Process(p.pid)
                for proc in [tree, *tree.children(recursive=True)]:
                    t = proc.cpu_times()
                    total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

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


def photo_costs(tmp: Path) -> dict[str, float]:
    """What docs/scale.md scales up: a 12 MP photo's work, blake2b's rate, a chip's size."""
    import hashlib

    import numpy as np
    from PIL import Image

    from faceatlas.images import load_image

    config = ScanConfig(jobs=1)
    # an LFW face upscaled on a 4000x3000 canvas, with noise so it compresses like a photo
    face = Image.open(lfw_paths(40)[7]).convert("RGB").resize((3000, 3000), Image.BICUBIC)
    canvas = Image.new("RGB", (4000, 3000), (120, 110, 100))
    canvas.paste(face, (500, 0))
    noise = np.random.default_rng(0).normal(0, 4, (3000, 4000, 3))
    pixels = np.clip(np.asarray(canvas) + noise, 0, 255).astype(np.uint8)
    big = tmp / "big.jpg"
    Image.fromarray(pixels).save(big, quality=90)
    process_file(str(big), config)  # models loaded outside the timing
    cpus, decode = [], []
    for _ in range(5):
        c0 = _cpu_self()
        process_file(str(big), config)
        cpus.append(_cpu_self() - c0)
        c0 = _cpu_self()
        load_image(str(big))
        decode.append(_cpu_self() - c0)
    data = os.urandom(64 << 20)
    c0 = _cpu_self()
    hashlib.blake2b(data, digest_size=16).hexdigest()
    hash_cpu = _cpu_self() - c0
    chips = [
        len(f.chip_jpeg or b"")
        for p in lfw_paths(60)
        for ph in process_file(str(p), config).photos
        for f in ph.faces
    ]
    return {
        "big_jpeg_mb": big.stat().st_size / 1e6,
        "big_cpu_ms": 1000 * statistics.median(cpus),
        "big_decode_cpu_ms": 1000 * statistics.median(decode),
        "blake2b_mb_per_cpu_s": (64 << 20) / 1e6 / hash_cpu,
        "chip_bytes_mean": statistics.mean(chips),
    }


def print_photo_costs() -> None:
    import cv2

    cv2.setNumThreads(1)
    tmp = Path(tempfile.mkdtemp(prefix="faceatlas-scale-"))
    try:
        costs = photo_costs(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{machine()}; load average {os.getloadavg()[0]:.1f}")
    print(json.dumps({k: round(v, 2) for k, v in costs.items()}, indent=2))


def print_write_rates(copies: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="faceatlas-scale-"))
    try:
        _, _, _, results = per_photo_work(_link(lfw_paths(20), tmp / "photos"))
        writes = write_rates(results, copies, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{machine()}; load average {os.getloadavg()[0]:.1f}")
    print(f"\n{20 * copies} files\n\n| catalog | files/s | faces/s |\n|---|---:|---:|")
    for name, w in writes.items():
        print(f"| {name} | {w['files_per_s']:.0f} | {w['faces_per_s']:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=300, help="LFW photos")
    ap.add_argument("--repeats", type=int, default=3, help="rounds; medians are reported")
    ap.add_argument("--copies", type=int, default=4, help="write-rate: times each file")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    ap.add_argument(
        "--writes-only", action="store_true", help="only the catalogs' write rates (20 photos)"
    )
    ap.add_argument(
        "--photo-costs", action="store_true", help="only a 12 MP photo's work, hashing, chips"
    )
    args = ap.parse_args()
    if args.photo_costs:
        print_photo_costs()
        return
    if args.writes_only:
        print_write_rates(args.copies * 5)
        return

    tmp = Path(tempfile.mkdtemp(prefix="faceatlas-scale-"))
    load_before = os.getloadavg()
    runs: dict[str, list[tuple[float, float | None, int]]] = {}
    splits: dict[int, list[dict[str, float]]] = {}  # Dask scans' CPU by part, per worker count
    try:
        photos = _link(lfw_paths(args.n), tmp / "photos")
        warm = _link(lfw_paths(args.n + 8)[-8:], tmp / "warm")
        clusters = {1: Cluster(1), 2: Cluster(2)}
        try:
            for k, c in clusters.items():  # workers load their models before the timing
                timed_scan(warm, tmp / f"warm{k}.db", c)
            # what an idle cluster burns per second (heartbeats, monitors): a cost per
            # second of the cluster's life, not per photo
            idle0 = {k: c.cpu() for k, c in clusters.items()}
            time.sleep(20)
            idle = {k: (c.cpu() - idle0[k]) / 20 for k, c in clusters.items()}
            for rep in range(args.repeats):
                # round-robin, so that a change of the machine's load hits every mode alike
                work_s, work_cpu, faces, results = per_photo_work(photos)
                work = (work_s, work_cpu, faces)
                runs.setdefault("per-photo work, in process (1 core)", []).append(work)
                for jobs in (1, 2):
                    wall, cpu, s, _ = timed_scan(photos, tmp / f"jobs{jobs}-{rep}.db", jobs=jobs)
                    runs.setdefault(f"scan --jobs {jobs}", []).append((wall, cpu, s["faces"]))
                for k, c in clusters.items():
                    wall, cpu, s, parts = timed_scan(photos, tmp / f"dask{k}-{rep}.db", c)
                    name = f"scan --scheduler (Dask, {k} worker{'s' * (k > 1)})"
                    runs.setdefault(name, []).append((wall, cpu, s["faces"]))
                    splits.setdefault(k, []).append(overhead_split(parts, k))
        finally:
            for c in clusters.values():
                c.stop()
        writes = write_rates(results[: min(len(results), 100)], args.copies, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    n = args.n
    rows = {}
    for name, rs in runs.items():
        wall = statistics.median(r[0] for r in rs)
        cpus = [r[1] for r in rs if r[1] is not None]
        rows[name] = {
            "seconds": wall,
            "seconds_all": [round(r[0], 2) for r in rs],
            "cpu_ms_per_photo": 1000 * statistics.median(cpus) / n if cpus else None,
            "photos_per_s": n / wall,
            "faces_per_s": rs[0][2] / wall,
            "faces": rs[0][2],
        }
    work = rows["per-photo work, in process (1 core)"]
    d1 = rows["scan --scheduler (Dask, 1 worker)"]
    d2 = rows["scan --scheduler (Dask, 2 workers)"]
    j1 = rows["scan --jobs 1"]
    work_ms = 1000 * work["seconds"] / n
    report = {
        "machine": machine(),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "photos": n,
        "scans": rows,
        "dask_2_over_1": d1["seconds"] / d2["seconds"],
        "jobs_2_over_1": j1["seconds"] / rows["scan --jobs 2"]["seconds"],
        "per_photo_work_ms": work_ms,
        "per_photo_work_cpu_ms": work["cpu_ms_per_photo"],
        "cluster_overhead_wall_ms": 1000 * d1["seconds"] / n - work_ms,
        "cluster_overhead_cpu_ms": d1["cpu_ms_per_photo"] - j1["cpu_ms_per_photo"],
        "idle_cluster_cpu_per_s": idle,
        "writes": writes,
    }
    report["cluster_overhead_wall_share"] = report["cluster_overhead_wall_ms"] / work_ms
    report["cluster_overhead_cpu_share"] = (
        report["cluster_overhead_cpu_ms"] / report["per_photo_work_cpu_ms"]
    )
    # the cluster's share measured thread by thread within each Dask scan (overhead_split):
    # unlike a difference of two scans' CPU (each ~20 ms per photo, and noisy by more
    # than the overhead itself on a shared machine), it needs no second run
    for k, rounds in splits.items():
        med = {part: 1000 * statistics.median(r[part] for r in rounds) / n for part in rounds[0]}
        report[f"dask{k}_cpu_ms_per_photo_by_part"] = med
        report[f"dask{k}_cluster_share"] = med["cluster"] / med["work"]
        both = med["cluster"] + med["client writes"]
        report[f"dask{k}_cluster_and_client_share"] = both / med["work"]
    print(f"{machine()}; load average before {load_before[0]:.1f}, after "
          f"{report['load_after'][0]:.1f}")  # fmt: skip
    print(f"\n{n} LFW photos, {work['faces']} faces; median of {args.repeats} rounds\n")
    # cores obtained: CPU over wall time; on a shared machine the other jobs decide it, and
    # a speedup can only follow the cores the workers got
    print("| run | seconds (each round) | photos/s | faces/s | CPU ms/photo | cores obtained |")
    print("|---|---|---:|---:|---:|---:|")
    for name, r in rows.items():
        cpu = f"{r['cpu_ms_per_photo']:.1f}" if r["cpu_ms_per_photo"] is not None else "-"
        cores = "-"
        if r["cpu_ms_per_photo"] is not None:
            r["cores_obtained"] = r["cpu_ms_per_photo"] * n / 1000 / r["seconds"]
            cores = f"{r['cores_obtained']:.2f}"
        each = ", ".join(f"{x:.1f}" for x in r["seconds_all"])
        print(
            f"| {name} | {r['seconds']:.1f} ({each}) | {r['photos_per_s']:.2f} "
            f"| {r['faces_per_s']:.2f} | {cpu} | {cores} |"
        )
    print(
        f"\nDask 2 workers / 1 worker: {report['dask_2_over_1']:.2f}x (target >= 1.8x); "
        f"--jobs 2 / --jobs 1: {report['jobs_2_over_1']:.2f}x"
    )
    for k in splits:
        med = report[f"dask{k}_cpu_ms_per_photo_by_part"]
        print(
            f"Dask, {k} worker{'s' * (k > 1)}, CPU per photo: work {med['work']:.2f} ms (the "
            f"workers' task threads), cluster {med['cluster']:.2f} ms = "
            f"{100 * report[f'dask{k}_cluster_share']:.1f} % of the work (target < 10 %), "
            f"client writing the catalog {med['client writes']:.2f} ms (both: "
            f"{100 * report[f'dask{k}_cluster_and_client_share']:.1f} %)"
        )
    print(
        f"cross-check, Dask 1 worker's CPU minus --jobs 1's: "
        f"{report['cluster_overhead_cpu_ms']:.1f} ms = "
        f"{100 * report['cluster_overhead_cpu_share']:.1f} % (a difference of two noisy runs); "
        f"wall {report['cluster_overhead_wall_ms']:.1f} ms per photo = "
        f"{100 * report['cluster_overhead_wall_share']:.1f} %; an idle cluster burns "
        f"{1000 * idle[1]:.0f} ms of CPU per second with 1 worker, {1000 * idle[2]:.0f} with 2"
    )
    print("\n| catalog | files/s | faces/s |\n|---|---:|---:|")
    for name, w in writes.items():
        print(f"| {name} | {w['files_per_s']:.0f} | {w['faces_per_s']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
