"""The rules every workflow asks: which embedder, which same-person threshold.

Written once here so that ``cluster``, ``who``, ``similar``, ``suggest``, the report and the
gallery give one answer. A workflow (noun) module: it takes a :class:`Catalog`.

Threshold precedence, highest first:

1. a threshold given explicitly (command line, function argument);
2. a calibration stored by ``faceatlas calibrate`` for this embedder and version;
3. a threshold derived from the catalog's own data: calibrated on the catalog's confirmed
   faces (named, moved, merged, enrolled) once there are enough of them
   (:func:`derived_threshold`); every workflow gets the same one;
4. the embedder's published threshold (0.363 for SFace: OpenCV's same-person cosine
   threshold on LFW).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faceatlas.embed.sface import PUBLISHED_THRESHOLD as SFACE_PUBLISHED_THRESHOLD
from faceatlas.exceptions import InputError

if TYPE_CHECKING:
    import numpy as np

    from faceatlas.catalog import Catalog
    from faceatlas.embed import Embedder

__all__ = [
    "DEFAULT_EMBEDDER",
    "PUBLISHED_THRESHOLD",
    "Threshold",
    "calibration_key",
    "catalog_embedder",
    "derived_threshold",
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


#: Fewest same-person and different-person pairs among the catalog's confirmed faces for
#: a threshold calibrated on them to replace the embedder's published one. 1,000
#: different pairs resolve a false-match rate of 0.001, the rate the calibration targets.
CALIBRATION_MIN_SAME = 50
CALIBRATION_MIN_DIFFERENT = 1000
CALIBRATION_TARGET_FMR = 0.001


def _calibrated_threshold(X: np.ndarray, pinned_person: np.ndarray) -> tuple[float, str] | None:
    """Same-person threshold from the catalog's own confirmed faces, when there are enough.

    ``pinned_person`` holds each row's confirmed person, -1 for rows without one. Returns
    ``(value, source)``, or None when the confirmed faces are too few to calibrate on.
    """
    import numpy as np

    ok = pinned_person >= 0
    if ok.sum() < 3 or np.unique(pinned_person[ok]).size < 2:
        return None
    from faceatlas.recognize import calibrate_threshold, pairs_from_labels

    sims, same = pairs_from_labels(X[ok], pinned_person[ok], max_pairs=200_000)
    n_same, n_diff = int(same.sum()), int((~same).sum())
    if n_same < CALIBRATION_MIN_SAME or n_diff < CALIBRATION_MIN_DIFFERENT:
        return None
    cal = calibrate_threshold(
        sims, same, CALIBRATION_TARGET_FMR, source="the catalog's confirmed faces"
    )
    # The lowest threshold meeting the target sits right above the worst impostor pair
    # seen; when the confirmed people are well apart, the middle of the gap up to the
    # nearest same-person pair above it is the safer bar (on overlapping data the two
    # coincide).
    above = sims[same & (sims >= cal.threshold)]
    t = (cal.threshold + float(above.min())) / 2 if above.size else cal.threshold
    return float(t), (
        f"calibrated on the catalog's confirmed faces ({n_same} same "
        f"/ {n_diff} different pairs, FMR <= {CALIBRATION_TARGET_FMR:g})"
    )


def derived_threshold(catalog: Catalog, embedder: str) -> tuple[float, str] | None:
    """The catalog's own threshold (rung 3): calibrated on its confirmed faces, or None."""
    import numpy as np

    fids, pids, confirmed = catalog.assignment_arrays()
    if int(confirmed.sum()) < 3:
        return None
    ids, X = catalog.embeddings(embedder, fids[confirmed].tolist())
    if ids.size < 3:
        return None
    person = dict(zip(fids[confirmed].tolist(), pids[confirmed].tolist(), strict=True))
    return _calibrated_threshold(X, np.array([person[int(i)] for i in ids], np.int64))


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
    derive: bool = True,
) -> Threshold:
    """The same-person threshold to use, by the precedence in this module's docstring.

    ``derived`` gives rung 3 precomputed; else, with ``derive``, it is computed here
    (:func:`derived_threshold`) when rungs 1 and 2 are empty.
    """
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
    if derived is None and derive and emb is not None:
        derived = derived_threshold(catalog, emb.name)
    if derived is not None:
        return Threshold(float(derived[0]), derived[1])
    if emb is None:
        return Threshold(PUBLISHED_THRESHOLD, "SFace's published threshold (unknown embedder)")
    return Threshold(float(emb.threshold), str(emb.threshold_source))
