"""The album owner's questions: all photos of some people, and a folder of them.

:func:`photos_of_people` lists the photos in which *every* given person appears, optionally
between two dates; :func:`export_person` fills a folder with one person's photos as
symbolic links (or copies), never writing to the originals. A workflow (noun) module: it
takes a :class:`~faceatlas.catalog.Catalog`.

Dates come from one place, :func:`photo_time`: the capture time when the catalog records
one, else the file's modification time (marked ``"file"`` as a guess).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faceatlas.exceptions import InputError
from faceatlas.people import find_person

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog

__all__ = ["export_person", "parse_date", "photo_time", "photos_of_people"]


# -- dates -------------------------------------------------------------------------------------
def photo_time(row: dict[str, Any]) -> tuple[datetime | None, str]:
    """When a photo was taken: ``(time, source)``, source ``"capture"`` or ``"file"``.

    The one place that decides which time the album sorts and filters by: the capture time
    when the catalog has one (``capture_time``, ISO 8601), else the file's modification
    time (``mtime``, local time), which is only a guess; a capture time the scan itself
    took from the file (``capture_guess``) is marked ``"file"`` too. Returns
    ``(None, "none")`` when neither is known.
    """
    cap = row.get("capture_time")
    if cap:
        try:
            t = datetime.fromisoformat(str(cap))
        except ValueError:
            pass
        else:
            source = "file" if row.get("capture_guess") else "capture"
            return t.replace(tzinfo=None), source  # the local time on the camera's clock
    mtime = row.get("mtime")
    if mtime is not None:
        return datetime.fromtimestamp(float(mtime)), "file"
    return None, "none"


_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


def parse_date(text: str | date | None, name: str, *, end: bool = False) -> datetime | None:
    """A bound of a date range from ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``.

    ``end=True`` gives the end of that year, month or day, so ``--to 2024`` includes all
    of 2024. ``name`` is the parameter named in the error message.
    """
    if text is None or text == "":
        return None
    if isinstance(text, datetime):
        return text
    if isinstance(text, date):
        text = text.isoformat()
    m = _DATE.match(str(text).strip())
    if not m:
        raise InputError(f"{name} must be a date as YYYY, YYYY-MM or YYYY-MM-DD, got {text!r}")
    year, month, day = int(m[1]), int(m[2] or 1), int(m[3] or 1)
    try:
        start = datetime(year, month, day)
    except ValueError as exc:
        raise InputError(f"{name} is not a valid date ({exc}), got {text!r}") from None
    if not end:
        return start
    if m[3]:
        nxt = start + timedelta(days=1)
    elif m[2]:
        nxt = datetime(year + (month == 12), month % 12 + 1, 1)
    else:
        nxt = datetime(year + 1, 1, 1)
    return nxt - timedelta(microseconds=1)


# -- photos of people --------------------------------------------------------------------------
def photos_of_people(
    catalog: Catalog,
    persons: Sequence[str | int],
    date_from: str | date | None = None,
    date_to: str | date | None = None,
) -> list[dict[str, Any]]:
    """The photos in which every one of ``persons`` appears, oldest first.

    Parameters
    ----------
    catalog : Catalog
    persons : sequence of str or int
        Person ids or names (see :func:`faceatlas.people.find_person`); one person lists
        all of their photos, several the photos they are in together, none every photo.
    date_from, date_to : str or date, optional
        ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; both ends included (``date_to="2024"``
        keeps all of 2024). Photos whose time is unknown are left out when a bound is given.

    Returns
    -------
    list of dict
        One per photo (a video frame counts as a photo): ``photo_id``, ``path``,
        ``frame_index``, ``date`` (ISO 8601 or None) and ``date_source`` (``"capture"``,
        ``"file"`` or ``"none"``, see :func:`photo_time`), ``faces`` (every face in it),
        and ``people``: ``[{"person_id", "name", "face_id"}]`` for the persons asked.

    Raises
    ------
    InputError
        When a date cannot be read, or ``date_from > date_to``.
    NotFoundError
        When a person is unknown.
    """
    if isinstance(persons, str | int):
        persons = [persons]
    ids = list(dict.fromkeys(find_person(catalog, p) for p in persons))
    lo = parse_date(date_from, "date_from")
    hi = parse_date(date_to, "date_to", end=True)
    if lo is not None and hi is not None and lo > hi:
        raise InputError(f"date_from ({date_from}) must not be after date_to ({date_to})")
    by_photo: dict[int, dict[str, Any]] = {}
    rows = catalog.photo_people(ids) if ids else catalog.photo_times()
    for r in rows:
        ph = by_photo.get(r["photo_id"])
        if ph is None:
            when, source = photo_time(r)
            ph = by_photo[r["photo_id"]] = {
                "photo_id": r["photo_id"],
                "path": r["path"],
                "frame_index": r["frame_index"],
                "time_s": r["time_s"],
                "when": when,
                "date": when.isoformat(timespec="seconds") if when else None,
                "date_source": source,
                "people": [],
            }
        if "person_id" in r and all(p["person_id"] != r["person_id"] for p in ph["people"]):
            ph["people"].append(
                {"person_id": r["person_id"], "name": r["name"], "face_id": r["face_id"]}
            )
    wanted = set(ids)
    out = [ph for ph in by_photo.values() if {p["person_id"] for p in ph["people"]} >= wanted]
    if lo is not None or hi is not None:
        out = [
            ph
            for ph in out
            if ph["when"] is not None
            and (lo is None or ph["when"] >= lo)
            and (hi is None or ph["when"] <= hi)
        ]
    counts = catalog.photo_faces_count([ph["photo_id"] for ph in out])
    for ph in out:
        ph["faces"] = counts.get(ph["photo_id"], 0)
        ph["people"].sort(key=lambda p: ids.index(p["person_id"]))
    out.sort(key=lambda ph: (ph["when"] or datetime.max, ph["path"], ph["frame_index"]))
    for ph in out:
        del ph["when"]
    return out


# -- export ------------------------------------------------------------------------------------
def _target_name(folder: Path, path: str, by_date: str | None, taken: set[Path]) -> Path:
    sub = folder / by_date if by_date else folder
    src = Path(path)
    dest = sub / src.name
    n = 2
    while dest in taken:  # two originals with one file name: keep both
        dest = sub / f"{src.stem}-{n}{src.suffix}"
        n += 1
    return dest


def export_person(
    catalog: Catalog,
    person: str | int,
    folder: str | os.PathLike[str],
    *,
    copy: bool = False,
    by_date: bool = False,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
) -> dict[str, Any]:
    """Fill ``folder`` with one person's photos: symbolic links, or copies with ``copy``.

    The originals are only read (a copy keeps their times); nothing is written outside
    ``folder``. With ``by_date``, photos go into ``YYYY/MM`` sub-folders by
    :func:`photo_time` (``unknown-date`` when there is none). Running it again adds what is
    new and leaves what is there: an entry that already is that photo is ``unchanged``,
    and a different file in the way is never overwritten (it is ``skipped``, with why).

    Parameters
    ----------
    catalog : Catalog
    person : str or int
        A person id or name.
    folder : path
        Created when missing (with its parents).
    copy, by_date : bool, default False
    date_from, date_to : str or date, optional
        As in :func:`photos_of_people`.

    Returns
    -------
    dict
        ``person_id``, ``name``, ``folder`` (absolute), ``mode`` (``"link"`` or ``"copy"``),
        ``written``, ``unchanged``, ``skipped`` (lists of ``{"source", "target"}``, skipped
        ones with ``"reason"``) and ``photos`` (how many photos of the person matched).
    """
    pid = find_person(catalog, person)
    info = catalog.person(pid)
    photos = photos_of_people(catalog, [pid], date_from, date_to)
    root = Path(os.path.expanduser(os.fspath(folder))).absolute()
    if root.exists() and not root.is_dir():
        raise InputError(f"folder must be a folder, got a file: {root}")
    root.mkdir(parents=True, exist_ok=True)
    written: list[dict[str, Any]] = []
    unchanged: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    taken: set[Path] = set()
    seen_paths: set[str] = set()
    for ph in photos:
        src = ph["path"]
        if src in seen_paths:  # video frames share their file
            continue
        seen_paths.add(src)
        sub = None
        if by_date:
            sub = ph["date"][:7].replace("-", os.sep) if ph["date"] else "unknown-date"
        dest = _target_name(root, src, sub, taken)
        taken.add(dest)
        entry = {"source": src, "target": str(dest)}
        if not os.path.isfile(src):
            skipped.append({**entry, "reason": "the original is missing"})
            continue
        if os.path.lexists(dest):
            if _is_same(dest, src, copy):
                unchanged.append(entry)
            else:
                skipped.append({**entry, "reason": "another file is in the way"})
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if copy:
            shutil.copy2(src, dest)
        else:
            os.symlink(os.path.abspath(src), dest)
        written.append(entry)
    return {
        "person_id": pid,
        "name": info["name"],
        "folder": str(root),
        "mode": "copy" if copy else "link",
        "photos": len(photos),
        "written": written,
        "unchanged": unchanged,
        "skipped": skipped,
    }


def _is_same(dest: Path, src: str, copy: bool) -> bool:
    """Whether ``dest`` already is ``src`` (the link to it, or a copy of the same size)."""
    if dest.is_symlink():
        return not copy and os.path.realpath(dest) == os.path.realpath(src)
    if not copy or not dest.is_file():
        return False
    a, b = dest.stat(), os.stat(src)
    return a.st_size == b.st_size and int(a.st_mtime) == int(b.st_mtime)
