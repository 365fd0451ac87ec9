"""Catalog-level people clustering at scale: a full run, then adding faces incrementally.

    python bench/people_incremental.py [--faces 100000] [--new 1000] [--repeats 3]

Builds a temporary catalog of synthetic identity-clustered 128-d vectors (one face per
"photo", written as frames of a few large files so building is fast), 20 faces per
identity, same-person pairs at cosine ~0.55 and impostors ~0 (SFace-like; threshold 0.363), plus
5 % strangers. Times ``faceatlas.people.cluster_people`` on all faces, then, ``--repeats``
times on fresh copies, adding ``--new`` faces (90 % of known identities, 10 % strangers)
and running the default incremental ``cluster``; prints medians and how many new faces
joined their identity's person.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine

from faceatlas.catalog import Catalog, FaceRecord, PhotoRecord
from faceatlas.people import cluster_people

DIM = 128
EMBEDDER = "synthetic"  # unknown to get_embedder: SFace's published 0.363 is used


def make_vectors(rng: np.random.Generator, centres: np.ndarray, who: np.ndarray) -> np.ndarray:
    # noise norm ~0.9 against a unit centre: same-person pairs at cosine ~0.55
    v = centres[who] + rng.normal(scale=0.9 / np.sqrt(DIM), size=(who.size, DIM))
    strangers = who < 0
    v[strangers] = rng.normal(size=(int(strangers.sum()), DIM))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def add_faces(cat: Catalog, name: str, X: np.ndarray, frames_per_file: int = 5000) -> None:
    box = np.array([0, 0, 80, 80], np.float32)
    lm = np.zeros((5, 2), np.float32)
    for start in range(0, len(X), frames_per_file):
        photos = [
            PhotoRecord(
                path=f"/{name}/{start}",
                frame_index=i,
                faces=[
                    FaceRecord(
                        box=box,
                        landmarks=lm,
                        det_score=0.9,
                        quality=0.9,
                        sharpness=1.0,
                        chip_jpeg=None,
                        embedding=x,
                    )
                ],
            )
            for i, x in enumerate(X[start : start + frames_per_file])
        ]
        cat.replace_file(f"/{name}/{start}", None, None, None, "synthetic", photos, EMBEDDER, "1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", type=int, default=100_000)
    ap.add_argument("--new", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n_ids = args.faces // 20
    centres = rng.normal(size=(n_ids, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    who = np.repeat(np.arange(n_ids), 20)[: args.faces]
    who[rng.random(who.size) < 0.05] = -1
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base.db"
        t = time.perf_counter()
        with Catalog(base) as cat:
            add_faces(cat, "base", make_vectors(rng, centres, who))
        print(f"built a {args.faces}-face catalog in {time.perf_counter() - t:.1f} s")
        with Catalog(base) as cat:
            s = cluster_people(cat, EMBEDDER)
        print(f"full cluster: {s.line()}")
        with Catalog(base) as cat:
            person_of = {f: p for f, (p, _) in cat.face_people().items()}
            ids, _ = cat.embeddings(EMBEDDER)
        # the person holding most faces of each identity
        votes: dict[int, dict[int, int]] = {}
        for f, w in zip(ids.tolist(), who.tolist(), strict=True):
            if w >= 0 and f in person_of:
                d = votes.setdefault(w, {})
                d[person_of[f]] = d.get(person_of[f], 0) + 1
        home = {w: max(d, key=d.get) for w, d in votes.items()}
        # the identity holding most faces of each person
        owner: dict[int, int] = {}
        best: dict[int, int] = {}
        for w, d in votes.items():
            for p, c in d.items():
                if c > best.get(p, 0):
                    best[p], owner[p] = c, w
        times, joined_ok, joined_wrong = [], [], []
        for r in range(args.repeats):
            db = Path(tmp) / f"run{r}.db"
            shutil.copy(base, db)
            new_who = rng.integers(0, n_ids, args.new)
            new_who[rng.random(args.new) < 0.1] = -1
            with Catalog(db) as cat:
                add_faces(cat, f"new{r}", make_vectors(rng, centres, new_who))
                t = time.perf_counter()
                s = cluster_people(cat, EMBEDDER)
                times.append(time.perf_counter() - t)
                person_of = {f: p for f, (p, _) in cat.face_people().items()}
                new_ids = cat.embeddings(EMBEDDER)[0][-args.new :]
            pairs = list(zip(new_ids.tolist(), new_who.tolist(), strict=True))
            ok = sum(1 for f, w in pairs if w >= 0 and person_of.get(f) == home.get(w))
            joined_ok.append(ok / max(1, int((new_who >= 0).sum())))
            # wrong: a face in a person of another identity (a person that is one more
            # fragment of its own identity is not wrong), or a stranger in anyone's
            wrong = sum(
                1 for f, w in pairs if f in person_of and (w < 0 or owner.get(person_of[f], w) != w)
            )
            joined_wrong.append(wrong / len(pairs))
            print(f"  run {r}: {s.line()}")
        print(
            f"incremental: +{args.new} faces to {args.faces}: median "
            f"{statistics.median(times):.2f} s over {args.repeats} runs; new faces of known "
            f"identities that joined their identity's person: "
            f"{statistics.median(joined_ok):.3f}; new faces put with another identity's "
            f"person (or strangers put with anyone): {statistics.median(joined_wrong):.4f}"
        )


if __name__ == "__main__":
    main()
