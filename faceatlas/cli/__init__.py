"""The ``faceatlas`` command line: parse, call one library function, format.

Every command that reports something accepts ``--json``. Progress goes to stderr and only
when stderr is a terminal. Errors are one line on stderr and exit 1 (2 for bad usage);
``--db`` may come before or after the command, and ``$FACEATLAS_DB`` sets it.

The commands live by area: ``_scan`` (scan, status, photos, runs, faces), ``_people``
(clustering and corrections), ``_known`` (enroll, who, calibrate, similar), ``_classic``
(pca, eigenfaces, nearest), ``_eval`` (labels and scores), ``_apps`` (report, serve),
``_album`` (photos of people, export, review).
Library modules are imported inside the commands, so that start-up stays fast.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import sqlite3
import sys
from typing import Any

import click

from faceatlas.cli import _album, _apps, _classic, _eval, _known, _people, _regions, _scan
from faceatlas.cli._common import DB_ENVVAR, DEFAULT_DB, db_option_after_command
from faceatlas.exceptions import FaceAtlasError

__all__ = ["main"]


def _escape_undecodable(exc: UnicodeError) -> tuple[str, int]:
    """Show a file name's bytes that are not UTF-8 as ``\\xNN``, never crash on them.

    Names that are not UTF-8 reach Python as surrogate escapes (U+DC80-U+DCFF stand for
    the bytes 0x80-0xFF); any other character the terminal cannot show is escaped as
    Python does.
    """
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    shown = "".join(
        f"\\x{ord(c) - 0xDC00:02x}"
        if 0xDC80 <= ord(c) <= 0xDCFF
        else c.encode("ascii", "backslashreplace").decode()
        for c in bad
    )
    return shown, exc.end


codecs.register_error("faceatlas-escape", _escape_undecodable)


def _escaping_output() -> None:
    """Printing a path or message with undecodable bytes shows them escaped."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # a closed or odd stream
                reconfigure(errors="faceatlas-escape")


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    return " ".join(str(exc).split()) or type(exc).__name__


#: What the common causes outside faceatlas are called, in one line each.
_OS_REASONS = {
    errno.ENOSPC: "the disk is full; free some space and run again",
    errno.EDQUOT: "the disk quota is used up; free some space and run again",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EIO: "input/output error (is the disk failing or gone?)",
}


def _one_line_message(exc: click.ClickException) -> str:
    return " ".join(exc.format_message().split())


class FriendlyGroup(click.Group):
    """Turns errors into one line on stderr and an exit code, never a traceback.

    ``FaceAtlasError`` and ``OSError`` (a file that cannot be read or written, a full
    disk) exit 1, Ctrl-C exits 130, a usage error of a command exits 2 (click prints errors
    of the global options itself, with the usage).
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # a subcommand's usage: one line too, exit 2
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            click.echo(f"error: {_one_line_message(exc)} (see `{where} --help`)", err=True)
            ctx.exit(2)
        except FaceAtlasError as exc:
            click.echo(f"error: {_one_line(exc)}", err=True)
            ctx.exit(1)
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # `faceatlas faces | head`: not an error
                ctx.exit(0)
            reason = _OS_REASONS.get(exc.errno or 0)
            if reason is not None:
                where = f"{exc.filename}: " if exc.filename else ""
                click.echo(f"error: {where}{reason}", err=True)
            else:
                click.echo(f"error: {_one_line(exc)}", err=True)
            ctx.exit(1)
        except sqlite3.Error as exc:  # the catalog's file, below faceatlas's own checks
            click.echo(f"error: catalog {ctx.obj.get('db', '')}: {_one_line(exc)}", err=True)
            ctx.exit(1)
        except OverflowError:  # an id typed at or above 2**63 reached SQLite
            click.echo(
                "error: a number given is out of range: ids are whole numbers below 2**63 "
                "(no such id in the catalog)",
                err=True,
            )
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=FriendlyGroup)
@click.option(
    "--db",
    default=DEFAULT_DB,
    show_default=True,
    envvar=DB_ENVVAR,
    type=click.Path(dir_okay=False),
    help=f"Catalog: a SQLite file or postgresql://USER@HOST:PORT/DB; also ${DB_ENVVAR}, "
    "or --db after the command.",
)
@click.version_option(package_name="faceatlas")
@click.pass_context
def main(ctx: click.Context, db: str) -> None:
    """faceatlas: find, group, name and search the faces in your photos."""
    _escaping_output()
    ctx.ensure_object(dict)
    source = ctx.get_parameter_source("db")
    ctx.obj.setdefault("db", db)
    ctx.obj.setdefault("db_given", source != click.core.ParameterSource.DEFAULT)


def _register(group: click.Group, *commands: click.Command) -> None:
    for command in commands:
        if isinstance(command, click.Group):
            _register(command, *command.commands.values())
        else:
            command.params.append(db_option_after_command())
        if group is not command and command.name not in group.commands:
            group.add_command(command)


_register(
    main,
    _scan.scan,
    _scan.status,
    _scan.photos,
    _scan.runs,
    _scan.faces,
    _people.cluster,
    _people.elbow,
    _people.people,
    _people.person,
    _people.name,
    _people.merge,
    _people.split,
    _people.move,
    _people.reject,
    _people.hide,
    _people.undo,
    _people.suggest,
    _known.enroll,
    _known.who,
    _known.calibrate,
    _known.similar,
    _classic.pca,
    _classic.eigenfaces,
    _classic.nearest,
    _eval.label,
    _eval.eval_,
    _eval.compare,
    _eval.eval_pairs,
    _apps.report,
    _apps.serve,
    _regions.export_xmp,
    _regions.import_xmp,
    _regions.forget,
    _album.export,
    _album.review,
)


if __name__ == "__main__":  # pragma: no cover
    main()
