"""Forgetting people: a person's, or every, face vector, chip and name erased for good.

Face vectors are biometric data. :func:`forget` erases one person: the faces assigned to
them (vector, 112x112 chip, landmarks, box), the person and its name, and the corrections
that mention them; :func:`forget_all` erases every face and person of the catalog. The
photos stay catalogued (a later scan does not find their faces again unless it is asked
to rebuild). Afterwards:

* the deletions ran with SQLite's ``secure_delete`` on (deleted rows overwritten), the
  file was rewritten by ``VACUUM`` and ``<db>-wal`` truncated, so no page of the catalog,
  its journal or its free list keeps the old bytes;
* the saved search index ``<db>.index/`` (a copy of every vector) is overwritten and
  removed, to be rebuilt from what is left on the next search;
* report folders named by the caller lose the person's chips, contact sheets and page
  (``faceatlas report`` also deletes pictures nobody links to when it runs again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faceatlas.catalog import erase_file
from faceatlas.exceptions import InputError

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog

__all__ = ["ForgetSummary", "forget", "forget_all"]


@dataclass
class ForgetSummary:
    """What :func:`forget` or :func:`forget_all` erased."""

    person: dict[str, Any] | None = None
    rows: dict[str, int] = field(default_factory=dict)
    index_files: list[str] = field(default_factory=list)
    report_files: list[str] = field(default_factory=list)
    report_dirs_not_given: bool = True
    pages: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def line(self) -> str:
        who = (
            f"person {self.person['id']}"
            + (f" ({self.person['name']})" if self.person["name"] else "")
            if self.person
            else "everybody"
        )
        faces = self.rows.get("faces", 0)
        parts = [
            f"forgot {who}: {faces} faces with their vectors and chips erased",
            f"{self.rows.get('corrections', 0)} corrections",
            f"{len(self.index_files)} search index files erased",
            f"{len(self.report_files)} report files erased",
            "catalog vacuumed, journal truncated",
        ]
        line = "; ".join(parts)
        if self.report_dirs_not_given:
            line += (
                ". Report folders written earlier may still hold chips: name them with "
                "--report-dir, or run `faceatlas report` into them again"
            )
        return line


def _resolve_person(catalog: Catalog, person: int | str) -> dict[str, Any]:
    """The one person ``person`` names (an id or a name), or an error that says why not."""
    from faceatlas.people import find_person

    text = str(person).strip()
    if text.lower().startswith("person:"):
        text = text.split(":", 1)[1].strip()
    return catalog.persons([find_person(catalog, text)], with_empty=True)[0]


def _erase_report_files(
    report_dirs: list[Path], face_ids: set[int] | None, person_ids: set[int] | None
) -> list[str]:
    """Chips, sheets and person pages of a report folder (None: all of them)."""
    erased = []
    for out in report_dirs:
        if not (out / "report.json").is_file() and not (out / "index.html").is_file():
            raise InputError(f"report dir {out} is not a faceatlas report folder (no index.html)")
        for sub, ids in (("chips", face_ids), ("sheets", person_ids), ("people", person_ids)):
            folder = out / sub
            if not folder.is_dir():
                continue
            for f in sorted(folder.iterdir()):
                head = f.stem.split("-", 1)[0]
                if f.is_file() and head.isdigit() and (ids is None or int(head) in ids):
                    erase_file(f)
                    erased.append(str(f))
    return erased


def _finish(
    catalog: Catalog,
    summary: ForgetSummary,
    report_dirs: list[Path],
    faces: set[int] | None,
    persons: set[int] | None,
) -> ForgetSummary:
    summary.index_files = catalog.erase_saved_index()
    summary.report_files = _erase_report_files(report_dirs, faces, persons)
    summary.report_dirs_not_given = not report_dirs
    summary.pages = catalog.compact()["pages"]
    return summary


def _dirs(report_dirs: Any) -> list[Path]:
    return [Path(d) for d in (report_dirs or ())]


def forget(catalog: Catalog, person: int | str, *, report_dirs: Any = ()) -> ForgetSummary:
    """Erase one person: their faces' vectors, chips and boxes, their name, their log.

    Parameters
    ----------
    catalog : Catalog
    person : int or str
        Id (``12`` or ``person:12``) or exact name, any case.
    report_dirs : sequence of path, optional
        Report folders (``faceatlas report OUT_DIR``) to erase the person's pictures from.

    Returns
    -------
    ForgetSummary
    """
    dirs = _dirs(report_dirs)
    found = _resolve_person(catalog, person)
    pid = int(found["id"])
    faces = set(catalog.faces_of_person(pid))
    summary = ForgetSummary(person={"id": pid, "name": found["name"]})
    summary.rows = catalog.forget_faces(sorted(faces), [pid])
    return _finish(catalog, summary, dirs, faces, {pid})


def forget_all(catalog: Catalog, *, report_dirs: Any = ()) -> ForgetSummary:
    """Erase every face, vector, chip, person and correction; photos stay catalogued.

    Parameters
    ----------
    catalog : Catalog
    report_dirs : sequence of path, optional
        Report folders whose chips, sheets and person pages are erased too.

    Returns
    -------
    ForgetSummary
    """
    dirs = _dirs(report_dirs)
    summary = ForgetSummary()
    summary.rows = catalog.forget_everything()
    return _finish(catalog, summary, dirs, None, None)
