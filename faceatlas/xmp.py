"""Face regions as other photo tools store them: XMP (MWG and Microsoft) and Picasa.

A stage: text and files in, :class:`Region` lists and XMP text out; no catalog.

* **MWG regions** (``mwg-rs:Regions``, the Metadata Working Group's schema, read and
  written by digiKam, Lightroom, Immich, PhotoPrism): a centre-based normalised rectangle
  (``stArea:x``, ``y`` are the centre, ``w``, ``h`` the size) and the image size the
  regions were applied to (``mwg-rs:AppliedToDimensions``).
* **Microsoft Photo regions** (``MP:RegionInfo`` / ``MPRI:Regions``, Windows Photo Gallery):
  ``MPReg:Rectangle`` is "x, y, w, h", normalised, from the top-left corner.
* **Picasa** (``.picasa.ini``): ``faces=rect64(<hex>),<contact id>;...`` per photo, the
  names in the ini's ``[Contacts2]`` section or in Picasa's ``contacts.xml``.

Orientation. The MWG Guidelines for Handling Image Metadata 2.0 (section 5.9, "Image
Region Metadata") say that region metadata is applied to the *stored* image, and that
when a viewer applies a rotation from the Exif Orientation it must rotate the regions as
well. So every :class:`Region` here holds its box in the stored, un-rotated frame, and
``AppliedToDimensions`` is the stored width and height; :func:`to_displayed` and
:func:`to_stored` convert from and to the displayed frame faceatlas detects faces in
(:func:`faceatlas.images.load_image` applies the orientation). ExifTool's
``rotate_regions.config`` treats Microsoft and Picasa rectangles the same way, and so
does this module.
"""

from __future__ import annotations

import configparser
import contextlib
import copy
import io
import mmap
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from faceatlas.exceptions import InputError

__all__ = [
    "Region",
    "embedded_xmp",
    "image_geometry",
    "merge_regions",
    "overlap",
    "parse_regions",
    "picasa_regions",
    "to_displayed",
    "to_stored",
]

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS = {
    "x": "adobe:ns:meta/",
    "rdf": RDF,
    "mwg-rs": "http://www.metadataworkinggroup.com/schemas/regions/",
    "stArea": "http://ns.adobe.com/xmp/sType/Area#",
    "stDim": "http://ns.adobe.com/xap/1.0/sType/Dimensions#",
    "MP": "http://ns.microsoft.com/photo/1.2/",
    "MPRI": "http://ns.microsoft.com/photo/1.2/t/RegionInfo#",
    "MPReg": "http://ns.microsoft.com/photo/1.2/t/Region#",
}


def _q(qname: str) -> str:
    prefix, local = qname.split(":")
    return f"{{{NS[prefix]}}}{local}"


@dataclass(frozen=True)
class Region:
    """One named (or unnamed) rectangle of a photo.

    ``box`` is ``(x1, y1, x2, y2)`` normalised to [0, 1], in the stored (un-rotated) frame;
    ``source`` says where it was read: ``"mwg"``, ``"mp"`` or ``"picasa"``.
    """

    name: str | None
    box: tuple[float, float, float, float]
    kind: str = "Face"
    source: str = ""


# -- geometry ------------------------------------------------------------------------------
# Exif Orientation -> where a stored point (u, v) (normalised) shows on screen. 6 is
# "rotate 90 clockwise to display": the stored top-left corner is shown top right.
_DISPLAY = {
    1: lambda u, v: (u, v),
    2: lambda u, v: (1 - u, v),
    3: lambda u, v: (1 - u, 1 - v),
    4: lambda u, v: (u, 1 - v),
    5: lambda u, v: (v, u),
    6: lambda u, v: (1 - v, u),
    7: lambda u, v: (1 - v, 1 - u),
    8: lambda u, v: (v, 1 - u),
}
_INVERSE = {6: 8, 8: 6}


def _map(box: tuple[float, float, float, float], orientation: int) -> tuple[float, ...]:
    f = _DISPLAY.get(int(orientation), _DISPLAY[1])
    a = f(box[0], box[1])
    b = f(box[2], box[3])
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1]))


def to_displayed(
    box: tuple[float, float, float, float], orientation: int
) -> tuple[float, float, float, float]:
    """A normalised stored-frame box as shown after the Exif ``orientation`` (1-8)."""
    return _map(box, orientation)  # type: ignore[return-value]


def to_stored(
    box: tuple[float, float, float, float], orientation: int
) -> tuple[float, float, float, float]:
    """A normalised displayed-frame box in the stored frame (inverse of :func:`to_displayed`)."""
    return _map(box, _INVERSE.get(int(orientation), int(orientation)))  # type: ignore[return-value]


def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over the smaller box's area, in [0, 1] (boxes ``x1, y1, x2, y2``).

    Tools draw face boxes of different shapes (digiKam's include hair, a detector's stop at
    the brow), so intersection over union would miss a face that one box holds entirely.
    """
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    smaller = min(area_a, area_b)
    return float(iw * ih / smaller) if smaller > 0 else 0.0


def image_geometry(path: str | Path) -> tuple[int, int, int]:
    """``(stored_width, stored_height, exif_orientation)`` of an image file, header only."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            w, h = img.size
            orientation = int(img.getexif().get(0x0112, 1) or 1)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the image size ({exc})") from None
    return w, h, orientation if orientation in _DISPLAY else 1


# -- reading XMP ---------------------------------------------------------------------------
def _fields(node: ET.Element) -> dict[str, ET.Element | str]:
    """The properties of an RDF node, whichever serialisation wrote them.

    Attributes (``mwg-rs:Name="..."``), child elements, ``rdf:parseType="Resource"`` and
    a nested ``rdf:Description`` all say the same thing in RDF; exiv2 (digiKam) writes the
    first, ExifTool the second.
    """
    out: dict[str, ET.Element | str] = {
        key: value for key, value in node.attrib.items() if not key.startswith(f"{{{RDF}}}")
    }
    for child in node:
        if not isinstance(child.tag, str):
            continue  # comments
        if child.tag == f"{{{RDF}}}Description":
            out.update(_fields(child))
        else:
            out[child.tag] = child
    return out


def _text(value: ET.Element | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip()
    for container in ("Alt", "Bag", "Seq"):
        found = value.find(f"{{{RDF}}}{container}/{{{RDF}}}li")
        if found is not None:
            return (found.text or "").strip()
    return (value.text or "").strip()


def _items(value: ET.Element | str | None) -> list[ET.Element]:
    if not isinstance(value, ET.Element):
        return []
    for container in ("Bag", "Seq", "Alt"):
        found = value.find(f"{{{RDF}}}{container}")
        if found is not None:
            return found.findall(f"{{{RDF}}}li")
    return []


def _float(value: ET.Element | str | None) -> float | None:
    text = _text(value)
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _clip(box: tuple[float, float, float, float]) -> tuple[float, float, float, float] | None:
    x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in box)
    return (x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None


def _mwg_region(item: ET.Element, dims: tuple[float, float] | None) -> Region | None:
    f = _fields(item)
    area = f.get(_q("mwg-rs:Area"))
    if not isinstance(area, ET.Element):
        return None
    a = _fields(area)
    x, y, w, h = (_float(a.get(_q(f"stArea:{k}"))) for k in "xywh")
    if None in (x, y, w, h):
        return None
    unit = (_text(a.get(_q("stArea:unit"))) or "normalized").lower()
    if unit == "pixel":
        if dims is None:
            return None
        x, y, w, h = x / dims[0], y / dims[1], w / dims[0], h / dims[1]  # type: ignore[operator]
    box = _clip((x - w / 2, y - h / 2, x + w / 2, y + h / 2))  # type: ignore[operator]
    if box is None:
        return None
    return Region(
        _text(f.get(_q("mwg-rs:Name"))) or None,
        box,
        _text(f.get(_q("mwg-rs:Type"))) or "Face",
        "mwg",
    )


def _mp_region(item: ET.Element) -> Region | None:
    f = _fields(item)
    rect = _text(f.get(_q("MPReg:Rectangle")))
    name = _text(f.get(_q("MPReg:PersonDisplayName"))) or None
    if not rect:
        return None
    try:
        x, y, w, h = (float(v) for v in rect.split(","))
    except ValueError:
        return None
    box = _clip((x, y, x + w, y + h))
    if box is None:
        return None
    # Windows Photo Gallery marks a face the user chose to ignore with this name
    return None if name == "ffffffffffffffff" else Region(name, box, "Face", "mp")


def _parse(text: str, where: str) -> ET.Element:
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise InputError(f"{where}: not valid XMP ({exc})") from None


def parse_regions(text: str, *, where: str = "XMP") -> list[Region]:
    """Every MWG and Microsoft region of an XMP packet or sidecar, in file order.

    Parameters
    ----------
    text : str
        The XMP (an ``x:xmpmeta`` or ``rdf:RDF`` document).
    where : str
        Names the source in errors (a file name).

    Returns
    -------
    list of Region
        MWG regions first, then Microsoft ones; boxes in the stored frame.
    """
    root = _parse(_strip_packet(text)[1], where)
    out: list[Region] = []
    for regions in root.iter(_q("mwg-rs:Regions")):
        f = _fields(regions)
        dims = None
        applied = f.get(_q("mwg-rs:AppliedToDimensions"))
        if isinstance(applied, ET.Element):
            d = _fields(applied)
            w, h = _float(d.get(_q("stDim:w"))), _float(d.get(_q("stDim:h")))
            dims = (w, h) if w and h else None
        for item in _items(f.get(_q("mwg-rs:RegionList"))):
            region = _mwg_region(item, dims)
            if region is not None:
                out.append(region)
    for info in root.iter(_q("MP:RegionInfo")):
        for item in _items(_fields(info).get(_q("MPRI:Regions"))):
            region = _mp_region(item)
            if region is not None:
                out.append(region)
    return out


_PACKET = re.compile(rb"<x:xmpmeta\b.*?</x:xmpmeta>", re.S)


def embedded_xmp(path: str | Path) -> str | None:
    """The XMP packet inside an image file (JPEG APP1, PNG iTXt, HEIC item), or None.

    The packet is found by its ``x:xmpmeta`` element, the way XMP's own specification
    tells readers to scan files of unknown format; compressed PNG chunks are not read.
    """
    with open(path, "rb") as fh:
        try:
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file
            return None
        with data:
            found = _PACKET.search(data)
            return found.group(0).decode("utf-8", errors="replace") if found else None


# -- Picasa --------------------------------------------------------------------------------
def _rect64(text: str) -> tuple[float, float, float, float] | None:
    """``rect64(hex)``: four 16-bit numbers (left, top, right, bottom) over 65535."""
    m = re.fullmatch(r"\s*rect64\(([0-9a-fA-F]{1,16})\)\s*", text)
    if not m:
        return None
    v = int(m.group(1), 16)
    parts = [((v >> s) & 0xFFFF) / 65535.0 for s in (48, 32, 16, 0)]
    return _clip((parts[0], parts[1], parts[2], parts[3]))


def _contacts_xml(path: Path) -> dict[str, str]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise InputError(f"{path}: cannot read Picasa contacts ({exc})") from None
    return {
        c.get("id", ""): c.get("name") or c.get("display") or ""
        for c in root.iter("contact")
        if c.get("id")
    }


def picasa_regions(
    folder: str | Path, contacts: str | Path | None = None
) -> dict[str, list[Region]]:
    """Picasa's face rectangles of one folder: ``{file name: [Region]}``.

    Parameters
    ----------
    folder : str or Path
        A folder that may hold a ``.picasa.ini`` (or ``Picasa.ini``).
    contacts : str or Path, optional
        Picasa's ``contacts.xml`` (``contact id -> name``); the ini's ``[Contacts2]``
        section and a ``contacts.xml`` inside ``folder`` are read too.

    Returns
    -------
    dict
        Empty when the folder has no ini. A face whose contact is unknown has name None.
    """
    folder = Path(folder)
    ini = next((folder / n for n in (".picasa.ini", "Picasa.ini") if (folder / n).is_file()), None)
    if ini is None:
        return {}
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_file(io.StringIO(ini.read_text(encoding="utf-8", errors="replace")))
    except configparser.Error as exc:
        raise InputError(f"{ini}: not a Picasa ini file ({exc})") from None
    names: dict[str, str] = {}
    for xml_path in (folder / "contacts.xml", Path(contacts) if contacts else None):
        if xml_path is not None and xml_path.is_file():
            names.update(_contacts_xml(xml_path))
    if parser.has_section("Contacts2"):
        for cid, value in parser.items("Contacts2"):
            names.setdefault(cid, value.split(";")[0].strip())
    out: dict[str, list[Region]] = {}
    for section in parser.sections():
        if section == "Contacts2" or not parser.has_option(section, "faces"):
            continue
        for entry in parser.get(section, "faces").split(";"):
            rect, _, cid = entry.partition(",")
            box = _rect64(rect)
            if box is None:
                continue
            cid = cid.strip()
            name = None if cid in ("", "ffffffffffffffff") else names.get(cid) or None
            out.setdefault(section, []).append(Region(name, box, "Face", "picasa"))
    return out


# -- writing XMP ---------------------------------------------------------------------------
def _strip_packet(text: str) -> tuple[str, str, str]:
    """``(before, document, after)``: the ``<?xpacket?>`` wrapper kept apart, so that
    ElementTree (which drops processing instructions) never loses it."""
    start = re.search(r"<(?![?!])", text)
    end = text.rfind(">")
    if start is None or end < start.start():
        return "", text, ""
    tail = text[: end + 1]
    # the document ends at the last element's closing '>', before any trailing '<?xpacket'
    last_pi = tail.rfind("<?")
    doc_end = end + 1
    if last_pi > start.start() and tail[last_pi:].rstrip().endswith("?>"):
        doc_end = text.rfind(">", 0, last_pi) + 1
    return text[: start.start()], text[start.start() : doc_end], text[doc_end:]


def _prefixes(document: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for _event, (prefix, uri) in ET.iterparse(io.StringIO(document), events=("start-ns",)):
        if prefix and not re.fullmatch(r"ns\d+", prefix):
            found.setdefault(prefix, uri)
    return found


def _sub(parent: ET.Element, qname: str, text: str | None = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(
        parent, _q(qname), {(_q(k) if ":" in k else k): v for k, v in attrib.items()}
    )
    if text is not None:
        el.text = text
    return el


def _resource(parent: ET.Element, qname: str) -> ET.Element:
    return _sub(parent, qname, **{"rdf:parseType": "Resource"})


def _num(v: float) -> str:
    return f"{v:.6f}".rstrip("0").rstrip(".") if v else "0"


def _kept_items(
    root: ET.Element, container: str, listed: str, new: list[Region], drop_names: set[str]
) -> list[ET.Element]:
    """``rdf:li`` items of other tools to keep: those no new region replaces."""
    kept = []
    for holder in root.iter(_q(container)):
        for item in _items(_fields(holder).get(_q(listed))):
            region = _mwg_region(item, None) if container == "mwg-rs:Regions" else _mp_region(item)
            if region is None:
                # not a face box faceatlas reads (an ignored face, an odd unit): not ours
                kept.append(copy.deepcopy(item))
                continue
            if region.name and region.name in drop_names:
                continue
            if region.kind == "Face" and any(overlap(region.box, r.box) >= 0.5 for r in new):
                continue
            kept.append(copy.deepcopy(item))
    return kept


def _write(
    rdf: ET.Element,
    regions: list[Region],
    kept_mwg: list[ET.Element],
    kept_mp: list[ET.Element],
    width: int,
    height: int,
) -> None:
    """One new ``rdf:Description`` with the MWG and the Microsoft region lists."""
    desc = _sub(rdf, "rdf:Description", **{"rdf:about": ""})
    holder = _resource(desc, "mwg-rs:Regions")
    dims = _resource(holder, "mwg-rs:AppliedToDimensions")
    _sub(dims, "stDim:w", str(int(width)))
    _sub(dims, "stDim:h", str(int(height)))
    _sub(dims, "stDim:unit", "pixel")
    bag = _sub(_sub(holder, "mwg-rs:RegionList"), "rdf:Bag")
    for item in kept_mwg:
        bag.append(item)
    for r in regions:
        li = _resource(bag, "rdf:li")
        area = _resource(li, "mwg-rs:Area")
        x1, y1, x2, y2 = r.box
        centre_size = (("x", (x1 + x2) / 2), ("y", (y1 + y2) / 2), ("w", x2 - x1), ("h", y2 - y1))
        for key, value in centre_size:
            _sub(area, f"stArea:{key}", _num(value))
        _sub(area, "stArea:unit", "normalized")
        if r.name:
            _sub(li, "mwg-rs:Name", r.name)
        _sub(li, "mwg-rs:Type", r.kind)
    info = _resource(desc, "MP:RegionInfo")
    mp_bag = _sub(_sub(info, "MPRI:Regions"), "rdf:Bag")
    for item in kept_mp:
        mp_bag.append(item)
    for r in regions:
        if r.kind != "Face":
            continue
        li = _resource(mp_bag, "rdf:li")
        if r.name:
            _sub(li, "MPReg:PersonDisplayName", r.name)
        x1, y1, x2, y2 = r.box
        _sub(li, "MPReg:Rectangle", ", ".join(_num(v) for v in (x1, y1, x2 - x1, y2 - y1)))


def merge_regions(
    existing: str | None,
    regions: list[Region],
    width: int,
    height: int,
    *,
    drop_names: set[str] | frozenset[str] = frozenset(),
) -> str:
    """XMP text holding ``regions`` as MWG and Microsoft regions, merged into ``existing``.

    Everything else of ``existing`` is kept: other properties, namespace prefixes, the
    ``<?xpacket?>`` wrapper, and regions of other tools that none of ``regions`` covers
    (a face region another tool drew over the same face is replaced).

    Parameters
    ----------
    existing : str or None
        The sidecar's current text; None for a new sidecar.
    regions : list of Region
        Named face regions, boxes in the stored frame.
    width, height : int
        The stored image size, written as ``mwg-rs:AppliedToDimensions``.
    drop_names : set of str
        Names whose regions are removed from ``existing`` (hidden people).

    Returns
    -------
    str
    """
    drop = set(drop_names)
    if existing is None or not existing.strip():
        before = "<?xpacket begin='\ufeff' id='W5M0MpCehiHzreSzNTczkc9d'?>\n"
        after = "\n<?xpacket end='w'?>\n"
        root = ET.Element(_q("x:xmpmeta"), {_q("x:xmptk"): "faceatlas"})
        ET.SubElement(root, _q("rdf:RDF"))
        prefixes: dict[str, str] = {}
    else:
        before, document, after = _strip_packet(existing)
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
        try:
            parser.feed(document)
            root = parser.close()
        except ET.ParseError as exc:
            raise InputError(f"the existing sidecar is not valid XMP ({exc})") from None
        prefixes = _prefixes(document)
    kept_mwg = _kept_items(root, "mwg-rs:Regions", "mwg-rs:RegionList", regions, drop)
    kept_mp = _kept_items(root, "MP:RegionInfo", "MPRI:Regions", regions, drop)
    # remove the old region structures wherever they sit; they are rewritten below
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag in (_q("mwg-rs:Regions"), _q("MP:RegionInfo")):
                parent.remove(child)
    rdf = root if root.tag == _q("rdf:RDF") else root.find(_q("rdf:RDF"))
    if rdf is None:
        raise InputError("the existing sidecar has no rdf:RDF element: not an XMP sidecar")
    # drop descriptions the removal left empty (a sidecar faceatlas wrote before)
    for desc in rdf.findall(_q("rdf:Description")):
        if len(desc) == 0 and set(desc.attrib) <= {_q("rdf:about")}:
            rdf.remove(desc)
    if regions or kept_mwg or kept_mp:
        _write(rdf, regions, kept_mwg, kept_mp, width, height)
    for prefix, uri in {**NS, **prefixes}.items():
        with contextlib.suppress(ValueError):  # a prefix ElementTree keeps for itself
            ET.register_namespace(prefix, uri)
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    return before + body + after
