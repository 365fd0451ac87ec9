"""Enrolment: a known-people folder scanned into the catalog and pinned to named persons."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faceatlas.config import ScanConfig
from faceatlas.exceptions import InputError
from faceatlas.images import media_kind
from faceatlas.known._common import Log, quiet

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog


def known_people(known_dir: str | Path) -> dict[str, list[str]]:
    """``{name: [image paths]}`` of a known-people folder.

    A sub-folder is one person named after it (all its images, recursively); an image
    directly inside is one person named after the file (``Barack Obama.jpg``), as
    face_recognition's ``known_people`` folder.
    """
    root = Path(known_dir).expanduser()
    if not root.is_dir():
        raise InputError(
            f"known_dir must be a folder of people, got {str(root)!r} (no such folder)"
        )
    out: dict[str, list[str]] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            files = sorted(
                os.path.abspath(p)
                for p in entry.rglob("*")
                if p.is_file() and not p.name.startswith(".") and media_kind(p) == "image"
            )
            if files:
                out.setdefault(entry.name, []).extend(files)
        elif entry.is_file() and media_kind(entry) == "image":
            out.setdefault(entry.stem, []).append(os.path.abspath(entry))
    if not out:
        raise InputError(
            f"{root} holds no images: put one sub-folder (or one image file) per person in it"
        )
    return out


@dataclass
class EnrollSummary:
    """What :func:`enroll` did."""

    people: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    scan: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "people": self.people,
            "warnings": self.warnings,
            "scan": self.scan,
            "seconds": round(self.seconds, 3),
        }

    def line(self) -> str:
        n_faces = sum(p["faces"] for p in self.people)
        new = sum(p["new_faces"] for p in self.people)
        return (
            f"enrolled {len(self.people)} people with {n_faces} faces ({new} new); "
            f"{len(self.warnings)} warnings; {self.seconds:.1f} s"
        )


def _main_face(faces: list[dict[str, Any]]) -> dict[str, Any]:
    """The largest face: in a portrait the person is the big face, bystanders are small."""
    return max(faces, key=lambda f: (f["x2"] - f["x1"]) * (f["y2"] - f["y1"]))


def enroll(
    catalog: Catalog,
    known_dir: str | Path,
    config: ScanConfig | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    log: Log = quiet,
) -> EnrollSummary:
    """Scan a known-people folder into the catalog and pin its faces to named persons.

    An image with several faces enrols its largest face (and warns); an image with none is
    skipped (and warns). A person whose name is already in the catalog gets the new faces;
    faces already pinned to that person are left alone, so enrolling twice is harmless.

    Parameters
    ----------
    catalog : Catalog
    known_dir : str or Path
        See :func:`known_people`.
    config : ScanConfig, optional
        How the images are scanned (detector, embedder, ``cropped``).
    progress : callable(done, total), optional
    log : callable(str), optional
        Receives one line per warning as it happens.

    Returns
    -------
    EnrollSummary
    """
    from faceatlas.pipeline import scan

    t0 = time.perf_counter()
    config = config or ScanConfig()
    people = known_people(known_dir)
    summary = EnrollSummary()
    all_files = [f for files in people.values() for f in files]
    summary.scan = scan(all_files, catalog, config, progress=progress).to_dict()
    faces_by_path: dict[str, list[dict[str, Any]]] = {}
    for f in catalog.faces():
        faces_by_path.setdefault(f["path"], []).append(f)
    embedded = set(catalog.embeddings(config.embedder)[0].tolist())
    by_name: dict[str, int] = {}
    for p in catalog.persons(with_empty=True):
        if p["name"]:
            by_name.setdefault(p["name"], p["id"])
    assigned = catalog.assignments()
    for name, files in people.items():
        chosen: list[int] = []
        for path in files:
            found = [f for f in faces_by_path.get(path, []) if f["id"] in embedded]
            if not found:
                msg = f"no face found in {path}: not enrolled"
                summary.warnings.append(msg)
                log(msg)
                continue
            if len(found) > 1:
                msg = f"{len(found)} faces in {path}: enrolled the largest as {name}"
                summary.warnings.append(msg)
                log(msg)
            chosen.append(int(_main_face(found)["id"]))
        person_id = by_name.get(name)
        new = [
            f
            for f in chosen
            if not (
                person_id is not None
                and f in assigned
                and assigned[f]["person_id"] == person_id
                and assigned[f]["confirmed"]
            )
        ]
        if new:
            person_id = catalog.enroll_faces(
                new, person_id=person_id, name=None if person_id is not None else name
            )
            by_name[name] = person_id
        summary.people.append(
            {
                "name": name,
                "person_id": person_id,
                "files": len(files),
                "faces": len(chosen),
                "new_faces": len(new),
            }
        )
    summary.seconds = time.perf_counter() - t0
    return summary
