"""How well faceatlas works on *your* photos: scores against labels, and which settings win.

Three jobs, each behind one command:

evaluate_people(catalog)  (``faceatlas eval``)
    Scores the catalog's current people (after ``cluster`` and any corrections) against
    the imported labels (:mod:`faceatlas.labels`) with every clustering metric of
    :mod:`faceatlas.evaluate`. Faces the catalog left unassigned are singletons; faces
    without a label, and faces of labelled multi-face photos, are left out and counted.
compare_configurations(catalog)  (``faceatlas compare``)
    Clusters the labelled faces with every embedder the catalog holds and every
    clustering method of :mod:`faceatlas.cluster`, at a small sweep of thresholds around
    each embedder's own, and reports the best threshold of each (embedder, method) with
    all metrics and seconds. The winner (highest BCubed F, then pairwise F, then fastest)
    is stored as the catalog's recommendation; ``faceatlas cluster --use-recommended``
    applies it (:func:`recommended_settings`).
evaluate_pairs(pairs_file, image_root)  (``faceatlas eval-pairs``)
    The LFW verification protocol on any embedder: each image's face nearest the centre
    is detected, aligned and embedded (cached in a catalog), the cosine of each pair is
    compared with a threshold chosen on the other nine folds, and the mean and standard
    deviation of accuracy, AUC and threshold over the ten folds are reported.

A caution printed with every comparison: the threshold of each row is chosen on the very
labels it is scored on, so the numbers are optimistic for small label sets; the column
``default`` gives the score at the embedder's published threshold, which was not.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from faceatlas._validation import check_int
from faceatlas.exceptions import InputError
from faceatlas.policy import DEFAULT_EMBEDDER, published_threshold

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog

__all__ = [
    "METRIC_COLUMNS",
    "PRIMARY_METRIC",
    "RECOMMENDATION_KEY",
    "Comparison",
    "PairsEvaluation",
    "compare_configurations",
    "evaluate_pairs",
    "evaluate_people",
    "pair_folds",
    "recommended_settings",
    "save_comparison_chart",
    "threshold_grid",
]

Progress = Callable[[int, int], None]

#: Catalog setting that holds the last comparison's recommendation.
RECOMMENDATION_KEY = "recommended/cluster"
#: BCubed F ranks configurations: it weighs every face equally, so one huge person does not
#: drown the rest as it does in pairwise F (Amigo et al. 2009), and it penalises both
#: merging people and splitting them.
PRIMARY_METRIC = "bcubed_f"
#: Metrics shown as columns of ``compare``, in order (all higher-is-better).
METRIC_COLUMNS = (
    "pairwise_precision",
    "pairwise_recall",
    "pairwise_f",
    "bcubed_precision",
    "bcubed_recall",
    "bcubed_f",
    "nmi",
    "ari",
    "accuracy",
    "weighted_f1",
)
#: Multiples of each embedder's same-person *distance* (1 - threshold) swept by compare:
#: scaling the distance keeps the sweep sensible both for SFace (0.363) and for embedders
#: whose thresholds sit near 1 (dlib 0.82, pixels 0.93).
DISTANCE_FACTORS = (0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3)


# --------------------------------------------------------------------------- eval
def _require_labels(
    catalog: Catalog, multi_face: str
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    ids, who, counts = catalog.labelled_faces(multi_face=multi_face)
    if ids.size == 0:
        if counts["labelled_photos"] == 0:
            raise InputError(
                "the catalog has no labels: import some first with "
                "`faceatlas label import FILE` or `faceatlas label "
                "import-folders DIR`"
            )
        raise InputError(
            f"none of the {counts['labelled_photos']} labelled photos has "
            f"exactly one face ({counts['ambiguous']} faces are in multi-face "
            f"photos, {counts['no_face_photos']} photos have no face)"
        )
    return ids, who, counts


def evaluate_people(catalog: Catalog, *, multi_face: str = "skip") -> dict[str, Any]:
    """Score the catalog's current people against its labels.

    Parameters
    ----------
    catalog : Catalog
    multi_face : {"skip", "largest"}, default "skip"
        How a labelled photo with several faces is treated (see
        :meth:`faceatlas.catalog.Catalog.labelled_faces`).

    Returns
    -------
    dict
        The metrics of :func:`faceatlas.evaluate.clustering_report` (faces the catalog
        left without a person count as singletons), ``faces`` (labelled, ambiguous,
        unlabelled counts), and ``last_cluster_run`` (the settings that made the people).
    """
    from faceatlas.evaluate import clustering_report

    ids, who, counts = _require_labels(catalog, multi_face)
    assigned = catalog.face_people()
    pred = np.array([assigned[int(i)][0] if int(i) in assigned else -1 for i in ids], np.int64)
    report: dict[str, Any] = dict(clustering_report(who, pred))
    report["faces"] = counts
    runs = [r for r in catalog.runs(limit=50) if r["command"] == "cluster"]
    report["last_cluster_run"] = runs[0]["settings"] if runs else None
    return report


# --------------------------------------------------------------------------- compare
def threshold_grid(threshold: float, factors: Sequence[float] = DISTANCE_FACTORS) -> list[float]:
    """Thresholds around ``threshold``: its distance ``1 - threshold`` times each factor."""
    d = 1.0 - float(threshold)
    return sorted({round(min(0.999, max(-0.999, 1.0 - d * f)), 3) for f in factors})


@dataclass
class Comparison:
    """The result of :func:`compare_configurations`.

    Attributes
    ----------
    rows : list of dict
        One per (embedder, method) at its best threshold: ``embedder``, ``method``,
        ``threshold``, every metric of :data:`METRIC_COLUMNS`, ``n_clusters``,
        ``n_unassigned``, ``seconds``, and ``default`` (the primary metric at the
        embedder's own threshold).
    sweep : list of dict
        Every configuration tried, same keys.
    best : dict
        Column name -> indices into ``rows`` of the best value (highest; fastest for
        ``seconds``; all of them when tied).
    recommendation : dict
        ``embedder``, ``method``, ``threshold``, ``metric``, ``score``, ``text``.
    faces : dict
        Labelled / ambiguous / unlabelled counts, and ``people``.
    """

    rows: list[dict[str, Any]]
    sweep: list[dict[str, Any]]
    best: dict[str, list[int]]
    recommendation: dict[str, Any]
    faces: dict[str, int]
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cannot_link(catalog: Catalog, ids: np.ndarray) -> np.ndarray:
    photo = catalog.photo_ids_of_faces(ids.tolist())
    order = np.argsort(photo, kind="stable")
    pairs = []
    start = 0
    for end in range(1, len(order) + 1):
        if end == len(order) or photo[order[end]] != photo[order[start]]:
            group = order[start:end]
            pairs += [(a, b) for i, a in enumerate(group) for b in group[i + 1 :]]
            start = end
    return np.array(pairs, np.int64).reshape(-1, 2)


def _comparison_grid(
    catalog: Catalog,
    embedders: Sequence[str] | None,
    methods: Sequence[str] | None,
    thresholds: Sequence[float] | None,
) -> tuple[list[str], list[str], list[float] | None]:
    """The embedders, methods and thresholds :func:`compare_configurations` tries, checked."""
    from faceatlas.cluster import METHODS

    have = [e["embedder"] for e in catalog.embedders()]
    if embedders is None:
        embedders = have
    else:
        missing = [e for e in embedders if e not in have]
        if missing:
            raise InputError(
                f"the catalog has no vectors of {', '.join(missing)}; it has "
                f"{', '.join(have) or 'none'} (scan with --embedder NAME)"
            )
    if not embedders:
        raise InputError("the catalog holds no embeddings: run `faceatlas scan` first")
    methods = list(METHODS if methods is None else methods)
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise InputError(f"methods must be among {', '.join(METHODS)}, got {', '.join(bad)}")
    if thresholds is not None:
        thresholds = [float(t) for t in thresholds]
        if not thresholds or any(not -1.0 <= t <= 1.0 for t in thresholds):
            raise InputError(f"thresholds must be cosines in [-1, 1], got {thresholds}")
    return list(embedders), methods, thresholds


def compare_configurations(
    catalog: Catalog,
    *,
    embedders: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    thresholds: Sequence[float] | None = None,
    multi_face: str = "skip",
    random_state: int = 0,
    store: bool = True,
    progress: Progress | None = None,
) -> Comparison:
    """Cluster the labelled faces with every embedder and method; score; recommend.

    Parameters
    ----------
    catalog : Catalog
    embedders : sequence of str, optional
        Default: every embedder with vectors in the catalog.
    methods : sequence of str, optional
        Default: every method of :data:`faceatlas.cluster.METHODS`.
    thresholds : sequence of float, optional
        Same-person cosine thresholds to try for every embedder; default
        :func:`threshold_grid` around each embedder's own threshold. ``kmeans`` has no
        threshold: it runs once with ``n_clusters="auto"`` (elbow), not with the true
        number of people, which a user would not know.
    multi_face : {"skip", "largest"}, default "skip"
    random_state : int, default 0
    store : bool, default True
        Store the recommendation in the catalog (``cluster --use-recommended``).
    progress : callable(done, total), optional

    Returns
    -------
    Comparison
    """
    from faceatlas.cluster import DEFAULT_METHOD, cluster_faces
    from faceatlas.evaluate import clustering_report

    ids, who, counts = _require_labels(catalog, multi_face)
    embedders, methods, thresholds = _comparison_grid(catalog, embedders, methods, thresholds)

    plans: list[tuple[str, str, list[float], float]] = []
    for name in embedders:
        # the embedder's published threshold, not a calibrated one: the ``default`` column
        # is the score at a threshold not chosen on these labels
        t0 = published_threshold(name)[0]
        grid = list(thresholds) if thresholds is not None else threshold_grid(t0)
        plans.extend((name, m, [t0] if m == "kmeans" else grid, t0) for m in methods)
    total = sum(len(p[2]) for p in plans)
    done = 0
    sweep: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    vectors: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for name, method, grid, t0 in plans:
        if name not in vectors:
            f_ids, X = catalog.embeddings(name, ids.tolist())
            keep = np.isin(ids, f_ids)
            vectors[name] = (X, who[keep], _cannot_link(catalog, ids[keep]))
        X, y, cl = vectors[name]
        if X.shape[0] < 3:
            skipped.append(f"{name}: only {X.shape[0]} labelled faces have vectors")
            done += len(grid)
            continue
        points = []
        for t in grid:
            params: dict[str, Any] = {"threshold": t, "random_state": random_state}
            if method == "kmeans":
                params["n_clusters"] = "auto"
            start = time.perf_counter()
            try:
                labels = cluster_faces(X, method, cannot_link=cl, **params)
            except InputError as exc:
                skipped.append(f"{name} + {method} at {t}: {exc}")
                done += 1
                continue
            seconds = time.perf_counter() - start
            rep = clustering_report(y, labels)
            point: dict[str, Any] = {
                "embedder": name,
                "method": method,
                "threshold": None if method == "kmeans" else t,
                **{k: float(rep[k]) for k in METRIC_COLUMNS},
                "n_clusters": int(rep["n_clusters"]),
                "n_unassigned": int(rep["n_unassigned"]),
                "n_faces": int(X.shape[0]),
                "seconds": round(seconds, 4),
                "is_default": t == t0,
            }
            points.append(point)
            sweep.append(point)
            done += 1
            if progress:
                progress(done, total)
        if not points:
            continue
        # ties (common on easy label sets) go to the threshold nearest the embedder's
        # own, the one not chosen on these labels
        best = max(
            points,
            key=lambda p: (p[PRIMARY_METRIC], p["pairwise_f"], -abs((p["threshold"] or t0) - t0)),
        )
        at_default = [p for p in points if p["is_default"]]
        row = {k: v for k, v in best.items() if k != "is_default"}
        row["default"] = at_default[0][PRIMARY_METRIC] if at_default else None
        rows.append(row)
    if not rows:
        raise InputError("no configuration could be scored: " + "; ".join(skipped))

    best_of: dict[str, list[int]] = {}
    for col in (*METRIC_COLUMNS, "default", "seconds"):
        vals = {i: r[col] for i, r in enumerate(rows) if r[col] is not None}
        if vals:
            top = (min if col == "seconds" else max)(vals.values())
            best_of[col] = [i for i, v in vals.items() if v == top]
    # ties go to the package's default method (measured best at scale), then to speed
    win = max(
        rows,
        key=lambda r: (
            r[PRIMARY_METRIC],
            r["pairwise_f"],
            r["method"] == DEFAULT_METHOD,
            -r["seconds"],
        ),
    )
    at = "" if win["threshold"] is None else f" at {win['threshold']:g}"
    rec = {
        "embedder": win["embedder"],
        "method": win["method"],
        "threshold": win["threshold"],
        "metric": PRIMARY_METRIC,
        "score": win[PRIMARY_METRIC],
        "n_faces": win["n_faces"],
        "text": f"{win['embedder']} + {win['method']}{at}",
    }
    if store:
        catalog.set_setting(RECOMMENDATION_KEY, rec)
    faces = dict(counts)
    faces["people"] = int(np.unique(who).size)
    return Comparison(rows, sweep, best_of, rec, faces, skipped)


def recommended_settings(catalog: Catalog) -> dict[str, Any]:
    """The recommendation stored by the last :func:`compare_configurations`.

    Raises
    ------
    InputError
        When ``faceatlas compare`` has not been run on this catalog.
    """
    rec = catalog.get_setting(RECOMMENDATION_KEY)
    if not rec:
        raise InputError(
            "this catalog has no recommendation yet: import labels "
            "(`faceatlas label import`) and run `faceatlas compare` first"
        )
    return dict(rec)


def save_comparison_chart(comparison: Comparison, path: str | Path) -> Path:
    """Bar chart of BCubed F and pairwise F of every configuration, best first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(comparison.rows, key=lambda r: -r[PRIMARY_METRIC])
    names = [
        f"{r['embedder']} + {r['method']}"
        + ("" if r["threshold"] is None else f" @ {r['threshold']:g}")
        for r in rows
    ]
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 2.0))
    ax.barh(y - 0.2, [r["bcubed_f"] for r in rows], 0.4, label="BCubed F")
    ax.barh(y + 0.2, [r["pairwise_f"] for r in rows], 0.4, label="pairwise F")
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("score on the labelled faces")
    ax.set_title(
        f"{comparison.faces['labelled']} labelled faces, "
        f"{comparison.faces['people']} people; recommended: "
        f"{comparison.recommendation['text']}",
        fontsize=9,
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2, fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- pairs
def pair_folds(pairs_file: str | Path, same: Any, n_folds: int = 10) -> np.ndarray:
    """Fold index of each pair, following the file's own layout when it declares one.

    LFW's ``pairs.txt`` opens with ``10 300``: 10 sets, each 300 same-person pairs then
    300 different ones, so fold ``i`` is the ``i``-th block of 600 lines. Files without
    that header (``pairsDevTrain.txt``: all same pairs first, then all different ones; a
    CSV of pairs) are split into ``n_folds`` consecutive blocks of the same pairs and of
    the different pairs separately, so every fold has both kinds.
    """
    n_folds = check_int(n_folds, "n_folds", low=2)
    same = np.asarray(same, bool)
    first = Path(pairs_file).read_text(encoding="utf-8-sig").lstrip().split("\n", 1)[0]
    head = first.split()
    if len(head) == 2 and all(re.fullmatch(r"\d+", h) for h in head):
        n_sets, per = int(head[0]), int(head[1])
        if n_sets * 2 * per == same.size:
            if n_sets < 2:
                # each fold's threshold is chosen on the others: one set leaves none
                raise InputError(
                    f"{pairs_file}: its first line {first.strip()!r} declares {n_sets} set of "
                    f"pairs; k-fold accuracy needs at least 2 folds. Drop that line to split the "
                    f"pairs into {n_folds} folds (--folds N)"
                )
            return np.arange(same.size) // (2 * per)
    folds = np.zeros(same.size, np.int64)
    for flag in (True, False):
        idx = np.flatnonzero(same == flag)
        if idx.size < n_folds:
            raise InputError(
                f"{pairs_file}: {n_folds} folds need at least {n_folds} "
                f"{'same' if flag else 'different'}-person pairs, got "
                f"{idx.size}"
            )
        for f, block in enumerate(np.array_split(idx, n_folds)):
            folds[block] = f
    return folds


@dataclass
class PairsEvaluation:
    """Result of :func:`evaluate_pairs`; rates are fractions (0.994, not 99.4)."""

    pairs_file: str
    embedder: str
    detector: str
    n_pairs: int
    n_same: int
    n_images: int
    n_no_face: int  # images where no face was found
    n_pairs_no_face: int  # pairs scored as "different" because of such an image
    accuracy_mean: float
    accuracy_std: float
    auc_mean: float
    auc_std: float
    threshold_mean: float
    threshold_std: float
    auc: float  # over all pairs
    eer: float
    tmr_at_fmr_0_001: float
    folds: list[dict[str, float]]
    seconds: float
    embed_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        return (
            f"{self.embedder} ({self.detector}) on {self.n_pairs} pairs of "
            f"{Path(self.pairs_file).name}, {len(self.folds)} folds: accuracy "
            f"{100 * self.accuracy_mean:.2f} % +- {100 * self.accuracy_std:.2f}, AUC "
            f"{self.auc_mean:.4f} +- {self.auc_std:.4f}, threshold "
            f"{self.threshold_mean:.3f} +- {self.threshold_std:.3f}; EER "
            f"{100 * self.eer:.2f} %, TMR@FMR=0.001 {100 * self.tmr_at_fmr_0_001:.2f} %; "
            f"{self.n_no_face} images without a face ({self.n_pairs_no_face} pairs); "
            f"{self.seconds:.1f} s"
        )


def _central_vectors(catalog: Catalog, embedder: str, paths: set[str]) -> dict[str, np.ndarray]:
    """The vector of the face nearest the centre of each image (LFW's labelled face)."""
    f_ids, X = catalog.embeddings(embedder)
    row = {int(f): i for i, f in enumerate(f_ids.tolist())}
    best: dict[str, tuple[float, int]] = {}
    for f in catalog.faces():
        if f["path"] not in paths or f["id"] not in row or f["frame_index"] >= 0:
            continue
        cx, cy = (f["x1"] + f["x2"]) / 2, (f["y1"] + f["y2"]) / 2
        d = (cx - (f["width"] or 0) / 2) ** 2 + (cy - (f["height"] or 0) / 2) ** 2
        if f["path"] not in best or d < best[f["path"]][0]:
            best[f["path"]] = (d, row[f["id"]])
    return {p: X[r] for p, (_, r) in best.items()}


def evaluate_pairs(
    pairs_file: str | Path,
    image_root: str | Path,
    *,
    embedder: str = DEFAULT_EMBEDDER,
    detector: str = "yunet",
    catalog: Catalog | None = None,
    n_folds: int = 10,
    jobs: int = 0,
    progress: Progress | None = None,
) -> PairsEvaluation:
    """Verification accuracy on labelled pairs by the LFW protocol.

    Parameters
    ----------
    pairs_file : str or Path
        LFW ``pairs.txt`` layout (``name n1 n2`` / ``name1 n1 name2 n2``, optional
        ``sets per_set`` header), or a CSV ``path_a,path_b,same``
        (:func:`faceatlas.known.read_pairs`).
    image_root : str or Path
        Folder holding ``name/name_0001.jpg`` (LFW's ``images``), or the CSV's paths.
    embedder, detector : str
        As for ``faceatlas scan``. The face nearest each image's centre is used.
    catalog : Catalog, optional
        Images are scanned into it (and found there next time: a cache). Default: a
        throw-away in-memory catalog.
    n_folds : int, default 10
        Used when the file declares no folds (see :func:`pair_folds`).
    jobs : int, default 0
        Worker processes for embedding (0: every core).
    progress : callable(done, total), optional

    Returns
    -------
    PairsEvaluation
        A pair with an image in which no face was found is scored as a non-match
        (cosine -1), so it costs accuracy rather than silently leaving the test.
    """
    from faceatlas.catalog import Catalog
    from faceatlas.config import ScanConfig
    from faceatlas.evaluate import (
        equal_error_rate,
        kfold_verification_accuracy,
        roc_auc,
        tmr_at_fmr,
    )
    from faceatlas.known import read_pairs
    from faceatlas.pipeline import scan

    t_start = time.perf_counter()
    if not Path(image_root).is_dir():
        raise InputError(f"image root {image_root} does not exist or is not a folder")
    pairs = read_pairs(pairs_file, image_root)
    if not pairs:
        raise InputError(f"{pairs_file} holds no pairs")
    same = np.array([s for _, _, s in pairs], bool)
    folds = pair_folds(pairs_file, same, n_folds)
    config = ScanConfig(detector=detector, embedder=embedder, jobs=jobs)
    # the catalog's own path form (absolute, symlinks not resolved), so a catalog that
    # scanned these images before is reused
    abs_of = {p: os.path.abspath(p) for a, b, _ in pairs for p in (a, b)}
    wanted = set(abs_of.values())
    absent = sorted(p for p in wanted if not Path(p).is_file())
    if len(absent) > len(wanted) // 2:
        raise InputError(
            f"{len(absent)} of {len(wanted)} images of {pairs_file} are not "
            f"under {image_root}, e.g. {absent[0]}"
        )
    own = catalog is None
    cat: Catalog = Catalog(":memory:") if catalog is None else catalog
    try:
        # Only files the catalog lacks (for this detector) or that lack this embedder's
        # vectors are scanned: a second run on the same catalog embeds nothing.
        states = cat.file_states()
        lacking = set(cat.faces_without_embedding(embedder))
        todo = sorted(
            p
            for p in wanted - set(absent)
            if p not in states or states[p].detector != config.detector_name or p in lacking
        )
        t_embed = time.perf_counter()
        if todo:
            done = scan(todo, cat, config, progress=progress)
            if done.interrupted:
                # scoring now would count every image not yet embedded as "no face"
                raise KeyboardInterrupt
        embed_seconds = time.perf_counter() - t_embed
        vecs = _central_vectors(cat, embedder, wanted)
    finally:
        if own:
            cat.close()
    sims = np.full(len(pairs), -1.0)
    n_missing = 0
    for i, (a, b, _) in enumerate(pairs):
        va, vb = vecs.get(abs_of[a]), vecs.get(abs_of[b])
        if va is None or vb is None:
            n_missing += 1
        else:
            sims[i] = float(np.dot(va, vb))
    kf = kfold_verification_accuracy(sims, same, folds=folds)
    fold_rows: list[dict[str, float]] = []
    aucs: list[float] = []
    for f, acc, thr in zip(np.unique(folds), kf["accuracies"], kf["thresholds"], strict=True):
        test = folds == f
        fold_auc = roc_auc(sims[test], same[test])
        aucs.append(fold_auc)
        fold_rows.append(
            {
                "fold": int(f),
                "accuracy": acc,
                "threshold": thr,
                "auc": fold_auc,
                "n_pairs": int(test.sum()),
            }
        )
    thrs = np.array(kf["thresholds"])
    eer, _ = equal_error_rate(sims, same)
    tmr, _ = tmr_at_fmr(sims, same, 1e-3)
    return PairsEvaluation(
        pairs_file=str(pairs_file),
        embedder=embedder,
        detector=config.detector_name,
        n_pairs=len(pairs),
        n_same=int(same.sum()),
        n_images=len(wanted),
        n_no_face=len(wanted) - len(vecs),
        n_pairs_no_face=n_missing,
        accuracy_mean=kf["mean"],
        accuracy_std=kf["std"],
        auc_mean=float(np.mean(aucs)),
        auc_std=float(np.std(aucs)),
        threshold_mean=float(thrs.mean()),
        threshold_std=float(thrs.std()),
        auc=roc_auc(sims, same),
        eer=eer,
        tmr_at_fmr_0_001=tmr,
        folds=fold_rows,
        seconds=time.perf_counter() - t_start,
        embed_seconds=embed_seconds,
    )
