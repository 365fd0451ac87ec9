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
from faceatlas.people import normalize_name

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


def _catalogued_copies(
    catalog: Catalog, files: list[str], file_hash: Callable[[str], str]
) -> dict[str, str]:
    """``{known file: catalogued path}`` for known files whose content is catalogued elsewhere.

    Only a copy still on disk counts (a file deleted since would be forgotten by the next
    scan, and with it the faces enrolled from it).
    """
    out: dict[str, str] = {}
    states = catalog.file_states()
    for f in files:
        if f in states:
            continue  # enrolled before from this very file
        try:
            digest = file_hash(f)
        except OSError:
            continue
        for other in catalog.paths_with_hash(digest):
            if other != f and os.path.exists(other):
                out[f] = other
                break
    return out


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
    from faceatlas.people import display_name, people_named
    from faceatlas.pipeline import file_hash, scan

    t0 = time.perf_counter()
    config = config or ScanConfig()
    # Folder names are names: "Tony_Blair" is "Tony Blair"; two folders that spell one
    # name two ways are one person.
    people: dict[str, list[str]] = {}
    for folder, files in known_people(known_dir).items():
        name = display_name(folder)
        key = next((k for k in people if normalize_name(k) == normalize_name(name)), name)
        people.setdefault(key, []).extend(files)
    summary = EnrollSummary()
    # A reference photo whose content the catalog already holds (the same photo under
    # the library) is that photo: its faces are used, no duplicate is scanned.
    source_of = _catalogued_copies(catalog, [f for fs in people.values() for f in fs], file_hash)
    to_scan = [f for fs in people.values() for f in fs if f not in source_of]
    summary.scan = scan(to_scan, catalog, config, progress=progress).to_dict() if to_scan else {}
    faces_by_path: dict[str, list[dict[str, Any]]] = {}
    for f in catalog.faces():
        faces_by_path.setdefault(f["path"], []).append(f)
    embedded = set(catalog.embeddings(config.embedder)[0].tolist())
    assigned = catalog.assignments()
    rejected = {(c["face_a"], c["person_id"]) for c in catalog.constraints("not_person")}
    groups: list[tuple[list[int], int | None, str | None]] = []
    references: dict[int, str] = {}
    for name, files in people.items():
        chosen: list[int] = []
        for path in files:
            found = [
                f for f in faces_by_path.get(source_of.get(path, path), []) if f["id"] in embedded
            ]
            if not found:
                msg = f"no face found in {path}: not enrolled"
                summary.warnings.append(msg)
                log(msg)
                continue
            if len(found) > 1:
                msg = f"{len(found)} faces in {path}: enrolled the largest as {name}"
                summary.warnings.append(msg)
                log(msg)
            main = _main_face(found)
            if main.get("usable") == 0:
                # a reference is what every later photo is compared with: a tiny, blurred
                # or turned face would name strangers (issue "Real photos in")
                msg = f"the face in {path} is not usable ({main.get('reason')}): not enrolled"
                summary.warnings.append(msg)
                log(msg)
                continue
            face = int(main["id"])
            chosen.append(face)
            references[face] = path
        named = people_named(catalog, name)
        holding = [p for p in named if p["n_faces"] > 0] or named
        person_id = int(holding[0]["id"]) if holding else None
        # A face already confirmed (to this person or any other: the user may have merged
        # or moved it since) or rejected from this person is the user's decision: left
        # alone, so enrolling the same folder again changes nothing.
        new = [
            f
            for f in dict.fromkeys(chosen)
            if not (f in assigned and assigned[f]["confirmed"]) and (f, person_id) not in rejected
        ]
        if new:
            groups.append((new, person_id, None if person_id is not None else name))
        summary.people.append(
            {
                "name": name,
                "person_id": person_id,
                "files": len(files),
                "faces": len(chosen),
                "new_faces": len(new),
            }
        )
    fresh = {
        f: p for f, p in references.items() if f not in catalog.reference_faces(list(references))
    }
    if groups:
        ids = catalog.enroll_groups(groups, references=fresh)
        by_name = {g[2] or "": pid for g, pid in zip(groups, ids, strict=True)}
        for entry in summary.people:
            if entry["person_id"] is None and entry["new_faces"]:
                entry["person_id"] = by_name.get(entry["name"])
    elif fresh:
        catalog.enroll_groups([], references=fresh)
    summary.seconds = time.perf_counter() - t0
    return summary
