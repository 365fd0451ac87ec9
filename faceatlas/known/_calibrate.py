"""``calibrate``: the same-person threshold for a target false-match rate, stored per embedder."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from faceatlas.config import ScanConfig
from faceatlas.exceptions import InputError
from faceatlas.known._common import embedder_of
from faceatlas.known._gallery import catalog_gallery
from faceatlas.policy import calibration_key
from faceatlas.recognize import (
    Calibration,
    calibrate_threshold,
    pairs_from_labels,
    with_open_set_threshold,
)

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog
    from faceatlas.embed import Embedder


def read_pairs(
    pairs_file: str | Path, root: str | Path | None = None
) -> list[tuple[str, str, bool]]:
    """Labelled pairs as ``(path_a, path_b, same)``.

    Two formats: LFW's ``pairs.txt`` (``name n1 n2`` for a same pair, ``name1 n1 name2
    n2`` for a different pair, an optional header line of counts; images at
    ``root/name/name_0001.jpg``), or a CSV with a header ``path_a,path_b,same`` (``same``
    1/0, true/false; relative paths are under ``root``, default the file's folder).
    """
    return [(a, b, same) for _, a, b, same in _numbered_pairs(pairs_file, root)]


def _numbered_pairs(
    pairs_file: str | Path, root: str | Path | None
) -> list[tuple[int, str, str, bool]]:
    """:func:`read_pairs` with each pair's line number in the file (1-based)."""
    pairs_file = Path(pairs_file)
    if not pairs_file.is_file():
        raise InputError(f"pairs file {pairs_file} does not exist")
    base = Path(root) if root is not None else pairs_file.parent
    text = pairs_file.read_text(encoding="utf-8-sig")
    first = text.lstrip().split("\n", 1)[0]
    out: list[tuple[int, str, str, bool]] = []
    if "," in first:
        for i, row in enumerate(csv.DictReader(text.splitlines())):
            try:
                a, b, same = row["path_a"], row["path_b"], row["same"].strip().lower()
            except (KeyError, AttributeError):
                raise InputError(
                    f"{pairs_file}: a CSV of pairs needs the columns path_a, "
                    f"path_b, same (row {i + 2})"
                ) from None
            if same not in {"1", "0", "true", "false", "yes", "no"}:
                raise InputError(
                    f"{pairs_file} row {i + 2}: same must be 1/0 or true/false, got {row['same']!r}"
                )
            out.append((i + 2, str(base / a), str(base / b), same in {"1", "true", "yes"}))
        return out

    def lfw(name: str, num: str) -> str:
        return str(base / name / f"{name}_{int(num):04d}.jpg")

    for i, line in enumerate(text.splitlines()):
        parts = line.split()
        if not parts or (i == 0 and all(re.fullmatch(r"\d+", p) for p in parts)):
            continue
        if len(parts) == 3:
            out.append((i + 1, lfw(parts[0], parts[1]), lfw(parts[0], parts[2]), True))
        elif len(parts) == 4:
            out.append((i + 1, lfw(parts[0], parts[1]), lfw(parts[2], parts[3]), False))
        else:
            raise InputError(
                f"{pairs_file} line {i + 1}: expected 'name n1 n2' or "
                f"'name1 n1 name2 n2', got {line!r}"
            )
    return out


def _central_face(faces: list[Any], width: float, height: float) -> Any:
    """The face nearest the image centre (LFW's convention for its labelled face)."""

    def dist(box: Any) -> float:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        return float((cx - width / 2) ** 2 + (cy - height / 2) ** 2)

    return min(faces, key=lambda f: dist(f[0]))


def _vectors_of_paths(
    catalog: Catalog,
    paths: Sequence[str],
    emb: Embedder,
    config: ScanConfig,
    progress: Callable[[int, int], None] | None,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """One vector per image (its central face): from the catalog when scanned, else embedded.

    Also returns, for each image without a vector, why (unreadable, or no face found).
    """
    ids, X = catalog.embeddings(emb.name)
    row_of = {int(f): i for i, f in enumerate(ids.tolist())}
    by_path: dict[str, list[tuple[list[float], int]]] = {}
    size: dict[str, tuple[float, float]] = {}
    for f in catalog.faces():
        if f["frame_index"] < 0 and f["id"] in row_of:
            by_path.setdefault(f["path"], []).append(
                ([f["x1"], f["y1"], f["x2"], f["y2"]], row_of[f["id"]])
            )
            size[f["path"]] = (f["width"] or 0, f["height"] or 0)
    from faceatlas.pipeline import process_file

    out: dict[str, np.ndarray] = {}
    why: dict[str, str] = {}
    unique = sorted(set(paths))
    for done, p in enumerate(unique, 1):
        ap = os.path.abspath(p)
        if ap in by_path:
            _, row = _central_face(by_path[ap], *size[ap])
            out[p] = X[row]
        else:
            res = process_file(ap, config)
            ph = res.photos[0] if res.photos else None
            if ph is not None and ph.status == "done" and ph.faces:
                face = _central_face([(f.box, f) for f in ph.faces], ph.width or 0, ph.height or 0)[
                    1
                ]
                out[p] = face.embedding
            elif ph is not None and ph.status == "error":
                why[p] = ph.error or f"cannot read {p}"
            else:
                why[p] = f"no face found in {p}"
        if progress:
            progress(done, len(unique))
    return out, why


def calibrate(
    catalog: Catalog,
    pairs_file: str | Path | None = None,
    *,
    root: str | Path | None = None,
    target_fmr: float = 0.001,
    target_fpir: float | None = None,
    embedder: str | None = None,
    detector: str = "yunet",
    store: bool = True,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Calibration:
    """Choose and store the same-person threshold for a target false-match rate.

    Parameters
    ----------
    catalog : Catalog
    pairs_file : str or Path, optional
        Labelled pairs (see :func:`read_pairs`); images found in the catalog use their
        stored vectors, others are detected and embedded (not added). Without a file, all
        pairs among the faces pinned to named persons (enrolled or confirmed) are used.
    root : str or Path, optional
        Folder the pairs' paths are relative to.
    target_fmr : float, default=0.001
        Largest acceptable share of different-person *pairs* called the same.
    target_fpir : float, optional
        Instead, choose the threshold for open-set search: at most this share of
        strangers gets a name. Measured on the catalog's named people, each in turn
        searched against all the others. A per-pair FMR understates what a search sees (a
        stranger meets every enrolled face): on LFW with 158 enrolled people, a threshold
        at per-pair FMR 0.001 named 78 % of strangers, one at FPIR 0.01 named 0.9 %
        (docs/benchmarks.md, "## Recognition").
    embedder : str, optional
    detector : str, default="yunet"
    store : bool, default=True
        Save the result in the catalog; :func:`who` then uses it.
    force : bool, default=False
        Store even when there are fewer than ``1 / target_fmr`` different-person pairs,
        too few to measure that false-match rate (``cal.warnings`` says so either way).
    progress : callable(done, total), optional

    Returns
    -------
    Calibration
        With a pairs file, ``dropped`` lists the pairs left out, as ``(line, reason)``: an
        image that cannot be read or shows no face.
    """
    import datetime as dt

    emb = embedder_of(catalog, embedder)
    if pairs_file is not None and target_fpir is not None:
        raise InputError(
            "target_fpir needs the catalog's named people (who plays the "
            "stranger against whom), not a pairs file"
        )
    dropped: list[tuple[int, str]] = []
    if pairs_file is not None:
        numbered = _numbered_pairs(pairs_file, root)
        if not numbered:
            raise InputError(f"{pairs_file} holds no pairs")
        config = ScanConfig(detector=detector, embedder=emb.name, jobs=1)
        vecs, why = _vectors_of_paths(
            catalog, [p for _, a, b, _ in numbered for p in (a, b)], emb, config, progress
        )
        usable = [(a, b, s) for _, a, b, s in numbered if a in vecs and b in vecs]
        dropped = [
            (line, "; ".join(why[p] for p in dict.fromkeys((a, b)) if p in why))
            for line, a, b, _ in numbered
            if a not in vecs or b not in vecs
        ]
        if len(dropped) > len(numbered) // 2:
            line, reason = dropped[0]
            raise InputError(
                f"{len(dropped)} of {len(numbered)} pairs have an image without a "
                f"face or that cannot be read (the first, line {line}: {reason}); check --root"
            )
        sims = np.array([float(vecs[a] @ vecs[b]) for a, b, _ in usable])
        same = np.array([s for _, _, s in usable])
        source = f"{len(usable)} labelled pairs from {Path(pairs_file).name}"
    else:
        gallery = catalog_gallery(catalog, emb)
        confirmed = {f for f, a in catalog.assignments().items() if a["confirmed"]}
        keep = np.array([int(f) in confirmed for f in gallery.face_ids.tolist()], bool) & (
            gallery.person_ids >= 0
        )
        labels = gallery.person_ids[keep]
        if np.unique(labels).size < 2:
            raise InputError(
                "calibration needs confirmed faces of at least 2 named people "
                "(run `faceatlas enroll`), or labelled pairs (--pairs FILE)"
            )
        sims, same = pairs_from_labels(gallery.X[keep], labels)
        if not same.any():
            raise InputError("calibration needs at least one person with 2 or more confirmed faces")
        source = (
            f"{len(sims)} pairs of {int(keep.sum())} confirmed faces of "
            f"{np.unique(labels).size} people"
        )
    cal = calibrate_threshold(sims, same, target_fmr, source=source)
    cal.dropped = dropped
    if target_fpir is not None:
        with_open_set_threshold(cal, gallery.X[keep], labels, sims, same, target_fpir)
    elif cal.fmr_resolution > target_fmr:
        cal.warnings.append(
            f"only {cal.n_different} different-person pairs: an FMR of {target_fmr:g} needs at "
            f"least {int(np.ceil(1 / target_fmr))} to be measured, so this threshold is "
            "optimistic"
        )
    if cal.warnings and store and not force:
        cal.warnings.append("not stored: pass --force (force=True) to store it anyway")
        store = False
    cal.stored = bool(store)
    if store:
        catalog.set_setting(
            calibration_key(emb),
            {
                **cal.summary(),
                "embedder": emb.name,
                "version": emb.version,
                "calibrated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            },
        )
    return cal


def plot_roc(cal: Calibration, path: str | Path) -> Path:
    """Save the ROC curve (log FMR axis) with the chosen operating point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    fmr = np.maximum(cal.roc_fmr, cal.fmr_resolution / 10)
    ax.semilogx(fmr, cal.roc_tmr, lw=1.5)
    ax.axvline(cal.target_fmr, color="grey", ls=":", lw=1)
    ax.plot([max(cal.fmr, cal.fmr_resolution / 10)], [cal.tmr], "o", color="C3")
    ax.annotate(
        f"threshold {cal.threshold:.3f}\nTMR {cal.tmr:.3f} at FMR {cal.fmr:.2g}",
        (max(cal.fmr, cal.fmr_resolution / 10), cal.tmr),
        textcoords="offset points",
        xytext=(8, -28),
        fontsize=8,
    )
    ax.set_xlabel("false-match rate")
    ax.set_ylabel("true-match rate")
    ax.set_title(f"ROC (AUC {cal.auc:.4f}, EER {cal.eer:.4f})", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
