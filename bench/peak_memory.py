"""The largest files a scan worker meets, and the peak memory of a worker on each (issue 17).

    python bench/peak_memory.py DIR ../shared/data/lfw/images            # write the files
    python bench/peak_memory.py DIR ../shared/data/lfw/images --measure  # and measure
    python bench/peak_memory.py DIR ../shared/data/lfw/images --decode   # decoding alone

Writes phone- and camera-sized photos (LFW faces of 2-20 % of the width on an enlarged noise
texture) as JPEG, HEIC and PNG, an 81 MP palette PNG and a 96 MP JPEG. ``--measure`` runs
``/usr/bin/time -v python -m faceatlas --db DB scan FOLDER -j 1`` three times per file and
prints the median maximum resident set size, in MB (kB / 1024), of a worker that

- ``cold``: scans the file alone (models loaded, but the embedder only after detection,
  and only if a face is found);
- ``warm``: scans one LFW portrait first, so the embedder is loaded, as in any real scan;
- and the peak of one scan of every file twice over (a worker deep in a scan of large photos).

The resident set counts the shared libraries' pages the worker has mapped (80-135 MB,
depending on how much of those files the page cache holds: most on a fresh install), so
each warm figure is also given without them ("its own", the same to a few MB anywhere).

``--decode`` measures ``load_image`` alone in such a warm worker (detector and embedder
loaded, one portrait detected and embedded): the median of three runs of the peak while the
file is decoded (VmHWM, reset just before through /proc/self/clear_refs) and what decoding
added to the resident set before it, in MB.

Nothing is written into the repository; the figures are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def _photo(lfw: Path, w: int, h: int) -> Image.Image:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (h // 100, w // 100, 3), dtype=np.uint8)
    img = Image.fromarray(noise).resize((w, h), Image.Resampling.BICUBIC)
    people = sorted(p for p in lfw.iterdir() if p.is_dir())[:8]
    for i, (person, part) in enumerate(
        zip(people, (0.02, 0.03, 0.05, 0.08, 0.12, 0.2, 0.03, 0.04), strict=True)
    ):
        side = int(w * part)
        face = Image.open(next(person.glob("*.jpg"))).resize((side, side))
        img.paste(face, (int(w * (0.05 + 0.11 * i)), int(h * 0.3)))
    return img


def build(folder: Path, lfw: Path) -> list[Path]:
    """Write the files into ``folder``; return their paths."""
    from faceatlas.images import register_formats

    register_formats()  # HEIC through pillow-heif
    folder.mkdir(parents=True, exist_ok=True)
    p48 = _photo(lfw, 8000, 6000)
    p48.save(folder / "photo48.jpg", quality=90)
    p48.save(folder / "photo48.png", compress_level=1)
    p48.save(folder / "photo48.heic", quality=80)
    p48.resize((4000, 3000)).save(folder / "photo12.jpg", quality=90)
    _photo(lfw, 8000, 8000).save(folder / "rgb64.png", compress_level=1)
    Image.new("P", (9000, 9000), 3).save(folder / "palette81.png")
    _photo(lfw, 16000, 6000).save(folder / "wide96.jpg", quality=80)
    names = ["photo12.jpg", "photo48.jpg", "photo48.heic", "photo48.png"]
    return [folder / n for n in names + ["rgb64.png", "palette81.png", "wide96.jpg"]]


# the scan, then the library pages it has mapped (RssFile: they only grow), printed at exit
_SCAN = """
import sys
from faceatlas.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    assert not e.code, e.code
status = open("/proc/self/status").read().splitlines()
print(next(l.split()[1] for l in status if l.startswith("RssFile")))
"""


def peak_mb(targets: list[Path], portrait: Path | None) -> tuple[float, float]:
    """``faceatlas scan -j 1`` on ``targets`` in order (after ``portrait``): its maximum
    resident set (MB, from ``/usr/bin/time -v``) and that less the shared library pages it
    has mapped (the worker's own memory, the same to a few MB whatever the page cache holds).
    """
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        if portrait is not None:
            shutil.copyfile(portrait, folder / "a-portrait.jpg")
        for i, target in enumerate(targets):
            (folder / f"z-{i:02d}-{target.name}").symlink_to(target.resolve())
        cmd = ["/usr/bin/time", "-v", sys.executable, "-c", _SCAN]
        cmd += ["--db", str(Path(tmp) / "m.db"), "scan", str(folder), "-j", "1"]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    line = next(x for x in done.stderr.splitlines() if "Maximum resident" in x)
    peak = int(line.split()[-1]) / 1024
    return peak, peak - int(done.stdout.split()[-1]) / 1024


_DECODE = """
import sys
from faceatlas.detect import YuNetDetector
from faceatlas.embed.sface import SFaceEmbedder
from faceatlas.images import load_image
def mb(key):
    return int(next(x.split()[1] for x in open("/proc/self/status") if x.startswith(key))) / 1024
det, emb = YuNetDetector(), SFaceEmbedder()
portrait = load_image(sys.argv[2])
emb.embed(emb.chips(portrait, det.detect(portrait)))
before = mb("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the high-water mark starts again from the resident set
image = load_image(sys.argv[1])
print(before, mb("VmHWM"))
"""


def decode_peak_mb(target: Path, portrait: Path) -> tuple[float, float]:
    """(peak, peak - resident before) in MB of a warm worker while ``target`` is decoded."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", _DECODE, str(target), str(portrait)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    before, peak = map(float, done.stdout.split())
    return peak, peak - before


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("folder", type=Path, help="where the files are written")
    ap.add_argument("lfw", type=Path, help="LFW's images folder (faces to paste)")
    ap.add_argument("--decode", action="store_true", help="peak of decoding alone, warm")
    ap.add_argument("--measure", action="store_true", help="peak of a scan, cold and warm")
    args = ap.parse_args(argv)
    lfw = args.lfw
    files = build(args.folder, lfw)  # written again each time: the bench stays honest
    portrait = next(sorted(p for p in lfw.iterdir() if p.is_dir())[0].glob("*.jpg"))
    if args.decode:
        print("| file | peak while decoding (warm worker) | added by decoding |")
        print("|---|---:|---:|")
        for f in files:
            runs = sorted(decode_peak_mb(f, portrait) for _ in range(3))
            peak, added = runs[1]
            print(f"| {f.name} | {peak:.0f} MB | +{added:.0f} MB |", flush=True)
    if not args.measure:
        return
    print("| file | cold (alone) | warm (after a portrait) | warm, its own |")
    print("|---|---:|---:|---:|")

    def median(targets: list[Path], after: Path | None) -> tuple[float, float]:
        runs = sorted(peak_mb(targets, after) for _ in range(3))
        return runs[1]

    for f in files:
        cold, _ = median([f], None)
        warm, own = median([f], portrait)
        print(f"| {f.name} | {cold:.0f} MB | {warm:.0f} MB | {own:.0f} MB |", flush=True)
    # a worker in a long scan: it has met every other large file first (kernels, caches)
    steady, own = median(files * 2, portrait)
    print(f"| all of them, twice, in one scan | | {steady:.0f} MB | {own:.0f} MB |")


if __name__ == "__main__":
    main(sys.argv[1:])
