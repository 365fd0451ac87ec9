"""The ``faceatlas`` command line: parse, call one library function, format.

Every command that reports something accepts ``--json``. Progress goes to stderr and only
when stderr is a terminal. Read top to bottom to see where each command's work is done.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from faceatlas.catalog import Catalog
from faceatlas.exceptions import FaceAtlasError

DEFAULT_DB = "faceatlas.db"


# -- shared plumbing ---------------------------------------------------------------------
def emit(data: Any, as_json: bool, text: Callable[[Any], str] | None = None) -> None:
    """Print ``data`` as JSON, or through ``text`` for people."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=_json_default))
    elif text is not None:
        click.echo(text(data))


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr, or nothing when stderr is not a terminal."""
    if not sys.stderr.isatty():
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def open_catalog(ctx: click.Context) -> Catalog:
    return Catalog(ctx.obj["db"])


json_option = click.option("--json", "as_json", is_flag=True, help="Output JSON.")


class FriendlyGroup(click.Group):
    """Turns faceatlas errors into one-line messages and exit code 1 (no traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FaceAtlasError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)


@click.group(cls=FriendlyGroup)
@click.option("--db", default=DEFAULT_DB, show_default=True, envvar="FACEATLAS_DB",
              type=click.Path(dir_okay=False), help="Catalog file (SQLite).")
@click.version_option(package_name="faceatlas")
@click.pass_context
def main(ctx: click.Context, db: str) -> None:
    """faceatlas: find, group, name and search the faces in your photos."""
    ctx.ensure_object(dict)
    ctx.obj["db"] = db


# -- scanning (faceatlas.pipeline) ---------------------------------------------------------
@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--detector", default="yunet", show_default=True,
              type=click.Choice(["yunet", "dlib-hog", "dlib-cnn", "haar"]))
@click.option("--embedder", default="sface", show_default=True,
              type=click.Choice(["sface", "dlib", "pixels", "landmarks", "cnn"]))
@click.option("--cropped", is_flag=True,
              help="Each image is one already-cropped face (no detection).")
@click.option("--video-every", "video_every_s", default=1.0, show_default=True,
              type=click.FloatRange(min=0.01), help="Seconds between sampled video frames.")
@click.option("--max-pixels", default=100_000_000, show_default=True,
              type=click.IntRange(min=1), help="Larger images are refused (decompression bombs).")
@click.option("--jobs", "-j", default=0, type=click.IntRange(min=0),
              help="Worker processes [default: every core].")
@json_option
@click.pass_context
def scan(ctx: click.Context, paths: tuple[str, ...], detector: str, embedder: str,
         cropped: bool, video_every_s: float, max_pixels: int, jobs: int,
         as_json: bool) -> None:
    """Find, align and embed every face in PATHS (folders are walked recursively)."""
    from faceatlas.config import ScanConfig
    from faceatlas.pipeline import scan as run_scan

    config = ScanConfig(detector=detector, embedder=embedder, cropped=cropped,
                        video_every_s=video_every_s, max_pixels=max_pixels, jobs=jobs)
    with open_catalog(ctx) as cat, progress_bar("scanning") as bar:
        summary = run_scan(paths, cat, config, progress=bar)
    if not as_json:
        for err in summary.errors[:20]:
            click.echo(f"skipped {err['error']}", err=True)
        if len(summary.errors) > 20:
            click.echo(f"... and {len(summary.errors) - 20} more: see `faceatlas photos "
                       "--errors`", err=True)
    emit(summary.to_dict(), as_json, lambda _: summary.line())
    if summary.interrupted:
        ctx.exit(130)


# -- looking at the catalog (faceatlas.catalog) --------------------------------------------
@main.command()
@json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Counts of files, photos, faces, errors and embedders in the catalog."""
    with open_catalog(ctx) as cat:
        data = {"db": cat.path, **cat.counts(), "embedders": cat.embedders(),
                "migrations": cat.applied_migrations()}

    def text(d: dict[str, Any]) -> str:
        emb = ", ".join(f"{e['embedder']} ({e['n']})" for e in d["embedders"]) or "none"
        return (f"{d['db']}: {d['files']} files, {d['photos']} photos, {d['faces']} faces, "
                f"{d['errors']} errors; embeddings: {emb}")

    emit(data, as_json, text)


@main.command()
@click.option("--errors", "errors_only", is_flag=True, help="Only files that could not be read.")
@click.option("--limit", type=int, default=None)
@json_option
@click.pass_context
def photos(ctx: click.Context, errors_only: bool, limit: int | None, as_json: bool) -> None:
    """List catalogued photos (and video frames), or only the ones with errors."""
    with open_catalog(ctx) as cat:
        rows = cat.photos(errors_only=errors_only, limit=limit)

    def text(rs: list[dict[str, Any]]) -> str:
        if errors_only:
            return "\n".join(r["error"] for r in rs) or "no errors"
        return "\n".join(
            f"{r['id']:>6}  {r['faces']:>2} faces  {r['path']}"
            + (f"  [frame {r['frame_index']}]" if r["frame_index"] >= 0 else "")
            for r in rs)

    emit(rows, as_json, text)


@main.command()
@click.option("--limit", type=int, default=20, show_default=True)
@json_option
@click.pass_context
def runs(ctx: click.Context, limit: int, as_json: bool) -> None:
    """Recent runs (scans, clusterings) with their settings and summaries."""
    with open_catalog(ctx) as cat:
        rows = cat.runs(limit)
    emit(rows, as_json, lambda rs: "\n".join(
        f"{r['id']:>4} {r['started_at']} {r['command']:<10} {r['status']:<11} "
        f"{json.dumps(r['settings'], sort_keys=True)}" for r in rs))


@main.command()
@click.option("--csv", "as_csv", is_flag=True, help="Output CSV.")
@json_option
@click.pass_context
def faces(ctx: click.Context, as_csv: bool, as_json: bool) -> None:
    """Export every face: id, photo path, box, person id and name."""
    from faceatlas.people import face_table

    with open_catalog(ctx) as cat:
        rows = face_table(cat)
    if as_csv:
        cols = ["face_id", "path", "frame_index", "x1", "y1", "x2", "y2", "det_score", "quality",
                "person_id", "person_name"]
        writer = csv.DictWriter(sys.stdout, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return
    emit(rows, as_json, lambda rs: "\n".join(
        f"{r['face_id']:>6}  {r['person_name'] or r['person_id'] or '-':<20} {r['path']}"
        for r in rs))


if __name__ == "__main__":  # pragma: no cover
    main()
