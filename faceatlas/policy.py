"""The rules every workflow asks: which embedder, which same-person threshold.

Written once here so that ``cluster``, ``who``, ``similar``, ``suggest``, the report and the
gallery give one answer. A workflow (noun) module: it takes a :class:`Catalog`.

Threshold precedence, highest first:

1. a threshold given explicitly (command line, function argument);
2. a calibration stored by ``faceatlas calibrate`` for this embedder and version;
3. a threshold derived from the catalog's own data, when the caller has one
   (``derived``: the people workflow derives one from the catalog's confirmed faces);
4. the embedder's published threshold (0.363 for SFace: OpenCV's same-person cosine
   threshold on LFW).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faceatlas.embed.sface import PUBLISHED_THRESHOLD as SFACE_PUBLISHED_THRESHOLD
from faceatlas.exceptions import InputError

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog
    from faceatlas.embed import Embedder

__all__ = [
    "DEFAULT_EMBEDDER",
    "PUBLISHED_THRESHOLD",
    "Threshold",
    "calibration_key",
    "catalog_embedder",
    "published_threshold",
    "same_person_threshold",
]

#: The embedder scans use and workflows prefer when the catalog holds several: SFace
#: measured best on LFW pairs and is the fastest (docs/benchmarks.md).
DEFAULT_EMBEDDER = "sface"

#: SFace's published same-person cosine threshold on LFW (OpenCV); the fallback of last
#: resort when an embedder's own threshold is unknown.
PUBLISHED_THRESHOLD = SFACE_PUBLISHED_THRESHOLD


def catalog_embedder(
    catalog: Catalog, wanted: str | None = None, *, must_hold: bool = False
) -> str | None:
    """The embedder whose vectors a workflow compares.

    ``wanted`` when given (with ``must_hold``, it must be one the catalog holds); else
    :data:`DEFAULT_EMBEDDER` if the catalog holds it; else the catalog's most used one;
    ``None`` for a catalog without vectors.
    """
    found = [e["embedder"] for e in catalog.embedders()]
    if wanted is not None:
        if must_hold and wanted not in found:
            held = ", ".join(found) or "none"
            raise InputError(f"embedder must be one the catalog holds ({held}), got {wanted!r}")
        return wanted
    if DEFAULT_EMBEDDER in found:
        return DEFAULT_EMBEDDER
    return found[0] if found else None


def published_threshold(embedder: str) -> tuple[float, str]:
    """An embedder's published same-person threshold and where it comes from."""
    from faceatlas.embed import get_embedder

    try:
        emb = get_embedder(embedder)
    except InputError:
        return PUBLISHED_THRESHOLD, "SFace's published threshold (unknown embedder)"
    return float(emb.threshold), str(emb.threshold_source)


def calibration_key(embedder: Embedder) -> str:
    """The catalog setting under which ``calibrate`` stores an embedder's calibration."""
    return f"calibration/{embedder.name}/{embedder.version}"


@dataclass(frozen=True)
class Threshold:
    """A same-person cosine threshold, where it comes from, and the stored calibration."""

    value: float
    source: str
    calibration: dict[str, Any] | None = None


def same_person_threshold(
    catalog: Catalog,
    embedder: Embedder | str,
    threshold: float | None = None,
    *,
    derived: tuple[float, str] | None = None,
) -> Threshold:
    """The same-person threshold to use, by the precedence in this module's docstring."""
    emb: Embedder | None
    if isinstance(embedder, str):
        from faceatlas.embed import get_embedder

        try:
            emb = get_embedder(embedder)
        except InputError:
            emb = None
    else:
        emb = embedder
    stored = catalog.get_setting(calibration_key(emb)) if emb is not None else None
    if threshold is not None:
        return Threshold(float(threshold), "given on the command line", stored)
    if stored is not None:
        target = (
            f"open-set FPIR <= {stored['target_fpir']:g}"
            if stored.get("target_fpir")
            else f"FMR <= {stored['target_fmr']:g}"
        )
        return Threshold(
            float(stored["threshold"]),
            f"calibrated on {stored['source']} for {target} "
            f"(measured TMR {stored['tmr']:.4f}; {stored['calibrated_at']})",
            stored,
        )
    if derived is not None:
        return Threshold(float(derived[0]), derived[1])
    if emb is None:
        return Threshold(PUBLISHED_THRESHOLD, "SFace's published threshold (unknown embedder)")
    return Threshold(float(emb.threshold), str(emb.threshold_source))
