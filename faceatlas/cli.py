"""The ``faceatlas`` command line: parse, call one library function, format.

Every command that reports something accepts ``--json``. Progress goes to stderr and only
when stderr is a terminal. Read top to bottom to see where each command's work is done.
"""

from __future__ import annotations

import csv
import json
import os
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

# -- people (faceatlas.people) -------------------------------------------------------------
def _short_path(path: str | None) -> str:
    """A path relative to the working folder when it lies inside it."""
    if not path:
        return ""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


def _person_label(pid: Any, name: str | None) -> str:
    return f"{pid} ({name})" if name else str(pid)


@main.command()
@click.option("--method", default=None,
              help="adaptive-linkage (default), chinese-whispers, hdbscan, agglomerative, "
                   "core-point, dbscan or kmeans.")
@click.option("--k", "k", default=None, metavar="N|auto",
              help="Number of people for k-means (implies --method kmeans and --all).")
@click.option("--all", "all_faces", is_flag=True,
              help="Re-cluster every face, not only the new ones (corrections still hold).")
@click.option("--embedder", default="sface", show_default=True)
@click.option("--min-faces", type=click.IntRange(min=1), default=None,
              help="Fewest faces of a listed person [default: from the number of faces].")
@click.option("--threshold", type=click.FloatRange(-1, 1), default=None,
              help="Same-person cosine similarity [default: the embedder's].")
@click.option("--use-recommended", is_flag=True,
              help="Embedder, method and threshold recommended by `faceatlas compare` "
                   "(options given explicitly still win).")
@json_option
@click.pass_context
def cluster(ctx: click.Context, method: str | None, k: str | None, all_faces: bool,
            embedder: str, min_faces: int | None, threshold: float | None,
            use_recommended: bool, as_json: bool) -> None:
    """Group faces into people; new faces join existing people first (see --all)."""
    from faceatlas.people import cluster_people

    k_value: int | str | None = k
    if k is not None and k != "auto":
        try:
            k_value = int(k)
        except ValueError:
            raise click.BadParameter(f"must be an int or 'auto', got {k!r}",
                                     param_hint="--k") from None
    with open_catalog(ctx) as cat:
        if use_recommended:
            from faceatlas.scoring import recommended_settings

            rec = recommended_settings(cat)
            if ctx.get_parameter_source("embedder") == click.core.ParameterSource.DEFAULT:
                embedder = rec["embedder"]
            if method is None and k is None:
                method = rec["method"]
                threshold = rec["threshold"] if threshold is None else threshold
        summary = cluster_people(cat, embedder, method, all=all_faces, k=k_value,
                                 min_faces=min_faces, threshold=threshold)
    emit(summary.to_dict(), as_json, lambda _: summary.line())


@main.command()
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--embedder", default="sface", show_default=True)
@json_option
@click.pass_context
def elbow(ctx: click.Context, out: str, embedder: str, as_json: bool) -> None:
    """Save the k-means inertia and silhouette curve over k as a plot (PNG)."""
    from faceatlas.people import elbow_curve, save_elbow_plot

    with open_catalog(ctx) as cat:
        curve = elbow_curve(cat, embedder)
    save_elbow_plot(curve, out)
    emit({**curve, "plot": out}, as_json, lambda c: (
        f"elbow at k={c['elbow_k']}, best silhouette near it at k={c['best_k']} "
        f"({c['n_faces']} faces); plot saved to {out}"))


@main.command()
@click.option("--hidden", "include_hidden", is_flag=True, help="Include hidden people.")
@json_option
@click.pass_context
def people(ctx: click.Context, include_hidden: bool, as_json: bool) -> None:
    """List people (most faces first), then the small unsorted groups."""
    from faceatlas.people import list_people

    with open_catalog(ctx) as cat:
        data = list_people(cat, include_hidden=include_hidden)

    def text(d: dict[str, Any]) -> str:
        lines = [f"{len(d['people'])} people, {len(d['unsorted'])} unsorted groups "
                 f"(< {d['min_faces']} faces), {d['n_unassigned']} unassigned faces, "
                 f"{d['n_faces']} faces in all"
                 + (f"; {d['n_hidden']} hidden" if d["n_hidden"] else "")]
        for title, rows in (("people", d["people"]), ("unsorted", d["unsorted"])):
            if not rows:
                continue
            lines.append(f"{title}:")
            lines += [f"  {r['id']:>5}  {(r['name'] or '-')[:24]:<24} {r['n_faces']:>5} faces"
                      + (f" ({r['n_confirmed']} confirmed)" if r["n_confirmed"] else "")
                      + (" [hidden]" if r["hidden"] else "")
                      + f"  e.g. {_short_path(r['example'])}" for r in rows[:50]]
            if len(rows) > 50:
                lines.append(f"  ... and {len(rows) - 50} more (see --json)")
        return "\n".join(lines)

    emit(data, as_json, text)


@main.command()
@click.argument("person_id", type=int)
@json_option
@click.pass_context
def person(ctx: click.Context, person_id: int, as_json: bool) -> None:
    """One person: name, faces (photo, box, source) and rejected faces."""
    from faceatlas.people import person_detail

    with open_catalog(ctx) as cat:
        data = person_detail(cat, person_id)

    def text(d: dict[str, Any]) -> str:
        head = (f"person {d['id']}: {d['name'] or '(no name)'}, {d['n_faces']} faces, "
                f"{d['n_confirmed']} confirmed" + (" [hidden]" if d["hidden"] else ""))
        rows = [f"  face {f['face_id']:>6}  {f['source']:<7}{'*' if f['confirmed'] else ' '} "
                f"{_short_path(f['path'])}"
                + (f" [frame {f['frame_index']}]" if f["frame_index"] >= 0 else "")
                for f in d["faces"]]
        if d["rejected_faces"]:
            rows.append(f"  not this person: faces {', '.join(map(str, d['rejected_faces']))}")
        return "\n".join([head, *rows])

    emit(data, as_json, text)


@main.command()
@click.argument("person_id", type=int)
@click.argument("name")
@json_option
@click.pass_context
def name(ctx: click.Context, person_id: int, name: str, as_json: bool) -> None:
    """Name a person ("" clears the name)."""
    from faceatlas.people import name_person

    with open_catalog(ctx) as cat:
        data = name_person(cat, person_id, name)
    emit(data, as_json, lambda d: f"person {d['id']} is now {d['name'] or '(no name)'}")


@main.command()
@click.argument("person_a", type=int)
@click.argument("person_b", type=int)
@json_option
@click.pass_context
def merge(ctx: click.Context, person_a: int, person_b: int, as_json: bool) -> None:
    """PERSON_B is PERSON_A: move all of B's faces to A (confirmed)."""
    from faceatlas.people import merge_people

    with open_catalog(ctx) as cat:
        data = merge_people(cat, person_a, person_b)
    emit(data, as_json, lambda d: (
        f"merged person {d['merged']} into {_person_label(d['id'], d['name'])}: "
        f"{d['n_faces']} faces" + (f"; unassigned faces {d['dropped']} (same photo as "
                                   "another face of this person)" if d["dropped"] else "")))


@main.command()
@click.argument("person_id", type=int)
@click.option("--parts", type=click.IntRange(min=2), default=None,
              help="Split into this many parts with k-means [default: what clustering finds].")
@click.option("--embedder", default="sface", show_default=True)
@json_option
@click.pass_context
def split(ctx: click.Context, person_id: int, parts: int | None, embedder: str,
          as_json: bool) -> None:
    """Re-cluster inside one person; each part becomes a person (confirmed)."""
    from faceatlas.people import split_person

    with open_catalog(ctx) as cat:
        data = split_person(cat, person_id, n_parts=parts, embedder=embedder)
    emit(data, as_json, lambda d: (
        f"split person {d['person']} into parts of {d['parts']} faces; new people: "
        f"{', '.join(map(str, d['new_people'])) or 'none'}"
        + (f"; {len(d['unassigned'])} faces unassigned" if d["unassigned"] else "")))


@main.command()
@click.argument("face_id", type=int)
@click.argument("person_id", metavar="PERSON|new")
@json_option
@click.pass_context
def move(ctx: click.Context, face_id: int, person_id: str, as_json: bool) -> None:
    """FACE is PERSON (or a new person): move it there, confirmed."""
    from faceatlas.people import move_face

    if person_id == "new":
        target = None
    else:
        try:
            target = int(person_id)
        except ValueError:
            raise click.BadParameter(f"must be a person id or 'new', got {person_id!r}",
                                     param_hint="PERSON") from None
    with open_catalog(ctx) as cat:
        data = move_face(cat, face_id, target)
    emit(data, as_json, lambda d: (
        f"face {d['face']} is now person {d['person']}"
        + (f" (was {d['from']})" if d["from"] is not None else "")
        + (f"; unassigned faces {d['displaced']} of the same photo" if d["displaced"]
           else "")))


@main.command()
@click.argument("face_id", type=int)
@click.argument("person_id", type=int)
@json_option
@click.pass_context
def reject(ctx: click.Context, face_id: int, person_id: int, as_json: bool) -> None:
    """FACE is not PERSON: take it out, and never put it back."""
    from faceatlas.people import reject_face

    with open_catalog(ctx) as cat:
        data = reject_face(cat, face_id, person_id)
    emit(data, as_json, lambda d: f"face {d['face']} is not person {d['person']}"
         + ("; it is now unassigned" if d["was_assigned"] else ""))


@main.command()
@click.argument("person_id", type=int)
@click.option("--unhide", is_flag=True, help="Show the person again.")
@json_option
@click.pass_context
def hide(ctx: click.Context, person_id: int, unhide: bool, as_json: bool) -> None:
    """Hide a person from listings (its faces stay with it)."""
    from faceatlas.people import hide_person

    with open_catalog(ctx) as cat:
        data = hide_person(cat, person_id, hidden=not unhide)
    emit(data, as_json, lambda d: f"person {d['id']} is "
         + ("hidden" if d["hidden"] else "shown"))


@main.command()
@json_option
@click.pass_context
def undo(ctx: click.Context, as_json: bool) -> None:
    """Revert the last correction (name, merge, split, move, reject, hide, dismiss...)."""
    from faceatlas.people import undo as undo_last

    with open_catalog(ctx) as cat:
        data = undo_last(cat)
    emit(data, as_json, lambda d: "nothing to undo" if d is None else
         f"undid {d['kind']} #{d['id']} of {d['created_at']}")


@main.command()
@click.option("--dismiss", nargs=2, type=int, default=None, metavar="A B",
              help="A and B are different people: never suggest them again.")
@click.option("--confirm", nargs=2, type=int, default=None, metavar="A B",
              help="A and B are one person: merge B into A.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--embedder", default="sface", show_default=True)
@json_option
@click.pass_context
def suggest(ctx: click.Context, dismiss: tuple[int, int] | None,
            confirm: tuple[int, int] | None, limit: int, embedder: str,
            as_json: bool) -> None:
    """Pairs of people that may be the same person, most likely first."""
    from faceatlas.people import confirm_suggestion, dismiss_suggestion, suggest_merges

    if dismiss and confirm:
        raise click.UsageError("give --dismiss or --confirm, not both")
    with open_catalog(ctx) as cat:
        if dismiss:
            data: Any = dismiss_suggestion(cat, *dismiss)
        elif confirm:
            data = confirm_suggestion(cat, *confirm, embedder=embedder)
        else:
            data = suggest_merges(cat, embedder, limit=limit)

    def text(d: Any) -> str:
        if dismiss:
            return f"persons {d['person_a']} and {d['person_b']} will not be suggested again"
        if confirm:
            return f"merged person {d['merged']} into {_person_label(d['id'], d['name'])}"
        if not d:
            return "no merge suggestions"
        return "\n".join(
            f"{_person_label(s['person_a'], s['name_a']):>16} + "
            f"{_person_label(s['person_b'], s['name_b']):<16}  closest faces "
            f"{s['closest_similarity']:.3f} (faces {s['closest_faces'][0]}, "
            f"{s['closest_faces'][1]}), centres {s['centroid_similarity']:.3f}"
            for s in d) + "\n(faceatlas suggest --confirm A B  |  --dismiss A B)"

    emit(data, as_json, text)


# -- recognition (faceatlas.enroll, faceatlas.recognize) -----------------------------------
_index_option = click.option(
    "--index", "index_kind", default="auto", show_default=True,
    type=click.Choice(["auto", "exact", "ivf", "hnsw", "pca-kmeans"]),
    help="Search index: exact below a measured size, else a faiss index tuned to "
         "recall@10 >= 0.98 (saved in <db>.index/).")
_exact_max_option = click.option(
    "--exact-max", type=click.IntRange(min=1), default=None,
    help="Faces from which --index auto leaves exact search [default: the catalog setting "
         "index/exact_max, else 100000, measured in bench/search.py].")


@main.command()
@click.argument("known_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--detector", default="yunet", show_default=True,
              type=click.Choice(["yunet", "dlib-hog", "dlib-cnn", "haar"]))
@click.option("--embedder", default="sface", show_default=True,
              type=click.Choice(["sface", "dlib", "pixels", "landmarks", "cnn"]))
@click.option("--cropped", is_flag=True, help="Each image is one already-cropped face.")
@click.option("--jobs", "-j", default=0, type=click.IntRange(min=0),
              help="Worker processes [default: every core].")
@json_option
@click.pass_context
def enroll(ctx: click.Context, known_dir: str, detector: str, embedder: str, cropped: bool,
           jobs: int, as_json: bool) -> None:
    """Add the people of KNOWN_DIR (one sub-folder or one image file per person)."""
    from faceatlas.config import ScanConfig
    from faceatlas.enroll import enroll as run_enroll

    config = ScanConfig(detector=detector, embedder=embedder, cropped=cropped, jobs=jobs)
    with open_catalog(ctx) as cat, progress_bar("enrolling") as bar:
        summary = run_enroll(cat, known_dir, config, progress=bar,
                             log=lambda m: click.echo(f"warning: {m}", err=True))
    emit(summary.to_dict(), as_json, lambda s: "\n".join(
        [f"{p['person_id']:>5}  {p['name']:<24} {p['faces']} faces ({p['new_faces']} new)"
         for p in s["people"]] + [summary.line()]))


def _who_table(result: dict[str, Any]) -> str:
    lines = [f"threshold {result['threshold']:.4f} ({result['threshold_source']}); "
             f"{result['n_people']} named people; embedder {result['embedder']}"]
    for f in result["files"]:
        if f.get("error"):
            lines.append(f"{f['file']}: {f['error']}")
            continue
        if not f["faces"]:
            lines.append(f"{f['file']}: no faces found")
            continue
        for face in f["faces"]:
            where = f["file"] + (f" @{face['time_s']:.1f}s" if face["frame_index"] >= 0 else "")
            box = ",".join(str(int(v)) for v in face["box"])
            if face["outcome"] == "same_image":
                what = (f"same image as face {face['face_id']}"
                        + (f" ({face['name']})" if face["name"] else "")
                        + f", similarity {face['same_image_similarity']:.3f}")
            elif face["outcome"] == "known_person":
                what = (f"{face['name']}  distance {face['distance']:.3f}, confidence "
                        f"{face['confidence']:.2f}")
                if face["runner_up_name"]:
                    what += (f"; runner-up {face['runner_up_name']} "
                             f"{1 - face['runner_up_similarity']:.3f}")
            else:
                what = "stranger"
                if face["nearest_name"]:
                    what += f"  nearest {face['nearest_name']} distance {face['distance']:.3f}"
            lines.append(f"{where}  [{box}]  {what}")
    return "\n".join(lines)


@main.command()
@click.argument("photos", nargs=-1, required=True, type=click.Path())
@click.option("--threshold", type=click.FloatRange(-1, 1), default=None,
              help="Same-person cosine similarity [default: calibrated, else the embedder's].")
@click.option("--same-image-threshold", default=0.995, show_default=True,
              type=click.FloatRange(-1, 1), help="Similarity from which a face is a copy.")
@click.option("--embedder", default=None, help="Default: the catalog's (sface).")
@click.option("--detector", default="yunet", show_default=True,
              type=click.Choice(["yunet", "dlib-hog", "dlib-cnn", "haar"]))
@click.option("--cropped", is_flag=True, help="Each image is one already-cropped face.")
@click.option("--video-every", "video_every_s", default=1.0, show_default=True,
              type=click.FloatRange(min=0.01), help="Seconds between sampled video frames.")
@_index_option
@_exact_max_option
@click.option("--csv", "as_csv", is_flag=True,
              help="face_recognition's CLI lines: file,name,distance.")
@json_option
@click.pass_context
def who(ctx: click.Context, photos: tuple[str, ...], threshold: float | None,
        same_image_threshold: float, embedder: str | None, detector: str, cropped: bool,
        video_every_s: float, index_kind: str, exact_max: int | None, as_csv: bool,
        as_json: bool) -> None:
    """Say who is in PHOTOS (or videos): same image, known person, or stranger."""
    from faceatlas.enroll import who as run_who
    from faceatlas.enroll import who_csv_lines

    with open_catalog(ctx) as cat:
        result = run_who(cat, photos, embedder=embedder, detector=detector, cropped=cropped,
                         threshold=threshold, same_image_threshold=same_image_threshold,
                         video_every_s=video_every_s, index_kind=index_kind,
                         exact_max=exact_max, log=lambda m: click.echo(m, err=True))
    if as_csv:
        for f in result["files"]:
            if f.get("error"):
                where = "" if os.path.abspath(f["file"]) in f["error"] else f"{f['file']}: "
                click.echo(f"error: {where}{f['error']}", err=True)
        for line in who_csv_lines(result):
            click.echo(line)
        return
    emit(result, as_json, _who_table)


@main.command()
@click.option("--pairs", "pairs_file", type=click.Path(exists=True, dir_okay=False),
              help="Labelled pairs: LFW pairs.txt, or CSV path_a,path_b,same.")
@click.option("--root", type=click.Path(exists=True, file_okay=False),
              help="Folder the pairs' paths are relative to.")
@click.option("--target-fmr", default=0.001, show_default=True,
              type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Largest acceptable false-match rate per pair.")
@click.option("--target-fpir", default=None,
              type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Instead: largest share of strangers given a name when searching the "
                   "catalog's named people (open set; measured leaving one person out).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="Save the ROC curve as an image.")
@click.option("--embedder", default=None, help="Default: the catalog's (sface).")
@click.option("--dry-run", is_flag=True, help="Measure only; do not store the threshold.")
@click.option("--force", is_flag=True,
              help="Store even with too few pairs to measure the target FMR.")
@json_option
@click.pass_context
def calibrate(ctx: click.Context, pairs_file: str | None, root: str | None, target_fmr: float,
              target_fpir: float | None, plot_path: str | None, embedder: str | None,
              dry_run: bool, force: bool, as_json: bool) -> None:
    """Choose the same-person threshold for a target false-match rate, and store it."""
    from faceatlas.enroll import calibrate as run_calibrate
    from faceatlas.enroll import plot_roc

    with open_catalog(ctx) as cat, progress_bar("embedding pairs") as bar:
        cal = run_calibrate(cat, pairs_file, root=root, target_fmr=target_fmr,
                            target_fpir=target_fpir, embedder=embedder, store=not dry_run,
                            force=force, progress=bar)
    data = cal.summary()
    if plot_path:
        data["plot"] = str(plot_roc(cal, plot_path))
    if not as_json:
        for w in cal.warnings:
            click.echo(f"warning: {w}", err=True)
    emit(data, as_json, lambda d: cal.line() + (f"\nROC curve: {d['plot']}" if "plot" in d
                                                else "")
         + ("\nstored in the catalog: `faceatlas who` uses it" if cal.stored
            else "\nnot stored"))


@main.command()
@click.argument("query")
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--min-similarity", type=click.FloatRange(-1, 1), default=None,
              help="Drop faces below this cosine similarity.")
@click.option("--embedder", default=None, help="Default: the catalog's (sface).")
@_index_option
@_exact_max_option
@json_option
@click.pass_context
def similar(ctx: click.Context, query: str, k: int, min_similarity: float | None,
            embedder: str | None, index_kind: str, exact_max: int | None,
            as_json: bool) -> None:
    """Faces most similar to QUERY: a photo, a face id, person:ID or a person's name."""
    from faceatlas.enroll import similar as run_similar

    with open_catalog(ctx) as cat:
        result = run_similar(cat, query, k=k, min_similarity=min_similarity,
                             embedder=embedder, index_kind=index_kind, exact_max=exact_max,
                             log=lambda m: click.echo(m, err=True))

    def text(r: dict[str, Any]) -> str:
        from faceatlas.enroll import IndexInfo

        lines = [IndexInfo(**r["index"]).line()]
        for q in r["queries"]:
            lines.append("query: " + ", ".join(f"{key} {v}" for key, v in q["query"].items()
                                               if key != "kind"))
            for res in q["results"]:
                who_ = (f"{res['person_id']} ({res['name']})" if res["name"]
                        else str(res["person_id"] or "-"))
                frame = f" [frame {res['frame_index']}]" if res["frame_index"] >= 0 else ""
                lines.append(f"  {res['similarity']:.3f}  face {res['face_id']:>6}  "
                             f"{who_:<20} {res['path']}{frame}")
            if not q["results"]:
                lines.append("  no faces")
        return "\n".join(lines)

    emit(result, as_json, text)


# -- classic methods (faceatlas.tabular, faceatlas.eigenfaces) -----------------------------
class _ListOptionsCommand(click.Command):
    """Lets ``--columns a b c`` and ``--values 0.5 -5`` take several words each.

    Click options take a fixed number of values; this rewrites the words after such an
    option (up to the next option; negative numbers are values) into repeated options.
    """

    list_options = ("--columns", "--values")

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        out: list[str] = []
        current: str | None = None
        for word in args:
            is_option = word.startswith("-") and len(word) > 1 and not _is_number(word)
            if word in self.list_options:
                current = word
                continue
            if is_option:
                current = None
            if current is not None:
                out += [current, word]
            else:
                out.append(word)
        return super().parse_args(ctx, out)


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _pca_text(d: dict[str, Any], n_rows: int) -> str:
    cols = d["columns"]
    lines = [f"{d['path']}: {d['n_rows']} rows, columns {', '.join(cols)}"
             + (f" (not numeric, skipped: {', '.join(d['skipped'])})" if d["skipped"] else ""),
             "singular values (of M / sqrt(n)): "
             + "  ".join(f"{s:.8f}" for s in d["singular_values"]),
             "explained variance ratio: "
             + "  ".join(f"{r:.4f}" for r in d["explained_variance_ratio"]),
             "components (rows; sign arbitrary):"]
    lines += [f"  P{i + 1}: (" + ", ".join(f"{v:.8f}" for v in c) + ")"
              for i, c in enumerate(d["components"])]
    lines.append(f"projections (first {min(n_rows, len(d['projections']))} rows; --json for "
                 "all):")
    for p in d["projections"][:n_rows]:
        lines.append(f"  {p['label'][:32]:<32} " + "  ".join(
            f"P{i + 1} {v:+.3f}" for i, v in enumerate(p["p"])))
    m = d.get("belongs")
    if m:
        lines.append(
            f"does {m['query']} belong? projection ("
            + ", ".join(f"{v:+.3f}" for v in m["projection"]) + ")")
        lines.append(f"  circle:  distance {m['distance']:.4f} vs radius {m['radius']:.4f} -> "
                     + ("inside" if m["in_circle"] else "outside"))
        lines.append(f"  ellipse: Mahalanobis {m['mahalanobis']:.4f} vs {m['threshold']:.4f} "
                     f"({100 * m['confidence']:g} % prediction ellipse) -> "
                     + ("inside" if m["in_ellipse"] else "outside"))
        lines.append("  belongs" if m["belongs"] else "  does not belong")
    if d.get("plot"):
        lines.append(f"plot: {d['plot']}")
    return "\n".join(lines)


@main.command(cls=_ListOptionsCommand)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--columns", multiple=True,
              help="Numeric columns to use (several words) [default: every numeric one].")
@click.option("--standardize", is_flag=True, help="Also divide columns by their std.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="Draw the data, component axes, circle and prediction ellipse.")
@click.option("--belongs", "belongs_row", default=None,
              help="A row (1-based number or label) to test: does it belong?")
@click.option("--values", multiple=True, type=float,
              help="A new point to test, one value per column (several words).")
@click.option("--radius", type=click.FloatRange(min=0), default=None,
              help="Circle radius [default: the farthest row's distance].")
@click.option("--confidence", default=0.95, show_default=True,
              type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Level of the prediction ellipse.")
@click.option("--rows", "n_rows", default=10, show_default=True, type=click.IntRange(min=0),
              help="Projections shown (text output).")
@json_option
def pca(file: str, columns: tuple[str, ...], standardize: bool, plot_path: str | None,
        belongs_row: str | None, values: tuple[float, ...], radius: float | None,
        confidence: float, n_rows: int, as_json: bool) -> None:
    """PCA of the numeric columns of a CSV file, and "does this row belong?" (the talk)."""
    from faceatlas.tabular import belongs, load_table, pca_walkthrough, plot_walkthrough

    if belongs_row is not None and values:
        raise click.UsageError("give --belongs or --values, not both")
    table = load_table(file, list(columns) or None)
    model = pca_walkthrough(table, standardize=standardize)
    data: dict[str, Any] = {"path": file, "n_rows": len(table.values),
                            "skipped": list(table.skipped), **model.to_dict()}
    point = None
    if belongs_row is not None:
        if belongs_row.isdigit() and 1 <= int(belongs_row) <= len(table.values):
            i = int(belongs_row) - 1
        elif belongs_row in table.labels:
            i = table.labels.index(belongs_row)
        else:
            raise click.BadParameter(f"no row {belongs_row!r}: give a number in 1.."
                                     f"{len(table.values)} or a label", param_hint="--belongs")
        point = table.values[i]
        query = f"row {i + 1} ({table.labels[i]})"
    elif values:
        point = [float(v) for v in values]
        query = "(" + ", ".join(f"{v:g}" for v in values) + ")"
    if point is not None:
        m = belongs(point, model, radius=radius, confidence=confidence)
        data["belongs"] = {"query": query, **m.to_dict()}
    if plot_path:
        data["plot"] = str(plot_walkthrough(model, plot_path, point=point, radius=radius,
                                            confidence=confidence))
    emit(data, as_json, lambda d: _pca_text(d, n_rows))


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--embedder", default="pixels", show_default=True, type=click.Choice(["pixels"]),
              help="Whose catalogued vectors (only pixel vectors are images).")
@click.option("-n", "n_eigenfaces", default=16, show_default=True, type=click.IntRange(min=1),
              help="Eigenfaces in the grid.")
@click.option("--components", "n_components", default=100, show_default=True,
              type=click.IntRange(min=1), help="Eigenfaces fitted.")
@json_option
@click.pass_context
def eigenfaces(ctx: click.Context, out_dir: str, embedder: str, n_eigenfaces: int,
               n_components: int, as_json: bool) -> None:
    """Save the mean face, eigenfaces, explained variance and reconstructions to OUT_DIR.

    Needs a catalog scanned with `--embedder pixels`.
    """
    from faceatlas.eigenfaces import eigenface_figures

    with open_catalog(ctx) as cat:
        data = eigenface_figures(cat, out_dir, embedder=embedder, n_eigenfaces=n_eigenfaces,
                                 n_components=n_components)
    ratio = data["explained_variance_ratio"]
    emit(data, as_json, lambda d: "\n".join(
        [f"{d['n_faces']} faces of {d['image_shape'][0]}x{d['image_shape'][1]} pixels, "
         f"{d['n_components']} eigenfaces explain {100 * sum(ratio):.1f} % of the variance "
         f"(first: {100 * ratio[0]:.1f} %)"] + [f"  {k}: {v}" for k, v in d["files"].items()]))


def _nearest_text(d: dict[str, Any]) -> str:
    lines = [f"embedder {d['embedder']}"
             + (f" ({d['n_components']} eigenfaces)" if d["n_components"] else "")
             + f", {d['n_faces']} catalogued faces; same person at distance <= "
             f"{1 - d['threshold']:.4f} ({d['threshold_source']}); same image at <= "
             f"{d['same_image_distance']:g}"]
    for f in d["files"]:
        if f.get("error"):
            lines.append(f"{f['file']}: {f['error']}")
        elif not f["faces"]:
            lines.append(f"{f['file']}: no faces found")
        for face in f["faces"]:
            what = {"same_image": "same image", "known_person": "known person",
                    "stranger": "stranger"}[face["outcome"]]
            who_ = f" ({face['person']})" if face["person"] else ""
            lines.append(f"{f['file']}: {what}; nearest face {face['face_id']}{who_} "
                         f"{face['path']}, distance {face['distance']:.4f}")
    return "\n".join(lines)


@main.command()
@click.argument("photos", nargs=-1, required=True, type=click.Path())
@click.option("--embedder", default="pixels", show_default=True,
              type=click.Choice(["pixels", "sface", "dlib", "landmarks", "cnn"]),
              help="pixels compares eigenface projections, as the talk did.")
@click.option("--detector", default=None,
              type=click.Choice(["yunet", "dlib-hog", "dlib-cnn", "haar", "whole-image"]),
              help="[default: the one the catalog was scanned with]")
@click.option("--cropped", is_flag=True, help="Each photo is one already-cropped face.")
@click.option("--components", "n_components", default=100, show_default=True,
              type=click.IntRange(min=1), help="Eigenfaces (pixels).")
@click.option("--threshold", type=click.FloatRange(-1, 1), default=None,
              help="Same-person cosine similarity [default: published for sface/dlib, "
                   "else the catalog's median nearest-neighbour similarity].")
@click.option("--same-image-distance", default=1e-4, show_default=True,
              type=click.FloatRange(0, 1, max_open=True),
              help="Cosine distance up to which a face is the same image.")
@json_option
@click.pass_context
def nearest(ctx: click.Context, photos: tuple[str, ...], embedder: str, detector: str | None,
            cropped: bool, n_components: int, threshold: float | None,
            same_image_distance: float, as_json: bool) -> None:
    """Nearest catalogued face of each face in PHOTOS: same image, known person or stranger."""
    from faceatlas.eigenfaces import nearest as run_nearest

    with open_catalog(ctx) as cat:
        data = run_nearest(cat, photos, embedder=embedder,
                           detector="whole-image" if cropped else detector,
                           n_components=n_components, threshold=threshold,
                           same_image_distance=same_image_distance)
    emit(data, as_json, _nearest_text)


# -- labels and evaluation (faceatlas.labels, faceatlas.scoring) ---------------------------
_multi_face_option = click.option(
    "--multi-face", type=click.Choice(["skip", "largest"]), default="skip", show_default=True,
    help="A labelled photo with several faces: leave its faces out, or give a one-person "
         "label to its largest face.")


@main.group()
def label() -> None:
    """Ground-truth labels (who is in each photo), for `faceatlas eval` and `compare`."""


@label.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--path-column", default=None,
              help="Column with photo paths or file names [default: path, file name, ...].")
@click.option("--identity-column", default=None,
              help="Column with the person [default: identity, person, name, id, ...].")
@click.option("--sheet", default=None, help="Sheet of an .xlsx workbook [default: first].")
@click.option("--drop", multiple=True, metavar="COL=VAL",
              help="Leave out rows where COL is VAL (COL!=VAL: where it is not); repeatable.")
@click.option("--replace", is_flag=True, help="Forget every stored label first.")
@json_option
@click.pass_context
def label_import(ctx: click.Context, file: str, path_column: str | None,
                 identity_column: str | None, sheet: str | None, drop: tuple[str, ...],
                 replace: bool, as_json: bool) -> None:
    """Import labels from a CSV file or an Excel sheet (path and identity columns)."""
    from faceatlas.labels import import_labels, read_label_table

    rows = read_label_table(file, path_column=path_column, identity_column=identity_column,
                            sheet=sheet, drop=drop)
    with open_catalog(ctx) as cat:
        summary = import_labels(cat, rows, replace=replace)
    emit(summary.to_dict(), as_json, lambda _: summary.line())


@label.command("import-folders")
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@click.option("--replace", is_flag=True, help="Forget every stored label first.")
@json_option
@click.pass_context
def label_import_folders(ctx: click.Context, root: str, replace: bool, as_json: bool) -> None:
    """Import labels from folder names: ROOT/person/photo.jpg shows `person`."""
    from faceatlas.labels import import_labels, read_label_folders

    rows = read_label_folders(root)
    with open_catalog(ctx) as cat:
        summary = import_labels(cat, rows, replace=replace)
    emit(summary.to_dict(), as_json, lambda _: summary.line())


@label.command("status")
@_multi_face_option
@json_option
@click.pass_context
def label_status(ctx: click.Context, multi_face: str, as_json: bool) -> None:
    """How many photos and faces are labelled, and from which sources."""
    with open_catalog(ctx) as cat:
        data = {"faces": cat.label_counts(multi_face=multi_face),
                "sources": cat.label_sources()}
    emit(data, as_json, lambda d: "\n".join(
        [", ".join(f"{v} {k.replace('_', ' ')}" for k, v in d["faces"].items())]
        + [f"  {s['photos']} photos from {s['source']} ({s['imported_at']})"
           for s in d["sources"]]))


@label.command("clear")
@json_option
@click.pass_context
def label_clear(ctx: click.Context, as_json: bool) -> None:
    """Forget every stored label."""
    with open_catalog(ctx) as cat:
        n = cat.clear_labels()
    emit({"removed": n}, as_json, lambda d: f"removed {d['removed']} labels")


_REPORT_NAMES = [("pairwise_precision", "pairwise precision"),
                 ("pairwise_recall", "pairwise recall"), ("pairwise_f", "pairwise F"),
                 ("bcubed_precision", "BCubed precision"), ("bcubed_recall", "BCubed recall"),
                 ("bcubed_f", "BCubed F"), ("nmi", "NMI"), ("ari", "ARI"),
                 ("accuracy", "accuracy (Hungarian)"), ("weighted_f1", "weighted F1")]


@main.command("eval")
@_multi_face_option
@json_option
@click.pass_context
def eval_(ctx: click.Context, multi_face: str, as_json: bool) -> None:
    """Score the catalog's current people against the imported labels."""
    from faceatlas.scoring import evaluate_people

    with open_catalog(ctx) as cat:
        rep = evaluate_people(cat, multi_face=multi_face)

    def text(r: dict[str, Any]) -> str:
        f = r["faces"]
        lines = [f"{r['n_faces']} labelled faces of {r['n_people']} people in "
                 f"{r['n_clusters']} catalog people, {r['n_unassigned']} unassigned "
                 f"(scored as singletons); left out: {f['ambiguous']} ambiguous faces "
                 f"(multi-face photos), {f['unlabelled']} unlabelled"]
        lines += [f"  {name:<22} {r[key]:.4f}" for key, name in _REPORT_NAMES]
        if r["last_cluster_run"]:
            s = r["last_cluster_run"]
            lines.append(f"people from: {s.get('embedder')} + {s.get('method')}, threshold "
                         f"{s.get('threshold')}")
        return "\n".join(lines)

    emit(rep, as_json, text)


def _split_list(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


_COMPARE_COLUMNS = [("pairwise_precision", "pP"), ("pairwise_recall", "pR"),
                    ("pairwise_f", "pF"), ("bcubed_precision", "bP"),
                    ("bcubed_recall", "bR"), ("bcubed_f", "bF"), ("nmi", "NMI"),
                    ("ari", "ARI"), ("accuracy", "acc"), ("weighted_f1", "wF1"),
                    ("default", "bF@def"), ("seconds", "s")]


def _compare_text(d: dict[str, Any]) -> str:
    f = d["faces"]
    config = [f"{r['embedder']} + {r['method']}" for r in d["rows"]]
    w = max(len(c) for c in config + ["configuration"])
    head = f"{'configuration':<{w}}  {'thr':>6}" + "".join(f" {n:>7}" for _, n in
                                                          _COMPARE_COLUMNS)
    lines = [f"{f['labelled']} labelled faces of {f['people']} people (left out: "
             f"{f['ambiguous']} ambiguous, {f['unlabelled']} unlabelled); * = best in column",
             head, "-" * len(head)]
    for i, (r, c) in enumerate(zip(d["rows"], config, strict=True)):
        thr = "-" if r["threshold"] is None else f"{r['threshold']:.3f}"
        cells = []
        for key, _ in _COMPARE_COLUMNS:
            v = r[key]
            s = "-" if v is None else (f"{v:.3f}" if key == "seconds" else f"{v:.4f}")
            cells.append(f" {s + ('*' if i in d['best'].get(key, ()) else ' '):>7}")
        lines.append(f"{c:<{w}}  {thr:>6}" + "".join(cells))
    lines += ["", "p = pairwise, b = BCubed, P/R/F = precision/recall/F; acc = accuracy after "
              "Hungarian matching; wF1 = weighted F1; bF@def = BCubed F at the embedder's "
              "own threshold; thr = best threshold of the sweep (chosen on these labels, so "
              "optimistic for few labels)"]
    lines += [f"skipped: {s}" for s in d["skipped"]]
    rec = d["recommendation"]
    lines.append(f"recommended: {rec['text']} (BCubed F {rec['score']:.4f})"
                 + ("; apply it with `faceatlas cluster --all --use-recommended`"
                    if d.get("stored") else ""))
    return "\n".join(lines)


@main.command()
@click.option("--embedders", default=None, metavar="A,B",
              help="Embedders to compare [default: every one the catalog has].")
@click.option("--methods", default=None, metavar="A,B",
              help="Clustering methods [default: all of faceatlas.cluster.METHODS].")
@click.option("--thresholds", default=None, metavar="T1,T2",
              help="Cosine thresholds to sweep [default: 7 around each embedder's own].")
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False),
              help="Save a bar chart of the configurations (PNG).")
@click.option("--no-store", is_flag=True, help="Do not store the recommendation.")
@_multi_face_option
@json_option
@click.pass_context
def compare(ctx: click.Context, embedders: str | None, methods: str | None,
            thresholds: str | None, chart_path: str | None, no_store: bool,
            multi_face: str, as_json: bool) -> None:
    """Every embedder x clustering method on the labelled faces; recommends the best."""
    from faceatlas.scoring import compare_configurations, save_comparison_chart

    try:
        thr = None if thresholds is None else [float(t) for t in _split_list(thresholds) or []]
    except ValueError:
        raise click.BadParameter(f"must be numbers separated by commas, got {thresholds!r}",
                                 param_hint="--thresholds") from None
    with open_catalog(ctx) as cat, progress_bar("clustering") as bar:
        result = compare_configurations(cat, embedders=_split_list(embedders),
                                        methods=_split_list(methods), thresholds=thr,
                                        multi_face=multi_face, store=not no_store,
                                        progress=bar)
    data = result.to_dict()
    data["stored"] = not no_store
    if chart_path:
        data["chart"] = str(save_comparison_chart(result, chart_path))
    emit(data, as_json, lambda d: _compare_text(d)
         + (f"\nchart: {d['chart']}" if "chart" in d else ""))


@main.command("eval-pairs")
@click.argument("pairs_file", type=click.Path(exists=True, dir_okay=False))
@click.argument("image_root", type=click.Path(exists=True, file_okay=False))
@click.option("--embedder", default="sface", show_default=True)
@click.option("--detector", default="yunet", show_default=True)
@click.option("--folds", "n_folds", default=10, show_default=True, type=click.IntRange(min=2),
              help="Folds when the file declares none (pairs.txt declares 10).")
@click.option("--jobs", default=0, show_default=True, type=click.IntRange(min=0),
              help="Worker processes (0: every core).")
@json_option
@click.pass_context
def eval_pairs(ctx: click.Context, pairs_file: str, image_root: str, embedder: str,
               detector: str, n_folds: int, jobs: int, as_json: bool) -> None:
    """LFW-style verification: accuracy over 10 folds of PAIRS_FILE (pairs.txt layout).

    Embeddings are cached in the catalog when --db (or FACEATLAS_DB) is given, else kept
    in memory for this run only.
    """
    from click.core import ParameterSource

    from faceatlas.scoring import evaluate_pairs

    parent = ctx.parent
    given = parent is not None and parent.get_parameter_source("db") not in (
        ParameterSource.DEFAULT, None)
    cat = open_catalog(ctx) if given else None
    try:
        with progress_bar("embedding") as bar:
            result = evaluate_pairs(pairs_file, image_root, embedder=embedder,
                                    detector=detector, catalog=cat, n_folds=n_folds,
                                    jobs=jobs, progress=bar)
    finally:
        if cat is not None:
            cat.close()
    emit(result.to_dict(), as_json, lambda _: result.line())


# -- report and gallery (faceatlas.report, faceatlas.web) ----------------------------------
@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--limit-per-person", default=24, show_default=True, type=click.IntRange(min=1),
              help="Face chips on each person's contact sheet (the rest: 'N more').")
@click.option("--embedder", default=None, help="Vectors for the methods page [default: sface].")
@click.option("--hidden", "include_hidden", is_flag=True, help="Include hidden people.")
@click.option("--no-methods", is_flag=True, help="Skip the methods page's figures.")
@click.option("--jobs", "-j", default=0, type=click.IntRange(min=0),
              help="Worker processes for thumbnails [default: every core].")
@json_option
@click.pass_context
def report(ctx: click.Context, out_dir: str, limit_per_person: int, embedder: str | None,
           include_hidden: bool, no_methods: bool, jobs: int, as_json: bool) -> None:
    """Write a static HTML report of the people to OUT_DIR (open OUT_DIR/index.html)."""
    from faceatlas.report import write_report

    with open_catalog(ctx) as cat, progress_bar("thumbnails") as bar:
        summary = write_report(cat, out_dir, limit_per_person=limit_per_person,
                               embedder=embedder, include_hidden=include_hidden,
                               methods=not no_methods, n_jobs=jobs or None, progress=bar)
    emit(summary.to_dict(), as_json, lambda _: summary.line())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but 127.0.0.1 exposes the gallery.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535))
@click.option("--max-upload-mb", default=20, show_default=True, type=click.IntRange(min=1),
              help="Largest photo accepted by search.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, max_upload_mb: int) -> None:
    """Browse, correct and search the catalog in a local web gallery."""
    from faceatlas.web import serve as run_server

    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {host}: other machines can see and change this "
                   "catalog", err=True)
    click.echo(f"faceatlas gallery on http://{host}:{port}/ (Ctrl-C to stop)", err=True)
    run_server(ctx.obj["db"], host=host, port=port,
               max_upload_bytes=max_upload_mb * 1024 * 1024)


if __name__ == "__main__":  # pragma: no cover
    main()
