"""Real-photo shapes (issue 11): every face size, orientation, format and light, and the cost.

Builds an album at run time from ../shared/data/lfw (nothing is written into the repo):
LFW photos placed on 3 MP and 12 MP canvases with faces from 20 px to 95 % of the frame,
copies with EXIF orientations 1-8, HEIC and AVIF copies, group canvases of 5-30 faces,
darkened and side-lit copies. Scans it with the CLI (``python -m faceatlas scan``) and prints
detection recall and false faces per face-size band, orientation, format and light, and the
time per photo. The true face of each LFW photo is YuNet's box on the untouched 250 px photo
(photos where it finds exactly one face), carried through every transformation.

    python bench/album.py album --n 24 --jobs 2        # the album and its recall table
    python bench/album.py yale                         # share of Yale faces found per light
    python bench/album.py speed --base f2d82f9         # per-photo time against a git revision
    python bench/album.py small --n 90                 # 20-40 px recall and cost per setting
    python bench/album.py sizes                        # verification accuracy per face width
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, SHARED_DATA, machine

LFW = SHARED_DATA / "lfw" / "images"
CANVASES = {"3MP": (2048, 1536), "12MP": (4000, 3000)}
# Face-width bands (px): the targets are 0.90 for 20-40 and 0.99 above.
BANDS = [(20, 40), (40, 80), (80, 200), (200, 600), (600, 100_000)]
EXIF_INVERSE = {  # the stored pixels for tag k: the inverse of what the viewer applies
    1: None,
    2: "FLIP_LEFT_RIGHT",
    3: "ROTATE_180",
    4: "FLIP_TOP_BOTTOM",
    5: "TRANSPOSE",
    6: "ROTATE_90",
    7: "TRANSVERSE",
    8: "ROTATE_270",
}


def band_of(width: float) -> str:
    for lo, hi in BANDS:
        if lo <= width < hi:
            return f"{lo}-{hi}" if hi < 100_000 else f"{lo}+ (to full frame)"
    return "<20"


# -- building the album --------------------------------------------------------------------
def single_face_photos(n: int, seed: int) -> list[tuple[Path, np.ndarray]]:
    """LFW photos on which YuNet finds exactly one face, with that face's box."""
    from faceatlas.detect import YuNetDetector
    from faceatlas.images import load_image

    rng = np.random.default_rng(seed)
    people = sorted(LFW.iterdir())
    det = YuNetDetector(multi_scale=False)
    out: list[tuple[Path, np.ndarray]] = []
    for i in rng.permutation(len(people)):
        photo = sorted(people[i].glob("*.jpg"))[0]
        found = det.detect(load_image(photo))
        if len(found) == 1 and found.scores[0] > 0.85:
            out.append((photo, found.boxes[0].astype(np.float64)))
        if len(out) == n:
            return out
    raise SystemExit(f"only {len(out)} single-face LFW photos found, wanted {n}")


def background(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A faceless textured canvas: an LFW photo's corner, enlarged, plus grain."""
    import cv2

    from faceatlas.images import load_image

    people = sorted(LFW.iterdir())
    src = load_image(sorted(people[int(rng.integers(len(people)))].glob("*.jpg"))[0])[:40, :40]
    w, h = size
    bg = cv2.resize(src, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    bg += rng.integers(-12, 13, bg.shape, dtype=np.int16)
    return bg.clip(0, 255).astype(np.uint8)


def place(
    canvas: np.ndarray, photo: np.ndarray, box: np.ndarray, face_w: float, at: tuple[float, float]
) -> np.ndarray:
    """Paste ``photo`` scaled so its face is ``face_w`` wide, face centre at ``at``.

    Returns the face's box on the canvas.
    """
    import cv2

    s = face_w / (box[2] - box[0])
    H, W = canvas.shape[:2]
    cx, cy = (box[0] + box[2]) / 2 * s, (box[1] + box[3]) / 2 * s
    ox, oy = at[0] - cx, at[1] - cy  # canvas position of the scaled photo's origin
    # only the part of the scaled photo that lands on the canvas is resized
    x0, y0 = max(0.0, -ox), max(0.0, -oy)
    x1 = min(photo.shape[1] * s, W - ox)
    y1 = min(photo.shape[0] * s, H - oy)
    m = np.array([[s, 0, ox], [0, s, oy]], np.float64)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    warped = cv2.warpAffine(photo, m, (W, H), flags=interp, borderMode=cv2.BORDER_TRANSPARENT)
    # Only the face and some context around it: LFW photos show other people's faces at
    # their edges, which would count as false faces.
    bw, bh = box[2] - box[0], box[3] - box[1]
    keep = [(box[0] - 0.5 * bw) * s, (box[1] - 0.4 * bh) * s]
    keep += [(box[2] + 0.5 * bw) * s, (box[3] + 0.4 * bh) * s]
    x0, y0 = max(x0, keep[0]), max(y0, keep[1])
    x1, y1 = min(x1, keep[2]), min(y1, keep[3])
    mask = np.zeros((H, W), bool)
    mask[int(max(0, oy + y0)) : int(oy + y1), int(max(0, ox + x0)) : int(ox + x1)] = True
    canvas[mask] = warped[mask]
    return np.array([box[0] * s + ox, box[1] * s + oy, box[2] * s + ox, box[3] * s + oy])


def build(out: Path, n: int, seed: int) -> list[dict]:
    """Write the album into ``out``; returns the manifest (one entry per file)."""
    from PIL import Image

    from faceatlas.images import load_image, register_formats

    register_formats()
    rng = np.random.default_rng(seed)
    singles = single_face_photos(n + 40, seed)
    manifest: list[dict] = []

    def save(img: np.ndarray, name: str, faces: list[dict], **tags: object) -> None:
        path = out / name
        pil = Image.fromarray(img)
        exif = tags.pop("exif", None)
        kwargs = {"quality": 90}
        if exif is not None:
            kwargs["exif"] = exif
        pil.save(path, **kwargs)
        manifest.append({"path": str(path), "faces": faces, **tags})

    # 1. sizes: faces from 20 px to 95 % of the frame, on 3 MP and 12 MP canvases
    widths = []
    for lo, hi in BANDS:
        widths += list(np.exp(rng.uniform(np.log(lo), np.log(min(hi, 2200)), n)))
    for i, width in enumerate(widths):
        fw = width
        photo, box = singles[i % len(singles)]
        canvas_name = "12MP" if i % 2 else "3MP"
        W, H = CANVASES[canvas_name]
        face_h = fw * (box[3] - box[1]) / (box[2] - box[0])
        if face_h > 0.95 * H:  # at most 95 % of the frame
            fw *= 0.95 * H / face_h
            face_h = 0.95 * H
        canvas = background((W, H), rng)
        cx, cy = rng.uniform(fw / 2, W - fw / 2), rng.uniform(face_h / 2, H - face_h / 2)
        b = place(canvas, load_image(photo), box, fw, (cx, cy))
        save(
            canvas,
            f"size_{i:03d}.jpg",
            [{"box": b.tolist(), "band": band_of(b[2] - b[0])}],
            kind="size",
            canvas=canvas_name,
            format="jpeg",
            orientation=1,
            light="normal",
        )

    # 2. orientations 1-8 (on 1024x768 canvases, faces 120-300 px), four photos each
    for k in range(1, 9):
        for j in range(4):
            photo, box = singles[(k * 4 + j) % len(singles)]
            canvas = background((1024, 768), rng)
            fw = rng.uniform(120, 300)
            b = place(canvas, load_image(photo), box, fw, (rng.uniform(250, 774), 384))
            op = EXIF_INVERSE[k]
            stored = Image.fromarray(canvas)
            if op:
                stored = stored.transpose(getattr(Image.Transpose, op))
            exif = Image.Exif()
            exif[0x0112] = k
            path = out / f"orient{k}_{j}.jpg"
            stored.save(path, quality=90, exif=exif)
            manifest.append(
                {
                    "path": str(path),
                    "faces": [{"box": b.tolist(), "band": band_of(b[2] - b[0])}],
                    "kind": "orientation",
                    "orientation": k,
                    "format": "jpeg",
                    "light": "normal",
                }
            )

    # 3. formats: the same kind of 3 MP photo as JPEG, PNG, HEIC and AVIF
    for j in range(6):
        photo, box = singles[(20 + j) % len(singles)]
        # 1024 x 768: the HEIC (x265) and AVIF encoders take seconds on 3 MP
        canvas = background((1024, 768), rng)
        fw = float(np.exp(rng.uniform(np.log(40), np.log(500))))
        b = place(canvas, load_image(photo), box, fw, (512, 384))
        faces = [{"box": b.tolist(), "band": band_of(b[2] - b[0])}]
        for fmt, suffix in (("png", "png"), ("heic", "heic"), ("avif", "avif")):
            path = out / f"format_{j}.{suffix}"
            Image.fromarray(canvas).save(path, quality=90) if fmt != "png" else (
                Image.fromarray(canvas).save(path)
            )
            manifest.append(
                {
                    "path": str(path),
                    "faces": faces,
                    "kind": "format",
                    "format": fmt,
                    "orientation": 1,
                    "light": "normal",
                }
            )

    # 4. group canvases: 5-30 faces of 40-160 px on a 3 MP canvas, on a grid
    for g, count in enumerate((5, 10, 20, 30)):
        W, H = CANVASES["3MP"]
        canvas = background((W, H), rng)
        cols = int(np.ceil(np.sqrt(count * W / H)))
        rows = int(np.ceil(count / cols))
        cw, ch = W / cols, H / rows
        faces = []
        for f in range(count):
            photo, box = singles[(g * 7 + f) % len(singles)]
            ratio = (box[3] - box[1]) / (box[2] - box[0])
            fw = min(rng.uniform(40, 160), 0.45 * cw, 0.45 * ch / ratio)
            r, c = divmod(f, cols)
            # a small window around each face so neighbours' photos do not overlap faces
            tile = np.zeros((int(ch), int(cw), 3), np.uint8)
            tile[:] = canvas[
                int(r * ch) : int(r * ch) + int(ch), int(c * cw) : int(c * cw) + int(cw)
            ]
            b = place(tile, load_image(photo), box, fw, (cw / 2, ch / 2))
            canvas[int(r * ch) : int(r * ch) + int(ch), int(c * cw) : int(c * cw) + int(cw)] = tile
            b = b + np.array([int(c * cw), int(r * ch)] * 2)
            faces.append({"box": b.tolist(), "band": band_of(b[2] - b[0])})
        save(
            canvas,
            f"group_{count}.jpg",
            faces,
            kind="group",
            format="jpeg",
            orientation=1,
            light="normal",
        )

    # 5. light: dim, dark (a night shot) and side-lit copies of 3 MP photos with 60-400 px faces
    for j in range(n):
        photo, box = singles[(30 + j) % len(singles)]
        W, H = CANVASES["3MP"]
        canvas = background((W, H), rng)
        fw = float(np.exp(rng.uniform(np.log(60), np.log(400))))
        b = place(canvas, load_image(photo), box, fw, (rng.uniform(400, 1600), 768))
        faces = [{"box": b.tolist(), "band": band_of(b[2] - b[0])}]
        f = canvas.astype(np.float64) / 255.0
        lit = {"kind": "light", "format": "jpeg", "orientation": 1}
        dim = (255 * 0.12 * f**1.3).clip(0, 255).astype(np.uint8)
        save(dim, f"dim_{j:02d}.jpg", faces, light="dim", **lit)
        dark = (255 * 0.04 * f**1.5).clip(0, 255).astype(np.uint8)
        save(dark, f"dark_{j:02d}.jpg", faces, light="dark", **lit)
        # light from one side: 100 % to 8 % across the face, the far side in shadow
        x = np.arange(W, dtype=np.float64)
        ramp = np.clip((x - b[0]) / max(b[2] - b[0], 1.0), 0, 1)
        gain = 1.0 - 0.92 * ramp if j % 2 else 0.08 + 0.92 * ramp
        side = (f * gain[None, :, None] * 255).clip(0, 255).astype(np.uint8)
        save(side, f"side_{j:02d}.jpg", faces, light="side-lit", **lit)
    (out / "manifest.json").write_text(json.dumps(manifest))
    return manifest


# -- scanning and scoring ------------------------------------------------------------------
def cli(db: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "faceatlas", "--db", str(db), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"faceatlas {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of one box ``a`` (4,) with boxes ``b`` (n, 4)."""
    w = np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0])
    h = np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1])
    inter = np.maximum(w, 0) * np.maximum(h, 0)
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def score(manifest: list[dict], db: Path) -> dict:
    """Recall and false faces per group; a detection matches a true face at IoU >= 0.3."""
    con = sqlite3.connect(db)
    found: dict[str, list] = defaultdict(list)
    scores: dict[str, list] = defaultdict(list)
    for path, sc, *box in con.execute(
        "SELECT p.path, f.det_score, f.x1, f.y1, f.x2, f.y2 FROM faces f "
        "JOIN photos p ON p.id = f.photo_id"
    ):
        found[path].append(box)
        scores[path].append(sc)
    true_scores: list[float] = []
    false_scores: list[float] = []
    hits: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    false: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])  # false, photos
    for entry in manifest:
        det = np.array(found.get(entry["path"], []), np.float64).reshape(-1, 4)
        used = np.zeros(len(det), bool)
        groups = [
            ("orientation", str(entry.get("orientation", 1))),
            ("format", entry["format"]),
            ("light", entry["light"]),
        ]
        if entry["kind"] == "group":
            groups.append(("group", f"{len(entry['faces'])} faces"))
        if entry["kind"] == "size":
            groups.append(("canvas", entry["canvas"]))
        for face in entry["faces"]:
            ok = False
            if len(det):
                o = iou(np.array(face["box"]), det)
                o[used] = 0
                j = int(np.argmax(o))
                if o[j] >= 0.3:
                    used[j] = ok = True
            for g in [*groups, ("band", face["band"])]:
                if entry["kind"] == "light" and g[0] != "light":
                    continue  # a darkened copy's recall counts for its light level only
                hits[g][0] += ok
                hits[g][1] += 1
        for g in [*groups, ("all", "all")]:
            false[g][0] += int((~used).sum())
            false[g][1] += 1
        sc = np.array(scores.get(entry["path"], []), np.float64)
        true_scores += sc[used].tolist()
        false_scores += sc[~used].tolist()
    return {
        "hits": dict(hits),
        "false": dict(false),
        "true_scores": true_scores,
        "false_scores": false_scores,
    }


def _settings(args: argparse.Namespace) -> list[str]:
    extra = ["--no-light-retry"] if args.no_light_retry else []
    if args.single_scale:
        extra += ["--detect-min-face", "0"]
    return extra


def album(args: argparse.Namespace) -> None:
    work = Path(args.reuse or tempfile.mkdtemp(prefix="faceatlas-album-"))
    try:
        db = work / args.db_name
        if args.reuse:
            manifest, built = json.loads((work / "album" / "manifest.json").read_text()), 0.0
        else:
            t0 = time.perf_counter()
            (work / "album").mkdir()
            manifest = build(work / "album", args.n, args.seed)
            built = time.perf_counter() - t0
        if args.reuse and db.exists():  # score a kept album again, without scanning
            con = sqlite3.connect(db)
            last = con.execute("SELECT summary FROM runs ORDER BY id DESC LIMIT 1").fetchone()
            summary = json.loads(last[0])
        else:  # a new album, or a kept one scanned with other settings
            scanned = cli(db, "scan", str(work / "album"), "--jobs", str(args.jobs), "--json",
                          *_settings(args))  # fmt: skip
            summary = json.loads(scanned)
        res = score(manifest, db)
        print(f"# {machine()}")
        print(
            f"album: {len(manifest)} photos built in {built:.0f} s; scan {summary['seconds']:.1f} s"
            f" with --jobs {args.jobs} = {summary['seconds'] / len(manifest):.2f} s per photo"
            f" ({summary['seconds'] * args.jobs / len(manifest):.2f} s per photo per core)"
        )
        print(f"{'group':<12} {'value':<22} {'recall':>8} {'found':>11} {'false/100 photos':>17}")
        keys = sorted(set(res["hits"]) | set(res["false"]), key=lambda k: (k[0], k[1]))
        for k in keys:
            h = res["hits"].get(k)
            f = res["false"].get(k)
            rec = f"{h[0] / h[1]:.3f}" if h else "-"
            cnt = f"{h[0]}/{h[1]}" if h else "-"
            fp = f"{100 * f[0] / f[1]:.1f}" if f else "-"
            print(f"{k[0]:<12} {k[1]:<22} {rec:>8} {cnt:>11} {fp:>17}")
        for name in ("true", "false"):
            sc = np.array(res[f"{name}_scores"])
            if len(sc):
                pct = "/".join(f"{np.percentile(sc, q):.2f}" for q in (1, 10, 50, 90))
                print(f"detector score of {name} faces (p1/p10/p50/p90): {pct}, n = {len(sc)}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


# -- hard light: Yale -----------------------------------------------------------------------
def yale(args: argparse.Namespace) -> None:
    """Share of Yale photos where a face is found, per lighting condition, without/with retry."""
    import csv

    from faceatlas import ScanConfig
    from faceatlas.pipeline import process_file

    rows = list(csv.DictReader((SHARED_DATA / "yale" / "labels.csv").open()))
    print(f"# {machine()}")
    table: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for retry in (False, True):
        config = ScanConfig(retry_light=retry, jobs=1)
        for r in rows:
            res = process_file(str(SHARED_DATA / "yale" / r["path"]), config)
            n = sum(len(p.faces) for p in res.photos)
            cell = table[r["condition"]]["after" if retry else "before"]
            cell[0] += n >= 1
            cell[1] += 1
    print(f"{'condition':<12} {'before':>9} {'after':>9}")
    tot = {"before": [0, 0], "after": [0, 0]}
    for cond in sorted(table):
        b, a = table[cond]["before"], table[cond]["after"]
        print(f"{cond:<12} {b[0]:>4}/{b[1]:<4} {a[0]:>4}/{a[1]:<4}")
        for k, v in (("before", b), ("after", a)):
            tot[k][0] += v[0]
            tot[k][1] += v[1]
    print(
        f"{'all':<12} {tot['before'][0]:>4}/{tot['before'][1]:<4} "
        f"{tot['after'][0]:>4}/{tot['after'][1]:<4}"
    )


# -- cost against a git revision -----------------------------------------------------------
_TIMER = r"""
import json, sys, time, cv2
cv2.setNumThreads(1)
from faceatlas import ScanConfig
from faceatlas.pipeline import process_file
paths = json.loads(sys.argv[1]); reps = int(sys.argv[2])
config = ScanConfig(jobs=1)
process_file(paths[0], config)
best = []
for _ in range(reps):
    t0 = time.process_time()  # CPU time: the machine may be shared, one thread works here
    for p in paths:
        process_file(p, config)
    best.append((time.process_time() - t0) / len(paths))
print(json.dumps(best))
"""


def speed(args: argparse.Namespace) -> None:
    """Per-photo time (one core) of LFW photos and 12 MP photos: this tree vs ``--base``."""
    from PIL import Image

    from faceatlas.images import load_image

    work = Path(tempfile.mkdtemp(prefix="faceatlas-speed-"))
    try:
        base = work / "base"
        base.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", args.base, "faceatlas"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        lfw = [str(p) for p, _ in single_face_photos(args.n, 1)]
        rng = np.random.default_rng(2)
        big = []
        for i, (photo, box) in enumerate(single_face_photos(args.n12, 3)):
            canvas = background(CANVASES["12MP"], rng)
            place(canvas, load_image(photo), box, rng.uniform(60, 400), (2000, 1500))
            path = work / f"p12_{i}.jpg"
            Image.fromarray(canvas).save(path, quality=90)
            big.append(str(path))
        print(f"# {machine()}; base = {args.base}")
        for name, paths in (("LFW 250x250", lfw), ("12 MP", big)):
            times: dict[str, list[float]] = {"base": [], "this": []}
            for _ in range(args.rounds):  # interleaved, so load on the machine hits both
                for tree, root in (("base", base), ("this", REPO)):
                    out = subprocess.run(
                        [sys.executable, "-c", _TIMER, json.dumps(paths), str(args.repeats)],
                        capture_output=True,
                        text=True,
                        check=True,
                        env={**os.environ, "PYTHONPATH": str(root)},
                        cwd=work,  # `python -c` puts the cwd first on sys.path: not a tree
                    ).stdout
                    times[tree].append(min(json.loads(out)))
            b, t = float(np.median(times["base"])), float(np.median(times["this"]))
            print(
                f"{name:<12} base {1000 * b:8.1f} ms/photo   this {1000 * t:8.1f} ms/photo"
                f"   ratio {t / b:.3f}   (CPU time, median of {args.rounds} rounds, best of "
                f"{args.repeats} repeats, {len(paths)} photos, one thread)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- the 20-40 px band in depth: recall against detection cost, per setting ------------------
def small(args: argparse.Namespace) -> None:
    """Recall of 20-40 px faces (album-style photos, 2 of 3 on 12 MP) and detection CPU."""
    import io

    import cv2
    from PIL import Image

    from faceatlas import detect
    from faceatlas.images import load_image

    cv2.setNumThreads(1)
    rng, photos = np.random.default_rng(args.seed), []
    for i, (photo, box) in enumerate(single_face_photos(args.n, args.seed + 100)):
        canvas = background(CANVASES["12MP" if i % 3 else "3MP"], rng)
        fw = float(np.exp(rng.uniform(np.log(20), np.log(40))))
        fh, (H, W) = fw * (box[3] - box[1]) / (box[2] - box[0]), canvas.shape[:2]
        at = (rng.uniform(fw / 2, W - fw / 2), rng.uniform(fh / 2, H - fh / 2))
        b = place(canvas, load_image(photo), box, fw, at)
        buf = io.BytesIO()  # JPEG, as the album's photos (12 MP arrays would not all fit)
        Image.fromarray(canvas).save(buf, "JPEG", quality=90)
        photos.append(("12MP" if i % 3 else "3MP", buf.getvalue(), b))
    print(f"# {machine()}; {len(photos)} photos, one 20-40 px face each; CPU of detect() alone")
    print(f"{'setting':<40} {'12 MP':>7} {'3 MP':>7} {'all':>13} {'false':>5} {'ms/12 MP':>16}")
    relook = detect.RELOOK_SCORE
    for min_face, second in ((20, False), (20, True), (17, False), (17, True), (14, False)):
        detect.RELOOK_SCORE = relook if second else 1.0  # 1.0: no weak box, no second look
        det, hits, false, cpu = detect.YuNetDetector(min_face=min_face), defaultdict(int), 0, []
        for canvas_name, jpeg, truth in photos:
            img = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
            t0 = time.process_time()
            found = det.detect(img)
            if canvas_name == "12MP":
                cpu.append(time.process_time() - t0)
            ok = len(found) > 0 and iou(truth, found.boxes.astype(np.float64)).max() >= 0.3
            hits[canvas_name] += int(ok)
            false += len(found) - int(ok)
        n12 = sum(c == "12MP" for c, _, _ in photos)
        scale = detect.detection_scales(3000, 4000, min_face=min_face)[0]
        name = f"min_face {min_face} (12 MP at {scale:.2f})" + (" + 2nd look" if second else "")
        total = hits["12MP"] + hits["3MP"]
        print(
            f"{name:<40} {hits['12MP']:>3}/{n12:<3} {hits['3MP']:>3}/{len(photos) - n12:<3} "
            f"{total / len(photos):.3f} {total:>3}/{len(photos):<3} {false:>5} "
            f"{1000 * float(np.median(cpu)):>16.0f}"
        )
    detect.RELOOK_SCORE = relook


# -- where the quality bars come from: verification accuracy per face width, blur, light ----
def sizes(args: argparse.Namespace) -> None:
    """SFace's same/different accuracy on LFW pairs with both photos degraded the same way.

    Shrunk so the face is ``w`` px wide, blurred (Gaussian sigma in px of the 250 px photo),
    or darkened (gain on linear intensity); prints accuracy at the published threshold and
    the measures the quality verdict uses (size, chip sharpness, chip brightness).
    """
    import cv2

    from faceatlas.align import face_quality
    from faceatlas.detect import Detections, YuNetDetector
    from faceatlas.embed import aligned_chips, get_embedder
    from faceatlas.embed.sface import PUBLISHED_THRESHOLD
    from faceatlas.images import load_image
    from faceatlas.quality import brightness

    lines = (SHARED_DATA / "lfw" / "pairs.txt").read_text().split("\n")[1:]
    pairs = []
    for ln in lines:
        f = ln.split("\t")
        if len(f) == 3:
            pairs.append((f[0], int(f[1]), f[0], int(f[2]), True))
        elif len(f) == 4:
            pairs.append((f[0], int(f[1]), f[2], int(f[3]), False))
    rng = np.random.default_rng(0)
    pick = [pairs[i] for i in rng.choice(len(pairs), args.pairs, replace=False)]
    det, emb = YuNetDetector(), get_embedder("sface")

    def degrade(img: np.ndarray, kind: str, v: float) -> np.ndarray:
        if kind == "width" and v:
            full = det.detect(img)
            if len(full) == 0:
                return img
            i = int(np.argmax(full.scores))
            s = v / float(full.boxes[i, 2] - full.boxes[i, 0])
            side = max(8, round(250 * s))
            return cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
        if kind == "blur" and v:
            return cv2.GaussianBlur(img, (0, 0), v)
        if kind == "gain" and v != 1:
            return (255 * v * (img / 255.0) ** 1.5).clip(0, 255).astype(np.uint8)
        return img

    def vec(name: str, k: int, kind: str, v: float):
        img = degrade(load_image(LFW / name / f"{name}_{k:04d}.jpg"), kind, v)
        found = det.detect(img)  # no light retry: what the verdict sees is the photo
        if len(found) == 0:
            return None
        j = int(np.argmax(found.scores))
        one = Detections(
            found.boxes[j : j + 1], found.landmarks[j : j + 1], found.scores[j : j + 1]
        )
        chip = aligned_chips(img, one, 112)
        _, sharp = face_quality(one.boxes[0], float(one.scores[0]), chip[0])
        side = float(min(one.boxes[0, 2] - one.boxes[0, 0], one.boxes[0, 3] - one.boxes[0, 1]))
        return emb.embed(chip)[0], sharp, brightness(chip[0]), side, float(one.scores[0])

    print(f"# {machine()}; {args.pairs} LFW pairs (pairs.txt), SFace at {PUBLISHED_THRESHOLD}")
    print(
        f"{'condition':<14} {'accuracy':>8} {'pairs':>6} {'lost':>5} {'size p50':>9} "
        f"{'sharp p1/p50':>13} {'bright p1/p50':>14} {'score p1/p50':>13}"
    )
    conditions = [("width", 0.0)] + [("width", w) for w in (64, 48, 40, 32, 24, 20)]
    conditions += [("blur", b) for b in (1.0, 2.0, 3.0)]
    conditions += [("gain", g) for g in (0.3, 0.15, 0.08)]
    for kind, v in conditions:
        right = total = lost = 0
        m = []
        for a, i, b, j, same in pick:
            va, vb = vec(a, i, kind, v), vec(b, j, kind, v)
            if va is None or vb is None:
                lost += 1
                continue
            m += [va[1:], vb[1:]]
            right += (float(np.dot(va[0], vb[0])) >= PUBLISHED_THRESHOLD) == same
            total += 1
        q = np.array(m).reshape(-1, 4)
        p = lambda c, k, q=q: np.percentile(q[:, c], k)  # noqa: E731
        label = "full size" if kind == "width" and not v else f"{kind} {v:g}"
        print(
            f"{label:<14} {right / max(total, 1):>8.3f} {total:>6} {lost:>5} {p(2, 50):>9.0f} "
            f"{p(0, 1):>6.0f}/{p(0, 50):<6.0f} {p(1, 1):>7.0f}/{p(1, 50):<6.0f} "
            f"{p(3, 1):>6.2f}/{p(3, 50):<6.2f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    a = sub.add_parser("album", help="build, scan, print recall and false faces")
    a.add_argument("--n", type=int, default=24, help="photos per size band and per light")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--jobs", type=int, default=2)
    a.add_argument("--no-light-retry", action="store_true")
    a.add_argument(
        "--single-scale", action="store_true", help="scan with --detect-min-face 0 (0.1's way)"
    )
    a.add_argument("--keep", action="store_true", help="keep the album folder")
    a.add_argument("--reuse", help="a folder kept by --keep: score it again (no build)")
    a.add_argument("--db-name", default="album.db", help="catalog in the folder; scanned if new")
    sub.add_parser("yale", help="faces found per Yale light condition, before/after retry")
    s = sub.add_parser("speed", help="per-photo time against a git revision")
    s.add_argument("--base", default="f2d82f9", help="git revision measured as 'before'")
    s.add_argument("--n", type=int, default=100, help="LFW photos")
    s.add_argument("--n12", type=int, default=6, help="12 MP photos")
    s.add_argument("--repeats", type=int, default=2)
    s.add_argument("--rounds", type=int, default=3)
    m = sub.add_parser("small", help="20-40 px recall and detection CPU per setting")
    m.add_argument("--n", type=int, default=90, help="photos (one face each)")
    m.add_argument("--seed", type=int, default=5)
    z = sub.add_parser("sizes", help="verification accuracy per face width, blur and light")
    z.add_argument("--pairs", type=int, default=300)
    args = ap.parse_args()
    {"album": album, "yale": yale, "speed": speed, "small": small, "sizes": sizes}[args.what](args)


if __name__ == "__main__":
    main()
