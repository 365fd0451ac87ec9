"""Every embedder side by side: ORL 5/5, LFW people with >= 10 photos, LFW's 6,000 pairs.

Usage::

    python bench/embedders.py                 # everything (about 20-40 min on 2 cores)
    python bench/embedders.py --quick         # subsets, a few minutes
    python bench/embedders.py --embedders pixels landmarks --write-docs

For each embedder (sface, dlib, pixels, landmarks, cnn) and the PCA variants
(``eigenfaces``: pixels projected on eigenfaces; ``cnn-pca100``: the write-up's 100-d
PCA of the CNN features):

* ORL, the classic split (images 1-5 of each of the 40 people are the gallery, 6-10 the
  probes), whole images (``--cropped``): rank-1 nearest-neighbour accuracy (cosine);
* LFW, the 158 people with >= 10 photos (4,324 images): leave-one-out rank-1 accuracy,
  each photo against all the others;
* LFW ``pairs.txt``: 6,000 pairs in 10 folds, verification accuracy with the threshold
  chosen on the other 9 folds (:func:`faceatlas.evaluate.kfold_verification_accuracy`);
* embedding time per face (chips + embed, one face at a time as a scan does, one
  thread, median over the run) and the dimension.

LFW faces are found with YuNet (the face nearest the image centre; when none is found,
the chip template is placed on LFW's centred face box). Eigenfaces and the 100-d CNN PCA
are fitted without labels: on ORL's gallery half for ORL, and on 2,000 LFW photos of
people with a single photo for LFW.

Embeddings are cached in ``/tmp/faceatlas_bench_embedders`` (delete it to recompute).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_model

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
CACHE = Path("/tmp/faceatlas_bench_embedders")
EMBEDDERS = ("sface", "dlib", "pixels", "landmarks", "cnn")


# -- data -------------------------------------------------------------------------------
def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def orl_items() -> tuple[list[Path], np.ndarray, np.ndarray]:
    rows = _csv_rows(DATA / "orl" / "labels.csv")
    paths = [DATA / "orl" / r["path"] for r in rows]
    labels = np.array([r["identity"] for r in rows])
    train = np.array([int(r["image_index"]) <= 5 for r in rows])
    return paths, labels, train


def lfw_path(name: str, num: int) -> str:
    return f"images/{name}/{name}_{num:04d}.jpg"


def lfw_pairs() -> tuple[list[tuple[str, str]], np.ndarray]:
    lines = (DATA / "lfw" / "pairs.txt").read_text().splitlines()[1:]
    pairs, same = [], []
    for line in lines:
        p = line.split("\t")
        if len(p) == 3:
            pairs.append((lfw_path(p[0], int(p[1])), lfw_path(p[0], int(p[2]))))
            same.append(True)
        elif len(p) == 4:
            pairs.append((lfw_path(p[0], int(p[1])), lfw_path(p[2], int(p[3]))))
            same.append(False)
    return pairs, np.array(same)


def lfw_ge10() -> tuple[list[str], np.ndarray]:
    people = {r["identity"] for r in _csv_rows(DATA / "lfw" / "people_ge10.csv")}
    rows = [r for r in _csv_rows(DATA / "lfw" / "labels.csv") if r["identity"] in people]
    return [r["path"] for r in rows], np.array([r["identity"] for r in rows])


def lfw_singles(n: int = 2000) -> list[str]:
    counts = {
        r["identity"]: int(r["n_images"]) for r in _csv_rows(DATA / "lfw" / "people_counts.csv")
    }
    rows = [
        r["path"] for r in _csv_rows(DATA / "lfw" / "labels.csv") if counts.get(r["identity"]) == 1
    ]
    rng = np.random.default_rng(0)
    return [rows[i] for i in sorted(rng.choice(len(rows), min(n, len(rows)), replace=False))]


# -- detection and embedding -------------------------------------------------------------
def detect_all(paths: list[str], root: Path, cropped: bool, tag: str):
    """One Detections per image (cached): the face nearest the centre, or a fallback."""
    from faceatlas.detect import Detections, get_detector, template_landmarks
    from faceatlas.images import load_image

    f = CACHE / f"{tag}_detections.npz"
    if f.is_file():
        z = np.load(f, allow_pickle=False)
        if list(z["paths"]) == list(paths):
            # Read each array once, and copy the rows: a view would keep the whole array
            # alive per image (8 GB for LFW).
            boxes, marks, scores = z["boxes"], z["landmarks"], z["scores"]
            source = "whole-image" if cropped else "yunet"
            return [
                Detections(
                    boxes[i : i + 1].copy(),
                    marks[i : i + 1].copy(),
                    scores[i : i + 1].copy(),
                    source,
                )
                for i in range(len(paths))
            ]
    det = get_detector("whole-image" if cropped else "yunet")
    boxes, marks, scores, missed = [], [], [], 0
    for p in paths:
        img = load_image(root / p)
        d = det.detect(img)
        h, w = img.shape[:2]
        if len(d) == 0:
            missed += 1
            # LFW's deep-funneled faces sit in the middle, about 110 px wide.
            b = np.array([w / 2 - 55, h / 2 - 60, w / 2 + 55, h / 2 + 60], np.float32)
            boxes.append(b)
            marks.append(template_landmarks(b))
            scores.append(0.0)
            continue
        c = (d.boxes[:, :2] + d.boxes[:, 2:]) / 2 - np.array([w / 2, h / 2])
        i = int(np.argmin((c**2).sum(1)))
        boxes.append(d.boxes[i])
        marks.append(d.landmarks[i])
        scores.append(float(d.scores[i]))
    print(f"  {tag}: {len(paths)} images, {missed} without a detected face", flush=True)
    np.savez(
        f,
        paths=np.array(paths),
        boxes=np.array(boxes, np.float32),
        landmarks=np.array(marks, np.float32),
        scores=np.array(scores, np.float32),
    )
    return detect_all(paths, root, cropped, tag)


def embed_all(
    name: str, paths: list[str], root: Path, dets: list, tag: str, compute: bool = True
) -> tuple[np.ndarray, float]:
    """Vectors of the images (cached) and the median ms per face of chips + embed.

    Progress is saved every 250 images and resumed. With ``compute=False`` nothing new is
    computed: the vectors of the first images done so far are returned (possibly fewer).
    """
    from faceatlas.embed import get_embedder
    from faceatlas.images import load_image

    f = CACHE / f"{tag}_{name}.npz"
    if f.is_file():
        z = np.load(f, allow_pickle=False)
        if list(z["paths"]) == list(paths):
            return z["X"], float(z["ms"])
    part = CACHE / f"{tag}_{name}.partial.npz"
    out: list[np.ndarray] = []
    times: list[float] = []
    if part.is_file():
        z = np.load(part, allow_pickle=False)
        if list(z["paths"]) == list(paths):
            out, times = list(z["X"]), list(z["times"])
    if not compute:
        ms = float(np.median(times[1:]) * 1000) if len(times) > 1 else float("nan")
        return np.array(out, np.float32).reshape(len(out), -1), ms
    emb = get_embedder(name)
    t_start = time.perf_counter()
    for i in range(len(out), len(paths)):
        img = load_image(root / paths[i])
        t0 = time.perf_counter()
        x = emb.embed(emb.chips(img, dets[i]))
        times.append(time.perf_counter() - t0)
        out.append(x[0])
        if (i + 1) % 250 == 0:
            np.savez(part, paths=np.array(paths), X=np.stack(out), times=np.array(times))
        if (i + 1) % 1000 == 0:
            print(
                f"  {tag} {name}: {i + 1}/{len(paths)} ({time.perf_counter() - t_start:.0f} s)",
                flush=True,
            )
    X = np.stack(out).astype(np.float32)
    ms = float(np.median(times[1:] if len(times) > 1 else times) * 1000)
    np.savez(f, paths=np.array(paths), X=X, ms=ms)
    part.unlink(missing_ok=True)
    return X, ms


# -- metrics ---------------------------------------------------------------------------------
def loo_rank1(X: np.ndarray, labels: np.ndarray) -> float:
    """Each photo against all others; photos whose person has no other photo are skipped."""
    S = X @ X.T
    np.fill_diagonal(S, -np.inf)
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    ok = counts[inverse] >= 2
    return float(np.mean(labels[np.argmax(S[ok], axis=1)] == labels[ok]))


def pairs_accuracy(
    X: np.ndarray,
    index: dict[str, int],
    pairs,
    same,
) -> tuple[float, float]:
    """10-fold verification accuracy, and the equal-error threshold over all pairs."""
    from faceatlas.evaluate import equal_error_rate, kfold_verification_accuracy

    a = np.array([index[p] for p, _ in pairs])
    b = np.array([index[q] for _, q in pairs])
    sims = np.einsum("ij,ij->i", X[a], X[b])
    return (
        kfold_verification_accuracy(sims, same, n_folds=10)["mean"],
        equal_error_rate(sims, same)[1],
    )


def pca_variant(name: str, X_fit: np.ndarray, *Xs: np.ndarray) -> list[np.ndarray]:
    """Project with eigenfaces (pixels) or the write-up's 100-d PCA (cnn)."""
    from faceatlas.embed.base import l2_normalize
    from faceatlas.embed.pixels import EigenfaceSpace
    from faceatlas.reduce import PCA

    if name == "pixels":
        space = EigenfaceSpace(n_components=100).fit(X_fit)
        return [space.transform(X) for X in Xs]
    pca = PCA(n_components=min(100, len(X_fit) - 1), random_state=0).fit(X_fit)
    return [l2_normalize(pca.transform(X)) for X in Xs]


def _pairs(X: np.ndarray, index: dict[str, int], pairs, same) -> dict:
    """Pairs accuracy; when some images are missing (a partial run), on the whole folds
    whose images are all done."""
    fold = np.arange(len(pairs)) * 10 // len(pairs)
    have = np.array([p in index and q in index for p, q in pairs])
    complete = [f for f in range(10) if have[fold == f].all()]
    if len(complete) == 10:
        acc, thr = pairs_accuracy(X, index, pairs, same)
        return {"lfw_pairs": acc, "eer_threshold": thr, "pairs_n": len(pairs), "folds": 10}
    if len(complete) < 2:
        return {
            "lfw_pairs": float("nan"),
            "eer_threshold": float("nan"),
            "pairs_n": 0,
            "folds": len(complete),
        }
    from faceatlas.evaluate import equal_error_rate, kfold_verification_accuracy

    keep = np.isin(fold, complete)
    sub = [pq for pq, k in zip(pairs, keep, strict=True) if k]
    a = np.array([index[p] for p, _ in sub])
    b = np.array([index[q] for _, q in sub])
    sims = np.einsum("ij,ij->i", X[a], X[b])
    return {
        "lfw_pairs": kfold_verification_accuracy(sims, same[keep], folds=fold[keep])["mean"],
        "eer_threshold": equal_error_rate(sims, same[keep])[1],
        "pairs_n": len(sub),
        "folds": len(complete),
    }


# -- the run -------------------------------------------------------------------------------
def reused_sface(path: Path, use: list[str]) -> np.ndarray:
    """LFW SFace vectors computed elsewhere (same model, YuNet five-point alignment)."""
    z = np.load(path, allow_pickle=False)
    where = {str(p): i for i, p in enumerate(z["paths"])}
    return z["X"][[where[p] for p in use]].astype(np.float32)


def run(
    embedders: list[str],
    quick: bool,
    lfw_images: dict[str, str] | None = None,
    sface_npz: Path | None = None,
    partial: bool = False,
) -> list[dict]:
    CACHE.mkdir(parents=True, exist_ok=True)
    import cv2

    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    lfw_images = lfw_images or {}
    suffix = "_quick" if quick else ""
    orl_paths, orl_labels, orl_train = orl_items()
    orl_rel = [str(p.relative_to(DATA / "orl")) for p in orl_paths]
    ge_paths, ge_labels = lfw_ge10()
    pairs, same = lfw_pairs()
    if quick:
        keep = np.isin(ge_labels, np.unique(ge_labels)[::8])
        ge_paths = [p for p, k in zip(ge_paths, keep, strict=True) if k]
        ge_labels = ge_labels[keep]
        pairs, same = pairs[::10], same[::10]
    singles = lfw_singles(300 if quick else 2000)
    pair_images = {p for pq in pairs for p in pq}
    lfw_all = sorted(set(ge_paths) | pair_images | set(singles))
    orl_dets = detect_all(orl_rel, DATA / "orl", True, "orl")
    all_dets = dict(
        zip(lfw_all, detect_all(lfw_all, DATA / "lfw", False, f"lfw{suffix}"), strict=True)
    )
    rows = []
    for name in embedders:
        t0 = time.perf_counter()
        pca = name in ("pixels", "cnn")
        # "pairs": only the images of pairs.txt (plus the PCA fitting set), for slow
        # embedders; rank-1 then uses the photos of the >= 10 people among them.
        mode = lfw_images.get(name, "all")
        if mode == "all":
            use = sorted(pair_images | (set(singles) if pca else set()) | set(ge_paths))
        else:
            # In the order of pairs.txt, so that an unfinished run covers whole folds.
            use = list(
                dict.fromkeys([p for pq in pairs for p in pq] + (list(singles) if pca else []))
            )
        tag = f"lfw{suffix}" if use == lfw_all else f"lfw{suffix}_{mode}"
        Xo, _ = embed_all(name, orl_rel, DATA / "orl", orl_dets, "orl")
        if name == "sface" and sface_npz is not None:
            Xl = reused_sface(sface_npz, use)
            _, ms_l = embed_all(
                name,
                use[:300],
                DATA / "lfw",
                [all_dets[p] for p in use[:300]],
                f"lfw{suffix}_timing",
            )
        else:
            Xl, ms_l = embed_all(
                name, use, DATA / "lfw", [all_dets[p] for p in use], tag, compute=not partial
            )
        index = {p: i for i, p in enumerate(use[: len(Xl)])}
        ge_keep = np.array([p in index for p in ge_paths])
        ge_idx = np.array([index[p] for p, k in zip(ge_paths, ge_keep, strict=True) if k])
        ge_lab = ge_labels[ge_keep]
        from faceatlas.evaluate import rank1_accuracy

        def orl_rank1(X: np.ndarray) -> float:
            return rank1_accuracy(
                X[~orl_train] @ X[orl_train].T, orl_labels[orl_train], orl_labels[~orl_train]
            )

        base = {
            "ms_per_face": ms_l,
            "lfw_rank1_n": len(ge_idx),
            "sface_npz": name == "sface" and sface_npz is not None,
        }
        rows.append(
            {
                "embedder": name,
                "dim": Xl.shape[1],
                **base,
                "orl_rank1": orl_rank1(Xo),
                "lfw_rank1": loo_rank1(Xl[ge_idx], ge_lab),
                **_pairs(Xl, index, pairs, same),
            }
        )
        if pca:
            single_idx = np.array([index[p] for p in singles if p in index])
            # An unfinished run may lack the fitting set: fit on the faces at hand then
            # (still without labels).
            fit = Xl[single_idx] if len(single_idx) == len(singles) else Xl
            base = {**base, "pca_fit": "singles" if fit is not Xl else "pairs"}
            (Po,) = pca_variant(name, Xo[orl_train], Xo)
            (Pl,) = pca_variant(name, fit, Xl)
            rows.append(
                {
                    "embedder": "eigenfaces" if name == "pixels" else "cnn-pca100",
                    "dim": Pl.shape[1],
                    **base,
                    "orl_rank1": orl_rank1(Po),
                    "lfw_rank1": loo_rank1(Pl[ge_idx], ge_lab),
                    **_pairs(Pl, index, pairs, same),
                }
            )
        for r in rows[-2:] if pca else rows[-1:]:
            print(
                f"{r['embedder']:<11} dim {r['dim']:>5}  {r['ms_per_face']:7.1f} ms/face  "
                f"ORL {r['orl_rank1']:.3f}  LFW rank-1 {r['lfw_rank1']:.3f} "
                f"(n={r['lfw_rank1_n']})  LFW pairs {r['lfw_pairs']:.4f} "
                f"(EER threshold {r['eer_threshold']:.3f})  "
                f"({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    return rows


def table(rows: list[dict], quick: bool, argv: list[str]) -> str:
    cpu = cpu_model()
    lines = [
        "## Embedders",
        "",
        f"Command: `python bench/embedders.py {' '.join(argv)}`".replace(" `", " `").rstrip(),
        f"Date: {dt.date.today().isoformat()}; machine: {cpu}, {os.cpu_count()} cores "
        f"(shared with other jobs: load average {os.getloadavg()[0]:.0f} at the end, so the "
        "times are inflated; compare them with each other), one thread per process; "
        "Python " + platform.python_version() + ".",
        "",
        (
            "| embedder | dim | ms / face | ORL 5/5 rank-1 | LFW >= 10 photos rank-1 (LOO) | "
            "LFW 6,000 pairs (10-fold) | EER threshold (cosine) |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        n = "" if r["lfw_rank1_n"] == 4324 else f" (n = {r['lfw_rank1_n']})"
        star = " *" if r["sface_npz"] else ""
        if r["folds"] < 10:
            star += f" ({r['folds']} of 10 folds, {r['pairs_n']} pairs)"
        lines.append(
            f"| {r['embedder']} | {r['dim']} | {r['ms_per_face']:.1f} | "
            f"{100 * r['orl_rank1']:.1f} % | {100 * r['lfw_rank1']:.1f} %{n} | "
            f"{100 * r['lfw_pairs']:.2f} %{star} | {r['eer_threshold']:.3f} |"
        )
    lines += [
        "",
        (
            "ORL: images 1-5 of each person are the gallery, 6-10 the probes, whole images "
            "(`--cropped`). LFW rank-1: each of the 4,324 photos of the 158 people with >= 10 "
            "photos against all the others. Pairs: threshold chosen on 9 folds, applied to the "
            "10th. ms / face: chips + embed on LFW, one face at a time (detection not "
            "included). `eigenfaces`: the pixel vectors projected on 100 eigenfaces "
            "(`faceatlas.embed.pixels.eigenface_space`); `cnn-pca100`: the CNN features "
            "reduced to 100 dimensions as the write-up did; both fitted without labels, on "
            "ORL's gallery half and on 2,000 LFW photos of people with a single photo. "
            "Published: eigenfaces ORL 5/5 89.5 % (Lawrence et al. 1997); SFace LFW 99.40 %, "
            "dlib 99.13 % (no jitter). EER threshold: the cosine where false matches and "
            "false non-matches are equally frequent over the 6,000 pairs."
        ),
    ]
    if any(r["sface_npz"] for r in rows):
        lines.append("")
        lines.append(
            "\\* SFace's LFW vectors were taken from `--sface-npz` (computed with the "
            "same model on YuNet five-point aligned faces, OpenCV's alignCrop); its "
            "time per face is measured through `faceatlas.embed` on 300 LFW faces."
        )
    if any(r["folds"] < 10 or r["lfw_rank1_n"] != 4324 for r in rows):
        lines.append("")
        lines.append(
            "Rows with n: to fit the time of the shared machine, `--pairs-only` "
            "embedders embed only the images of `pairs.txt` (in its order), so "
            "their rank-1 is over the photos of the >= 10-photo people among them "
            "(n); with `--partial` an unfinished embedder is reported over the "
            "folds whose images are all done (10-fold protocol restricted to "
            "them). Rerun without `--partial` / `--pairs-only` for the full set."
        )
    if any(r.get("pca_fit") == "pairs" for r in rows):
        lines.append("")
        lines.append(
            "cnn-pca100 of an unfinished run: the PCA is fitted (without labels) on "
            "the LFW faces done, as the single-photo fitting set was not reached."
        )
    if quick:
        lines.insert(4, "**Quick run (subsets): 20 people for LFW rank-1, 600 pairs.**")
    return "\n".join(lines) + "\n"


def write_docs(text: str) -> None:
    """Replace (or append) the '## Embedders' section, keeping everyone else's."""
    path = ROOT / "docs" / "benchmarks.md"
    old = path.read_text() if path.is_file() else "# Benchmarks\n"
    start = old.find("\n## Embedders")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        nxt = old.find("\n## ", start + 1)
        new = old[:start].rstrip("\n") + "\n\n" + text + (old[nxt:] if nxt >= 0 else "")
    path.write_text(new)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="Subsets: a few minutes.")
    ap.add_argument("--embedders", nargs="+", default=list(EMBEDDERS), choices=EMBEDDERS)
    ap.add_argument(
        "--pairs-only",
        nargs="*",
        default=[],
        choices=EMBEDDERS,
        help="For these embedders embed only the LFW images of pairs.txt; "
        "rank-1 then uses the photos of the >= 10 people among them.",
    )
    ap.add_argument(
        "--sface-npz",
        type=Path,
        default=None,
        help="Take LFW SFace vectors from this file (X, paths) instead of "
        "recomputing; time per face is still measured on 300 faces.",
    )
    ap.add_argument(
        "--partial",
        action="store_true",
        help="Compute nothing new; report unfinished embedders on what is done.",
    )
    ap.add_argument(
        "--write-docs",
        action="store_true",
        help="Replace the '## Embedders' section of docs/benchmarks.md.",
    )
    args = ap.parse_args(argv)
    rows = run(
        args.embedders,
        args.quick,
        dict.fromkeys(args.pairs_only, "pairs"),
        args.sface_npz,
        args.partial,
    )
    text = table(rows, args.quick, argv)
    print()
    print(text)
    if args.write_docs:
        write_docs(text)


if __name__ == "__main__":
    main()
