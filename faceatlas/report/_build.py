"""``write_report``: the catalog's people as a folder of static HTML pages.

The folder opens from disk (``index.html``) with no server and no network: every picture
is a file next to the pages, the style sheet is inlined, and there is no script.

Layout of ``out_dir``::

    index.html            people, each with a contact sheet of face chips ("N more")
    unsorted.html         small groups and faces of nobody (strangers)
    methods.html          mean face, eigenfaces, variance, elbow, PCA scatter, metrics
    people/<id>.html      one person: chips, and the photos with the face's box drawn
    chips/<face>-<h>.jpg  the 112x112 aligned chips, as stored in the catalog
    thumbs/<h>[-f<n>].jpg one thumbnail per photo (or video frame); boxes are drawn over
                          it by the page's style sheet, so photos with several faces
                          share one picture
    sheets/<id>-<k>.jpg   one contact sheet per person (cached by its faces)
    plots/*.png           the methods page's figures
    report.json           what was written, for scripts

Chips are keyed by face id and the photo's content hash, thumbnails by the content hash
(and frame), so a re-run reuses every picture whose photo did not change, and files no
longer referenced are deleted. A JPEG photo already no larger than the thumbnail (LFW's
250x250 images) is copied, not decoded and re-encoded: 13,000 of them take seconds.

An app: what the pages list comes from :mod:`faceatlas.views` (the gallery shows the same
data), the pictures from :mod:`faceatlas.thumbnails`; this module names files and writes HTML.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faceatlas.exceptions import InputError, NotFoundError
from faceatlas.policy import catalog_embedder

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog

__all__ = ["ReportSummary", "write_report"]

Progress = Callable[[int, int], None]


@dataclass
class ReportSummary:
    """What :func:`write_report` wrote."""

    out_dir: str
    index: str
    n_faces: int
    n_people: int
    n_unsorted_groups: int
    n_unassigned: int
    n_pages: int
    thumbs_made: int
    thumbs_reused: int
    thumbs_failed: int
    sheets_made: int
    sheets_reused: int
    methods: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        return (
            f"report of {self.n_people} people, {self.n_unsorted_groups} unsorted groups "
            f"and {self.n_unassigned} unassigned faces ({self.n_faces} faces, "
            f"{self.n_pages} pages; {self.thumbs_made} thumbnails made, "
            f"{self.thumbs_reused} reused) in {self.seconds:.1f} s: {self.index}"
        )


# -- the report -------------------------------------------------------------------------------
def _short(h: str | None) -> str:
    return (h or "nohash")[:12]


def _person_label(p: Mapping[str, Any]) -> str:
    return p["name"] or f"Person {p['id']}"


def _face_files(f: Mapping[str, Any]) -> dict[str, Any]:
    """A face of :func:`faceatlas.views.report_contents` with its picture files and box."""
    h = _short(f["content_hash"])
    frame = f"-f{f['frame_index']}" if f["frame_index"] >= 0 else ""
    w, ht = max(f["width"] or 1, 1), max(f["height"] or 1, 1)
    x1, y1, x2, y2 = f["box"]
    # the box as percentages of the photo, for the style sheet to draw on the thumbnail
    box_css = (
        f"left:{100 * x1 / w:.2f}%;top:{100 * y1 / ht:.2f}%;"
        f"width:{100 * (x2 - x1) / w:.2f}%;height:{100 * (y2 - y1) / ht:.2f}%"
    )
    return {
        "id": f["id"],
        "photo_id": f["photo_id"],
        "path": f["path"],
        "frame_index": f["frame_index"],
        "quality": f["quality"],
        "box_css": box_css,
        "chip": f"chips/{f['id']}-{h}.jpg",
        "thumb": f"thumbs/{h}{frame}.jpg",
        # a person's photos carry their date (capture time, else the file time: a guess)
        "taken": str(f["taken"])[:16].replace("T", " ") if f.get("taken") else None,
        "taken_guess": bool(f.get("taken_guess")),
    }


def _chip_or_none(catalog: Catalog, face_id: int) -> bytes | None:
    from faceatlas.views import face_chip

    try:
        return face_chip(catalog, face_id)
    except NotFoundError:
        return None


def _check_sizes(limit_per_person: int, thumb_size: int, n_jobs: int | None) -> int:
    """Check :func:`write_report`'s sizes; returns ``n_jobs`` (default every core)."""
    for name, value, low in (
        ("limit_per_person", limit_per_person, 1),
        ("thumb_size", thumb_size, 32),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(f"{name} must be an int >= {low}, got {value!r}")
    if n_jobs is None:
        return os.cpu_count() or 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise InputError(f"n_jobs must be an int >= 1, got {n_jobs!r}")
    return n_jobs


def _write_chips(catalog: Catalog, out: Path, faces: list[dict[str, Any]]) -> None:
    """Each face's chip under ``out``, unless already there; ``chip`` is None for a face
    without one."""
    for r in faces:
        dest = out / r["chip"]
        if not dest.exists():
            chip = _chip_or_none(catalog, r["id"])
            if chip:
                tmp = dest.with_name(dest.name + ".part")
                tmp.write_bytes(chip)
                tmp.replace(dest)
            else:
                r["chip"] = None


def write_report(
    catalog: Catalog,
    out_dir: str | Path,
    *,
    limit_per_person: int = 24,
    embedder: str | None = None,
    labels: Mapping[int, str] | None = None,
    include_hidden: bool = False,
    thumb_size: int = 320,
    methods: bool = True,
    n_jobs: int | None = None,
    progress: Progress | None = None,
) -> ReportSummary:
    """Write a self-contained static HTML report of the catalog's people.

    Parameters
    ----------
    catalog : Catalog
    out_dir : str or Path
        Created if missing. Pictures already there from an earlier run are reused.
    limit_per_person : int, default 24
        Face chips on a person's contact sheet; the rest are counted ("N more") and shown
        on the person's page.
    embedder : str, optional
        Whose vectors the methods page uses; default sface when present, else the
        catalog's most common embedder.
    labels : mapping face id -> identity, optional
        True identities for the confusion matrix and metrics; default the catalog's labels
        table when it has one (``faceatlas label import``), else that section is skipped.
    include_hidden : bool, default False
        Also show hidden people.
    thumb_size : int, default 320
        Longest side of the photo thumbnails, in pixels.
    methods : bool, default True
        Draw the methods page's figures (PCA, eigenfaces, elbow); off gives a page with
        the counts only.
    n_jobs : int, optional
        Worker processes for the thumbnails; default every core.
    progress : callable(done, total), optional

    Returns
    -------
    ReportSummary
    """
    from faceatlas.report._plots import methods_figures
    from faceatlas.thumbnails import write_chip_sheets, write_thumbnails
    from faceatlas.views import methods_data, report_contents

    n_jobs = _check_sizes(limit_per_person, thumb_size, n_jobs)
    t0 = time.perf_counter()
    out = Path(out_dir).expanduser()
    for sub in ("people", "chips", "thumbs", "sheets", "plots"):
        (out / sub).mkdir(parents=True, exist_ok=True)

    contents = report_contents(catalog, include_hidden=include_hidden)
    shown_persons = {p["id"]: dict(p) for p in contents["people"] + contents["unsorted"]}
    faces_of = {pid: [_face_files(f) for f in recs] for pid, recs in contents["faces_of"].items()}
    unassigned = [_face_files(f) for f in contents["unassigned"]]
    shown_faces = [r for recs in faces_of.values() for r in recs] + unassigned

    timings = {"catalog": time.perf_counter() - t0}
    # chips: straight from the catalog (the main process owns the connection)
    _write_chips(catalog, out, shown_faces)

    timings["chips"] = time.perf_counter() - t0
    # thumbnails and contact sheets: worker processes, only what is missing
    wanted_thumbs = {r["thumb"]: r for r in shown_faces}
    todo = [
        (r["path"], r["frame_index"], str(out / rel), thumb_size)
        for rel, r in wanted_thumbs.items()
        if not (out / rel).exists()
    ]
    errors = write_thumbnails(todo, n_jobs=n_jobs, progress=progress)
    failed = {Path(t[2]).name for t, e in zip(todo, errors, strict=True) if e}
    for r in shown_faces:
        if Path(r["thumb"]).name in failed:
            r["thumb"] = None
    sheet_todo = []
    n_sheets_reused = 0
    for pid, recs in faces_of.items():
        first = [r for r in recs[:limit_per_person] if r["chip"]]
        key = hashlib.blake2b(
            "|".join(r["chip"] for r in first).encode(), digest_size=6
        ).hexdigest()
        rel = f"sheets/{pid}-{key}.jpg"
        shown_persons[pid]["sheet"] = rel
        shown_persons[pid]["n_more"] = max(0, len(recs) - limit_per_person)
        if (out / rel).exists():
            n_sheets_reused += 1
        else:
            sheet_todo.append(([str(out / r["chip"]) for r in first], str(out / rel)))
    write_chip_sheets(sheet_todo, n_jobs=n_jobs)

    timings["thumbs_sheets"] = time.perf_counter() - t0
    # methods page figures
    skipped: dict[str, str] = {}
    figures: dict[str, str] = {}
    metrics: dict[str, Any] | None = None
    confusion: dict[str, Any] | None = None
    emb = catalog_embedder(catalog, embedder, must_hold=True)
    names = {pid: _person_label(p) for pid, p in shown_persons.items()}
    if methods and emb is not None:
        data = methods_data(catalog, emb, labels)
        figures, confusion, skipped = methods_figures(data, out / "plots", names)
        metrics = data["metrics"]
    elif not methods:
        skipped["methods"] = "turned off"
    else:
        skipped["methods"] = "the catalog has no embeddings"

    timings["methods"] = time.perf_counter() - t0
    # pages
    env = _environment()
    people = [{**shown_persons[p["id"]], "label": _person_label(p)} for p in contents["people"]]
    unsorted = [{**shown_persons[p["id"]], "label": _person_label(p)} for p in contents["unsorted"]]
    common = {
        "n_faces": contents["n_faces"],
        "n_people": len(people),
        "n_unsorted": len(unsorted),
        "n_unassigned": len(unassigned),
        "generated": time.strftime("%Y-%m-%d %H:%M"),
        "catalog": contents["catalog"],
    }
    _write_page(
        env,
        out / "index.html",
        "index.html",
        root="",
        people=people,
        limit=limit_per_person,
        **common,
    )
    _write_page(
        env,
        out / "unsorted.html",
        "unsorted.html",
        root="",
        groups=unsorted,
        faces=unassigned,
        **common,
    )
    _write_page(
        env,
        out / "methods.html",
        "methods.html",
        root="",
        figures=figures,
        metrics=metrics,
        confusion=confusion,
        skipped=skipped,
        embedder=emb,
        **common,
    )
    for pid, p in shown_persons.items():
        _write_page(
            env,
            out / "people" / f"{pid}.html",
            "person.html",
            root="../",
            person={**p, "label": _person_label(p)},
            faces=faces_of.get(pid, []),
            **common,
        )

    timings["pages"] = time.perf_counter() - t0
    # forget pictures nobody links to any more (deleted faces, changed photos)
    wanted = (
        {r["chip"] for r in shown_faces if r["chip"]}
        | {r["thumb"] for r in shown_faces if r["thumb"]}
        | {p["sheet"] for p in shown_persons.values() if "sheet" in p}
    )
    for sub in ("chips", "thumbs", "sheets"):
        for pic in (out / sub).iterdir():
            if f"{sub}/{pic.name}" not in wanted:
                pic.unlink(missing_ok=True)
    for page in (out / "people").glob("*.html"):
        if page.stem.isdigit() and int(page.stem) not in shown_persons:
            page.unlink(missing_ok=True)

    summary = ReportSummary(
        out_dir=str(out),
        index=str(out / "index.html"),
        n_faces=contents["n_faces"],
        n_people=len(people),
        n_unsorted_groups=len(unsorted),
        n_unassigned=len(unassigned),
        n_pages=3 + len(shown_persons),
        thumbs_made=len(todo) - len(failed),
        thumbs_reused=len(wanted_thumbs) - len(todo),
        thumbs_failed=len(failed),
        sheets_made=len(sheet_todo),
        sheets_reused=n_sheets_reused,
        methods=sorted(figures),
        skipped=skipped,
        seconds=round(time.perf_counter() - t0, 2),
        timings={k: round(v, 2) for k, v in timings.items()},
    )
    (out / "report.json").write_text(
        json.dumps({**summary.to_dict(), "metrics": metrics}, indent=2, default=str)
    )
    return summary


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("faceatlas.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _write_page(env: Any, path: Path, template: str, **context: Any) -> None:
    html = env.get_template(template).render(**context)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(html, encoding="utf-8", errors="backslashreplace")  # names not UTF-8
    tmp.replace(path)
