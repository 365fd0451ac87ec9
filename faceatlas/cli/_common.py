"""What every command shares: the catalog, output, progress, errors and options.

Options whose defaults live in the library are built from its constants here. A constant
whose module is costly to import (``faceatlas.cluster`` loads SciPy) is read only when
``--help`` is shown (:class:`LibraryDefaultOption`), so that commands start fast.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from faceatlas.exceptions import CatalogError
from faceatlas.jsonable import json_default
from faceatlas.policy import DEFAULT_EMBEDDER

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog

DEFAULT_DB = "faceatlas.db"
DB_ENVVAR = "FACEATLAS_DB"


# -- output ------------------------------------------------------------------------------
def emit(data: Any, as_json: bool, text: Callable[[Any], str] | None = None) -> None:
    """Print ``data`` as JSON, or through ``text`` for people."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=json_default))
    elif text is not None:
        click.echo(text(data))


def shown(text: str) -> str:
    """``text`` (a file name, a reason naming one) safe on one line: control characters
    such as a newline in a file name are escaped (``\\n``); bytes that are not UTF-8
    are escaped by the output streams (``\\xe9``)."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() or 0xDC80 <= ord(c) <= 0xDCFF else repr(c)[1:-1] for c in text
    )


def warn(message: str) -> None:
    """One line on stderr."""
    click.echo(f"warning: {message}", err=True)


def exit_if_files_failed(ctx: click.Context, files: list[dict[str, Any]]) -> None:
    """One ``error:`` line per input file that could not be read, then exit 1.

    The files that could be read have been reported already, so one bad name among many
    costs no results; the exit code still tells a script that the job was not complete.
    """
    import os

    failed = [f for f in files if f.get("error")]
    for f in failed:
        where = "" if os.path.abspath(f["file"]) in f["error"] else f"{f['file']}: "
        click.echo(f"error: {where}{f['error']}", err=True)
    if failed:
        ctx.exit(1)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr, or nothing when stderr is not a terminal."""
    if not sys.stderr.isatty():
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


# -- the catalog ---------------------------------------------------------------------------
def db_path(ctx: click.Context) -> str:
    """The catalog path: ``--db`` (before or after the command), else $FACEATLAS_DB."""
    return str(ctx.find_root().obj["db"])


def db_given(ctx: click.Context) -> bool:
    """Whether the user chose a catalog (``--db`` anywhere, or $FACEATLAS_DB)."""
    return bool(ctx.find_root().obj.get("db_given"))


def open_catalog(ctx: click.Context, *, create: bool = False) -> Catalog:
    """The catalog of ``--db``; only commands that fill one (``create``) may start one.

    A read-only command on a mistyped path would otherwise create an empty catalog and
    report nothing found.
    """
    from faceatlas.catalog import Catalog

    path = db_path(ctx)
    if not create and path != ":memory:" and "://" not in path and not Path(path).exists():
        raise CatalogError(
            f"no catalog at {path}; scan first, or give the right --db (or ${DB_ENVVAR})"
        )
    return Catalog(path)


def _set_db(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    root = ctx.find_root()
    root.ensure_object(dict)
    root.obj["db"] = value
    root.obj["db_given"] = True


def db_option_after_command() -> click.Option:
    """``--db`` on a subcommand, so it may come after the command name too (as git's)."""
    return click.Option(
        ["--db"],
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_set_db,
        type=click.Path(dir_okay=False),
        help=f"Catalog: a SQLite file or postgresql://USER@HOST:PORT/DB "
        f"[default: ${DB_ENVVAR}, else {DEFAULT_DB}].",
    )


# -- options built from the library's constants --------------------------------------------
class LibraryDefaultOption(click.Option):
    """An option whose default is a library constant, imported only when it is needed.

    ``default_from=("faceatlas.cluster", "DEFAULT_METHOD")`` appends
    ``[default: chinese-whispers]`` to the help; a dotted name reads an attribute of a class
    (``"ScanConfig.max_pixels"``: a dataclass field's default). With ``resolve=False`` the
    value stays ``None`` when the option is not given, for the library to apply its own
    default (and rules, such as ``--k`` implying k-means).
    """

    def __init__(
        self,
        *args: Any,
        default_from: tuple[str, str],
        resolve: bool = True,
        names_from: tuple[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.default_from = default_from
        self.names_from = names_from
        self.resolve = resolve

    @staticmethod
    def _read(where: tuple[str, str]) -> Any:
        module, dotted = where
        value: Any = importlib.import_module(module)
        for name in dotted.split("."):
            value = getattr(value, name)
        return value

    def library_default(self) -> Any:
        return self._read(self.default_from)

    def get_default(self, ctx: click.Context, call: bool = True) -> Any:
        if self.resolve and self.default is None:
            return self.library_default()
        return super().get_default(ctx, call=call)

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        if record is None:
            return None
        help_text = record[1]
        if self.names_from is not None:  # e.g. the method names, listed in help only
            help_text += f" One of: {', '.join(self._read(self.names_from))}."
        value = self.library_default()
        shown = f"{value:,}" if isinstance(value, int) and value >= 10_000 else str(value)
        return record[0], f"{help_text}  [default: {shown}]".lstrip()


def library_option(
    *decls: str,
    default_from: tuple[str, str],
    resolve: bool = True,
    names_from: tuple[str, str] | None = None,
    **kwargs: Any,
) -> Callable[..., Any]:
    """``click.option`` whose default is a library constant (:class:`LibraryDefaultOption`)."""
    kwargs.setdefault("default", None)  # click >= 8.2 would mark an absent default UNSET
    return click.option(
        *decls,
        cls=LibraryDefaultOption,
        default_from=default_from,
        resolve=resolve,
        names_from=names_from,
        **kwargs,
    )


json_option = click.option("--json", "as_json", is_flag=True, help="Output JSON.")


def embedder_option(help: str = "Embedder whose vectors to use.") -> Callable[..., Any]:  # noqa: A002 - click's name
    """``--embedder`` with the one default every workflow uses (faceatlas.policy)."""
    return click.option("--embedder", default=DEFAULT_EMBEDDER, show_default=True, help=help)


# the test doubles and the crop-as-face detector are not offered as choices: --cropped is
_HIDDEN_CHOICES = ("fake", "whole-image")


def detector_choice(*extra: str) -> click.Choice:
    """The detectors of :data:`faceatlas.detect.DETECTORS` (numpy only to import)."""
    from faceatlas.detect import DETECTORS

    return click.Choice([d for d in DETECTORS if d not in _HIDDEN_CHOICES] + list(extra))


def embedder_choice() -> click.Choice:
    """The embedders of :data:`faceatlas.embed.EMBEDDERS` (numpy only to import)."""
    from faceatlas.embed import EMBEDDERS

    return click.Choice([e for e in EMBEDDERS if e not in _HIDDEN_CHOICES])
