"""Walking and planning a scan: which files are there, and which of them need work.

The walk looks at each name once with ``stat`` and never opens anything that is not a
regular file: a FIFO, a socket, a device, or a ``.jpg`` link to ``/dev/zero`` would block
or never end if read, so they are reported and skipped before any read. The plan then
compares what is on disk with what the catalog remembers (unchanged, changed, moved, new,
failed before), reading only the files whose size or time changed.

File names are kept exactly as the system gives them: a name that is not UTF-8 comes as a
``str`` with surrogate escapes (:func:`os.fsdecode`), which the catalog stores as the
original bytes, and the command line shows escaped.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from faceatlas.catalog import Catalog, FileState
from faceatlas.config import ScanConfig
from faceatlas.images import media_kind

#: What the scan does with each planned file: (path, config, content hash, size, mtime).
Task = tuple[str, ScanConfig, str | None, int | None, float | None]

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)


def not_regular(mode: int) -> str | None:
    """What a file is when it is not a regular file (``None`` for a regular one)."""
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


class NotRegularFileError(OSError):
    """A path that was a regular file when walked is something else when opened."""


def file_hash(path: str | Path) -> str:
    """blake2b-128 of a file's content, to recognise unchanged, moved and copied files.

    The file is opened without blocking and checked to be a regular file before the first
    read, so a FIFO or device put in its place since the walk cannot hang the scan.
    """
    h = hashlib.blake2b(digest_size=16)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        what = not_regular(os.fstat(fd).st_mode)
        if what is not None:
            raise NotRegularFileError(f"{os.fspath(path)}: {what}, not read")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    finally:
        os.close(fd)
    return h.hexdigest()


@dataclass
class Walk:
    """Files found under the scanned paths.

    ``files`` are the supported images and videos that are regular files (or links to
    one), sorted; ``stats`` their ``(size, mtime)`` as walked (``None`` for a broken link,
    which the scan records as failed); ``errors`` the paths skipped with a reason.
    """

    files: list[str] = field(default_factory=list)
    skipped_formats: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[str, str]] = field(default_factory=list)
    stats: dict[str, tuple[int, float] | None] = field(default_factory=dict)


def walk(paths: Iterable[str | Path]) -> Walk:
    """Find supported images and videos under files and folders, recursively.

    Symlinked files are followed (a broken one is reported by the scan); symlinked folders
    are not, so a link loop cannot make a scan run forever. FIFOs, sockets and devices, and
    links to them, are reported in ``errors`` without being opened.
    """
    out = Walk()
    seen: set[str] = set()

    def take(p: str) -> None:
        if p in seen:
            return
        seen.add(p)
        if media_kind(p) is None:
            out.skipped_formats[Path(p).suffix.lower() or "(no suffix)"] += 1
            return
        try:
            st = os.stat(p)  # follows links: what a read would reach
        except OSError:
            out.stats[p] = None  # a broken link or a file gone since listed: the scan says
            out.files.append(p)
            return
        what = not_regular(st.st_mode)
        if what is not None:
            link = " (through a symlink)" if os.path.islink(p) else ""
            out.errors.append((p, f"{what}{link}, not a photo; skipped without reading"))
            return
        out.stats[p] = (st.st_size, st.st_mtime)
        out.files.append(p)

    for root in paths:
        root_s = os.path.abspath(os.path.expanduser(os.fspath(root)))
        if os.path.isfile(root_s) or (os.path.lexists(root_s) and not os.path.isdir(root_s)):
            take(root_s)
            continue
        if not os.path.isdir(root_s):
            out.errors.append((root_s, "no such file or folder"))
            continue
        for dirpath, dirnames, filenames in os.walk(
            root_s,
            onerror=lambda e: out.errors.append((e.filename, f"cannot list folder: {e.strerror}")),
        ):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not name.startswith("."):
                    take(os.path.join(dirpath, name))
    out.files.sort()
    return out


def under(path: str, roots: Sequence[str]) -> bool:
    """Whether ``path`` is one of ``roots`` or inside one of them."""
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


@dataclass
class Plan:
    """What a scan must do with the walked files, and the counts for its summary."""

    todo: list[Task] = field(default_factory=list)
    unchanged: int = 0
    failed_unchanged: int = 0
    new: int = 0
    changed: int = 0
    moved: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)


def plan(
    catalog: Catalog,
    config: ScanConfig,
    found: Walk,
    states: dict[str, FileState],
    missing: set[str],
    *,
    retry_errors: bool = False,
) -> Plan:
    """The walked files to process; counts the unchanged, moved, new and changed ones.

    A file is read (hashed) only when its size or time changed. A file that failed before
    is retried only when its size or time changed, or with ``retry_errors``. A missing file
    whose content reappears under a new path is recorded as moved and taken out of
    ``missing`` (in place), so its faces and corrections are kept.
    """
    missing_by_hash: dict[str, str] = {}
    for p in missing:
        h = states[p].content_hash
        if h:
            missing_by_hash.setdefault(h, p)

    out = Plan()
    for p in found.files:
        st = found.stats.get(p)
        size, mtime = st if st is not None else (None, None)
        old = states.get(p)
        same_file = old is not None and old.size == size and old.mtime == mtime
        same_detector = old is not None and old.detector == config.detector_name
        if same_file and old is not None and old.status == "done" and same_detector:
            out.unchanged += 1
            continue
        if same_file and old is not None and old.status == "error" and not retry_errors:
            out.failed_unchanged += 1  # decoding it again would fail again
            continue
        digest: str | None
        try:
            digest = file_hash(p) if size is not None else None
        except FileNotFoundError:
            out.errors.append((p, "vanished during the scan"))
            continue
        except NotRegularFileError as exc:
            out.errors.append((p, str(exc).split(": ", 1)[-1]))
            continue
        except OSError:
            digest = None  # unreadable: the per-photo work records the reason
        if (
            old is not None
            and old.status == "done"
            and same_detector
            and digest
            and digest == old.content_hash
        ):
            catalog.touch_file(p, mtime)
            out.unchanged += 1
            continue
        if old is None and digest in missing_by_hash:
            src = missing_by_hash.pop(digest)
            missing.discard(src)
            if states[src].detector == config.detector_name:
                catalog.move_file(src, p, mtime)
                out.moved += 1
                continue
        if old is None:
            out.new += 1
        else:
            out.changed += 1
        out.todo.append((p, config, digest, size, mtime))
    return out


__all__ = [
    "NotRegularFileError",
    "Plan",
    "Task",
    "Walk",
    "file_hash",
    "not_regular",
    "plan",
    "under",
    "walk",
]
