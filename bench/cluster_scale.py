"""Clustering at scale on synthetic identities: 100,000 and 1,000,000 faces, and incremental.

    python bench/cluster_scale.py [--sizes 100000,1000000] [--repeats 3] [--method chinese-whispers]

Faces are 128-d unit vectors: people are random directions on the sphere, each face its
person's direction plus Gaussian noise (same-person cosine about 0.65, like SFace on LFW),
people's sizes drawn from a geometric distribution (mean 10 faces), and 5 % strangers
(random directions). Each size runs in its own process so that its peak resident memory
(``resource.getrusage``, ``ru_maxrss``) is its own; the data is generated in the child
and its generation time is not counted. Prints wall seconds (median of ``--repeats``),
process CPU seconds (less sensitive to other load on a shared machine), peak memory,
pairwise/BCubed F against the generated identities, then the time to assign 1,000 new
faces to the people of a 100,000-face set with ``assign_to_clusters``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine, median

from faceatlas.cluster import (
    DEFAULT_METHOD,
    assign_to_clusters,
    cluster_faces,
    pair_threshold,
)
from faceatlas.evaluate import clustering_report

D = 128


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors and their identities (-1 for strangers)."""
    rng = np.random.default_rng(seed)
    n_strangers = n // 20
    sizes = []
    total = 0
    while total < n - n_strangers:
        s = int(min(rng.geometric(0.1), n - n_strangers - total))
        sizes.append(s)
        total += s
    sizes = np.array(sizes)
    y = np.repeat(np.arange(sizes.size), sizes)
    X = np.empty((n, D), np.float32)
    step = 100_000
    centres = rng.normal(size=(sizes.size, D)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    # noise with D * s^2 = 0.55 gives a same-person cosine of about 1 / 1.55 = 0.65
    s = np.float32(np.sqrt(0.55 / D))
    for a in range(0, y.size, step):
        part = centres[y[a : a + step]]
        X[a : a + part.shape[0]] = part + s * rng.normal(size=part.shape).astype(np.float32)
    X[y.size :] = rng.normal(size=(n_strangers, D)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    labels = np.r_[y, np.full(n_strangers, -1)]
    return X, labels


def child(n: int, repeats: int, method: str) -> dict:
    X, y = synthetic(n)
    times, cpu, labels = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        labels = cluster_faces(X, method)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    # strangers are people of one face each for scoring
    y_score = np.where(y >= 0, y, y.max() + 1 + np.arange(y.size))
    r = clustering_report(y_score, labels)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "n": n,
        "seconds": median(times),
        "runs": times,
        "cpu_seconds": median(cpu),
        "peak_mb": peak_mb,
        "pairwise_f": r["pairwise_f"],
        "bcubed_f": r["bcubed_f"],
        "n_clusters": r["n_clusters"],
        "people": int(y.max()) + 1,
    }


def incremental(repeats: int) -> dict:
    X, y = synthetic(101_000, seed=1)
    # 1,000 faces held out at random (known people and strangers alike)
    rng = np.random.default_rng(2)
    held = np.zeros(len(y), bool)
    held[rng.choice(len(y), 1_000, replace=False)] = True
    base, new = X[~held], X[held]
    labels = cluster_faces(base)
    # among 100,000 faces the best of 100,000 chance similarities clears 0.363, so a
    # nearest-face assignment needs the collection-aware bar, as clustering does
    bar = pair_threshold(base)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        assigned, _ = assign_to_clusters(new, base, bar, labels=labels, how="max")
        times.append(time.perf_counter() - start)
    # right when the new face joins the cluster holding most of its person's base faces
    y_base, y_new = y[~held], y[held]
    right = 0
    for face, lab in zip(y_new, assigned, strict=True):
        if face < 0 or not np.any((y_base == face) & (labels >= 0)):
            right += int(lab == -1)
        else:
            mine = labels[(y_base == face) & (labels >= 0)]
            right += int(lab == np.bincount(mine).argmax())
    return {
        "seconds": median(times),
        "assigned": int((assigned >= 0).sum()),
        "accuracy": right / len(y_new),
        "threshold": bar,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--method", default=DEFAULT_METHOD)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.repeats, args.method)))
        return
    print(f"# {datetime.date.today()}  {machine()}  method {args.method}")
    print(
        "| faces | people | seconds (median) | CPU seconds (both cores) | peak memory"
        " | pairwise F | BCubed F | clusters |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in [int(s) for s in args.sizes.split(",") if s]:
        reps = args.repeats if n <= 200_000 else 1  # a million faces: one run
        out = (
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    str(n),
                    "--repeats",
                    str(reps),
                    "--method",
                    args.method,
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        r = json.loads(out)
        print(
            f"| {n:,} | {r['people']:,} | {r['seconds']:.1f} (runs: "
            f"{', '.join(f'{t:.1f}' for t in r['runs'])}) | {r['cpu_seconds']:.1f} | "
            f"{r['peak_mb'] / 1024:.2f} GB | "
            f"{r['pairwise_f']:.4f} | {r['bcubed_f']:.4f} | {r['n_clusters']:,} |",
            flush=True,
        )
    inc = incremental(args.repeats)
    print(
        f"\nIncremental: 1,000 held-out faces assigned to the people of 100,000 faces in "
        f"{inc['seconds']:.2f} s (median of {args.repeats}); threshold "
        f"{inc['threshold']:.3f} (pair_threshold of the 100,000); {inc['assigned']} assigned; "
        f"{inc['accuracy']:.3f} right (the person's cluster, or -1 for strangers and "
        f"people with no cluster)."
    )


if __name__ == "__main__":
    main()
