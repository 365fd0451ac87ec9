"""The other apps, started from the command line: report, serve."""

from __future__ import annotations

import click

from faceatlas.cli._common import db_path, emit, json_option, open_catalog, progress_bar, warn
from faceatlas.web import DEFAULT_HOST, DEFAULT_PORT, listen


# -- report and gallery (faceatlas.report, faceatlas.web) ----------------------------------
@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option(
    "--limit-per-person",
    default=24,
    show_default=True,
    type=click.IntRange(min=1),
    help="Face chips on each person's contact sheet (the rest: 'N more').",
)
@click.option("--embedder", default=None, help="Vectors for the methods page [default: sface].")
@click.option("--hidden", "include_hidden", is_flag=True, help="Include hidden people.")
@click.option("--no-methods", is_flag=True, help="Skip the methods page's figures.")
@click.option(
    "--jobs",
    "-j",
    default=0,
    type=click.IntRange(min=0),
    help="Worker processes for thumbnails [default: every core].",
)
@json_option
@click.pass_context
def report(
    ctx: click.Context,
    out_dir: str,
    limit_per_person: int,
    embedder: str | None,
    include_hidden: bool,
    no_methods: bool,
    jobs: int,
    as_json: bool,
) -> None:
    """Write a static HTML report of the people to OUT_DIR (open OUT_DIR/index.html)."""
    from faceatlas.report import write_report

    with open_catalog(ctx) as cat, progress_bar("thumbnails") as bar:
        summary = write_report(
            cat,
            out_dir,
            limit_per_person=limit_per_person,
            embedder=embedder,
            include_hidden=include_hidden,
            methods=not no_methods,
            n_jobs=jobs or None,
            progress=bar,
        )
    emit(summary.to_dict(), as_json, lambda _: summary.line())


@click.command()
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="Address to listen on; anything but 127.0.0.1 exposes the gallery.",
)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--max-upload-mb",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Largest photo accepted by search.",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, max_upload_mb: int) -> None:
    """Browse, correct and search the catalog in a local web gallery."""
    from faceatlas.web import serve as run_server

    open_catalog(ctx).close()  # a missing catalog is an error, not an empty gallery
    # bound before the URL is announced: a port in use is an error first, and the server
    # gets this very socket, so nothing can take the port in between
    with listen(host, port) as sock:
        if host not in ("127.0.0.1", "localhost", "::1"):
            warn(f"listening on {host}: other machines can see and change this catalog")
        click.echo(f"faceatlas gallery on http://{host}:{port}/ (Ctrl-C to stop)", err=True)
        run_server(
            db_path(ctx),
            host=host,
            port=port,
            max_upload_bytes=max_upload_mb * 1024 * 1024,
            sock=sock,
        )
