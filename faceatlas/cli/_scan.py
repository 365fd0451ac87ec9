"""Scanning and looking at the catalog: scan, status, photos, runs, faces."""

from __future__ import annotations

import csv
import json
import os
import sys
from typing import Any

import click

from faceatlas.cli._album import list_photos, person_options
from faceatlas.cli._common import (
    detector_choice,
    embedder_choice,
    emit,
    json_option,
    library_option,
    open_catalog,
    progress_bar,
    shown,
)
from faceatlas.exceptions import InputError


# -- scanning (faceatlas.pipeline) ---------------------------------------------------------
@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@library_option(
    "--detector", default_from=("faceatlas.config", "ScanConfig.detector"), type=detector_choice()
)
@library_option(
    "--embedder", default_from=("faceatlas.config", "ScanConfig.embedder"), type=embedder_choice()
)
@click.option(
    "--cropped", is_flag=True, help="Each image is one already-cropped face (no detection)."
)
@library_option(
    "--video-every",
    "video_every_s",
    default_from=("faceatlas.config", "ScanConfig.video_every_s"),
    type=click.FloatRange(min=0.01),
    help="Seconds between sampled video frames.",
)
@library_option(
    "--max-pixels",
    default_from=("faceatlas.images", "DEFAULT_MAX_PIXELS"),
    type=click.IntRange(min=1),
    help="Larger images are refused (decompression bombs).",
)
@click.option(
    "--jobs",
    "-j",
    default=0,
    type=click.IntRange(min=0),
    help="Worker processes [default: every core].",
)
@click.option(
    "--retry-errors", is_flag=True, help="Read again files that failed, though unchanged."
)
@library_option(
    "--detect-min-face",
    default_from=("faceatlas.config", "ScanConfig.detect_min_face"),
    type=click.IntRange(min=0),
    help="Smallest face (px) searched for in large photos; 0: one scale only (0.1).",
)
@click.option(
    "--light-retry/--no-light-retry",
    default=True,
    show_default=True,
    help="When a photo yields no face, retry with contrast normalisation.",
)
@click.option(
    "--try-turns",
    is_flag=True,
    help="When a photo yields no upright face, also try it turned by 90/180/270 degrees.",
)
@library_option(
    "--min-face-size",
    default_from=("faceatlas.quality", "MIN_FACE_SIZE"),
    type=click.FloatRange(min=0),
    help="Faces narrower (px) are kept but not usable for recognition.",
)
@library_option(
    "--min-sharpness",
    default_from=("faceatlas.quality", "MIN_SHARPNESS"),
    type=click.FloatRange(min=0),
    help="Blurrier faces (Laplacian variance of the chip) are not usable.",
)
@library_option(
    "--max-yaw",
    default_from=("faceatlas.quality", "MAX_YAW_DEG"),
    type=click.FloatRange(0, 90),
    help="Faces turned further (degrees) count as profiles, not usable.",
)
@library_option(
    "--min-score",
    default_from=("faceatlas.quality", "MIN_SCORE"),
    type=click.FloatRange(0, 1),
    help="Faces with a lower detector score are not usable.",
)
@library_option(
    "--min-brightness",
    default_from=("faceatlas.quality", "MIN_BRIGHTNESS"),
    type=click.FloatRange(0, 255),
    help="Darker faces (mean luminance 0-255) are not usable.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT|local:N",
    help="Run the per-photo work on a Dask cluster (its workers must see the photos at the "
    "same paths), or on N local Dask workers; see docs/scale.md.",
)
@json_option
@click.pass_context
def scan(
    ctx: click.Context,
    paths: tuple[str, ...],
    detector: str,
    embedder: str,
    cropped: bool,
    video_every_s: float,
    max_pixels: int,
    jobs: int,
    retry_errors: bool,
    detect_min_face: int,
    light_retry: bool,
    try_turns: bool,
    min_face_size: float,
    min_sharpness: float,
    max_yaw: float,
    min_score: float,
    min_brightness: float,
    scheduler: str | None,
    as_json: bool,
) -> None:
    """Find, align and embed every face in PATHS (folders are walked recursively)."""
    from faceatlas.config import ScanConfig
    from faceatlas.pipeline import scan as run_scan

    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:  # a mistyped folder is a failed job, not a scan of nothing
        raise InputError(f"no such file or folder: {', '.join(missing)}")
    config = ScanConfig(
        detector=detector,
        embedder=embedder,
        cropped=cropped,
        video_every_s=video_every_s,
        max_pixels=max_pixels,
        jobs=jobs,
        detect_min_face=detect_min_face,
        retry_light=light_retry,
        try_turns=try_turns,
        min_face_size=min_face_size,
        min_sharpness=min_sharpness,
        max_yaw_deg=max_yaw,
        min_score=min_score,
        min_brightness=min_brightness,
    )
    with open_catalog(ctx, create=True) as cat, progress_bar("scanning") as bar:
        summary = run_scan(
            paths, cat, config, progress=bar, retry_errors=retry_errors, scheduler=scheduler
        )
    if not as_json:
        for err in summary.errors[:20]:
            where = "" if err["path"] in err["error"] else f"{err['path']}: "
            click.echo(shown(f"skipped {where}{err['error']}"), err=True)
        if len(summary.errors) > 20:
            click.echo(
                f"... and {len(summary.errors) - 20} more: see `faceatlas photos --errors`",
                err=True,
            )
    emit(summary.to_dict(), as_json, lambda _: summary.line())
    if summary.interrupted:
        ctx.exit(130)


# -- looking at the catalog (faceatlas.catalog) --------------------------------------------
@click.command()
@json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Counts of files, photos, faces, errors and embedders in the catalog."""
    with open_catalog(ctx) as cat:
        data = {
            "db": cat.path,
            **cat.counts(),
            "embedders": cat.embedders(),
            "migrations": cat.applied_migrations(),
        }

    def text(d: dict[str, Any]) -> str:
        emb = ", ".join(f"{e['embedder']} ({e['n']})" for e in d["embedders"]) or "none"
        return (
            f"{d['db']}: {d['files']} files, {d['photos']} photos, {d['faces']} faces, "
            f"{d['errors']} errors; embeddings: {emb}"
        )

    emit(data, as_json, text)


@click.command()
@click.option("--errors", "errors_only", is_flag=True, help="Only files that could not be read.")
@click.option("--limit", type=int, default=None)
@click.option(
    "--sort",
    type=click.Choice(["path", "date"]),
    default="path",
    show_default=True,
    help="Order by path, or by capture time (photos without one last).",
)
@person_options
@json_option
@click.pass_context
def photos(
    ctx: click.Context,
    errors_only: bool,
    limit: int | None,
    sort: str,
    persons: tuple[str, ...],
    date_from: str | None,
    date_to: str | None,
    as_csv: bool,
    as_json: bool,
) -> None:
    """List catalogued photos (and video frames) with capture time, or only the errors.

    With --person, the photos of that person (repeat it: of all of them together); with
    --from/--to, taken between two dates (capture date, else the file's date).
    """
    if not errors_only and (persons or date_from or date_to or as_csv):
        list_photos(ctx, persons, date_from, date_to, limit, as_csv, as_json)
        return
    with open_catalog(ctx) as cat:
        rows = cat.photos(errors_only=errors_only, limit=limit, sort=sort)

    def taken(r: dict[str, Any]) -> str:
        if not r["taken_at"]:
            return "-"
        return r["taken_at"] + ("?" if r["taken_guess"] else "")

    def text(rs: list[dict[str, Any]]) -> str:
        if errors_only:
            return "\n".join(shown(r["error"]) for r in rs) or "no errors"
        return "\n".join(
            f"{r['id']:>6}  {r['faces']:>2} faces  {taken(r):<25}  {shown(r['path'])}"
            + (f"  [frame {r['frame_index']}]" if r["frame_index"] >= 0 else "")
            + (f"  [turned {r['turn']}]" if r["turn"] else "")
            for r in rs
        )

    emit(rows, as_json, text)


@click.command()
@click.option("--limit", type=int, default=20, show_default=True)
@json_option
@click.pass_context
def runs(ctx: click.Context, limit: int, as_json: bool) -> None:
    """Recent runs (scans, clusterings) with their settings and summaries."""
    with open_catalog(ctx) as cat:
        rows = cat.runs(limit)
    emit(
        rows,
        as_json,
        lambda rs: "\n".join(
            f"{r['id']:>4} {r['started_at']} {r['command']:<10} {r['status']:<11} "
            f"{json.dumps(r['settings'], sort_keys=True)}{_why(r)}"
            for r in rs
        ),
    )


def _why(run: dict) -> str:
    """The reason a run that stopped on an error gives, on its own indented line (runs of
    older versions kept a clustering's as ``error``)."""
    why = run["summary"].get("failure") or run["summary"].get("error")
    return f"\n{'':>5}{run['status']}: {why}" if why else ""


@click.command()
@click.option("--csv", "as_csv", is_flag=True, help="Output CSV.")
@click.option(
    "--reasons",
    is_flag=True,
    help="Only the faces not usable for recognition, each with its reason.",
)
@json_option
@click.pass_context
def faces(ctx: click.Context, as_csv: bool, reasons: bool, as_json: bool) -> None:
    """Export every face: id, photo path, box, person id and name."""
    from faceatlas.people import face_table

    with open_catalog(ctx) as cat:
        rows = cat.unusable_faces() if reasons else face_table(cat)
    if reasons:
        _emit_reasons(rows, as_csv, as_json)
        return
    if as_csv:
        cols = [
            "face_id",
            "path",
            "frame_index",
            "x1",
            "y1",
            "x2",
            "y2",
            "det_score",
            "quality",
            "person_id",
            "person_name",
        ]
        writer = csv.DictWriter(sys.stdout, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return
    emit(
        rows,
        as_json,
        lambda rs: "\n".join(
            f"{r['face_id']:>6}  {r['person_name'] or r['person_id'] or '-':<20} {r['path']}"
            for r in rs
        ),
    )


def _emit_reasons(rows: list[dict[str, Any]], as_csv: bool, as_json: bool) -> None:
    """`faces --reasons`: each unusable face with what was measured and why."""
    for r in rows:
        for k in ("x1", "y1", "x2", "y2", "size", "sharpness", "yaw", "det_score", "brightness"):
            if r.get(k) is not None:
                r[k] = round(float(r[k]), 2)
    if as_csv:
        cols = ["face_id", "path", "frame_index", "reason", "size", "sharpness", "yaw"]
        cols += ["det_score", "brightness", "x1", "y1", "x2", "y2"]
        writer = csv.DictWriter(sys.stdout, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return
    emit(
        rows,
        as_json,
        lambda rs: (
            "\n".join(
                f"{r['face_id']:>6}  {r['reason']:<24} {r['size']:>6.0f} px  {r['path']}"
                + (f" [frame {r['frame_index']}]" if r["frame_index"] >= 0 else "")
                for r in rs
            )
            or "every face is usable"
        ),
    )
