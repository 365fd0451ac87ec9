"""Open-set identification on LFW: rank-1, and how often strangers are called strangers.

Protocol (all numbers printed, the table as in docs/benchmarks.md):

* Enrolled: the 158 LFW people with >= 10 images; a seeded half of each person's images
  form the gallery, the other half are known probes.
* Everybody else (people with < 10 images) is split by person, seeded, into two halves:
  calibration people and stranger probes. No person is in both.
* Thresholds compared:
  1. SFace's published 0.363 (no calibration);
  2. ``calibrate_threshold`` at per-pair FMR 0.001 on LFW's 6,000 ``pairs.txt`` pairs
     (what ``faceatlas calibrate --pairs pairs.txt`` stores);
  3. the same on all pairs among the calibration people;
  4. ``open_set_threshold`` at a 1 % false-identification rate per search: the calibration
     people are searched against the gallery as strangers (they are disjoint from the
     stranger probes);
  5. the same target, but with no outside strangers: each enrolled person in turn is
     searched against the other 157 (``leave_one_person_out``, what ``faceatlas calibrate
     --target-fpir 0.01`` does with a catalog's named people).

Uses ``/tmp/faceatlas_lfw/lfw_sface.npz`` (X, labels, paths: SFace on YuNet-aligned faces)
when present; otherwise embeds LFW itself (about 10 minutes on 2 cores).

    python bench/recognition.py [--npz PATH] [--seed 0]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np

from faceatlas.known import read_pairs
from faceatlas.recognize import (
    Gallery,
    calibrate_threshold,
    identify,
    leave_one_person_out,
    open_set_report,
    open_set_threshold,
    pairs_from_labels,
    threshold_for_fpir,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, machine, median

LFW = SHARED_DATA / "lfw"
NPZ = Path("/tmp/faceatlas_lfw/lfw_sface.npz")


def load(npz: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not npz.exists():
        raise SystemExit(
            f"{npz} not found: run bench/evaluate or the LFW embedding script "
            "first (X, labels, paths)"
        )
    d = np.load(npz, allow_pickle=False)
    return d["X"].astype(np.float32), d["labels"], d["paths"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--npz", type=Path, default=NPZ)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target-fmr", type=float, default=1e-3)
    ap.add_argument("--target-fpir", type=float, default=1e-2)
    args = ap.parse_args()

    t0 = time.perf_counter()
    X, labels, paths = load(args.npz)
    rng = np.random.default_rng(args.seed)
    names, counts = np.unique(labels, return_counts=True)
    enrolled_people = names[counts >= 10]
    others = names[counts < 10]
    rng.shuffle(others)
    calib_people = set(others[: len(others) // 2].tolist())
    code = {n: i for i, n in enumerate(names)}
    y = np.array([code[n] for n in labels])

    gal_rows, known_rows = [], []
    for name in enrolled_people:
        rows = np.flatnonzero(labels == name)
        rows = rows[rng.permutation(len(rows))]
        half = (len(rows) + 1) // 2
        gal_rows += rows[:half].tolist()
        known_rows += rows[half:].tolist()
    in_calib = np.array([n in calib_people for n in labels])
    is_enrolled = np.isin(labels, enrolled_people)
    calib_rows = np.flatnonzero(in_calib)
    stranger_rows = np.flatnonzero(~in_calib & ~is_enrolled)

    gallery = Gallery(X[gal_rows], person_ids=y[gal_rows], names=labels[gal_rows])
    probes = np.r_[known_rows, stranger_rows]

    # Thresholds.
    path_row = {str(p).split("/", 1)[-1]: i for i, p in enumerate(paths)}
    pairs = read_pairs(LFW / "pairs.txt", root=LFW / "images")
    rows_ab = [
        (
            path_row.get(str(Path(a).relative_to(LFW / "images"))),
            path_row.get(str(Path(b).relative_to(LFW / "images"))),
            s,
        )
        for a, b, s in pairs
    ]
    rows_ab = [(a, b, s) for a, b, s in rows_ab if a is not None and b is not None]
    s_pairs = np.array([float(X[a] @ X[b]) for a, b, _ in rows_ab])
    same_pairs = np.array([s for _, _, s in rows_ab])
    cal_pairs = calibrate_threshold(s_pairs, same_pairs, args.target_fmr, source="LFW pairs.txt")
    s_cal, same_cal = pairs_from_labels(X[calib_rows], y[calib_rows])
    cal_people = calibrate_threshold(
        s_cal, same_cal, args.target_fmr, source="pairs among calibration people"
    )
    t_open = open_set_threshold(X[calib_rows], gallery, target_fpir=args.target_fpir)
    # What `faceatlas calibrate --target-fpir` does on a catalog: no outside strangers,
    # each enrolled person in turn plays the stranger against the other 157.
    t_loo = threshold_for_fpir(leave_one_person_out(X[gal_rows], y[gal_rows]), args.target_fpir)

    rows = []
    for label, thr in [
        ("SFace published (0.363)", 0.363),
        (f"pairs.txt, FMR {args.target_fmr:g}", cal_pairs.threshold),
        (f"calibration people, FMR {args.target_fmr:g}", cal_people.threshold),
        (f"open-set, FPIR {args.target_fpir:g}, calibration people as strangers", t_open),
        (
            (
                f"open-set, FPIR {args.target_fpir:g}, leave one enrolled person out "
                "(`calibrate --target-fpir`)"
            ),
            t_loo,
        ),
    ]:
        rep = open_set_report(X[probes], y[probes], gallery, thr)
        rows.append((label, thr, rep))
    # Speed of identify() itself (the whole three-outcome decision) per query face.
    per_query = []
    for _ in range(5):
        t = time.perf_counter()
        identify(X[known_rows[:500]], gallery, t_open)
        per_query.append((time.perf_counter() - t) / 500 * 1e3)
    seconds = time.perf_counter() - t0

    print(f"LFW SFace embeddings: {len(X)} faces, {len(names)} people ({args.npz})")
    print(
        f"gallery: {len(gal_rows)} faces of {len(enrolled_people)} people; known probes "
        f"{len(known_rows)}; stranger probes {len(stranger_rows)} faces of "
        f"{len(set(labels[stranger_rows]))} people; calibration {len(calib_rows)} faces of "
        f"{len(calib_people)} people"
    )
    print(f"pairs.txt calibration: {cal_pairs.line()}")
    print(
        f"  Platt slope {cal_pairs.slope:.2f}, intercept {cal_pairs.intercept:.2f} "
        f"(0.5 at similarity {-cal_pairs.intercept / cal_pairs.slope:.3f})"
    )
    print(f"calibration-people calibration: {cal_people.line()}")
    print(f"open-set threshold (FPIR {args.target_fpir:g} on calibration people): {t_open:.4f}")
    rank1 = rows[0][2]["rank1"]
    print(f"closed-set rank-1 over {rows[0][2]['n_known']} known probes: {rank1:.4f}")
    head = (
        "| threshold from | value | identified (known probes) | wrongly named "
        "(known) | strangers called strangers | strangers named |"
    )
    print(head)
    print("|---|---|---|---|---|---|")
    for label, thr, rep in rows:
        print(
            f"| {label} | {thr:.4f} | {rep['identification_rate']:.4f} | "
            f"{rep['wrong_identification_rate']:.4f} | {rep['stranger_rejection_rate']:.4f} | "
            f"{rep['false_identification_rate']:.4f} |"
        )
    print(
        f"identify(): {median(per_query):.3f} ms per query face (median of 5 batches of 500, "
        f"gallery {len(gal_rows)} faces)"
    )
    print(f"total {seconds:.1f} s; {dt.date.today()}; {machine()}")


if __name__ == "__main__":
    main()
