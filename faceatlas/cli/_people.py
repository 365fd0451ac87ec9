"""People and corrections: cluster, elbow, people, person, name, merge, split, move,
reject, hide, undo, suggest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from faceatlas.cli._common import embedder_option, emit, json_option, library_option, open_catalog


# -- people (faceatlas.people) -------------------------------------------------------------
def _short_path(path: str | None) -> str:
    """A path relative to the working folder when it lies inside it."""
    if not path:
        return ""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


def _taken(taken: str | None, guess: bool) -> str:
    """A photo's date and time to the minute; "?" marks a file time taken as a guess."""
    if not taken:
        return "-"
    return str(taken)[:16].replace("T", " ") + ("?" if guess else "")


def _person_label(pid: Any, name: str | None) -> str:
    return f"{pid} ({name})" if name else str(pid)


@click.command()
@library_option(
    "--method",
    default=None,
    resolve=False,
    default_from=("faceatlas.cluster", "DEFAULT_METHOD"),
    metavar="NAME",
    names_from=("faceatlas.cluster", "METHODS"),
    help="Clustering method (`faceatlas compare` measures them on your labels).",
)
@click.option(
    "--k",
    "k",
    default=None,
    metavar="N|auto",
    help="Number of people for k-means (implies --method kmeans and --all).",
)
@click.option(
    "--all",
    "all_faces",
    is_flag=True,
    help="Re-cluster every face, not only the new ones (corrections still hold).",
)
@embedder_option()
@click.option(
    "--min-faces",
    type=click.IntRange(min=1),
    default=None,
    help="Fewest faces of a listed person [default: from the number of faces].",
)
@click.option(
    "--threshold",
    type=click.FloatRange(-1, 1),
    default=None,
    help="Same-person cosine similarity [default: the embedder's].",
)
@click.option(
    "--use-recommended",
    is_flag=True,
    help="Embedder, method and threshold recommended by `faceatlas compare` "
    "(options given explicitly still win).",
)
@json_option
@click.pass_context
def cluster(
    ctx: click.Context,
    method: str | None,
    k: str | None,
    all_faces: bool,
    embedder: str,
    min_faces: int | None,
    threshold: float | None,
    use_recommended: bool,
    as_json: bool,
) -> None:
    """Group faces into people; new faces join existing people first (see --all)."""
    from faceatlas.people import cluster_people

    k_value: int | str | None = k
    if k is not None and k != "auto":
        try:
            k_value = int(k)
        except ValueError:
            raise click.BadParameter(
                f"must be an int or 'auto', got {k!r}", param_hint="--k"
            ) from None
    with open_catalog(ctx) as cat:
        if use_recommended:
            from faceatlas.evaluation import recommended_settings

            rec = recommended_settings(cat)
            if ctx.get_parameter_source("embedder") == click.core.ParameterSource.DEFAULT:
                embedder = rec["embedder"]
            if method is None and k is None:
                method = rec["method"]
                threshold = rec["threshold"] if threshold is None else threshold
        summary = cluster_people(
            cat,
            embedder,
            method,
            all=all_faces,
            k=k_value,
            min_faces=min_faces,
            threshold=threshold,
        )
    emit(summary.to_dict(), as_json, lambda _: summary.line())


@click.command()
@click.argument("out", type=click.Path(dir_okay=False))
@embedder_option()
@json_option
@click.pass_context
def elbow(ctx: click.Context, out: str, embedder: str, as_json: bool) -> None:
    """Save the k-means inertia and silhouette curve over k as a plot (PNG)."""
    from faceatlas.people import elbow_curve, save_elbow_plot

    with open_catalog(ctx) as cat:
        curve = elbow_curve(cat, embedder)
    save_elbow_plot(curve, out)
    emit(
        {**curve, "plot": out},
        as_json,
        lambda c: (
            f"elbow at k={c['elbow_k']}, best silhouette near it at k={c['best_k']} "
            f"({c['n_faces']} faces); plot saved to {out}"
        ),
    )


@click.command()
@click.option("--hidden", "include_hidden", is_flag=True, help="Include hidden people.")
@json_option
@click.pass_context
def people(ctx: click.Context, include_hidden: bool, as_json: bool) -> None:
    """List people (most faces first), then the small unsorted groups."""
    from faceatlas.people import list_people

    with open_catalog(ctx) as cat:
        data = list_people(cat, include_hidden=include_hidden)

    def text(d: dict[str, Any]) -> str:
        lines = [
            f"{len(d['people'])} people, {len(d['unsorted'])} unsorted groups "
            f"(< {d['min_faces']} faces), {d['n_unassigned']} unassigned faces, "
            f"{d['n_faces']} faces in all" + (f"; {d['n_hidden']} hidden" if d["n_hidden"] else "")
        ]
        for title, rows in (("people", d["people"]), ("unsorted", d["unsorted"])):
            if not rows:
                continue
            lines.append(f"{title}:")
            lines += [
                f"  {r['id']:>5}  {(r['name'] or '-')[:24]:<24} {r['n_faces']:>5} faces"
                + (f" ({r['n_confirmed']} confirmed)" if r["n_confirmed"] else "")
                + (" [hidden]" if r["hidden"] else "")
                + f"  e.g. {_short_path(r['example'])}"
                for r in rows[:50]
            ]
            if len(rows) > 50:
                lines.append(f"  ... and {len(rows) - 50} more (see --json)")
        return "\n".join(lines)

    emit(data, as_json, text)


@click.command()
@click.argument("person_id", metavar="PERSON")
@json_option
@click.pass_context
def person(ctx: click.Context, person_id: str, as_json: bool) -> None:
    """One person (id or name): name, faces (photo, date, box, source) and rejected faces.

    A photo's date is its capture time; a file time, shown when the photo has none, ends
    with "?" (``taken_guess`` in --json).
    """
    from faceatlas.people import find_person, person_detail

    with open_catalog(ctx) as cat:
        data = person_detail(cat, find_person(cat, person_id))

    def text(d: dict[str, Any]) -> str:
        head = (
            f"person {d['id']}: {d['name'] or '(no name)'}, {d['n_faces']} faces, "
            f"{d['n_confirmed']} confirmed" + (" [hidden]" if d["hidden"] else "")
        )
        rows = [
            f"  face {f['face_id']:>6}  {f['source']:<7}{'*' if f['confirmed'] else ' '} "
            f"{_taken(f['taken'], f['taken_guess']):<17} {_short_path(f['path'])}"
            + (" [reference]" if f.get("reference") else "")
            + (f" [frame {f['frame_index']}]" if f["frame_index"] >= 0 else "")
            for f in d["faces"]
        ]
        if d["rejected_faces"]:
            rows.append(f"  not this person: faces {', '.join(map(str, d['rejected_faces']))}")
        return "\n".join([head, *rows])

    emit(data, as_json, text)


@click.command()
@click.argument("person_id", metavar="PERSON")
@click.argument("name")
@click.option(
    "--merge",
    "merge_same",
    is_flag=True,
    help="If another person has this name, they are one person: merge this one into it.",
)
@json_option
@click.pass_context
def name(ctx: click.Context, person_id: str, name: str, merge_same: bool, as_json: bool) -> None:
    """Name a person, by id or name ("" clears the name); its faces become confirmed."""
    from faceatlas.people import find_person, name_person

    with open_catalog(ctx) as cat:
        data = name_person(cat, find_person(cat, person_id), name, merge=merge_same)
    emit(data, as_json, lambda d: f"person {d['id']} is now {d['name'] or '(no name)'}")


@click.command()
@click.argument("person_a", metavar="PERSON_A")
@click.argument("person_b", metavar="PERSON_B")
@json_option
@click.pass_context
def merge(ctx: click.Context, person_a: str, person_b: str, as_json: bool) -> None:
    """PERSON_B is PERSON_A (ids or names): move all of B's faces to A (confirmed)."""
    from faceatlas.people import find_person, merge_people

    with open_catalog(ctx) as cat:
        data = merge_people(cat, find_person(cat, person_a), find_person(cat, person_b))
    emit(
        data,
        as_json,
        lambda d: (
            f"merged person {d['merged']} into {_person_label(d['id'], d['name'])}: "
            f"{d['n_faces']} faces"
            + (
                f"; unassigned faces {d['dropped']} (same photo as another face of this person)"
                if d["dropped"]
                else ""
            )
        ),
    )


@click.command()
@click.argument("person_id", metavar="PERSON")
@click.option(
    "--parts",
    type=click.IntRange(min=2),
    default=None,
    help="Split into this many parts with k-means [default: what clustering finds].",
)
@embedder_option()
@json_option
@click.pass_context
def split(
    ctx: click.Context, person_id: str, parts: int | None, embedder: str, as_json: bool
) -> None:
    """Re-cluster inside one person (id or name); each part becomes a person (confirmed)."""
    from faceatlas.people import find_person, split_person

    with open_catalog(ctx) as cat:
        data = split_person(cat, find_person(cat, person_id), n_parts=parts, embedder=embedder)
    emit(
        data,
        as_json,
        lambda d: (
            f"split person {d['person']} into parts of {d['parts']} faces; new people: "
            f"{', '.join(map(str, d['new_people'])) or 'none'}"
            + (f"; {len(d['unassigned'])} faces unassigned" if d["unassigned"] else "")
        ),
    )


@click.command()
@click.argument("face_id", type=int)
@click.argument("person_id", metavar="PERSON|new")
@json_option
@click.pass_context
def move(ctx: click.Context, face_id: int, person_id: str, as_json: bool) -> None:
    """FACE is PERSON (id or name, or a new person): move it there, confirmed."""
    from faceatlas.people import find_person, move_face

    with open_catalog(ctx) as cat:
        target = None if person_id == "new" else find_person(cat, person_id)
        data = move_face(cat, face_id, target)
    emit(
        data,
        as_json,
        lambda d: (
            f"face {d['face']} is now person {d['person']}"
            + (f" (was {d['from']})" if d["from"] is not None else "")
            + (f"; unassigned faces {d['displaced']} of the same photo" if d["displaced"] else "")
        ),
    )


@click.command()
@click.argument("face_id", type=int)
@click.argument("person_id", metavar="PERSON")
@json_option
@click.pass_context
def reject(ctx: click.Context, face_id: int, person_id: str, as_json: bool) -> None:
    """FACE is not PERSON (id or name): take it out, and never put it back."""
    from faceatlas.people import find_person, reject_face

    with open_catalog(ctx) as cat:
        data = reject_face(cat, face_id, find_person(cat, person_id))
    emit(
        data,
        as_json,
        lambda d: (
            f"face {d['face']} is not person {d['person']}"
            + ("; it is now unassigned" if d["was_assigned"] else "")
        ),
    )


@click.command()
@click.argument("person_id", metavar="PERSON")
@click.option("--unhide", is_flag=True, help="Show the person again.")
@json_option
@click.pass_context
def hide(ctx: click.Context, person_id: str, unhide: bool, as_json: bool) -> None:
    """Hide a person (id or name) from listings (its faces stay with it)."""
    from faceatlas.people import find_person, hide_person

    with open_catalog(ctx) as cat:
        data = hide_person(cat, find_person(cat, person_id), hidden=not unhide)
    emit(data, as_json, lambda d: f"person {d['id']} is " + ("hidden" if d["hidden"] else "shown"))


@click.command()
@json_option
@click.pass_context
def undo(ctx: click.Context, as_json: bool) -> None:
    """Revert the last correction (name, merge, split, move, reject, hide, dismiss...)."""
    from faceatlas.people import undo as undo_last

    with open_catalog(ctx) as cat:
        data = undo_last(cat)
    emit(
        data,
        as_json,
        lambda d: (
            "nothing to undo" if d is None else f"undid {d['kind']} #{d['id']} of {d['created_at']}"
        ),
    )


@click.command()
@click.option(
    "--dismiss",
    nargs=2,
    default=None,
    metavar="A B",
    help="A and B (ids or names) are different people: never suggest them again.",
)
@click.option(
    "--confirm",
    nargs=2,
    default=None,
    metavar="A B",
    help="A and B (ids or names) are one person: merge B into A.",
)
@click.option(
    "--lookalikes",
    is_flag=True,
    help="List named people whose faces are close, and the faces between them.",
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@embedder_option()
@json_option
@click.pass_context
def suggest(
    ctx: click.Context,
    dismiss: tuple[str, str] | None,
    confirm: tuple[str, str] | None,
    lookalikes: bool,
    limit: int,
    embedder: str,
    as_json: bool,
) -> None:
    """Pairs of people that may be the same person, most likely first."""
    from faceatlas.people import (
        confirm_suggestion,
        dismiss_suggestion,
        find_person,
        suggest_merges,
    )

    if dismiss and confirm:
        raise click.UsageError("give --dismiss or --confirm, not both")
    if lookalikes:
        if dismiss or confirm:
            raise click.UsageError("--lookalikes lists pairs; give it without --dismiss/--confirm")
        _lookalikes(ctx, embedder, limit, as_json)
        return
    with open_catalog(ctx) as cat:
        if dismiss:
            data: Any = dismiss_suggestion(cat, *(find_person(cat, p) for p in dismiss))
        elif confirm:
            a, b = (find_person(cat, p) for p in confirm)
            data = confirm_suggestion(cat, a, b, embedder=embedder)
        else:
            data = suggest_merges(cat, embedder, limit=limit)

    def text(d: Any) -> str:
        if dismiss:
            return f"persons {d['person_a']} and {d['person_b']} will not be suggested again"
        if confirm:
            return f"merged person {d['merged']} into {_person_label(d['id'], d['name'])}"
        if not d:
            return "no merge suggestions"
        return (
            "\n".join(
                f"{_person_label(s['person_a'], s['name_a']):>16} + "
                f"{_person_label(s['person_b'], s['name_b']):<16}  closest faces "
                f"{s['closest_similarity']:.3f} (faces {s['closest_faces'][0]}, "
                f"{s['closest_faces'][1]}), centres {s['centroid_similarity']:.3f}"
                for s in d
            )
            + f"\nthreshold {d[0]['threshold']:.4f} ({d[0]['threshold_source']})"
            + "\n(faceatlas suggest --confirm A B  |  --dismiss A B)"
        )

    emit(data, as_json, text)


def _lookalikes(ctx: click.Context, embedder: str, limit: int, as_json: bool) -> None:
    """``suggest --lookalikes``: named people whose faces are close."""
    from faceatlas.people import lookalikes

    with open_catalog(ctx) as cat:
        data = lookalikes(cat, embedder, limit=limit)

    def text(d: Any) -> str:
        if not d:
            return "no look-alikes among the named people"
        lines = []
        for s in d:
            lines.append(
                f"{_person_label(s['person_a'], s['name_a'])} ~ "
                f"{_person_label(s['person_b'], s['name_b'])}: closest faces "
                f"{s['closest_similarity']:.3f} (faces {s['closest_faces'][0]}, "
                f"{s['closest_faces'][1]}), centres {s['centroid_similarity']:.3f}, "
                f"{len(s['faces_between'])} faces between them"
            )
            lines += [
                f"    face {f['face_id']} (person {'-' if f['person'] is None else f['person']})"
                f": {f['similarity_a']:.3f} / {f['similarity_b']:.3f}"
                for f in s["faces_between"]
            ]
        return "\n".join(lines)

    emit(data, as_json, text)
