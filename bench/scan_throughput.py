"""Scan throughput: photos/s and faces/s per core and on all cores, per detector/embedder.

Compares the default pipeline (YuNet + SFace) with face_recognition's own pipeline
(HOG upsample 1 + ResNet encoding) on the same LFW images in the same run, and reports the
ratio. Per-core numbers run in this process with one thread; all-core numbers run a real
``faceatlas scan`` into a temporary catalog.

    python bench/scan_throughput.py --n 300 --repeats 3
    python bench/scan_throughput.py --n 13233 --only-all-cores   # the 5-minute target
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import import_face_recognition, lfw_paths, machine, median

from faceatlas import Catalog, ScanConfig, scan
from faceatlas.pipeline import _MODELS, process_file

OV, CV = {"backend": "openvino"}, {"backend": "opencv"}
# (detector, its parameters, embedder, its parameters); the default first
PAIRS = [
    ("yunet", OV, "sface", OV),
    ("yunet", CV, "sface", OV),
    ("yunet", CV, "sface", CV),
    ("yunet", OV, "dlib", {}),
    ("dlib-hog", {}, "dlib", {}),
    ("haar", {}, "sface", OV),
]


def per_core(
    paths: list[Path], detector: str, det_params: dict, embedder: str, params: dict
) -> tuple[float, int]:
    import cv2

    cv2.setNumThreads(1)
    config = ScanConfig(detector=detector, embedder=embedder, jobs=1)
    _MODELS.clear()
    if params or det_params:
        from faceatlas.detect import get_detector
        from faceatlas.embed import get_embedder

        _MODELS[(detector, embedder, config.detect_min_face)] = (
            get_detector(detector, **det_params),
            get_embedder(embedder, **params),
        )
    process_file(str(paths[0]), config)  # load models outside the timing
    t0 = time.perf_counter()
    faces = sum(len(p.faces) for path in paths for p in process_file(str(path), config).photos)
    return time.perf_counter() - t0, faces


def face_recognition_per_core(paths: list[Path]) -> tuple[float, int]:
    fr = import_face_recognition()
    fr.face_encodings(fr.load_image_file(str(paths[0])))
    t0 = time.perf_counter()
    faces = 0
    for path in paths:
        image = fr.load_image_file(str(path))
        boxes = fr.face_locations(image, number_of_times_to_upsample=1, model="hog")
        faces += len(fr.face_encodings(image, boxes))
    return time.perf_counter() - t0, faces


def all_cores(paths: list[Path], jobs: int) -> tuple[float, int]:
    tmp = Path(tempfile.mkdtemp(prefix="fa-bench-"))
    try:
        folder = tmp / "photos"
        folder.mkdir()
        for i, p in enumerate(paths):
            os.symlink(p, folder / f"{i:05d}_{p.name}")
        with Catalog(tmp / "bench.db") as cat:
            s = scan([folder], cat, ScanConfig(jobs=jobs))
        return s.seconds, s.faces
    finally:
        shutil.rmtree(tmp)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="LFW images (13233 = all)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--only-all-cores", action="store_true")
    args = ap.parse_args()
    paths = lfw_paths(args.n)
    print(f"# scan throughput on {len(paths)} LFW images; {machine()}")
    rows = []
    if not args.only_all_cores:
        runs = [
            (
                f"{d}"
                + (f" ({dp['backend']})" if dp else "")
                + f" + {e}"
                + (f" ({p['backend']})" if p else ""),
                lambda d=d, dp=dp, e=e, p=p: per_core(paths, d, dp, e, p),
            )
            for d, dp, e, p in PAIRS
        ]
        runs.append(
            ("face_recognition (hog x1 + resnet)", lambda: face_recognition_per_core(paths))
        )
        # Round-robin over the pipelines, so a change in the machine's load during the
        # run hits every pipeline alike and the ratios stay fair.
        times: dict[str, list[float]] = {name: [] for name, _ in runs}
        faces_of: dict[str, int] = {}
        for _ in range(args.repeats):
            for name, fn in runs:
                t, faces_of[name] = fn()
                times[name].append(t)
        for name, _ in runs:
            t = median(times[name])
            rows.append((name, len(paths) / t, faces_of[name] / t, faces_of[name]))
        print("| pipeline (1 core) | photos/s | faces/s | faces | ms/face |")
        print("|---|---:|---:|---:|---:|")
        for name, ps, fs, faces in rows:
            print(f"| {name} | {ps:.1f} | {fs:.1f} | {faces} | {1000 / fs:.1f} |")
        base = rows[-1][2]
        print(
            f"\ndefault (yunet + sface, both openvino) / face_recognition faces/s ratio, one core: "
            f"{rows[0][2] / base:.2f}x"
        )
    all_times, faces = [], 0
    for _ in range(1 if args.only_all_cores else args.repeats):
        t, faces = all_cores(paths, args.jobs)
        all_times.append(t)
    t = median(all_times)
    print(
        f"\nall cores ({args.jobs} jobs), `faceatlas scan` default pipeline: "
        f"{len(paths) / t:.1f} photos/s, {faces / t:.1f} faces/s, {t:.1f} s for {len(paths)} "
        f"photos ({faces} faces)"
    )
    if rows:
        ratio = faces / t / rows[-1][2]
        print(
            f"all-core default / one-core face_recognition faces/s: {ratio:.2f}x"
            f"; same cores (face_recognition x{args.jobs} ideal): "
            f"{faces / t / (rows[-1][2] * args.jobs):.2f}x"
        )


if __name__ == "__main__":
    main()
