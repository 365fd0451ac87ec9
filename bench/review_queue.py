"""The album's questions at scale: the review queue and the photos of one person.

    python bench/review_queue.py [--faces 20000] [--repeats 3]

Builds a temporary catalog of synthetic identity-clustered 128-d vectors (four faces per
photo, 40 faces per identity, same-person cosine ~0.6, impostors ~0: SFace-like with its
0.363 threshold), clusters it with ``cluster_people``, then times
``faceatlas.people.review_questions(catalog, 20)`` and
``faceatlas.album.photos_of_people(catalog, [person])``; prints medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine

from faceatlas.album import photos_of_people
from faceatlas.catalog import Catalog, FaceRecord, PhotoRecord
from faceatlas.people import cluster_people, review_questions


def build(db: str, n_faces: int) -> None:
    rng = np.random.default_rng(0)
    n_people = max(2, n_faces // 40)
    C = rng.normal(size=(n_people, 128))
    C /= np.linalg.norm(C, axis=1, keepdims=True)
    X = C[rng.integers(0, n_people, n_faces)] + rng.normal(scale=0.09, size=(n_faces, 128))
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    box, lm = np.array([0, 0, 10, 10], np.float32), np.zeros((5, 2), np.float32)
    with Catalog(db) as cat:
        for i in range(0, n_faces, 4):
            faces = [
                FaceRecord(box, lm, 0.9, 0.8, 100.0, None, X[j])
                for j in range(i, min(i + 4, n_faces))
            ]
            path = f"/synthetic/p{i:07d}.jpg"
            photo = PhotoRecord(path, faces=faces)
            cat.replace_file(path, None, 1, 1.6e9 + i * 60, "synthetic", [photo], "sface", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        build(db, args.faces)
        with Catalog(db) as cat:
            t0 = time.perf_counter()
            cluster_people(cat, "sface")
            print(f"{args.faces} faces clustered in {time.perf_counter() - t0:.1f} s")
            times, n = [], 0
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                n = len(review_questions(cat, 20))
                times.append(time.perf_counter() - t0)
            print(f"review_questions(catalog, 20): median {statistics.median(times):.2f} s ({n})")
            pid = cat.persons()[0]["id"]
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                n = len(photos_of_people(cat, [pid]))
                times.append(time.perf_counter() - t0)
            ms = statistics.median(times) * 1e3
            print(f"photos_of_people(one person): median {ms:.1f} ms ({n} photos)")


if __name__ == "__main__":
    main()
