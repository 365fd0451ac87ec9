"""The gallery under load: every page and JSON twin, 20 clients, a 100,000-face catalog.

    python bench/gallery_load.py --dir /tmp/gallery_load            # build (once) and measure
    python bench/gallery_load.py --dir /tmp/gallery_load --faces 20000 --requests 40

Builds a synthetic catalog at run time (nothing is committed): ``--faces`` faces in photos
of 1-5 faces each, unit vectors drawn around ``--people`` centres (a quarter of the faces
belong to nobody), people of Zipf-like sizes (one of several thousand faces, for paging),
some named, file times spread over 20 years, small generated photos (symbolic links to a
few dozen generated JPEGs in the same folder) and chips. Then it starts ``faceatlas serve``
(uvicorn, one process, as users run it) on 127.0.0.1 and sends ``--requests`` GETs per
page from ``--clients`` threads at once (httpx), each request for a random person or
photo where the page takes one, and prints p50 / p95 / max per page, plus the first
(cold) answer of each page, in milliseconds, as a Markdown table.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this tree's faceatlas, also when another is installed
DIM = 128
N_BASE_PHOTOS = 48
N_CHIPS = 16


def _jpeg(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _images(folder: Path, rng: np.random.Generator) -> tuple[list[Path], list[bytes]]:
    """A few dozen 640x480 photos (colour gradients with noise) and 112x112 chips."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    base = []
    ramp = np.linspace(0.0, 1.0, 640)[None, :, None]
    for i in range(N_BASE_PHOTOS):
        left, right = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        arr = left + (right - left) * ramp + rng.normal(0, 12, (480, 640, 3))
        path = folder / f"base_{i:02d}.jpg"
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path, quality=80)
        base.append(path)
    chips = [
        _jpeg(Image.fromarray(rng.integers(60, 200, (112, 112, 3), dtype=np.uint8)))
        for _ in range(N_CHIPS)
    ]
    return base, chips


def build(db: Path, n_faces: int, n_people: int, seed: int = 0) -> dict[str, int]:
    """Write the synthetic catalog ``db`` (and its photos beside it); returns its counts."""
    from faceatlas.catalog import Catalog, FaceRecord, PhotoRecord
    from faceatlas.people import name_person

    rng = np.random.default_rng(seed)
    photos_dir = db.parent / "photos"
    base, chips = _images(photos_dir, rng)
    centres = rng.normal(size=(n_people, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    # Zipf-like sizes: person 0 is the album's main person (thousands of faces)
    weights = 1.0 / np.arange(1, n_people + 1) ** 0.8
    weights /= weights.sum()
    members: dict[int, list[int]] = {}
    start_time = 1.1e9  # 2004
    face_id = 0
    t0 = time.perf_counter()
    with Catalog(db) as cat:
        photo_no = 0
        while face_id < n_faces:
            k = int(min(rng.integers(1, 6), n_faces - face_id))
            people = rng.choice(n_people, size=k, replace=False, p=weights)
            faces, owners = [], []
            for j in range(k):
                owned = rng.random() < 0.75
                v = centres[people[j]] + rng.normal(0, 0.09, DIM) if owned else rng.normal(size=DIM)
                v = (v / np.linalg.norm(v)).astype(np.float32)
                x = 40 + 110 * j
                faces.append(
                    FaceRecord(
                        box=np.array([x, 120, x + 90, 230], np.float32),
                        landmarks=np.zeros((5, 2), np.float32),
                        det_score=float(rng.uniform(0.6, 1.0)),
                        quality=float(rng.beta(4, 2)),
                        sharpness=float(rng.uniform(20, 300)),
                        chip_jpeg=chips[int(rng.integers(N_CHIPS))],
                        embedding=v,
                    )
                )
                owners.append(int(people[j]) if owned else -1)
            path = photos_dir / f"photo_{photo_no:06d}.jpg"
            if not path.is_symlink():
                path.symlink_to(base[photo_no % N_BASE_PHOTOS].name)
            mtime = start_time + float(rng.uniform(0, 20 * 365 * 86400))
            cat.replace_file(
                str(path),
                f"h{photo_no}",
                1000,
                mtime,
                "synthetic",
                [PhotoRecord(str(path), width=640, height=480, faces=faces)],
                embedder="sface",
                embedder_version="synthetic",
            )
            first = face_id + 1  # ids follow insertion order in a fresh catalog
            for j, o in enumerate(owners):
                if o >= 0:
                    members.setdefault(o, []).append(first + j)
            face_id += k
            photo_no += 1
        run = cat.start_run("cluster", {"synthetic": True})
        groups = [m for m in members.values() if m]
        new_ids = cat.apply_clustering(run, {}, groups)
        cat.finish_run(run, {"min_faces": 3, "synthetic": True})
        for i, pid in enumerate(new_ids[:300]):
            name_person(cat, pid, f"Person Named {i:03d}")
        counts = cat.counts()
    print(
        f"built {counts['faces']:,} faces in {counts['photos']:,} photos, "
        f"{len(groups):,} people in {time.perf_counter() - t0:.0f} s",
        file=sys.stderr,
    )
    return counts


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(db: Path, port: int) -> subprocess.Popen:
    code = f"from faceatlas.web import serve; serve({str(db)!r}, port={port})"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the gallery did not start")


def pages(db: Path, rng: random.Random) -> dict[str, object]:
    """Page name -> a function giving the next path to ask (random ids where one is taken)."""
    from faceatlas.catalog import Catalog

    with Catalog(db) as cat:
        people = sorted(cat.persons(), key=lambda p: -p["n_faces"])
        photos = [p["id"] for p in cat.photos(limit=None)]
        faces = int(cat.unassigned_face_ids()[0].size)
    big = people[0]["id"]
    listed = [p["id"] for p in people if p["n_faces"] >= 3]
    one = lambda xs: xs[rng.randrange(len(xs))]  # noqa: E731
    return {
        "/people": lambda: "/people",
        "/people.json": lambda: "/people.json",
        "/people.json?offset=N": lambda: f"/people.json?offset={rng.randrange(len(listed))}",
        "/person/{big}": lambda: f"/person/{big}",
        "/person/{big}.json": lambda: f"/person/{big}.json",
        "/person/{big}?offset=N": lambda: f"/person/{big}?offset={120 * rng.randrange(10)}",
        "/person/{id}": lambda: f"/person/{one(listed)}",
        "/person/{id}.json": lambda: f"/person/{one(listed)}.json",
        "/photo/{id}": lambda: f"/photo/{one(photos)}",
        "/photo/{id}.json": lambda: f"/photo/{one(photos)}.json",
        "/unsorted": lambda: "/unsorted",
        "/unsorted.json": lambda: "/unsorted.json",
        "/unsorted?quality=poor&offset=N": lambda: (
            f"/unsorted?quality=poor&offset={120 * rng.randrange(max(1, faces // 1000))}"
        ),
        "/review": lambda: "/review",
        "/review.json": lambda: "/review.json",
        "/names.json": lambda: "/names.json",
        "/corrections.json": lambda: "/corrections.json",
        "/search (form)": lambda: "/search",
        "/face/{id}.jpg": lambda: f"/face/{rng.randrange(1, 1000)}.jpg",
        "/photo/{id}.jpg": lambda: f"/photo/{one(photos)}.jpg?size=480",
    }


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (and its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cost(base: str, table: dict, pid: int, n: int = 30) -> dict[str, tuple[float, float]]:
    """Per page, one client at a time: the server's CPU ms per request and the median wall.

    CPU time does not depend on what else the machine runs, so it says what a page costs
    when the wall-clock figures are blurred by other work on a shared machine.
    """
    import httpx

    out = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        for name, next_path in table.items():
            walls = []
            c0 = _cpu_s(pid)
            for _ in range(n):
                t = time.perf_counter()
                client.get(next_path())
                walls.append((time.perf_counter() - t) * 1000)
            out[name] = ((_cpu_s(pid) - c0) * 1000 / n, float(np.median(walls)))
    return out


def load(base: str, table: dict, requests: int, clients: int, seed: int) -> dict:
    """GET every page ``requests`` times from ``clients`` threads; latencies in ms."""
    import httpx

    jobs = [name for name in table for _ in range(requests)]
    random.Random(seed).shuffle(jobs)
    times: dict[str, list[float]] = {name: [] for name in table}
    errors: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                with lock:
                    if not jobs:
                        return
                    name = jobs.pop()
                    path = table[name]()
                t = time.perf_counter()
                r = client.get(path)
                ms = (time.perf_counter() - t) * 1000
                with lock:
                    times[name].append(ms)
                    if r.status_code != 200:
                        errors.append(f"{path}: {r.status_code}")

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        print(f"{len(errors)} errors, e.g. {errors[:3]}", file=sys.stderr)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/gallery_load"))
    ap.add_argument("--faces", type=int, default=100_000)
    ap.add_argument("--people", type=int, default=4000)
    ap.add_argument("--requests", type=int, default=60, help="GETs per page")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    db = args.dir / f"gallery_{args.faces}.db"
    if not db.exists():
        (args.dir).mkdir(parents=True, exist_ok=True)
        build(db, args.faces, args.people, args.seed)
    table = pages(db, random.Random(args.seed))
    port = _free_port()
    proc = _serve(db, port)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        cold = {}
        with httpx.Client(base_url=base, timeout=120) as client:
            for name, next_path in table.items():
                t = time.perf_counter()
                r = client.get(next_path())
                cold[name] = (time.perf_counter() - t) * 1000
                r.raise_for_status()
        t = time.perf_counter()
        c0 = _cpu_s(proc.pid)
        times = load(base, table, args.requests, args.clients, args.seed)
        wall = time.perf_counter() - t
        server_cpu = _cpu_s(proc.pid) - c0
        alone = cost(base, table, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    n = sum(len(v) for v in times.values())
    print(
        f"{args.faces:,} faces, {args.clients} clients, {n} requests in {wall:.1f} s "
        f"({n / wall:.0f}/s), server CPU {server_cpu * 1000 / n:.1f} ms per request; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; times in ms\n"
    )
    print("| page | first (cold) | p50 | p95 | max | alone: CPU per request | alone: wall |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    worst = 0.0
    for name, xs in times.items():
        a = np.array(xs)
        p95 = float(np.percentile(a, 95))
        worst = max(worst, p95)
        print(
            f"| `{name}` | {cold[name]:.0f} | {np.percentile(a, 50):.0f} | {p95:.0f} | "
            f"{a.max():.0f} | {alone[name][0]:.1f} | {alone[name][1]:.1f} |"
        )
    print(f"\nworst p95: {worst:.0f} ms")


if __name__ == "__main__":
    main()
