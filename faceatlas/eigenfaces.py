"""The "Making Faces" talk on a catalog: eigenface figures, and the nearest catalogued face.

* :func:`eigenface_figures` fits eigenfaces on the catalog's ``pixels`` vectors (scan
  with ``--embedder pixels``) and saves the mean face, the first eigenfaces as a grid, the
  explained-variance curve, and a few faces rebuilt from ``k`` eigenfaces.
* :func:`nearest` finds, for each face of a photo, the nearest catalogued face and its
  distance, and sorts it, as the talk did, into ``same_image`` (distance ~0 or the same
  file content), ``known_person`` (within the same-person distance) or ``stranger``. The
  sorting is :func:`faceatlas.recognize.identify` with every catalogued face as its own
  candidate, so it needs no named people.

Distances are cosine distances ``1 - similarity`` between L2-normalised vectors; with
``pixels`` the vectors are the eigenface projections (fitted on the catalog's faces), with
any other embedder its own embeddings.

Default thresholds come from the data when the embedder has no published one (pixels,
landmarks, cnn): a face is a known person when it is at least as close to its nearest
catalogued face as the median catalogued face is to its own nearest other face (the
median leave-one-out nearest-neighbour similarity). The reasoning: in a collection of
people photographed several times, a face's nearest other face is usually the same
person, so that median is a typical same-person similarity. ``sface`` and ``dlib`` use
their published thresholds (or a stored calibration). The same-image distance 1e-4
accepts re-decoding noise only; copies with different bytes (re-encoded, resized) are
known persons, not the same image, unless their file content is equal.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faceatlas.catalog import Catalog
from faceatlas.exceptions import FaceAtlasError, InputError

__all__ = ["SAME_IMAGE_DISTANCE", "eigenface_figures", "nearest", "nearest_neighbour_threshold"]

SAME_IMAGE_DISTANCE = 1e-4
_PUBLISHED = ("sface", "dlib")


def nearest_neighbour_threshold(X: np.ndarray) -> float:
    """Median similarity of each face to its nearest other face (the data-derived default).

    Parameters
    ----------
    X : ndarray of shape (n_faces, d), L2-normalised, n_faces >= 2

    Returns
    -------
    float
    """
    X = np.asarray(X, np.float32)
    if len(X) < 2:
        raise InputError(
            f"a data-derived threshold needs at least 2 catalogued faces, got {len(X)}"
        )
    best = np.empty(len(X), np.float32)
    for start in range(0, len(X), 1024):
        S = X[start : start + 1024] @ X.T
        S[np.arange(len(S)), np.arange(start, start + len(S))] = -np.inf
        best[start : start + len(S)] = S.max(axis=1)
    return float(np.median(best))


@dataclass
class _Space:
    """The vectors compared: catalog faces and a function for query faces."""

    face_ids: np.ndarray
    G: np.ndarray
    space: Any  # EigenfaceSpace or None

    def queries(self, V: np.ndarray) -> np.ndarray:
        return self.space.transform(V) if self.space is not None else V


def _space(catalog: Catalog, embedder: str, n_components: int | float) -> _Space:
    from faceatlas.embed.pixels import eigenface_space

    ids, X = catalog.embeddings(embedder)
    if len(ids) < 2:
        raise InputError(
            f"the catalog has {len(ids)} faces with {embedder!r} vectors; scan "
            f"photos with `--embedder {embedder}` first (at least 2 faces)"
        )
    if embedder == "pixels":
        space, _, X = eigenface_space(X, n_components=n_components)
        return _Space(ids, space.transform(X), space)
    return _Space(ids, X, None)


def _catalog_detector(catalog: Catalog) -> str:
    found = Counter(s.detector for s in catalog.file_states().values() if s.detector)
    return found.most_common(1)[0][0] if found else "yunet"


def nearest(
    catalog: Catalog,
    photos: Sequence[str | Path],
    *,
    embedder: str = "pixels",
    detector: str | None = None,
    n_components: int | float = 100,
    threshold: float | None = None,
    same_image_distance: float = SAME_IMAGE_DISTANCE,
) -> dict[str, Any]:
    """The nearest catalogued face of every face in ``photos``, and what it means.

    Parameters
    ----------
    catalog : Catalog
    photos : sequence of str or Path
        Image files.
    embedder : str, default "pixels"
        Whose vectors to compare; "pixels" compares eigenface projections.
    detector : str or None
        How to find faces in the photos; None uses the one most of the catalog was
        scanned with (``whole-image`` after ``scan --cropped``), so queries are cut as
        the catalogued faces were.
    n_components : int or float, default 100
        Eigenfaces, for ``pixels`` (capped at the number of catalogued faces - 1).
    threshold : float or None
        Same-person cosine similarity; None derives it (see the module docstring).
    same_image_distance : float, default 1e-4
        Cosine distance up to which a face is the same image.

    Returns
    -------
    dict
        ``embedder``, ``threshold``, ``threshold_source``, ``same_image_distance``,
        ``n_faces`` (catalogued), ``n_components`` (pixels) and ``files``: one entry per
        photo with ``faces``, each with ``outcome``, ``distance``, ``similarity``,
        ``face_id``, ``path`` and ``person`` of the nearest catalogued face.
    """
    from faceatlas.detect import get_detector
    from faceatlas.embed import get_embedder
    from faceatlas.images import load_image
    from faceatlas.known import catalog_gallery
    from faceatlas.pipeline import file_hash
    from faceatlas.policy import same_person_threshold
    from faceatlas.recognize import Gallery, identify

    if not 0 <= same_image_distance < 1:
        raise InputError(f"same_image_distance must be in [0, 1), got {same_image_distance}")
    emb = get_embedder(embedder)
    sp = _space(catalog, embedder, n_components)
    if threshold is not None:
        source = "given"
        threshold = float(threshold)
    elif embedder in _PUBLISHED:
        chosen = same_person_threshold(catalog, emb)
        threshold, source = chosen.value, chosen.source
    else:
        threshold = nearest_neighbour_threshold(sp.G)
        source = f"median nearest-neighbour similarity of the {len(sp.G)} catalogued faces"
    known = catalog_gallery(catalog, emb)
    hash_of = (
        dict(zip(known.face_ids.tolist(), known.content_hashes.tolist(), strict=True))
        if known.content_hashes is not None
        else {}
    )
    rows = {f["id"]: f for f in catalog.faces(sp.face_ids.tolist())}
    person = dict(zip(known.face_ids.tolist(), known.names.tolist(), strict=True))
    fids = sp.face_ids.tolist()
    gallery = Gallery(
        sp.G,
        person_ids=np.arange(len(fids)),
        face_ids=sp.face_ids,
        names=np.array([os.path.basename(rows[f]["path"]) for f in fids], object),
        content_hashes=np.array([hash_of.get(f) for f in fids], object),
    )
    det = get_detector(detector or _catalog_detector(catalog))
    files = []
    for photo in photos:
        entry: dict[str, Any] = {"file": str(photo), "faces": []}
        try:
            image = load_image(photo)
            found = det.detect(image)
            V = emb.embed(emb.chips(image, found))
            digest = file_hash(photo)
        except (FaceAtlasError, OSError) as exc:
            entry["error"] = str(exc)
            files.append(entry)
            continue
        if len(V):
            results = identify(
                sp.queries(V),
                gallery,
                threshold,
                1.0 - same_image_distance,
                threshold_source=source,
                query_hashes=[digest] * len(V),
            )
            for i, r in enumerate(results):
                row = int(r.nearest_person_id)  # type: ignore[arg-type]
                fid = fids[row]
                entry["faces"].append(
                    {
                        "box": found.boxes[i].tolist(),
                        "outcome": r.outcome,
                        "distance": max(0.0, r.distance),
                        "similarity": r.similarity,
                        "face_id": fid,
                        "path": rows[fid]["path"],
                        "person": person.get(fid),
                    }
                )
        files.append(entry)
    return {
        "embedder": embedder,
        "threshold": threshold,
        "threshold_source": source,
        "same_image_distance": same_image_distance,
        "n_faces": len(fids),
        "n_components": sp.space.n_components_ if sp.space is not None else None,
        "detector": det.name,
        "files": files,
    }


def _save(fig: Any, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


def eigenface_figures(
    catalog: Catalog | np.ndarray,
    out_dir: str | Path,
    *,
    embedder: str = "pixels",
    n_eigenfaces: int = 16,
    n_components: int | float = 100,
    n_examples: int = 4,
    ks: Sequence[int] = (1, 5, 10, 25, 50, 100),
) -> dict[str, Any]:
    """Save the eigenface figures of a catalog's (or an array's) pixel vectors.

    Parameters
    ----------
    catalog : Catalog or ndarray of shape (n_faces, h * w)
    out_dir : str or Path
        Created if missing; gets ``mean_face.png``, ``eigenfaces.png``,
        ``explained_variance.png`` and ``reconstructions.png``.
    embedder : str, default "pixels"
        Only "pixels" vectors are images.
    n_eigenfaces : int, default 16
        Eigenfaces in the grid.
    n_components : int or float, default 100
    n_examples : int, default 4
        Faces rebuilt (evenly spread over the catalog).
    ks : sequence of int
        Numbers of eigenfaces to rebuild from (those above the fitted number are dropped).

    Returns
    -------
    dict
        ``files`` (paths written), ``n_faces``, ``n_components``, ``image_shape`` and the
        ``explained_variance_ratio`` list.
    """
    from matplotlib.figure import Figure

    from faceatlas.embed.pixels import eigenface_space

    if embedder != "pixels":
        raise InputError(
            f"embedder must be 'pixels' (only pixel vectors are images), got {embedder!r}"
        )
    if isinstance(n_eigenfaces, bool) or not isinstance(n_eigenfaces, int) or n_eigenfaces < 1:
        raise InputError(f"n_eigenfaces must be an int >= 1, got {n_eigenfaces!r}")
    space, _, X = eigenface_space(catalog, n_components=n_components)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mean, faces = space.eigenfaces(n_eigenfaces)
    files = {}

    fig = Figure(figsize=(3, 3))
    ax = fig.add_subplot()
    ax.imshow(mean, cmap="gray")
    ax.set_title(f"mean face ({len(X)} faces)")
    ax.axis("off")
    files["mean_face"] = _save(fig, out / "mean_face.png")

    n = len(faces)
    cols = min(n, 8)
    rows_ = int(np.ceil(n / cols))
    fig = Figure(figsize=(1.6 * cols, 1.8 * rows_))
    for i in range(n):
        ax = fig.add_subplot(rows_, cols, i + 1)
        ax.imshow(faces[i], cmap="gray")
        ax.set_title(f"{i + 1}: {100 * space.pca_.explained_variance_ratio_[i]:.1f} %", fontsize=8)
        ax.axis("off")
    files["eigenfaces"] = _save(fig, out / "eigenfaces.png")

    ratio = np.asarray(space.pca_.explained_variance_ratio_)
    fig = Figure(figsize=(5, 3.2))
    ax = fig.add_subplot()
    k = np.arange(1, len(ratio) + 1)
    ax.bar(k, ratio, color="#8ab", label="each")
    ax.plot(k, np.cumsum(ratio), color="#c33", label="cumulative")
    ax.set_xlabel("eigenface")
    ax.set_ylabel("explained variance ratio")
    ax.set_ylim(0, 1)
    ax.legend()
    files["explained_variance"] = _save(fig, out / "explained_variance.png")

    use = sorted({int(v) for v in ks if 0 < int(v) <= space.n_components_} | {space.n_components_})
    pick = np.linspace(0, len(X) - 1, min(n_examples, len(X))).round().astype(int)
    fig = Figure(figsize=(1.5 * (len(use) + 1), 1.7 * len(pick)))
    for r, idx in enumerate(pick):
        ax = fig.add_subplot(len(pick), len(use) + 1, r * (len(use) + 1) + 1)
        ax.imshow(X[idx].reshape(space.image_shape_), cmap="gray")
        ax.axis("off")
        if r == 0:
            ax.set_title("original", fontsize=8)
        for c, kk in enumerate(use):
            ax = fig.add_subplot(len(pick), len(use) + 1, r * (len(use) + 1) + c + 2)
            ax.imshow(space.reconstruct(X[idx : idx + 1], kk)[0], cmap="gray")
            ax.axis("off")
            if r == 0:
                ax.set_title(f"k = {kk}", fontsize=8)
    files["reconstructions"] = _save(fig, out / "reconstructions.png")
    return {
        "files": {k: str(v) for k, v in files.items()},
        "n_faces": len(X),
        "n_components": space.n_components_,
        "image_shape": list(space.image_shape_),
        "explained_variance_ratio": ratio.round(6).tolist(),
    }
