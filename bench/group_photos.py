"""People on group photos: LFW faces composed into crowds, scanned and clustered with the CLI.

    python bench/group_photos.py [--bands 30-40,40-70,70-120] [--photos 100]
                                 [--crowd 6-14] [--regulars 40] [--strangers 150]
                                 [--jpeg 50-90] [--jobs 2] [--work DIR] [--recluster]

For each band of face widths an album is built at run time from ``../shared/data/lfw`` (never
written into the repository): ``--photos`` group photos, each of a crowd of 6-14 people
(``--crowd``) on a plain textured background, every face scaled so that it is a random width
within the band, the photo saved as JPEG at a random quality within ``--jpeg``. The crowd
is drawn from ``--regulars`` LFW people with many images (each appearance a different image
of them, at most once per photo) and ``--strangers`` people who appear once in the whole
album. The same seed makes the same crowds in every band, so the bands differ only in size.

Each album is scanned with ``faceatlas scan`` and clustered with ``faceatlas cluster``
(default settings; ``--cluster-args`` adds options), then the faces (``faceatlas faces
--json``) are matched to the faces placed: a detection whose centre lies near the centre of
a placed face is that face. Printed per band: detection recall (placed faces found), faces
found that were not placed (background faces of the LFW crops count here), pairwise and
BCubed precision/recall/F of the people on the faces found (an unsorted face is a person of
its own), people, and the seconds of the scan and of the clustering. Identity labels are
used only to build the photos and to score; the clustering never sees them.

``--recluster`` reuses the albums and catalogs in ``--work`` and only re-runs
``cluster --all`` (to measure a clustering change without scanning again).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import REPO, SHARED_DATA, machine

LFW = SHARED_DATA / "lfw"

#: Central square of a 250 x 250 deep-funneled LFW image kept for each face (head and a
#: little shoulder); the face inside it is about FACE_FRACTION of its side wide.
CROP = (45, 205)
FACE_FRACTION = 0.56


def _range(text: str, name: str) -> tuple[int, int]:
    try:
        lo, hi = (int(v) for v in text.split("-"))
    except ValueError:
        raise SystemExit(f"{name}: expected LOW-HIGH, got {text!r}") from None
    if not 0 < lo <= hi:
        raise SystemExit(f"{name}: expected 0 < LOW <= HIGH, got {text!r}")
    return lo, hi


def plan_album(
    n_photos: int,
    crowd: tuple[int, int],
    n_regulars: int,
    n_strangers: int,
    seed: int,
) -> list[list[tuple[str, str]]]:
    """Who stands in each photo: a list of (identity, image path) per photo."""
    with open(LFW / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_person: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        by_person[r["identity"]].append(r["path"])
    rng = np.random.default_rng(seed)
    many = sorted(p for p, v in by_person.items() if len(v) >= 20)
    if len(many) < n_regulars:
        raise SystemExit(f"--regulars: LFW has only {len(many)} people with 20+ images")
    regulars = [many[i] for i in rng.choice(len(many), n_regulars, replace=False)]
    others = sorted(p for p in by_person if p not in set(regulars))
    strangers = [others[i] for i in rng.choice(len(others), n_strangers, replace=False)]
    sizes = rng.integers(crowd[0], crowd[1] + 1, n_photos)
    # strangers go to random photos, once each; the rest of every crowd are regulars
    stranger_photo = rng.integers(0, n_photos, n_strangers)
    used = dict.fromkeys(regulars, 0)
    order = {p: rng.permutation(len(by_person[p])) for p in regulars}
    photos: list[list[tuple[str, str]]] = []
    for k in range(n_photos):
        people = [s for s, ph in zip(strangers, stranger_photo, strict=True) if ph == k]
        n_reg = max(0, int(sizes[k]) - len(people))
        crowd_regs = [regulars[i] for i in rng.choice(n_regulars, n_reg, replace=False)]
        faces = [(s, by_person[s][int(rng.integers(len(by_person[s])))]) for s in people]
        for p in crowd_regs:
            imgs = by_person[p]
            faces.append((p, imgs[int(order[p][used[p] % len(imgs)])]))
            used[p] += 1
        photos.append([faces[i] for i in rng.permutation(len(faces))])
    return photos


def _background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth two-colour gradient with fine noise (a wall, a sky)."""
    a, b = rng.integers(40, 220, 3), rng.integers(40, 220, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    img = a * (1 - t) + b * t + rng.normal(0, 6, (h, w, 3))
    return np.broadcast_to(img, (h, w, 3)).clip(0, 255).astype(np.uint8)


def render_photo(
    faces: list[tuple[str, str]],
    band: tuple[int, int],
    quality: int,
    out: Path,
    seed: int,
    blur: float = 0.0,
    noise: float = 0.0,
) -> list[dict]:
    """Compose one group photo; return the placed faces (identity, centre, width)."""
    import cv2

    rng = np.random.default_rng(seed)
    widths = rng.uniform(band[0], band[1], len(faces))
    tiles = [round(float(w) / FACE_FRACTION) for w in widths]
    cell = int(max(tiles) * 1.25)
    cols = int(np.ceil(np.sqrt(len(faces) * 1.6)))
    rows = int(np.ceil(len(faces) / cols))
    H, W = rows * cell + cell // 2, cols * cell + cell // 2
    canvas = _background(H, W, rng).astype(np.float32)
    placed = []
    for i, ((who, path), t) in enumerate(zip(faces, tiles, strict=True)):
        img = cv2.imread(str(LFW / path))
        crop = img[CROP[0] : CROP[1], CROP[0] : CROP[1]]
        tile = cv2.resize(crop, (t, t), interpolation=cv2.INTER_AREA).astype(np.float32)
        # feathered ellipse, so the crop has no hard square edge
        yy, xx = np.mgrid[0:t, 0:t]
        r = np.hypot((xx - t / 2) / (t * 0.5), (yy - t / 2) / (t * 0.55))
        alpha = np.clip((1.0 - r) / 0.15, 0, 1)[..., None]
        r_, c_ = divmod(i, cols)
        jitter = rng.integers(0, max(1, cell - t), 2)
        y0 = cell // 4 + r_ * cell + int(jitter[0])
        x0 = cell // 4 + c_ * cell + int(jitter[1])
        roi = canvas[y0 : y0 + t, x0 : x0 + t]
        canvas[y0 : y0 + t, x0 : x0 + t] = alpha * tile + (1 - alpha) * roi
        placed.append({"who": who, "cx": x0 + t / 2, "cy": y0 + t / 2, "w": float(widths[i])})
    # a camera, not a clean downscale: a little defocus (sigma up to `blur` px at the
    # photo's own scale) and sensor noise, before the JPEG
    sigma = float(rng.uniform(0.0, blur)) if blur > 0 else 0.0
    if sigma > 0.05:
        canvas = cv2.GaussianBlur(canvas, (0, 0), sigma)
    if noise > 0:
        canvas = canvas + rng.normal(0.0, noise, canvas.shape).astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), canvas.clip(0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return placed


def build_album(
    album: Path,
    plan: list[list[tuple[str, str]]],
    band: tuple[int, int],
    jpeg: tuple[int, int],
    blur: float,
    noise: float,
) -> dict[str, list[dict]]:
    truth = {}
    rng = np.random.default_rng(1)
    for k, faces in enumerate(plan):
        q = int(rng.integers(jpeg[0], jpeg[1] + 1))
        path = album / f"group_{k:04d}.jpg"
        truth[str(path.resolve())] = render_photo(
            faces, band, q, path, seed=1000 + k, blur=blur, noise=noise
        )
    return truth


def cli(db: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run(
        [sys.executable, "-m", "faceatlas", "--db", str(db), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if res.returncode:
        raise SystemExit(f"faceatlas {' '.join(args)} failed: {res.stderr.strip()}")
    return res.stdout


def score(db: Path, truth: dict[str, list[dict]]) -> dict:
    from faceatlas.evaluate import clustering_report

    rows = json.loads(cli(db, "faces", "--json"))
    by_photo: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_photo[str(Path(r["path"]).resolve())].append(r)
    y, pred, extra = [], [], 0
    n_placed = sum(len(v) for v in truth.values())
    for path, placed in truth.items():
        taken: dict[int, tuple[float, dict]] = {}
        for r in by_photo.get(path, []):
            cx, cy = (r["x1"] + r["x2"]) / 2, (r["y1"] + r["y2"]) / 2
            d = [np.hypot(cx - p["cx"], cy - p["cy"]) / p["w"] for p in placed]
            j = int(np.argmin(d))
            if d[j] > 0.5 or (j in taken and taken[j][0] <= d[j]):
                extra += 1
                continue
            if j in taken:
                extra += 1
            taken[j] = (d[j], r)
        for j, (_, r) in taken.items():
            y.append(placed[j]["who"])
            pred.append(-1 if r["person_id"] is None else int(r["person_id"]))
    rep = clustering_report(np.array(y), np.array(pred, dtype=np.int64))
    rep["recall"] = len(y) / n_placed
    rep["n_placed"] = n_placed
    rep["n_found"] = len(y)
    rep["n_extra"] = extra
    return rep


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bands", default="30-40,40-70,70-120", help="face widths in px")
    ap.add_argument("--photos", type=int, default=100)
    ap.add_argument("--crowd", default="6-14")
    ap.add_argument("--regulars", type=int, default=40)
    ap.add_argument("--strangers", type=int, default=150)
    ap.add_argument("--jpeg", default="50-90", help="JPEG quality range")
    ap.add_argument("--blur", type=float, default=1.5, help="largest Gaussian sigma, px")
    ap.add_argument("--noise", type=float, default=4.0, help="sensor noise sd, grey levels")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--work", type=Path, default=Path("/tmp/faceatlas_group_photos"))
    ap.add_argument("--recluster", action="store_true", help="reuse the scans in --work")
    ap.add_argument("--cluster-args", default="", help="extra options for faceatlas cluster")
    args = ap.parse_args(argv)
    bands = [_range(b, "--bands") for b in args.bands.split(",") if b]
    crowd = _range(args.crowd, "--crowd")
    jpeg = _range(args.jpeg, "--jpeg")

    print(f"# {datetime.date.today()}  {machine()}")
    print(
        f"# {args.photos} photos per band, crowds {crowd[0]}-{crowd[1]}, {args.regulars}"
        f" regulars, {args.strangers} one-time strangers, JPEG {jpeg[0]}-{jpeg[1]},"
        f" blur sigma <= {args.blur}, noise {args.noise},"
        f" seed {args.seed}, cluster {args.cluster_args or '(defaults)'}"
    )
    print(
        "| face width px | recall | extra faces | faces scored | pairwise P | pairwise R"
        " | pairwise F | BCubed P | BCubed R | BCubed F | people | scan s | cluster s |"
    )
    print("|---" * 13 + "|")
    plan = plan_album(args.photos, crowd, args.regulars, args.strangers, args.seed)
    for band in bands:
        album = args.work / f"band_{band[0]}_{band[1]}"
        db = album / "catalog.db"
        scan_s = float("nan")
        if args.recluster and db.exists():
            truth = json.loads((album / "truth.json").read_text())
        else:
            if db.exists():
                db.unlink()
            truth = build_album(album / "photos", plan, band, jpeg, args.blur, args.noise)
            (album / "truth.json").write_text(json.dumps(truth))
            t0 = time.perf_counter()
            cli(db, "scan", str(album / "photos"), "--jobs", str(args.jobs))
            scan_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cli(db, "cluster", "--all", *args.cluster_args.split())
        cluster_s = time.perf_counter() - t0
        r = score(db, truth)
        print(
            f"| {band[0]}-{band[1]} | {r['recall']:.3f} | {r['n_extra']} | {r['n_found']} | "
            f"{r['pairwise_precision']:.3f} | {r['pairwise_recall']:.3f} | "
            f"**{r['pairwise_f']:.3f}** | {r['bcubed_precision']:.3f} | "
            f"{r['bcubed_recall']:.3f} | **{r['bcubed_f']:.3f}** | {r['n_clusters']} | "
            f"{scan_s:.0f} | {cluster_s:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
