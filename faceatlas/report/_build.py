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
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faceatlas.catalog import Catalog
from faceatlas.exceptions import FaceAtlasError, InputError

__all__ = ["ReportSummary", "write_report"]

Progress = Callable[[int, int], None]

#: Faces whose chips feed the eigenfaces, and on which the embeddings' PCA is fitted (then
#: applied to every face for the scatter). The leading components of 1,500 faces are those
#: of 13,000, and the fit costs a second instead of ten on a busy 2-core machine.
METHODS_SAMPLE = 1500
#: Faces and largest k of the k-means curve. k-means at k = 500-1,000 costs 15-20 s each
#: on this machine class; the curve's shape (where inertia stops falling fast) shows
#: well below 150 clusters of 1,000 faces.
ELBOW_SAMPLE = 1000
ELBOW_MAX_K = 150


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
        return (f"report of {self.n_people} people, {self.n_unsorted_groups} unsorted groups "
                f"and {self.n_unassigned} unassigned faces ({self.n_faces} faces, "
                f"{self.n_pages} pages; {self.thumbs_made} thumbnails made, "
                f"{self.thumbs_reused} reused) in {self.seconds:.1f} s: {self.index}")


# -- pictures, in worker processes ------------------------------------------------------------
def _thumb_batch(tasks: Sequence[tuple[str, int, str, int]]) -> list[str | None]:
    """Make thumbnails; one error message (or None) per task. Runs in a worker process."""
    from faceatlas.report._images import copy_if_small_jpeg, photo_thumbnail, save_jpeg

    out: list[str | None] = []
    for path, frame, dest, side in tasks:
        try:
            if frame >= 0 or not copy_if_small_jpeg(path, dest, side):
                save_jpeg(photo_thumbnail(path, frame, None, side), dest)
            out.append(None)
        except (OSError, FaceAtlasError, ValueError) as exc:
            out.append(f"{path}: {exc}")
    return out


def _sheet_batch(tasks: Sequence[tuple[list[str], str]]) -> list[None]:
    from faceatlas.report._images import chip_sheet, save_jpeg

    for chip_files, dest in tasks:
        chips = []
        for f in chip_files:
            try:
                chips.append(Path(f).read_bytes())
            except OSError:
                chips.append(None)  # type: ignore[arg-type]
        save_jpeg(chip_sheet(chips), dest)
    return [None] * len(tasks)


def _run_batches(fn: Callable[[Any], list[Any]], tasks: list[Any], n_jobs: int,
                 progress: Progress | None, batch: int = 64) -> list[Any]:
    batches = [tasks[i:i + batch] for i in range(0, len(tasks), batch)]
    out: list[Any] = []
    if not batches:
        return out
    if n_jobs <= 1 or len(batches) == 1:
        for b in batches:
            out += fn(b)
            if progress:
                progress(len(out), len(tasks))
        return out
    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        for res in pool.map(fn, batches):
            out += res
            if progress:
                progress(len(out), len(tasks))
    return out


# -- labels (from issue 6's table when it exists) --------------------------------------------
def _catalog_labels(catalog: Catalog) -> dict[int, str]:
    """``{face_id: identity}`` from the catalog's labels (``faceatlas label import``).

    Faces of labelled photos showing several faces are left out (which one is whom is
    unknown), as ``faceatlas eval`` does.
    """
    labelled = getattr(catalog, "labelled_faces", None)
    if not callable(labelled):
        return {}
    ids, who, _ = labelled()
    return {int(f): str(w) for f, w in zip(ids, who, strict=True)}


# -- the report -------------------------------------------------------------------------------
def _short(h: str | None) -> str:
    return (h or "nohash")[:12]


def _person_label(p: Mapping[str, Any]) -> str:
    return p["name"] or f"Person {p['id']}"


def _pick_embedder(catalog: Catalog, embedder: str | None) -> str | None:
    found = [e["embedder"] for e in catalog.embedders()]
    if embedder is not None:
        if embedder not in found:
            held = ", ".join(found) or "none"
            raise InputError(f"embedder must be one the catalog holds ({held}), got "
                             f"{embedder!r}")
        return embedder
    if "sface" in found:
        return "sface"
    return found[0] if found else None


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
    from faceatlas.people import list_people

    for name, value, low in (("limit_per_person", limit_per_person, 1),
                             ("thumb_size", thumb_size, 32)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(f"{name} must be an int >= {low}, got {value!r}")
    if n_jobs is None:
        n_jobs = os.cpu_count() or 1
    elif isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise InputError(f"n_jobs must be an int >= 1, got {n_jobs!r}")
    t0 = time.perf_counter()
    out = Path(out_dir)
    for sub in ("people", "chips", "thumbs", "sheets", "plots"):
        (out / sub).mkdir(parents=True, exist_ok=True)

    listing = list_people(catalog, include_hidden=include_hidden)
    hashes = {p["id"]: p["content_hash"] for p in catalog.photos()}
    face_rows = catalog.faces()
    owner = catalog.face_people()
    shown_persons = {p["id"]: p for p in listing["people"] + listing["unsorted"]}

    faces_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
    unassigned: list[dict[str, Any]] = []
    for f in face_rows:
        h = _short(hashes.get(f["photo_id"]))
        frame = f"-f{f['frame_index']}" if f["frame_index"] >= 0 else ""
        w, ht = max(f["width"] or 1, 1), max(f["height"] or 1, 1)
        # the box as percentages of the photo, for the style sheet to draw on the thumbnail
        box_css = (f"left:{100 * f['x1'] / w:.2f}%;top:{100 * f['y1'] / ht:.2f}%;"
                   f"width:{100 * (f['x2'] - f['x1']) / w:.2f}%;"
                   f"height:{100 * (f['y2'] - f['y1']) / ht:.2f}%")
        rec = {"id": f["id"], "photo_id": f["photo_id"], "path": f["path"],
               "frame_index": f["frame_index"], "quality": f["quality"], "box_css": box_css,
               "chip": f"chips/{f['id']}-{h}.jpg", "thumb": f"thumbs/{h}{frame}.jpg"}
        pid = owner.get(f["id"], (None, None))[0]
        if pid is None:
            unassigned.append(rec)
        elif pid in shown_persons:
            faces_of[pid].append(rec)
    for recs in faces_of.values():
        recs.sort(key=lambda r: (-r["quality"], r["id"]))
    shown_faces = [r for recs in faces_of.values() for r in recs] + unassigned

    timings = {"catalog": time.perf_counter() - t0}
    # chips: straight from the catalog (the main process owns the connection)
    for r in shown_faces:
        dest = out / r["chip"]
        if not dest.exists():
            data = catalog.face_chip(r["id"])
            if data:
                tmp = dest.with_name(dest.name + ".part")
                tmp.write_bytes(data)
                tmp.replace(dest)
            else:
                r["chip"] = None

    timings["chips"] = time.perf_counter() - t0
    # thumbnails and contact sheets: worker processes, only what is missing
    wanted_thumbs = {r["thumb"]: r for r in shown_faces}
    todo = [(r["path"], r["frame_index"], str(out / rel), thumb_size)
            for rel, r in wanted_thumbs.items() if not (out / rel).exists()]
    errors = _run_batches(_thumb_batch, todo, n_jobs, progress)
    failed = {Path(t[2]).name for t, e in zip(todo, errors, strict=True) if e}
    for r in shown_faces:
        if Path(r["thumb"]).name in failed:
            r["thumb"] = None
    sheet_todo = []
    n_sheets_reused = 0
    for pid, recs in faces_of.items():
        first = [r for r in recs[:limit_per_person] if r["chip"]]
        key = hashlib.blake2b("|".join(r["chip"] for r in first).encode(),
                              digest_size=6).hexdigest()
        rel = f"sheets/{pid}-{key}.jpg"
        shown_persons[pid]["sheet"] = rel
        shown_persons[pid]["n_more"] = max(0, len(recs) - limit_per_person)
        if (out / rel).exists():
            n_sheets_reused += 1
        else:
            sheet_todo.append(([str(out / r["chip"]) for r in first], str(out / rel)))
    _run_batches(_sheet_batch, sheet_todo, n_jobs, None, batch=32)

    timings["thumbs_sheets"] = time.perf_counter() - t0
    # methods page figures
    skipped: dict[str, str] = {}
    figures: dict[str, str] = {}
    metrics: dict[str, Any] | None = None
    confusion: dict[str, Any] | None = None
    emb = _pick_embedder(catalog, embedder)
    names = {pid: _person_label(p) for pid, p in shown_persons.items()}
    if methods and emb is not None:
        figures, metrics, confusion, skipped = _methods_figures(
            catalog, out / "plots", emb, owner, names,
            labels if labels is not None else _catalog_labels(catalog))
    elif not methods:
        skipped["methods"] = "turned off"
    else:
        skipped["methods"] = "the catalog has no embeddings"

    timings["methods"] = time.perf_counter() - t0
    # pages
    env = _environment()
    people = [{**p, "label": _person_label(p)} for p in listing["people"]]
    unsorted = [{**p, "label": _person_label(p)} for p in listing["unsorted"]]
    common = {"n_faces": listing["n_faces"], "n_people": len(people),
              "n_unsorted": len(unsorted), "n_unassigned": len(unassigned),
              "generated": time.strftime("%Y-%m-%d %H:%M"), "catalog": catalog.path}
    _write_page(env, out / "index.html", "index.html", root="", people=people,
                limit=limit_per_person, **common)
    _write_page(env, out / "unsorted.html", "unsorted.html", root="", groups=unsorted,
                faces=unassigned, **common)
    _write_page(env, out / "methods.html", "methods.html", root="", figures=figures,
                metrics=metrics, confusion=confusion, skipped=skipped, embedder=emb,
                **common)
    for pid, p in shown_persons.items():
        _write_page(env, out / "people" / f"{pid}.html", "person.html", root="../",
                    person={**p, "label": _person_label(p)}, faces=faces_of[pid], **common)

    timings["pages"] = time.perf_counter() - t0
    # forget pictures nobody links to any more (deleted faces, changed photos)
    wanted = {r["chip"] for r in shown_faces if r["chip"]} | \
        {r["thumb"] for r in shown_faces if r["thumb"]} | \
        {p["sheet"] for p in shown_persons.values() if "sheet" in p}
    for sub in ("chips", "thumbs", "sheets"):
        for pic in (out / sub).iterdir():
            if f"{sub}/{pic.name}" not in wanted:
                pic.unlink(missing_ok=True)
    for page in (out / "people").glob("*.html"):
        if page.stem.isdigit() and int(page.stem) not in shown_persons:
            page.unlink(missing_ok=True)

    summary = ReportSummary(
        out_dir=str(out), index=str(out / "index.html"), n_faces=listing["n_faces"],
        n_people=len(people), n_unsorted_groups=len(unsorted), n_unassigned=len(unassigned),
        n_pages=3 + len(shown_persons), thumbs_made=len(todo) - len(failed),
        thumbs_reused=len(wanted_thumbs) - len(todo), thumbs_failed=len(failed),
        sheets_made=len(sheet_todo), sheets_reused=n_sheets_reused,
        methods=sorted(figures), skipped=skipped,
        seconds=round(time.perf_counter() - t0, 2),
        timings={k: round(v, 2) for k, v in timings.items()})
    (out / "report.json").write_text(json.dumps(
        {**summary.to_dict(), "metrics": metrics}, indent=2, default=str))
    return summary


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("faceatlas.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def _write_page(env: Any, path: Path, template: str, **context: Any) -> None:
    html = env.get_template(template).render(**context)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)


def _methods_figures(catalog: Catalog, plots: Path, embedder: str,
                     owner: Mapping[int, tuple[int, str | None]], names: Mapping[int, str],
                     labels: Mapping[int, str]
                     ) -> tuple[dict[str, str], dict[str, Any] | None, dict[str, Any] | None,
                                dict[str, str]]:
    """Draw every figure the data allows; returns (figures, metrics, confusion, skipped)."""
    from faceatlas.reduce import PCA
    from faceatlas.report._plots import (
        confusion_figure,
        explained_variance_figure,
        people_scatter_figure,
    )

    figures: dict[str, str] = {}
    skipped: dict[str, str] = {}
    ids, X = catalog.embeddings(embedder)
    person = np.array([owner.get(int(f), (-1, None))[0] for f in ids], np.int64)
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(ids.size, min(ids.size, METHODS_SAMPLE), replace=False))

    # eigenfaces: the classic PCA of grey chips, from the catalog's own chips
    if ids.size >= 3:
        from faceatlas.eigenfaces import eigenface_figures
        from faceatlas.embed.pixels import PixelsEmbedder
        from faceatlas.report._images import decode_chips

        chips = decode_chips([catalog.face_chip(int(ids[i])) for i in sample])
        P = PixelsEmbedder().embed(chips)
        res = eigenface_figures(P, plots, n_components=min(100, len(P) - 1),
                                n_eigenfaces=min(16, len(P) - 1),
                                n_examples=min(4, len(P)))
        for key, f in res["files"].items():
            figures[key] = f"plots/{Path(f).name}"
    else:
        skipped["eigenfaces"] = f"needs at least 3 faces, the catalog has {ids.size}"

    if ids.size >= 3:
        pca = PCA(n_components=None, random_state=0).fit(X[sample])
        explained_variance_figure(pca.explained_variance_ratio_,
                                  plots / "embedding_variance.png",
                                  title=f"PCA of the {embedder} embeddings "
                                        f"({sample.size} of {ids.size} faces)")
        figures["embedding_variance"] = "plots/embedding_variance.png"
        Z = pca.transform(X)[:, :2]
        people_scatter_figure(Z, person, names, plots / "scatter.png")
        figures["scatter"] = "plots/scatter.png"

    # k-means elbow and silhouette, on the sample
    if sample.size >= 6:
        from faceatlas.cluster import kmeans_curve
        from faceatlas.people import save_elbow_plot

        few = np.sort(rng.choice(sample, ELBOW_SAMPLE, replace=False)) \
            if sample.size > ELBOW_SAMPLE else sample
        hi = max(3, min(few.size // 2, ELBOW_MAX_K))
        ks = np.unique(np.geomspace(2, hi, num=8).round().astype(int)).tolist()
        curve = kmeans_curve(X[few], ks, random_state=0)
        save_elbow_plot({**curve, "embedder": embedder, "n_faces": int(few.size)},
                        plots / "elbow.png")
        figures["elbow"] = "plots/elbow.png"
    else:
        skipped["elbow"] = f"needs at least 6 faces, the catalog has {ids.size}"

    metrics = confusion = None
    known = np.array([int(f) in labels for f in ids], bool)
    if known.sum() >= 2:
        from faceatlas.evaluate import clustering_report

        truth = np.array([labels[int(f)] for f in ids[known]], dtype=object)
        pred = person[known]
        metrics = clustering_report(truth.astype(str), pred)
        metrics["n_unlabelled"] = int((~known).sum())
        _, confusion = confusion_figure(truth.astype(str), pred, names, plots / "confusion.png")
        figures["confusion"] = "plots/confusion.png"
    else:
        skipped["labels"] = ("no labels in the catalog (import them with `faceatlas label "
                             "import`) for a confusion matrix and metrics")
    return figures, metrics, confusion, skipped
