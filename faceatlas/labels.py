"""Who is in each photo, in the forms people keep it: folders, CSV files, Excel sheets.

Labels say which person a *photo* shows. They are read into ``(path, identity)`` rows,
matched to the catalog's photos, and stored per photo path
(:meth:`faceatlas.catalog.Catalog.set_labels`); scoring then gives the label to the
photo's face (:meth:`~faceatlas.catalog.Catalog.labelled_faces`).

Sources
-------
read_label_folders(root)
    ``root/person/photo.jpg``: the folder a photo sits in names its person (the layout of
    LFW, ORL and ``faceatlas enroll``). Files directly in ``root`` have no person.
read_label_table(path, path_column=None, identity_column=None, sheet=None, drop=())
    A CSV file or an Excel workbook (``.xlsx``, read with openpyxl) with a header row.
    Columns are chosen by name (case-insensitive); by default the first of
    ``path, file name, filename, file, image`` and of ``identity, person, name, id,
    label``. ``drop`` filters rows out: ``"Mask=Y"`` drops rows whose ``Mask`` is ``Y``,
    ``"ID=0"`` those whose ``ID`` is 0 (the annotation sheet of one design document had
    columns ``No, File Name, ID, Mask``, with masked faces and unknown people marked
    that way). ``"Mask!=N"`` drops rows whose value is anything but ``N``. Values compare
    as trimmed, case-insensitive text, and a whole number stored as ``0.0`` reads ``0``.

Matching label paths to catalogued photos
-----------------------------------------
A label's path is first tried as written (relative paths under the label file's folder,
or ``root``); if no catalogued photo has that exact path, it is matched by **path
suffix** on whole path components: ``alice/1.jpg`` matches ``/photos/2019/alice/1.jpg``,
and a bare file name ``1.jpg`` matches any photo of that name. A suffix shared by
several catalogued photos is *ambiguous* and is not used (give more of the path).

Faces, not photos
-----------------
A labelled photo with exactly one face labels that face. A photo with several faces
cannot say which face is whom: its faces are counted as *ambiguous* and left out of
scoring (``multi_face="skip"``, the default), or, for a label naming one person,
``multi_face="largest"`` gives the label to the largest face (the subject of a portrait
usually is). A label naming several people, ``"alice;bob"``, is always ambiguous per
face. Faces of photos without a label are *unlabelled*; both counts are reported and
neither is scored.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faceatlas.exceptions import InputError

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog

__all__ = [
    "IDENTITY_COLUMNS",
    "PATH_COLUMNS",
    "LabelImport",
    "LabelRows",
    "RowFilter",
    "import_labels",
    "match_paths",
    "parse_filter",
    "read_label_folders",
    "read_label_table",
]

#: Column names tried, in order, when no path column is given.
PATH_COLUMNS = ("path", "file name", "filename", "file_name", "file", "image", "photo")
#: Column names tried, in order, when no identity column is given.
IDENTITY_COLUMNS = ("identity", "person", "name", "id", "label", "subject")
#: Separator of several people in one photo's label (``alice;bob``).
MULTI_SEPARATOR = ";"


# --------------------------------------------------------------------------- filters
@dataclass(frozen=True)
class RowFilter:
    """Drop a row when ``column`` equals ``value`` (or differs from it, ``negate``)."""

    column: str
    value: str
    negate: bool = False

    def drops(self, cell: str) -> bool:
        same = _norm_cell(cell) == _norm_cell(self.value)
        return not same if self.negate else same

    def __str__(self) -> str:
        return f"{self.column}{'!=' if self.negate else '='}{self.value}"


def parse_filter(text: str | RowFilter) -> RowFilter:
    """``"Mask=Y"`` (drop where Mask is Y) or ``"Mask!=N"`` (drop where Mask is not N)."""
    if isinstance(text, RowFilter):
        return text
    if not isinstance(text, str):
        raise InputError(f"a row filter must be text like 'Mask=Y', got {text!r}")
    negate = "!=" in text
    column, sep, value = text.partition("!=" if negate else "=")
    if not sep or not column.strip():
        raise InputError(f"a row filter must look like COLUMN=VALUE or COLUMN!=VALUE, got {text!r}")
    return RowFilter(column.strip(), value.strip(), negate)


def _norm_cell(value: Any) -> str:
    """Cell value as comparable text: trimmed, case-folded, ``3.0`` -> ``3``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().casefold()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


# --------------------------------------------------------------------------- readers
@dataclass
class LabelRows:
    """Rows read from one label source, before matching to the catalog.

    Attributes
    ----------
    rows : list of (path, identity)
        Paths as written (relative to ``base`` unless absolute), identities as text.
    base : str
        Folder relative paths are under.
    source : str
        What was read (file name, sheet, columns, filters), one line.
    n_rows : int
        Data rows in the source.
    n_dropped : int
        Rows removed by the filters.
    n_blank : int
        Rows without a path or an identity.
    """

    rows: list[tuple[str, str]]
    base: str
    source: str
    n_rows: int = 0
    n_dropped: int = 0
    n_blank: int = 0


def read_label_folders(root: str | Path) -> LabelRows:
    """Labels from folder names: ``root/person/photo.jpg`` shows ``person``.

    Parameters
    ----------
    root : str or Path
        Folder with one sub-folder per person. Deeper folders keep the name of the
        first level (``root/alice/2019/1.jpg`` is alice). Hidden files and folders,
        and files that are not images or videos, are ignored.

    Returns
    -------
    LabelRows
        Paths relative to ``root``.
    """
    from faceatlas.images import media_kind

    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputError(f"label folder {root} does not exist or is not a folder")
    rows: list[tuple[str, str]] = []
    n_loose = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = Path(dirpath).relative_to(root)
        for name in sorted(filenames):
            if name.startswith(".") or media_kind(name) is None:
                continue
            if not rel_dir.parts:
                n_loose += 1
                continue
            rows.append(((rel_dir / name).as_posix(), rel_dir.parts[0]))
    return LabelRows(
        rows,
        os.path.abspath(root),
        f"folders under {root}",
        n_rows=len(rows) + n_loose,
        n_blank=n_loose,
    )


def _find_column(
    header: Sequence[str], wanted: str | None, defaults: Sequence[str], role: str, source: str
) -> int:
    folded = [h.strip().casefold() for h in header]
    if wanted is not None:
        try:
            return folded.index(wanted.strip().casefold())
        except ValueError:
            raise InputError(
                f"{source} has no column {wanted!r} for the {role}; its "
                f"columns are {', '.join(map(repr, header))}"
            ) from None
    for name in defaults:
        if name in folded:
            return folded.index(name)
    raise InputError(
        f"{source}: cannot tell which column holds the {role}; name it with "
        f"--{role}-column (columns: {', '.join(map(repr, header))})"
    )


def _table_cells(path: Path, sheet: str | None) -> tuple[list[list[Any]], str]:
    """Every row of a CSV file or an Excel sheet, header first, and a description."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        try:
            import openpyxl
        except ImportError:  # pragma: no cover - a core dependency
            raise InputError("reading .xlsx needs openpyxl: pip install openpyxl") from None
        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds
            raise InputError(f"cannot read workbook {path}: {exc}") from None
        try:
            if sheet is None:
                ws = wb.worksheets[0]
            elif sheet in wb.sheetnames:
                ws = wb[sheet]
            else:
                raise InputError(
                    f"workbook {path} has no sheet {sheet!r}; its sheets are "
                    f"{', '.join(map(repr, wb.sheetnames))}"
                )
            cells = [list(r) for r in ws.iter_rows(values_only=True)]
            desc = f"{path.name} [sheet {ws.title}]"
        finally:
            wb.close()
    elif suffix == ".xls":
        raise InputError(f"{path}: old .xls workbooks are not supported; save it as .xlsx or .csv")
    else:
        if sheet is not None:
            raise InputError(f"--sheet is only for Excel workbooks, and {path} is not one")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read label file {path}: {exc}") from None
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        cells = [list(r) for r in csv.reader(text.splitlines(), dialect)]
        desc = path.name
    # skip empty leading rows (a title row left blank above the header is common)
    while cells and all(_cell_text(c) == "" for c in cells[0]):
        cells.pop(0)
    if not cells:
        raise InputError(f"label file {path} is empty")
    return cells, desc


def read_label_table(
    path: str | Path,
    *,
    path_column: str | None = None,
    identity_column: str | None = None,
    sheet: str | None = None,
    drop: Iterable[str | RowFilter] = (),
) -> LabelRows:
    """Labels from a CSV file or an Excel ``.xlsx`` sheet with a header row.

    Parameters
    ----------
    path : str or Path
        ``.csv`` (any of ``,``, ``;``, tab as separator; a UTF-8 BOM is fine) or ``.xlsx``.
    path_column : str, optional
        Header of the column with photo paths or file names; default the first of
        :data:`PATH_COLUMNS` present.
    identity_column : str, optional
        Header of the column with the person; default the first of
        :data:`IDENTITY_COLUMNS` present.
    sheet : str, optional
        Sheet of a workbook; default the first.
    drop : iterable of str or RowFilter
        Rows to leave out, e.g. ``["Mask=Y", "ID=0"]`` (see :func:`parse_filter`).

    Returns
    -------
    LabelRows
        Relative paths are under the label file's folder.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"label file {path} does not exist")
    filters = [parse_filter(f) for f in drop]
    cells, desc = _table_cells(path, sheet)
    header = [_cell_text(h) for h in cells[0]]
    pi = _find_column(header, path_column, PATH_COLUMNS, "path", desc)
    ii = _find_column(header, identity_column, IDENTITY_COLUMNS, "identity", desc)
    fi = [(_find_column(header, f.column, (), "filter", desc), f) for f in filters]
    # absolute without resolving symlinks: the form the catalog stores paths in
    out = LabelRows([], os.path.abspath(path.parent), "", n_rows=0)
    for raw in cells[1:]:
        if all(_cell_text(c) == "" for c in raw):
            continue
        row = list(raw) + [None] * (len(header) - len(raw))
        out.n_rows += 1
        if any(f.drops(row[i]) for i, f in fi):
            out.n_dropped += 1
            continue
        p, who = _cell_text(row[pi]), _cell_text(row[ii])
        if not p or not who:
            out.n_blank += 1
            continue
        out.rows.append((p, who))
    parts = [desc, f"path={header[pi]!r}", f"identity={header[ii]!r}"]
    if filters:
        parts.append("drop " + ", ".join(map(str, filters)))
    out.source = " ".join(parts)
    return out


# --------------------------------------------------------------------------- matching
def _parts(path: str) -> tuple[str, ...]:
    return tuple(p for p in path.replace("\\", "/").split("/") if p not in ("", "."))


def match_paths(
    label_paths: Sequence[str], catalog_paths: Iterable[str], *, base: str | None = None
) -> tuple[list[str | None], list[int]]:
    """The catalogued photo each label path means, by exact path then by path suffix.

    Parameters
    ----------
    label_paths : sequence of str
        As written in the labels: absolute, relative to ``base``, or a bare file name.
    catalog_paths : iterable of str
        Absolute paths of catalogued photos.
    base : str, optional
        Folder relative label paths are under (tried as an exact path first).

    Returns
    -------
    matched : list of (str or None)
        The catalog path of each label path, ``None`` when there is none or several.
    n_candidates : list of int
        How many catalogued photos each label path matched (``> 1``: ambiguous).
    """
    catalog_paths = list(dict.fromkeys(catalog_paths))
    exact = set(catalog_paths)
    # every whole-component suffix of every catalog path -> the paths ending with it;
    # photo paths are a few components deep, so this is a few keys per photo
    by_suffix: dict[tuple[str, ...], list[str]] = {}
    for cp in catalog_paths:
        parts = _parts(cp)
        for k in range(1, len(parts) + 1):
            by_suffix.setdefault(parts[-k:], []).append(cp)
    matched: list[str | None] = []
    counts: list[int] = []
    for lp in label_paths:
        full = lp if os.path.isabs(lp) or base is None else os.path.join(base, lp)
        full = os.path.normpath(full)
        if full in exact:
            matched.append(full)
            counts.append(1)
            continue
        hits = by_suffix.get(_parts(lp), [])
        matched.append(hits[0] if len(hits) == 1 else None)
        counts.append(len(hits))
    return matched, counts


# --------------------------------------------------------------------------- import
@dataclass
class LabelImport:
    """What ``faceatlas label import`` did; one line of text, or a dict for JSON."""

    source: str
    n_rows: int
    n_dropped: int
    n_blank: int
    n_matched: int  # label rows matched to one catalogued photo
    n_unmatched: int  # no catalogued photo
    n_ambiguous_paths: int  # several catalogued photos share the path suffix
    n_conflicting: int  # photos labelled twice with different identities (last kept)
    n_stored: int  # photos whose label is now in the catalog
    n_people: int
    faces: dict[str, int] = field(default_factory=dict)
    unmatched_examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        f = self.faces
        text = (
            f"{self.n_rows} rows from {self.source}: {self.n_dropped} dropped by filters, "
            f"{self.n_blank} blank, {self.n_matched} matched to photos, "
            f"{self.n_unmatched} not in the catalog, {self.n_ambiguous_paths} ambiguous "
            f"paths; {self.n_stored} photos of {self.n_people} people labelled"
        )
        if f:
            text += (
                f"\nfaces: {f['labelled']} labelled, {f['ambiguous']} ambiguous "
                f"(several faces in a labelled photo), {f['unlabelled']} unlabelled, "
                f"{f['no_face_photos']} labelled photos without a face"
            )
        if self.unmatched_examples:
            text += "\nnot in the catalog, e.g. " + ", ".join(self.unmatched_examples)
        return text


def import_labels(catalog: Catalog, labels: LabelRows, *, replace: bool = False) -> LabelImport:
    """Match label rows to the catalog's photos and store them.

    Parameters
    ----------
    catalog : Catalog
    labels : LabelRows
        From :func:`read_label_folders` or :func:`read_label_table`.
    replace : bool, default False
        Forget every stored label first; by default new labels are added and a photo
        labelled again takes the new identity.

    Returns
    -------
    LabelImport
    """
    paths = [r[0] for r in labels.rows]
    matched, counts = match_paths(paths, catalog.photo_paths(), base=labels.base)
    chosen: dict[str, str] = {}
    n_conflict = 0
    for (_, who), cp in zip(labels.rows, matched, strict=True):
        if cp is None:
            continue
        if cp in chosen and chosen[cp] != who:
            n_conflict += 1
        chosen[cp] = who
    unmatched = [lp for lp, c in zip(paths, counts, strict=True) if c == 0]
    catalog.set_labels(chosen, source=labels.source, replace=replace)
    stored = catalog.labels()
    return LabelImport(
        source=labels.source,
        n_rows=labels.n_rows,
        n_dropped=labels.n_dropped,
        n_blank=labels.n_blank,
        n_matched=sum(m is not None for m in matched),
        n_unmatched=len(unmatched),
        n_ambiguous_paths=sum(c > 1 for c in counts),
        n_conflicting=n_conflict,
        n_stored=len(stored),
        n_people=len({p for v in stored.values() for p in v.split(MULTI_SEPARATOR)}),
        faces=catalog.label_counts(),
        unmatched_examples=unmatched[:5],
    )
