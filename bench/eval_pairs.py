"""LFW verification (6,000 pairs, 10 folds) through ``faceatlas eval-pairs``, per embedder.

Each image: YuNet, the face nearest the centre, 5-point alignment, the embedder; the pair's
cosine against a threshold chosen on the other nine folds. Embeddings are cached in a
catalog (``--db``), so a second run only re-scores. Prints one markdown section
(``## LFW verification``) for ``bench/run_all.py``.

    python bench/eval_pairs.py [--embedders sface dlib] [--quick] [--db PATH] [--jobs N]

``--quick`` uses the first 30 same and 30 different pairs of each of the 10 folds (600
pairs, about 1,100 images) instead of all 6,000 (7,701 images).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED_DATA, machine

from faceatlas.catalog import Catalog
from faceatlas.evaluation import evaluate_pairs

LFW = SHARED_DATA / "lfw"
REPO = Path(__file__).resolve().parents[1]
PUBLISHED = {"sface": "99.40 % (OpenCV)", "dlib": "99.13 % (dlib, no jitter)"}


def quick_pairs(src: Path, per: int) -> Path:
    """The first ``per`` same and ``per`` different pairs of every fold of ``pairs.txt``."""
    lines = src.read_text().splitlines()
    n_sets, n_per = map(int, lines[0].split())
    out = [f"{n_sets}\t{per}"]
    for s in range(n_sets):
        base = 1 + s * 2 * n_per
        out += lines[base : base + per] + lines[base + n_per : base + n_per + per]
    path = Path(tempfile.gettempdir()) / f"faceatlas_pairs_quick_{per}.txt"
    path.write_text("\n".join(out) + "\n")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--embedders", nargs="+", default=["sface", "dlib"])
    ap.add_argument("--pairs", type=Path, default=LFW / "pairs.txt")
    ap.add_argument("--images", type=Path, default=LFW / "images")
    ap.add_argument(
        "--db",
        type=Path,
        default=Path(tempfile.gettempdir()) / "faceatlas_bench" / "lfw_pairs.db",
        help="Catalog caching the embeddings.",
    )
    ap.add_argument("--jobs", type=int, default=0, help="0: every core.")
    ap.add_argument("--quick", action="store_true", help="600 of the 6,000 pairs.")
    args = ap.parse_args()

    pairs = quick_pairs(args.pairs, 30) if args.quick else args.pairs
    args.db.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.embedders:
        t0 = time.perf_counter()
        with Catalog(args.db) as cat:
            r = evaluate_pairs(pairs, args.images, embedder=name, catalog=cat, jobs=args.jobs)
        print(f"{r.line()} (wall {time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
        rows.append(r)

    cmd = " ".join(["python", "bench/eval_pairs.py", *sys.argv[1:]])
    print("## LFW verification (eval-pairs)")
    print()
    if args.quick:
        print("**Quick run: 600 of the 6,000 pairs (30 + 30 per fold).**")
        print()
    pairs_arg, images_arg = (os.path.relpath(p, REPO) for p in (args.pairs, args.images))
    print(
        f"Command: `{cmd}`; per embedder the same as `faceatlas --db {args.db} eval-pairs "
        f"{pairs_arg} {images_arg} --embedder NAME`."
    )
    print(f"Machine: {machine()}.")
    print()
    print(
        "| embedder | pairs | accuracy (10-fold) | AUC | threshold | EER | TMR @ FMR 0.001 "
        "| images without a face | published |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r.embedder} | {r.n_pairs} | {100 * r.accuracy_mean:.2f} % "
            f"± {100 * r.accuracy_std:.2f} | {r.auc_mean:.4f} ± {r.auc_std:.4f} | "
            f"{r.threshold_mean:.3f} ± {r.threshold_std:.3f} | {100 * r.eer:.2f} % | "
            f"{100 * r.tmr_at_fmr_0_001:.2f} % | {r.n_no_face} | "
            f"{PUBLISHED.get(r.embedder, '-')} |"
        )
    print()
    print(
        "LFW deep-funneled images, `pairs.txt` (10 folds of 300 same + 300 different "
        "pairs); the threshold of each fold is the accuracy-maximising cosine on the "
        "other nine (mean ± population std over folds). Detector YuNet, the face "
        "nearest the image centre; a pair with an image without a face would count as "
        "a non-match. Embedding time is not part of this table (see Scan throughput)."
    )


if __name__ == "__main__":
    main()
