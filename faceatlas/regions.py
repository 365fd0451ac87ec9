"""Face regions in and out: names to and from the XMP of other photo tools.

* :func:`export_xmp` writes every named face of the catalog as an MWG region and a
  Microsoft region into an XMP sidecar beside its photo (``photo.jpg.xmp`` as digiKam and
  darktable name them, or ``photo.xmp`` as Lightroom does). The photos themselves are
  never opened for writing; a sidecar's other content is kept.
* :func:`import_xmp` reads the regions of sidecars, of XMP inside JPEG/HEIC/PNG files and
  of Picasa's ``.picasa.ini``, places each on a face of the catalog by overlap (adding a
  face where the detector found none), and turns each name into a confirmed correction
  (a pin, :mod:`faceatlas.people`), so that it survives every later cluster run.

Both are idempotent: a second run changes nothing and says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from faceatlas.exceptions import FaceAtlasError, InputError
from faceatlas.xmp import (
    Region,
    embedded_xmp,
    image_geometry,
    merge_regions,
    overlap,
    parse_regions,
    picasa_regions,
    to_displayed,
    to_stored,
)

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog

__all__ = [
    "MIN_OVERLAP",
    "SIDECAR_NAMES",
    "ExportSummary",
    "ImportSummary",
    "export_xmp",
    "import_xmp",
    "sidecar_path",
]

#: ``full``: ``photo.jpg.xmp`` (digiKam, darktable); ``stem``: ``photo.xmp`` (Lightroom).
SIDECAR_NAMES = ("full", "stem")

#: A region is a detected face when their intersection covers this share of the smaller
#: of the two boxes (:func:`faceatlas.xmp.overlap`): tools frame faces differently.
MIN_OVERLAP = 0.5


def sidecar_path(photo: str | Path, sidecar_name: str = "full") -> Path:
    """Where the sidecar of ``photo`` lives: ``photo.jpg.xmp`` or ``photo.xmp``."""
    if sidecar_name not in SIDECAR_NAMES:
        raise InputError(
            f"sidecar_name must be one of {', '.join(SIDECAR_NAMES)}, got {sidecar_name!r}"
        )
    photo = Path(photo)
    return (
        photo.with_name(photo.name + ".xmp")
        if sidecar_name == "full"
        else photo.with_suffix(".xmp")
    )


def _selected(path: str, roots: list[str]) -> bool:
    return not roots or any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _roots(paths: Iterable[str | Path] | None) -> list[str]:
    return [os.path.abspath(os.fspath(p)) for p in (paths or ())]


# -- export ----------------------------------------------------------------------------------
@dataclass
class ExportSummary:
    """What :func:`export_xmp` wrote (or would write, with ``dry_run``)."""

    files: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    dry_run: bool = False

    def count(self, action: str) -> int:
        return sum(1 for f in self.files if f["action"] == action)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "skipped": self.skipped,
            "dry_run": self.dry_run,
            "regions": sum(f["regions"] for f in self.files),
        }

    def line(self) -> str:
        verb = "would write" if self.dry_run else "wrote"
        n = sum(f["regions"] for f in self.files)
        return (
            f"{verb} {n} named face regions into {len(self.files)} sidecars "
            f"({self.count('create')} new, {self.count('update')} updated, "
            f"{self.count('unchanged')} unchanged); {len(self.skipped)} photos skipped"
        )


def _names_in(side: Path, names: set[str]) -> bool:
    """Whether an existing sidecar holds a region with one of ``names``."""
    try:
        found = parse_regions(side.read_text(encoding="utf-8"), where=str(side))
    except (OSError, UnicodeDecodeError, InputError):
        return False
    return any(r.name in names for r in found)


def export_xmp(
    catalog: Catalog,
    paths: Iterable[str | Path] | None = None,
    *,
    sidecar_name: str = "full",
    dry_run: bool = False,
) -> ExportSummary:
    """Write the catalog's named faces as MWG and Microsoft regions into XMP sidecars.

    Parameters
    ----------
    catalog : Catalog
    paths : iterable of path, optional
        Photos or folders to export; default every catalogued photo.
    sidecar_name : {"full", "stem"}, default="full"
        ``photo.jpg.xmp`` or ``photo.xmp`` (:func:`sidecar_path`).
    dry_run : bool, default=False
        Report what would change; write nothing.

    Returns
    -------
    ExportSummary
        One entry per photo with named faces: ``path``, ``sidecar``, ``regions``,
        ``names`` and ``action`` (``create``, ``update`` or ``unchanged``).

    Notes
    -----
    Faces of hidden people are left out, and regions with a hidden person's name are
    removed from the sidecar. Video frames are not exported (XMP regions describe a still).
    Boxes go into the stored frame of the photo (see :mod:`faceatlas.xmp`).
    """
    sidecar_path("x", sidecar_name)  # checks the name before any work
    roots = _roots(paths)
    persons = {p["id"]: p for p in catalog.persons(with_empty=True)}
    hidden = {p["name"] for p in persons.values() if p["hidden"] and p["name"]}
    named = {pid: p["name"] for pid, p in persons.items() if p["name"] and not p["hidden"]}
    assigned = catalog.face_people()
    for root in roots:
        if not os.path.exists(root):
            raise InputError(f"{root}: no such file or folder")
    by_path: dict[str, list[dict[str, Any]]] = {}
    for f in catalog.faces():
        got = assigned.get(f["id"])
        if got is None or f["frame_index"] != -1 or not _selected(f["path"], roots):
            continue
        if got[0] in named:
            by_path.setdefault(f["path"], []).append({**f, "name": named[got[0]]})
        elif persons[got[0]]["hidden"] and persons[got[0]]["name"]:
            # no region, but an existing sidecar loses the hidden person's name
            by_path.setdefault(f["path"], [])
    summary = ExportSummary(dry_run=dry_run)
    for path in sorted(by_path):
        faces = sorted(by_path[path], key=lambda f: f["id"])
        side = sidecar_path(path, sidecar_name)
        if not faces and not _names_in(side, hidden):
            continue  # only hidden people here, and no sidecar naming them
        try:
            width, height, orientation = image_geometry(path)
        except (InputError, FileNotFoundError) as exc:
            summary.skipped.append({"path": path, "reason": str(exc)})
            continue
        regions = []
        for f in faces:
            # boxes are stored in the displayed frame of the photo (width, height of the
            # decoded, orientation-applied image)
            W, H = float(f["width"] or 1), float(f["height"] or 1)
            shown = (
                max(f["x1"] / W, 0.0),
                max(f["y1"] / H, 0.0),
                min(f["x2"] / W, 1.0),
                min(f["y2"] / H, 1.0),
            )
            regions.append(Region(f["name"], to_stored(shown, orientation), "Face", "faceatlas"))
        side = sidecar_path(path, sidecar_name)
        try:
            existing = side.read_text(encoding="utf-8") if side.exists() else None
            text = merge_regions(existing, regions, width, height, drop_names=hidden)
        except (OSError, UnicodeDecodeError, InputError) as exc:
            summary.skipped.append({"path": path, "reason": f"{side}: {exc}"})
            continue
        action = "create" if existing is None else "unchanged" if text == existing else "update"
        if action != "unchanged" and not dry_run:
            tmp = side.with_name(side.name + ".part")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(side)
        summary.files.append(
            {
                "path": path,
                "sidecar": str(side),
                "regions": len(regions),
                "names": [r.name for r in regions],
                "action": action,
            }
        )
    return summary


# -- import ----------------------------------------------------------------------------------
@dataclass
class ImportSummary:
    """What :func:`import_xmp` found and did."""

    photos: int = 0
    regions: int = 0
    unnamed: int = 0
    matched: int = 0
    added_faces: int = 0
    named: int = 0
    already: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    unplaced: list[dict[str, Any]] = field(default_factory=list)
    scan: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def line(self) -> str:
        return (
            f"{self.regions} named regions in {self.photos} photos: {self.matched} on detected "
            f"faces, {self.added_faces} faces added; {self.named} names confirmed, "
            f"{self.already} already so, {len(self.conflicts)} conflicts, "
            f"{len(self.unplaced)} not placed; {self.unnamed} unnamed regions ignored"
        )


def _regions_of(
    photo: str, picasa: dict[str, dict[str, list[Region]]], contacts: Any
) -> tuple[list[Region], list[str]]:
    """Every region of a photo from its sidecars, its own XMP and Picasa; and problems."""
    found: list[Region] = []
    problems: list[str] = []
    p = Path(photo)
    for side in dict.fromkeys([sidecar_path(p, "full"), sidecar_path(p, "stem")]):
        if side.is_file():
            try:
                found += parse_regions(side.read_text(encoding="utf-8"), where=str(side))
            except (OSError, UnicodeDecodeError, InputError) as exc:
                problems.append(f"{side}: {exc}")
    try:
        packet = embedded_xmp(p)
        if packet:
            found += parse_regions(packet, where=photo)
    except (OSError, InputError) as exc:
        problems.append(f"{photo}: {exc}")
    folder = str(p.parent)
    if folder not in picasa:
        try:
            picasa[folder] = picasa_regions(folder, contacts)
        except InputError as exc:
            picasa[folder] = {}
            problems.append(str(exc))
    found += picasa[folder].get(p.name, [])
    # the same face often comes twice (MWG and Microsoft regions, a sidecar and the file)
    unique: list[Region] = []
    for r in found:
        if not any(u.name == r.name and overlap(u.box, r.box) >= 0.8 for u in unique):
            unique.append(r)
    return unique, problems


def _person_by_name(catalog: Catalog, name: str) -> int | None:
    """The person with this name (as ``people.normalize_name`` compares); the oldest if several.

    A name made of digits is a name here, never an id.
    """
    from faceatlas.people import normalize_name

    wanted = normalize_name(name)
    found = [
        p for p in catalog.persons(with_empty=True) if normalize_name(p["name"] or "") == wanted
    ]
    return int(min(p["id"] for p in found)) if found else None


def _add_face(
    catalog: Catalog, photo: dict[str, Any], box: tuple[float, ...], embedder: Any
) -> int:
    """A face from a region the detector missed: landmarks from a detection inside the
    region when there is one, else the chip template placed in the box."""
    from faceatlas.detect import Detections, get_detector, template_landmarks
    from faceatlas.images import load_image
    from faceatlas.pipeline import faces_of_image

    image = load_image(photo["path"])
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    det = None
    name = photo.get("detector") or "yunet"
    if name in ("yunet", "dlib", "haar"):
        # look again in the region alone, with a margin: small or turned faces are found
        # more easily when the detector's input is the face
        mx, my = 0.3 * (x2 - x1), 0.3 * (y2 - y1)
        cx1, cy1 = int(max(x1 - mx, 0)), int(max(y1 - my, 0))
        cx2, cy2 = int(min(x2 + mx, w)), int(min(y2 + my, h))
        crop = np.ascontiguousarray(image[cy1:cy2, cx1:cx2])
        if crop.shape[0] >= 16 and crop.shape[1] >= 16:
            found = get_detector(name).detect(crop)
            shift = np.array([cx1, cy1], np.float32)
            best = -1.0
            for i in range(len(found)):
                b = found.boxes[i] + np.tile(shift, 2)
                score = overlap(tuple(float(v) for v in b), box)
                if score >= MIN_OVERLAP and score > best:
                    best = score
                    det = Detections(
                        b[None].astype(np.float32),
                        (found.landmarks[i] + shift)[None].astype(np.float32),
                        found.scores[i : i + 1].astype(np.float32),
                        found.detector,
                    )
    if det is None:
        b = np.array(box, np.float32)
        det = Detections(b[None], template_landmarks(b)[None], np.zeros(1, np.float32), "region")
    record = faces_of_image(image, det, embedder)[0]
    return catalog.add_face(int(photo["id"]), record, embedder.name, embedder.version)


def _confirm(catalog: Catalog, face_id: int, name: str, summary: ImportSummary, where: str) -> None:
    """Pin ``face_id`` to the person called ``name`` (a confirmed correction)."""
    from faceatlas.people import move_face, name_person

    pid = _person_by_name(catalog, name)
    current = catalog.assignments([face_id]).get(face_id)
    if current and pid is not None and current["person_id"] == pid and current["confirmed"]:
        summary.already += 1
        return
    if current and current["confirmed"] and current["person_id"] != pid:
        other = catalog.person(current["person_id"])
        if other["name"]:
            summary.conflicts.append(
                {
                    "path": where,
                    "face": face_id,
                    "region_name": name,
                    "catalog_person": other["id"],
                    "catalog_name": other["name"],
                    "reason": "the face is confirmed as somebody else in the catalog; kept",
                }
            )
            return
    try:
        if pid is None:
            # the face's own unnamed person takes the name (its look-alikes with it)
            if current and not catalog.person(current["person_id"])["name"]:
                pid = int(current["person_id"])
            else:
                pid = int(move_face(catalog, face_id, None)["person"])
            name_person(catalog, pid, name)
        move_face(catalog, face_id, pid)
    except InputError as exc:
        summary.conflicts.append(
            {"path": where, "face": face_id, "region_name": name, "reason": str(exc)}
        )
        return
    summary.named += 1


def _place(
    catalog: Catalog,
    photo: str,
    regions: list[Region],
    faces: list[dict[str, Any]],
    emb: Any,
    min_overlap: float,
    summary: ImportSummary,
) -> None:
    """Place one photo's named regions on its faces (adding faces) and confirm the names."""
    record = catalog.photo_of_path(photo)
    if record is None or record["status"] != "done":
        reason = "not in the catalog" if record is None else "the scan could not read it"
        summary.unplaced += [{"path": photo, "name": r.name, "reason": reason} for r in regions]
        return
    try:
        _, _, orientation = image_geometry(photo)
    except InputError as exc:
        summary.unplaced += [{"path": photo, "name": r.name, "reason": str(exc)} for r in regions]
        return
    W, H = float(record["width"]), float(record["height"])
    boxes = {f["id"]: (f["x1"], f["y1"], f["x2"], f["y2"]) for f in faces}
    shown = []
    for r in regions:
        d = to_displayed(r.box, orientation)
        shown.append((d[0] * W, d[1] * H, d[2] * W, d[3] * H))
    # one region per face, best overlaps first; on a tie the region listed first wins
    pairs = sorted(
        ((-overlap(s, b), i, fid) for i, s in enumerate(shown) for fid, b in boxes.items()),
    )
    placed: dict[int, int] = {}
    taken: set[int] = set()
    for negative, i, fid in pairs:
        if -negative < min_overlap:
            break
        if i not in placed and fid not in taken:
            placed[i] = fid
            taken.add(fid)
    for i, r in enumerate(regions):
        if i in placed:
            summary.matched += 1
            _confirm(catalog, placed[i], r.name or "", summary, photo)
            continue
        if any(overlap(shown[i], boxes[f]) >= min_overlap for f in taken):
            summary.unplaced.append(
                {
                    "path": photo,
                    "name": r.name,
                    "reason": "its face is already named by another region of the photo",
                }
            )
            continue
        try:
            fid = _add_face(catalog, {**record, "path": photo}, shown[i], emb)
        except (FaceAtlasError, OSError, ValueError) as exc:
            summary.unplaced.append(
                {"path": photo, "name": r.name, "reason": f"no face could be added: {exc}"}
            )
            continue
        summary.added_faces += 1
        boxes[fid] = shown[i]
        taken.add(fid)
        _confirm(catalog, fid, r.name or "", summary, photo)


def import_xmp(
    catalog: Catalog,
    paths: Iterable[str | Path],
    *,
    contacts: str | Path | None = None,
    embedder: str | None = None,
    min_overlap: float = MIN_OVERLAP,
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Read face regions of other tools and make their names confirmed corrections.

    Parameters
    ----------
    catalog : Catalog
    paths : iterable of path
        Photos or folders. Photos not yet in the catalog are scanned first.
    contacts : path, optional
        Picasa's ``contacts.xml`` (names of the contact ids in ``.picasa.ini``).
    embedder : str, optional
        Embedder for faces added from regions; default the catalog's
        (:func:`faceatlas.policy.catalog_embedder`).
    min_overlap : float, default=0.5
        :data:`MIN_OVERLAP`: how much a region and a detected face must overlap.
    progress : callable(done, total), optional

    Returns
    -------
    ImportSummary
        ``unplaced`` lists each region that could not be placed, with the reason.
    """
    from faceatlas.config import ScanConfig
    from faceatlas.embed import get_embedder
    from faceatlas.images import media_kind
    from faceatlas.pipeline import scan, walk
    from faceatlas.policy import DEFAULT_EMBEDDER, catalog_embedder

    roots = _roots(paths)
    if not roots:
        raise InputError("paths must name at least one file or folder, got none")
    if contacts is not None and not Path(contacts).is_file():
        raise InputError(f"contacts must be Picasa's contacts.xml file, got {str(contacts)!r}")
    found = walk(roots)
    if found.errors:
        path, reason = found.errors[0]
        raise InputError(f"{path}: {reason}")
    summary = ImportSummary()
    picasa: dict[str, dict[str, list[Region]]] = {}
    todo: list[tuple[str, list[Region]]] = []
    for photo in found.files:
        if media_kind(photo) != "image":
            continue  # XMP regions describe stills; video frames have none
        regions, problems = _regions_of(photo, picasa, contacts)
        for problem in problems:
            summary.unplaced.append({"path": photo, "name": None, "reason": problem})
        faces = [r for r in regions if r.kind == "Face"]
        summary.unnamed += sum(1 for r in faces if not r.name)
        named = [r for r in faces if r.name]
        if named:
            todo.append((photo, named))
    emb_name = catalog_embedder(catalog, embedder) or DEFAULT_EMBEDDER
    missing = [p for p, _ in todo if catalog.photo_of_path(p) is None]
    if missing:
        summary.scan = scan(missing, catalog, ScanConfig(embedder=emb_name)).to_dict()
    emb = get_embedder(emb_name) if todo else None
    faces_by_path: dict[str, list[dict[str, Any]]] = {}
    for f in catalog.faces():
        faces_by_path.setdefault(f["path"], []).append(f)
    for done, (photo, regions) in enumerate(todo, 1):
        summary.photos += 1
        summary.regions += len(regions)
        _place(catalog, photo, regions, faces_by_path.get(photo, []), emb, min_overlap, summary)
        if progress:
            progress(done, len(todo))
    return summary
