"""Known people: enroll, who, calibrate, similar."""

from __future__ import annotations

from typing import Any

import click

from faceatlas.cli._common import (
    detector_choice,
    embedder_choice,
    emit,
    exit_if_files_failed,
    json_option,
    library_option,
    open_catalog,
    progress_bar,
    warn,
)
from faceatlas.policy import DEFAULT_EMBEDDER

# -- recognition (faceatlas.known, faceatlas.recognize) -----------------------------------
# faceatlas.known.INDEX_KINDS, written out because that package loads the recognition
# stack; tests/test_cli_conventions.py checks that the two agree
INDEX_KINDS = ("auto", "exact", "ivf", "hnsw", "pca-kmeans")
_index_option = click.option(
    "--index",
    "index_kind",
    default="auto",
    show_default=True,
    type=click.Choice(INDEX_KINDS),
    help="Search index: exact below a measured size, else a faiss index tuned to "
    "recall@10 >= 0.98 (saved in <db>.index/).",
)
_catalog_embedder_option = click.option(
    "--embedder",
    default=None,
    help=f"[default: {DEFAULT_EMBEDDER} if the catalog holds it, else its most used one]",
)
_exact_max_option = library_option(
    "--exact-max",
    type=click.IntRange(min=1),
    default=None,
    resolve=False,
    default_from=("faceatlas.search", "EXACT_MAX_SIZE"),
    help="Faces from which --index auto leaves exact search: the catalog setting "
    "index/exact_max if set, else faceatlas.search.EXACT_MAX_SIZE (measured in "
    "bench/search.py).",
)


@click.command()
@click.argument("known_dir", type=click.Path(exists=True, file_okay=False))
@library_option(
    "--detector", default_from=("faceatlas.config", "ScanConfig.detector"), type=detector_choice()
)
@library_option(
    "--embedder", default_from=("faceatlas.config", "ScanConfig.embedder"), type=embedder_choice()
)
@click.option("--cropped", is_flag=True, help="Each image is one already-cropped face.")
@click.option(
    "--jobs",
    "-j",
    default=0,
    type=click.IntRange(min=0),
    help="Worker processes [default: every core].",
)
@json_option
@click.pass_context
def enroll(
    ctx: click.Context,
    known_dir: str,
    detector: str,
    embedder: str,
    cropped: bool,
    jobs: int,
    as_json: bool,
) -> None:
    """Add the people of KNOWN_DIR (one sub-folder or one image file per person)."""
    from faceatlas.config import ScanConfig
    from faceatlas.known import enroll as run_enroll

    config = ScanConfig(detector=detector, embedder=embedder, cropped=cropped, jobs=jobs)
    with open_catalog(ctx, create=True) as cat, progress_bar("enrolling") as bar:
        summary = run_enroll(
            cat,
            known_dir,
            config,
            progress=bar,
            log=lambda m: click.echo(f"warning: {m}", err=True),
        )
    emit(
        summary.to_dict(),
        as_json,
        lambda s: "\n".join(
            [
                f"{p['person_id']:>5}  {p['name']:<24} {p['faces']} faces ({p['new_faces']} new)"
                for p in s["people"]
            ]
            + [summary.line()]
        ),
    )


def _who_table(result: dict[str, Any]) -> str:
    lines = [
        (
            f"threshold {result['threshold']:.4f} ({result['threshold_source']}); "
            f"{result['n_people']} named people; embedder {result['embedder']}"
        )
    ]
    for f in result["files"]:
        if f.get("error"):
            continue  # on stderr: exit_if_files_failed
        if not f["faces"]:
            lines.append(f"{f['file']}: no faces found")
            continue
        for face in f["faces"]:
            where = f["file"] + (f" @{face['time_s']:.1f}s" if face["frame_index"] >= 0 else "")
            box = ",".join(str(int(v)) for v in face["box"])
            if face["outcome"] == "same_image":
                what = (
                    f"same image as face {face['face_id']}"
                    + (f" ({face['name']})" if face["name"] else "")
                    + f", similarity {face['same_image_similarity']:.3f}"
                )
            elif face["outcome"] == "known_person":
                what = (
                    f"{face['name']}  distance {face['distance']:.3f}, confidence "
                    f"{face['confidence']:.2f}"
                )
                if face["runner_up_name"]:
                    what += (
                        f"; runner-up {face['runner_up_name']} "
                        f"{1 - face['runner_up_similarity']:.3f}"
                    )
            else:
                what = "stranger"
                if face["nearest_name"]:
                    what += f"  nearest {face['nearest_name']} distance {face['distance']:.3f}"
            lines.append(f"{where}  [{box}]  {what}")
    return "\n".join(lines)


@click.command()
@click.argument("photos", nargs=-1, required=True, type=click.Path())
@click.option(
    "--threshold",
    type=click.FloatRange(-1, 1),
    default=None,
    help="Same-person cosine similarity [default: calibrated, else the embedder's].",
)
@library_option(
    "--same-image-threshold",
    default_from=("faceatlas.recognize", "SAME_IMAGE_THRESHOLD"),
    type=click.FloatRange(-1, 1),
    help="Similarity from which a face is a copy.",
)
@_catalog_embedder_option
@library_option(
    "--detector", default_from=("faceatlas.config", "ScanConfig.detector"), type=detector_choice()
)
@click.option("--cropped", is_flag=True, help="Each image is one already-cropped face.")
@library_option(
    "--video-every",
    "video_every_s",
    default_from=("faceatlas.config", "ScanConfig.video_every_s"),
    type=click.FloatRange(min=0.01),
    help="Seconds between sampled video frames.",
)
@_index_option
@_exact_max_option
@click.option(
    "--csv", "as_csv", is_flag=True, help="face_recognition's CLI lines: file,name,distance."
)
@json_option
@click.pass_context
def who(
    ctx: click.Context,
    photos: tuple[str, ...],
    threshold: float | None,
    same_image_threshold: float,
    embedder: str | None,
    detector: str,
    cropped: bool,
    video_every_s: float,
    index_kind: str,
    exact_max: int | None,
    as_csv: bool,
    as_json: bool,
) -> None:
    """Say who is in PHOTOS (or videos): same image, known person, or stranger."""
    from faceatlas.known import who as run_who
    from faceatlas.known import who_csv_lines

    with open_catalog(ctx) as cat:
        result = run_who(
            cat,
            photos,
            embedder=embedder,
            detector=detector,
            cropped=cropped,
            threshold=threshold,
            same_image_threshold=same_image_threshold,
            video_every_s=video_every_s,
            index_kind=index_kind,
            exact_max=exact_max,
            log=lambda m: click.echo(m, err=True),
        )
    if as_csv:
        for line in who_csv_lines(result):
            click.echo(line)
    else:
        emit(result, as_json, _who_table)
    exit_if_files_failed(ctx, result["files"])


_SHOW_DROPPED = 5  # pairs listed in the text output; --json lists all


def _dropped_lines(dropped: list[tuple[int, str]], n_pairs: int) -> str:
    """A summary of the pairs calibrate left out, then the first few with their reasons."""
    head = f"left out {len(dropped)} of {n_pairs} pairs: an image without a face or unreadable"
    lines = [head + " (check --root)"]
    lines += [f"  line {line}: {why}" for line, why in dropped[:_SHOW_DROPPED]]
    if len(dropped) > _SHOW_DROPPED:
        lines.append(f"  ... and {len(dropped) - _SHOW_DROPPED} more (--json lists all)")
    return "\n" + "\n".join(lines)


@click.command()
@click.option(
    "--pairs",
    "pairs_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Labelled pairs: LFW pairs.txt, or CSV path_a,path_b,same.",
)
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False),
    help="Folder the pairs' paths are relative to.",
)
@click.option(
    "--target-fmr",
    default=0.001,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Largest acceptable false-match rate per pair.",
)
@click.option(
    "--target-fpir",
    default=None,
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Instead: largest share of strangers given a name when searching the "
    "catalog's named people (open set; measured leaving one person out).",
)
@click.option(
    "--plot", "plot_path", type=click.Path(dir_okay=False), help="Save the ROC curve as an image."
)
@_catalog_embedder_option
@click.option("--dry-run", is_flag=True, help="Measure only; do not store the threshold.")
@click.option(
    "--force", is_flag=True, help="Store even with too few pairs to measure the target FMR."
)
@json_option
@click.pass_context
def calibrate(
    ctx: click.Context,
    pairs_file: str | None,
    root: str | None,
    target_fmr: float,
    target_fpir: float | None,
    plot_path: str | None,
    embedder: str | None,
    dry_run: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Choose the same-person threshold for a target false-match rate, and store it."""
    from faceatlas.known import calibrate as run_calibrate
    from faceatlas.known import plot_roc

    with open_catalog(ctx) as cat, progress_bar("embedding pairs") as bar:
        cal = run_calibrate(
            cat,
            pairs_file,
            root=root,
            target_fmr=target_fmr,
            target_fpir=target_fpir,
            embedder=embedder,
            store=not dry_run,
            force=force,
            progress=bar,
        )
    data = cal.summary()
    warnings = list(cal.warnings)
    dropped_line = ""
    if pairs_file is not None:
        used = int(cal.n_same + cal.n_different)
        n_pairs = used + len(cal.dropped)
        data["pairs"] = {
            "in_file": n_pairs,
            "used": used,
            "dropped": len(cal.dropped),
            "dropped_pairs": [{"line": line, "reason": why} for line, why in cal.dropped],
        }
        if cal.dropped:
            dropped_line = _dropped_lines(cal.dropped, n_pairs)
    if plot_path:
        data["plot"] = str(plot_roc(cal, plot_path))
    if not as_json:
        for w in warnings:
            warn(w)
    emit(
        data,
        as_json,
        lambda d: (
            cal.line()
            + dropped_line
            + (f"\nROC curve: {d['plot']}" if "plot" in d else "")
            + ("\nstored in the catalog: `faceatlas who` uses it" if cal.stored else "\nnot stored")
        ),
    )


@click.command()
@click.argument("query")
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--min-similarity",
    type=click.FloatRange(-1, 1),
    default=None,
    help="Drop faces below this cosine similarity.",
)
@_catalog_embedder_option
@_index_option
@_exact_max_option
@json_option
@click.pass_context
def similar(
    ctx: click.Context,
    query: str,
    k: int,
    min_similarity: float | None,
    embedder: str | None,
    index_kind: str,
    exact_max: int | None,
    as_json: bool,
) -> None:
    """Faces most similar to QUERY: a photo, a face id, person:ID or a person's name."""
    from faceatlas.known import similar as run_similar

    with open_catalog(ctx) as cat:
        result = run_similar(
            cat,
            query,
            k=k,
            min_similarity=min_similarity,
            embedder=embedder,
            index_kind=index_kind,
            exact_max=exact_max,
            log=lambda m: click.echo(m, err=True),
        )

    def text(r: dict[str, Any]) -> str:
        from faceatlas.known import IndexInfo

        lines = [
            IndexInfo(**r["index"]).line(),
            (
                f"same-person threshold {r['threshold']:.3f} ({r['threshold_source']}); "
                "* marks faces above it"
            ),
        ]
        for q in r["queries"]:
            lines.append(
                "query: "
                + ", ".join(f"{key} {v}" for key, v in q["query"].items() if key != "kind")
            )
            for res in q["results"]:
                who_ = (
                    f"{res['person_id']} ({res['name']})"
                    if res["name"]
                    else str(res["person_id"] or "-")
                )
                frame = f" [frame {res['frame_index']}]" if res["frame_index"] >= 0 else ""
                lines.append(
                    f"  {res['similarity']:.3f}{'*' if res['same_person'] else ' '} "
                    f"face {res['face_id']:>6}  "
                    f"{who_:<20} {res['path']}{frame}"
                )
            if not q["results"]:
                lines.append("  no faces")
        return "\n".join(lines)

    emit(result, as_json, text)
