"""Face regions and forgetting: export-xmp, import-xmp, forget."""

from __future__ import annotations

from typing import Any

import click

from faceatlas.cli._common import emit, json_option, open_catalog, progress_bar, warn


@click.command("export-xmp")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--sidecar-name",
    type=click.Choice(["full", "stem"]),
    default="full",
    show_default=True,
    help="full: photo.jpg.xmp (digiKam, darktable); stem: photo.xmp (Lightroom).",
)
@click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")
@json_option
@click.pass_context
def export_xmp(
    ctx: click.Context, paths: tuple[str, ...], sidecar_name: str, dry_run: bool, as_json: bool
) -> None:
    """Write named faces into XMP sidecars (MWG and Microsoft regions); photos untouched.

    PATHS limit the export to these photos or folders (default: the whole catalog).
    """
    from faceatlas.regions import export_xmp as run

    with open_catalog(ctx) as cat:
        summary = run(cat, paths or None, sidecar_name=sidecar_name, dry_run=dry_run)

    def text(s: Any) -> str:
        lines = []
        if dry_run:
            lines += [
                f"{f['action']:9} {f['sidecar']}: {', '.join(f['names'])}"
                for f in s.files
                if f["action"] != "unchanged"
            ]
        lines += [f"skipped {k['path']}: {k['reason']}" for k in s.skipped]
        return "\n".join([*lines, s.line()])

    emit(summary.to_dict() if as_json else summary, as_json, text)


@click.command("import-xmp")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--contacts",
    type=click.Path(dir_okay=False),
    default=None,
    help="Picasa's contacts.xml, naming the contact ids of .picasa.ini files.",
)
@click.option("--embedder", default=None, help="Embedder for faces added from regions.")
@json_option
@click.pass_context
def import_xmp(
    ctx: click.Context,
    paths: tuple[str, ...],
    contacts: str | None,
    embedder: str | None,
    as_json: bool,
) -> None:
    """Read face names from XMP (sidecars, JPEG/HEIC/PNG) and Picasa into the catalog.

    Each region is placed on a detected face by overlap (a face is added where none was
    detected) and its name becomes a confirmed correction. Running it again changes nothing.
    """
    from faceatlas.regions import import_xmp as run

    with open_catalog(ctx, create=True) as cat, progress_bar("import") as update:
        summary = run(cat, paths, contacts=contacts, embedder=embedder, progress=update)

    def text(s: Any) -> str:
        lines = [f"not placed: {u['path']}: {u['name'] or '?'}: {u['reason']}" for u in s.unplaced]
        lines += [
            f"conflict: {c['path']}: face {c['face']} {c['region_name']!r}: {c['reason']}"
            for c in s.conflicts
        ]
        return "\n".join([*lines, s.line()])

    emit(summary.to_dict() if as_json else summary, as_json, text)


@click.command()
@click.argument("person", required=False)
@click.option("--all", "everything", is_flag=True, help="Forget every face and person.")
@click.option("--yes", is_flag=True, help="Confirm: the erased data cannot be brought back.")
@click.option(
    "--report-dir",
    "report_dirs",
    multiple=True,
    type=click.Path(file_okay=False, exists=True),
    help="A report folder to erase the person's chips and page from (repeatable).",
)
@json_option
@click.pass_context
def forget(
    ctx: click.Context,
    person: str | None,
    everything: bool,
    yes: bool,
    report_dirs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Erase PERSON (id or name), or --all: face vectors, chips, names, index; no undo.

    The photos stay catalogued. The catalog is vacuumed and its journal truncated, so no
    byte of the erased vectors remains in it.
    """
    from faceatlas.privacy import forget as forget_one
    from faceatlas.privacy import forget_all

    if everything == (person is not None):
        raise click.UsageError("give one PERSON or --all")
    if not yes:
        raise click.UsageError("forgetting cannot be undone: add --yes to confirm")
    with open_catalog(ctx) as cat:
        if everything:
            summary = forget_all(cat, report_dirs=report_dirs)
        else:
            summary = forget_one(cat, person or "", report_dirs=report_dirs)
    if summary.report_dirs_not_given and not as_json:
        warn("report folders written earlier may still hold face chips (see --report-dir)")
    emit(summary.to_dict() if as_json else summary, as_json, lambda s: s.line())
