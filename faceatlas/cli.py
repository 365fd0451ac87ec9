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
              help="Number of people for k-means (implies --method kmeans).")
@click.option("--all", "all_faces", is_flag=True,
              help="Re-cluster every face, not only the new ones (corrections still hold).")
@click.option("--embedder", default="sface", show_default=True)
@click.option("--min-faces", type=click.IntRange(min=1), default=None,
              help="Fewest faces of a listed person [default: from the number of faces].")
@click.option("--threshold", type=click.FloatRange(-1, 1), default=None,
              help="Same-person cosine similarity [default: the embedder's].")
@json_option
@click.pass_context
def cluster(ctx: click.Context, method: str | None, k: str | None, all_faces: bool,
            embedder: str, min_faces: int | None, threshold: float | None,
            as_json: bool) -> None:
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
@click.option("--csv", "as_csv", is_flag=True,
              help="face_recognition's CLI lines: file,name,distance.")
@json_option
@click.pass_context
def who(ctx: click.Context, photos: tuple[str, ...], threshold: float | None,
        same_image_threshold: float, embedder: str | None, detector: str, cropped: bool,
        video_every_s: float, index_kind: str, as_csv: bool, as_json: bool) -> None:
    """Say who is in PHOTOS (or videos): same image, known person, or stranger."""
    from faceatlas.enroll import who as run_who
    from faceatlas.enroll import who_csv_lines

    with open_catalog(ctx) as cat:
        result = run_who(cat, photos, embedder=embedder, detector=detector, cropped=cropped,
                         threshold=threshold, same_image_threshold=same_image_threshold,
                         video_every_s=video_every_s, index_kind=index_kind,
                         log=lambda m: click.echo(m, err=True))
    if as_csv:
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
              help="Largest acceptable false-match rate.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="Save the ROC curve as an image.")
@click.option("--embedder", default=None, help="Default: the catalog's (sface).")
@click.option("--dry-run", is_flag=True, help="Measure only; do not store the threshold.")
@click.option("--force", is_flag=True,
              help="Store even with too few pairs to measure the target FMR.")
@json_option
@click.pass_context
def calibrate(ctx: click.Context, pairs_file: str | None, root: str | None, target_fmr: float,
              plot_path: str | None, embedder: str | None, dry_run: bool, force: bool,
              as_json: bool) -> None:
    """Choose the same-person threshold for a target false-match rate, and store it."""
    from faceatlas.enroll import calibrate as run_calibrate
    from faceatlas.enroll import plot_roc

    with open_catalog(ctx) as cat, progress_bar("embedding pairs") as bar:
        cal = run_calibrate(cat, pairs_file, root=root, target_fmr=target_fmr,
                            embedder=embedder, store=not dry_run, force=force, progress=bar)
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
@json_option
@click.pass_context
def similar(ctx: click.Context, query: str, k: int, min_similarity: float | None,
            embedder: str | None, index_kind: str, as_json: bool) -> None:
    """Faces most similar to QUERY: a photo, a face id, person:ID or a person's name."""
    from faceatlas.enroll import similar as run_similar

    with open_catalog(ctx) as cat:
        result = run_similar(cat, query, k=k, min_similarity=min_similarity,
                             embedder=embedder, index_kind=index_kind,
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


if __name__ == "__main__":  # pragma: no cover
    main()
