"""What a photo says about itself: capture time (and where that time came from), camera, GPS.

The capture time is taken, in this order, from EXIF DateTimeOriginal (with its
OffsetTimeOriginal), EXIF DateTimeDigitized, EXIF DateTime, the XMP dates, a video's own
creation time, and last the file's modification time, which is marked as a guess.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import struct
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# EXIF tags (TIFF/EXIF 2.32 numbering).
_ORIENTATION = 0x0112
_MAKE, _MODEL, _DATETIME = 0x010F, 0x0110, 0x0132
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_ORIGINAL, _DIGITIZED = 0x9003, 0x9004
_OFFSET, _OFFSET_ORIGINAL, _OFFSET_DIGITIZED = 0x9010, 0x9011, 0x9012

_XMP_DATES = (
    "exif:DateTimeOriginal",
    "photoshop:DateCreated",
    "xmp:CreateDate",
    "xmp:ModifyDate",
)
# Seconds from 1904-01-01 (QuickTime/MP4 epoch) to 1970-01-01.
_MP4_EPOCH = 2_082_844_800


@dataclass(frozen=True)
class PhotoMeta:
    """Metadata of one file.

    ``taken_at`` is ISO 8601 text, with its UTC offset when the file gives one;
    ``taken_source`` names where it came from (``exif:DateTimeOriginal``, ...,
    ``video:creation_time``, ``file:mtime``); ``taken_guess`` is True for the file time.
    ``taken_ts`` orders photos by time: seconds since 1970 in UTC when the offset is known,
    else the wall-clock time read as if it were UTC.
    """

    taken_at: str | None = None
    taken_source: str | None = None
    taken_guess: bool = False
    taken_ts: float | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    gps_alt: float | None = None
    orientation: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def at_offset(self, seconds: float) -> PhotoMeta:
        """The same metadata for a video frame ``seconds`` into the video."""
        if self.taken_at is None or self.taken_ts is None:
            return self
        t = _dt.datetime.fromisoformat(self.taken_at) + _dt.timedelta(seconds=seconds)
        return PhotoMeta(
            **{
                **self.to_dict(),
                "taken_at": t.isoformat(timespec="milliseconds" if seconds % 1 else "seconds"),
                "taken_ts": self.taken_ts + seconds,
            }
        )


def _clean(text: Any) -> str | None:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        return None
    text = text.replace("\x00", "").strip()
    return text or None


_EXIF_TIME = re.compile(r"^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?$")
_OFFSET_RE = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def parse_exif_time(value: Any, offset: Any = None) -> _dt.datetime | None:
    """``"2021:06:05 14:03:22"`` (+ ``"+02:00"``) -> datetime; None for blanks and zeros."""
    text = _clean(value)
    if not text:
        return None
    m = _EXIF_TIME.match(text)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac = float(m.group(7) or 0.0)
    try:
        t = _dt.datetime(y, mo, d, h, mi, s, round(frac * 1e6))
    except ValueError:  # "0000:00:00 00:00:00" and other placeholders
        return None
    off = _OFFSET_RE.match(_clean(offset) or "")
    if off:
        sign = -1 if off.group(1) == "-" else 1
        delta = _dt.timedelta(hours=int(off.group(2)), minutes=int(off.group(3)))
        t = t.replace(tzinfo=_dt.timezone(sign * delta))
    return t


def parse_iso_time(value: Any) -> _dt.datetime | None:
    """XMP's ISO 8601 dates (``2021-06-05T14:03:22+02:00``, ``Z`` allowed, date only too)."""
    text = _clean(value)
    if not text:
        return None
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _stamp(t: _dt.datetime) -> tuple[str, float]:
    ts = (t if t.tzinfo else t.replace(tzinfo=_dt.UTC)).timestamp()
    return t.isoformat(timespec="seconds" if not t.microsecond else "milliseconds"), ts


def _rational(v: Any) -> float:
    if isinstance(v, tuple) and len(v) == 2:
        return float(v[0]) / float(v[1]) if v[1] else 0.0
    return float(v)


def _gps(gps: dict[int, Any]) -> tuple[float | None, float | None, float | None]:
    """Decimal degrees (south and west negative) and metres from the GPS IFD."""

    def degrees(dms: Any, ref: Any, negative: str) -> float | None:
        try:
            d, m, s = (_rational(x) for x in dms)
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        value = d + m / 60.0 + s / 3600.0
        return -value if (_clean(ref) or "").upper() == negative else value

    lat = degrees(gps.get(2), gps.get(1), "S") if 2 in gps else None
    lon = degrees(gps.get(4), gps.get(3), "W") if 4 in gps else None
    alt = None
    if 6 in gps:
        try:
            alt = _rational(gps[6])
            ref = gps.get(5, 0)
            if (ref[0] if isinstance(ref, bytes) and ref else ref) == 1:
                alt = -alt
        except (TypeError, ValueError, ZeroDivisionError):
            alt = None
    if (lat is not None and not -90 <= lat <= 90) or (lon is not None and not -180 <= lon <= 180):
        return None, None, alt
    return lat, lon, alt


def _xmp_time(xmp: Any) -> tuple[_dt.datetime, str] | None:
    text = _clean(xmp)
    if not text:
        return None
    for name in _XMP_DATES:
        m = re.search(
            rf'{re.escape(name)}\s*=\s*"([^"]+)"|<{re.escape(name)}>([^<]+)</{re.escape(name)}>',
            text,
        )
        if m:
            t = parse_iso_time(m.group(1) or m.group(2))
            if t is not None:
                return t, f"xmp:{name.split(':', 1)[1]}"
    return None


def _file_time(path: Path) -> PhotoMeta:
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return PhotoMeta()
    t = _dt.datetime.fromtimestamp(mtime, _dt.UTC).astimezone()
    text, ts = _stamp(t.replace(microsecond=0))
    return PhotoMeta(taken_at=text, taken_source="file:mtime", taken_guess=True, taken_ts=ts)


def _png_exif(img: Any, path: Path) -> Any:
    """A PNG's EXIF, from its eXIf chunk wherever it lies, without decoding the pixels.

    Pillow's ``getexif`` on a PNG decodes the whole image to reach chunks after the pixels:
    for a 48 MP PNG, 190 MB more at a worker's peak and a second decode. Here the chunk
    headers are walked instead.
    """
    from PIL import Image

    from faceatlas._images_compact import png_chunks

    exif = Image.Exif()
    raw = img.info.get("exif")
    if raw is None:
        with open(path, "rb") as f:
            raw = next((f.read(n) for kind, n in png_chunks(f) if kind == b"eXIf"), None)
    if raw:
        exif.load(raw)
    return exif


def read_image_metadata(path: str | Path) -> PhotoMeta:
    """Capture time, camera and GPS of an image file (any format Pillow opens).

    Never raises: a file without readable metadata gets its file time, marked as a guess.
    """
    from PIL import Image

    from faceatlas.images import register_formats

    path = Path(path)
    register_formats()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                exif = _png_exif(img, path) if img.format == "PNG" else img.getexif()
                sub = dict(exif.get_ifd(_EXIF_IFD))
                gps = dict(exif.get_ifd(_GPS_IFD))
                xmp = img.info.get("xmp") or img.info.get("XML:com.adobe.xmp")
                base = dict(exif)
    except Exception:  # noqa: BLE001 - metadata is optional; the decode reports bad files
        return _file_time(path)
    found: tuple[_dt.datetime, str] | None = None
    for tag, off_tag, where, source in (
        (_ORIGINAL, _OFFSET_ORIGINAL, sub, "exif:DateTimeOriginal"),
        (_DIGITIZED, _OFFSET_DIGITIZED, sub, "exif:DateTimeDigitized"),
        (_DATETIME, _OFFSET, base, "exif:DateTime"),
    ):
        t = parse_exif_time(where.get(tag), sub.get(off_tag))
        if t is not None:
            found = (t, source)
            break
    if found is None:
        found = _xmp_time(xmp)
    lat, lon, alt = _gps(gps) if gps else (None, None, None)
    orientation = base.get(_ORIENTATION)
    fields: dict[str, Any] = {
        "camera_make": _clean(base.get(_MAKE)),
        "camera_model": _clean(base.get(_MODEL)),
        "gps_lat": lat,
        "gps_lon": lon,
        "gps_alt": alt,
        "orientation": int(orientation) if isinstance(orientation, int) else None,
    }
    if found is None:
        guess = _file_time(path)
        return PhotoMeta(**{**guess.to_dict(), **fields})
    text, ts = _stamp(found[0])
    return PhotoMeta(taken_at=text, taken_source=found[1], taken_ts=ts, **fields)


def _mp4_creation_time(path: Path) -> _dt.datetime | None:
    """``moov/mvhd`` creation time of an MP4/MOV file (UTC), None when absent or zero."""
    try:
        size_total = os.path.getsize(path)
        with open(path, "rb") as fh:
            pos = 0
            while pos + 8 <= size_total:
                fh.seek(pos)
                size, kind = struct.unpack(">I4s", fh.read(8))
                header = 8
                if size == 1:
                    size = struct.unpack(">Q", fh.read(8))[0]
                    header = 16
                elif size == 0:
                    size = size_total - pos
                if size < header:
                    return None
                if kind == b"moov":
                    end = pos + size
                    inner = pos + header
                    while inner + 8 <= end:
                        fh.seek(inner)
                        isize, ikind = struct.unpack(">I4s", fh.read(8))
                        if ikind == b"mvhd":
                            version = fh.read(4)[0]
                            fmt = ">Q" if version == 1 else ">I"
                            secs = struct.unpack(fmt, fh.read(8 if version == 1 else 4))[0]
                            if secs <= _MP4_EPOCH:
                                return None
                            return _dt.datetime.fromtimestamp(secs - _MP4_EPOCH, _dt.UTC)
                        if isize < 8:
                            return None
                        inner += isize
                    return None
                pos += size
    except (OSError, struct.error, IndexError, ValueError, OverflowError):
        return None
    return None


def read_video_metadata(path: str | Path) -> PhotoMeta:
    """A video's creation time (MP4/MOV ``mvhd``), else its file time marked as a guess.

    Each sampled frame then carries ``at_offset(time_s)`` of it.
    """
    path = Path(path)
    t = _mp4_creation_time(path)
    if t is None:
        return _file_time(path)
    text, ts = _stamp(t)
    return PhotoMeta(taken_at=text, taken_source="video:creation_time", taken_ts=ts)


def read_metadata(path: str | Path, kind: str = "image") -> PhotoMeta:
    """:func:`read_image_metadata` or :func:`read_video_metadata` by ``kind``."""
    return read_video_metadata(path) if kind == "video" else read_image_metadata(path)
