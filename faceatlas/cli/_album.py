"""The album owner's commands: photos of people, export, and the review queue.

``photos --person`` (its options are added to ``photos`` of ``_scan``, which calls
:func:`list_photos` here), ``export`` and ``review``. Each parses, calls one function of
:mod:`faceatlas.album` or :mod:`faceatlas.people` (the review queue), and formats its answer.
"""

from __future__ import annotations

import csv
import sys
from typing import Any

import click

from faceatlas.cli._common import emit, json_option, open_catalog

PHOTO_CSV_COLUMNS = ["photo_id", "path", "frame_index", "date", "date_source", "faces", "people"]


# -- photos --person NAME --from --to ------------------------------------------------------
def _check_date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A bad date is a usage error naming the option (the library checks it again)."""
    from faceatlas.album import parse_date
    from faceatlas.exceptions import InputError

    name = f"--{str(param.name).removeprefix('date_')}"
    try:
        parse_date(value, name)
    except InputError as exc:  # click names the option itself
        raise click.BadParameter(str(exc).removeprefix(f"{name} ")) from None
    return value


def person_options(func: Any) -> Any:
    """``--person`` (repeatable), ``--from``, ``--to`` and ``--csv`` for ``photos``."""
    for option in reversed(
        [
            click.option(
                "--person",
                "persons",
                multiple=True,
                help="Only photos of this person (id or name); repeat for photos of all of them.",
            ),
            click.option(
                "--from",
                "date_from",
                default=None,
                callback=_check_date,
                help="Taken on or after this date: YYYY, YYYY-MM or YYYY-MM-DD.",
            ),
            click.option(
                "--to",
                "date_to",
                default=None,
                callback=_check_date,
                help="Taken on or before this date (the whole year, month or day).",
            ),
            click.option("--csv", "as_csv", is_flag=True, help="Output CSV."),
        ]
    ):
        func = option(func)
    return func


def list_photos(
    ctx: click.Context,
    persons: tuple[str, ...],
    date_from: str | None,
    date_to: str | None,
    limit: int | None,
    as_csv: bool,
    as_json: bool,
) -> None:
    """Photos of people (all of them together), by date: table, JSON or CSV."""
    from faceatlas.album import photos_of_people

    with open_catalog(ctx) as cat:
        rows = photos_of_people(cat, list(persons), date_from, date_to)
    if limit is not None:
        rows = rows[: max(limit, 0)]
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=PHOTO_CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "people": "; ".join(_who(p) for p in r["people"])})
        return

    def text(rs: list[dict[str, Any]]) -> str:
        if not rs:
            return "no photos" + (" of " + " and ".join(persons) if persons else "")
        lines = [
            f"{_date(r):<11} {r['faces']:>2} faces  "
            f"{', '.join(_who(p) for p in r['people']) or '-':<24} {r['path']}"
            + (f"  [frame {r['frame_index']}]" if r["frame_index"] >= 0 else "")
            for r in rs
        ]
        if any(r["date_source"] == "file" for r in rs):
            lines.append("~: date of the file (no capture date recorded)")
        return "\n".join([*lines, f"{len(rs)} photos"])

    emit(rows, as_json, text)


def _who(p: dict[str, Any]) -> str:
    return p["name"] or f"person {p['person_id']}"


def _date(r: dict[str, Any]) -> str:
    if not r["date"]:
        return "-"
    return ("~" if r["date_source"] == "file" else "") + r["date"][:10]


# -- export PERSON DIR ---------------------------------------------------------------------
@click.command()
@click.argument("person")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--copy", is_flag=True, help="Copy the photos instead of linking to them.")
@click.option("--by-date", is_flag=True, help="Put them in YYYY/MM folders by date.")
@click.option(
    "--from",
    "date_from",
    default=None,
    callback=_check_date,
    help="Taken on or after: YYYY[-MM[-DD]].",
)
@click.option(
    "--to",
    "date_to",
    default=None,
    callback=_check_date,
    help="Taken on or before: YYYY[-MM[-DD]].",
)
@json_option
@click.pass_context
def export(
    ctx: click.Context,
    person: str,
    folder: str,
    copy: bool,
    by_date: bool,
    date_from: str | None,
    date_to: str | None,
    as_json: bool,
) -> None:
    """Fill FOLDER with the photos of PERSON (id or name): symbolic links, or --copy.

    The originals are never changed; a file already in FOLDER is never overwritten.
    """
    from faceatlas.album import export_person

    with open_catalog(ctx) as cat:
        out = export_person(
            cat, person, folder, copy=copy, by_date=by_date, date_from=date_from, date_to=date_to
        )

    def text(d: dict[str, Any]) -> str:
        who = d["name"] or f"person {d['person_id']}"
        made = "copies" if d["mode"] == "copy" else "links"
        head = (
            f"{who}: {len(d['written'])} {made} written, {len(d['unchanged'])} already there, "
            f"{len(d['skipped'])} skipped, in {d['folder']}"
        )
        lines = [head]
        lines += [f"skipped {s['target']}: {s['reason']}" for s in d["skipped"][:20]]
        return "\n".join(lines)

    emit(out, as_json, text)


# -- review ------------------------------------------------------------------------------
@click.command()
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--embedder", default=None, help="Embedder whose vectors to compare.")
@json_option
@click.pass_context
def review(ctx: click.Context, limit: int, embedder: str | None, as_json: bool) -> None:
    """Answer the questions that improve the people most: y(es), n(o), s(kip), q(uit).

    "Is this X?" for faces whose person is uncertain, "Same person?" for merge suggestions.
    Every answer is stored as a correction (`faceatlas undo` reverts the last one). With
    --json, list the questions without asking.
    """
    from faceatlas.exceptions import FaceAtlasError
    from faceatlas.people import answer_review, review_questions

    with open_catalog(ctx) as cat:
        questions = review_questions(cat, limit, embedder=embedder)
        if as_json:
            emit(_with_paths(cat, questions), True)
            return
        if not questions:
            click.echo("nothing to review: every person is certain enough")
            return
        questions = _with_paths(cat, questions)
        counts = {"yes": 0, "no": 0, "skip": 0}
        for i, q in enumerate(questions, 1):
            click.echo(f"\n[{i}/{len(questions)}] {_question_text(q)}")
            click.echo(f"  {q['why']}")
            key = _read_key("  y = yes, n = no, s = skip, q = quit: ")
            if key == "q":
                break
            try:
                res = answer_review(cat, q, key)
            except FaceAtlasError as exc:  # an earlier answer changed this one's people
                click.echo(f"  skipped: {exc}")
                counts["skip"] += 1
                continue
            counts[res["answer"]] += 1
            click.echo("  stored" if res["stored"] else "  skipped")
    click.echo(
        f"\n{counts['yes']} yes, {counts['no']} no, {counts['skip']} skipped; answers are "
        "stored as corrections (`faceatlas undo` reverts the last)"
    )


def _with_paths(cat: Any, questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each question with its face's photo path and box, to show it."""
    ids = {q["face_id"] for q in questions} | {
        q["other_face_id"] for q in questions if "other_face_id" in q
    }
    faces = {f["id"]: f for f in cat.faces(sorted(ids))}
    out = []
    for q in questions:
        f = faces.get(q["face_id"], {})
        box = [round(float(f[k]), 1) for k in ("x1", "y1", "x2", "y2")] if f else None
        extra: dict[str, Any] = {
            "path": f.get("path"),
            "frame_index": f.get("frame_index", -1),
            "box": box,
        }
        if "other_face_id" in q:
            extra["other_path"] = faces.get(q["other_face_id"], {}).get("path")
        out.append({**q, **extra})
    return out


def _question_text(q: dict[str, Any]) -> str:
    name = q["person_name"] or f"person {q['person_id']}"
    if q["kind"] == "same_person":
        other = q["other_person_name"] or f"person {q['other_person_id']}"
        return (
            f"Same person? {name} (face {q['other_face_id']}, {q.get('other_path')}) and "
            f"{other} (face {q['face_id']}, {q.get('path')})"
        )
    box = ", ".join(f"{v:.0f}" for v in q["box"] or [])
    frame = f" [frame {q['frame_index']}]" if q.get("frame_index", -1) >= 0 else ""
    return f"Is this {name}? face {q['face_id']} in {q['path']}{frame} at ({box})"


def _read_key(prompt: str) -> str:
    """One key from the terminal; from a pipe, the first letter of each line."""
    click.echo(prompt, nl=False)
    if sys.stdin.isatty():
        key = click.getchar()
        click.echo(key)
    else:
        line = sys.stdin.readline()
        key = line.strip()[:1] if line else "q"  # end of input: stop asking
        click.echo(key)
    key = key.lower()
    while key not in ("y", "n", "s", "q"):
        click.echo(f"  {key!r}: answer y, n, s or q: ", nl=False)
        key = _read_key("") if sys.stdin.isatty() else "s"
    return key
