"""The catalog's faces of one embedder as aligned arrays, and the constraints among them.

Everything the clustering and the corrections read from the catalog passes through here:
:class:`_State` (vectors, photos, persons, pins, the user's constraints, row by row),
the constraints of a subset of rows, and the settings earlier cluster runs left behind.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from faceatlas.catalog import Catalog
from faceatlas.exceptions import InputError, NotFoundError


# -- settings that come from the data -------------------------------------------------------
def default_min_faces(n_faces: int) -> int:
    """Fewest faces a group needs to be listed as a person rather than "unsorted".

    ``max(2, ceil(log10(n_faces)))``: 2 up to 100 faces, 3 up to 1,000, 4 up to 10,000,
    5 up to 100,000. The larger the library, the more strangers are caught twice or three
    times in the background; a person the user cares about appears more often than that
    (and a named or corrected person is always listed, whatever its size).
    """
    return max(2, math.ceil(math.log10(max(n_faces, 1))))


# -- the state of the catalog, as arrays ------------------------------------------------------
@dataclass
class _State:
    """One embedder's faces with everything clustering needs, aligned by row."""

    ids: np.ndarray  # (n,) face ids, ascending
    X: np.ndarray  # (n, d)
    photo: np.ndarray  # (n,) photo id
    quality: np.ndarray  # (n,)
    person: np.ndarray  # (n,) current person id, -1 unassigned
    pinned: np.ndarray  # (n,) bool
    not_person: dict[int, set[int]]  # row -> persons it is not
    must_link: np.ndarray  # (m, 2) rows
    cannot_link_user: np.ndarray  # (m, 2) rows
    persons: dict[int, dict[str, Any]]  # every person with faces
    row_of: dict[int, int] = field(default_factory=dict)


def _load_state(catalog: Catalog, embedder: str) -> _State:
    ids, X = catalog.embeddings(embedder)
    if ids.size == 0:
        known = ", ".join(e["embedder"] for e in catalog.embedders()) or "none"
        raise InputError(
            f"the catalog has no faces embedded with {embedder!r} (embedders "
            f"present: {known}); run `faceatlas scan` first or pass --embedder"
        )
    row_of = {int(f): i for i, f in enumerate(ids)}
    # whole-table reads aligned by searchsorted: both are sorted by face id
    fid, photo_all, quality_all = catalog.face_photo_quality()
    at = np.searchsorted(fid, ids)
    photo, quality = photo_all[at], quality_all[at]
    person = np.full(ids.size, -1, np.int64)
    pinned = np.zeros(ids.size, bool)
    afid, apid, aconf = catalog.assignment_arrays()
    pos = np.searchsorted(ids, afid)
    ok = (pos < ids.size) & (ids[np.minimum(pos, ids.size - 1)] == afid)
    person[pos[ok]] = apid[ok]
    pinned[pos[ok]] = aconf[ok]
    not_person: dict[int, set[int]] = defaultdict(set)
    ml: list[tuple[int, int]] = []
    cl: list[tuple[int, int]] = []
    for c in catalog.constraints():
        a = row_of.get(c["face_a"])
        if a is None:
            continue
        if c["kind"] == "not_person":
            not_person[a].add(int(c["person_id"]))
            continue
        b = row_of.get(c["face_b"])
        if b is None or a == b:
            continue
        (ml if c["kind"] == "must_link" else cl).append((a, b))
    persons = {p["id"]: p for p in catalog.persons()}
    return _State(
        ids,
        X,
        photo,
        quality,
        person,
        pinned,
        dict(not_person),
        np.array(ml, np.int64).reshape(-1, 2),
        np.array(cl, np.int64).reshape(-1, 2),
        persons,
        row_of,
    )


def _photo_pairs(photo: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Every pair of ``rows`` that share a photo, as positions into ``rows``."""
    order = np.argsort(photo[rows], kind="stable")
    ph = photo[rows][order]
    bounds = np.flatnonzero(np.r_[True, ph[1:] != ph[:-1], True])
    pairs = []
    for lo, hi in itertools.pairwise(bounds):
        if hi - lo > 1:
            members = order[lo:hi]
            a, b = np.triu_indices(int(hi - lo), 1)
            pairs.append(np.stack([members[a], members[b]], axis=1))
    return np.concatenate(pairs).astype(np.int64) if pairs else np.zeros((0, 2), np.int64)


def _centroid(X: np.ndarray) -> np.ndarray:
    c = X.astype(np.float64).sum(axis=0)
    return c / max(float(np.linalg.norm(c)), 1e-12)


def repeat_bar(threshold: float) -> float:
    """Similarity above which two faces of ONE photo are taken for one person shown twice.

    Half-way from the same-person threshold to 1 (0.68 for SFace's 0.363): far above
    what two different people of one photo reach, so a group photo keeps its faces apart
    while a collage, a scanned album page, a contact sheet or a mirror does not.
    """
    return float(threshold + (1.0 - threshold) / 2)


def _repeat_pairs(st: _State, pairs: np.ndarray, rows: np.ndarray, bar: float) -> np.ndarray:
    """Mask of same-photo ``pairs`` (positions into ``rows``) alike enough to be repeats."""
    if pairs.size == 0:
        return np.zeros(0, bool)
    a, b = rows[pairs[:, 0]], rows[pairs[:, 1]]
    sims = np.einsum("ij,ij->i", st.X[a].astype(np.float32), st.X[b].astype(np.float32))
    return sims >= bar


def _constraints_for(
    st: _State, rows: np.ndarray, bar: float | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Must-link and cannot-link pairs among ``rows`` (positions into ``rows``), and counts.

    Faces of one photo are cannot-linked, except pairs at or above ``bar`` (see
    :func:`repeat_bar`): one person shown twice in one image. The counts say how many
    same-photo pairs were kept apart (``photo_pairs_apart``) and how many relaxed
    (``photo_pairs_relaxed``, in ``repeat_photos`` photos).
    """
    pos = np.full(st.ids.size, -1, np.int64)
    pos[rows] = np.arange(rows.size)
    same_photo = _photo_pairs(st.photo, rows)
    relaxed = (
        _repeat_pairs(st, same_photo, rows, bar)
        if bar is not None
        else np.zeros(len(same_photo), bool)
    )
    counts = {
        "photo_pairs_apart": int((~relaxed).sum()),
        "photo_pairs_relaxed": int(relaxed.sum()),
        "repeat_photos": int(np.unique(st.photo[rows[same_photo[relaxed, 0]]]).size),
    }
    cl = [same_photo[~relaxed]]
    ml: list[np.ndarray] = []
    for pairs, out in ((st.must_link, ml), (st.cannot_link_user, cl)):
        if pairs.size:
            p = pos[pairs]
            out.append(p[(p >= 0).all(axis=1)])
    # pins: a star of must-links per person, and its anchor cannot-linked to every other
    # pinned person's anchor
    pinned_rows = rows[st.pinned[rows]]
    anchors: dict[int, int] = {}
    for r in pinned_rows:
        pid = int(st.person[r])
        if pid in anchors:
            ml.append(np.array([[anchors[pid], pos[r]]], np.int64))
        else:
            anchors[pid] = int(pos[r])
    anchor_list = list(anchors.values())
    if len(anchor_list) > 1:
        a, b = np.triu_indices(len(anchor_list), 1)
        al = np.array(anchor_list, np.int64)
        cl.append(np.stack([al[a], al[b]], axis=1))
    # "not this person": cannot-link to the person's anchor (its pin, else its most central
    # face) so the clustering itself keeps them apart; _finalize enforces it regardless
    for r, pids in st.not_person.items():
        if pos[r] < 0:
            continue
        for pid in pids:
            if pid in anchors:
                cl.append(np.array([[pos[r], anchors[pid]]], np.int64))
                continue
            members = rows[(st.person[rows] == pid) & (rows != r)]
            if members.size:
                c = _centroid(st.X[members])
                m = members[int(np.argmax(st.X[members] @ c))]
                cl.append(np.array([[pos[r], pos[m]]], np.int64))
    mls = np.concatenate(ml) if ml else np.zeros((0, 2), np.int64)
    cls = np.concatenate(cl) if cl else np.zeros((0, 2), np.int64)
    if cls.size:
        cls = np.unique(np.sort(cls, axis=1), axis=0)
        cls = cls[cls[:, 0] != cls[:, 1]]
    if cls.size and mls.size:
        # a correction is stronger than any automatic rule: faces the user put together
        # (merge, move, confirm) are never kept apart, whatever cannot-link says
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        n = int(rows.size)
        graph = coo_matrix((np.ones(len(mls)), (mls[:, 0], mls[:, 1])), shape=(n, n))
        _, group = connected_components(graph, directed=False)
        cls = cls[group[cls[:, 0]] != group[cls[:, 1]]]
    return mls.reshape(-1, 2), cls.reshape(-1, 2), counts


def _repeat_photos(st: _State, bar: float) -> set[int]:
    """Photos with two faces alike enough to be one person shown twice (see repeat_bar)."""
    rows = np.arange(st.ids.size)
    pairs = _photo_pairs(st.photo, rows)
    hit = _repeat_pairs(st, pairs, rows, bar)
    return set(np.unique(st.photo[pairs[hit, 0]]).tolist()) if hit.any() else set()


def _last_max_face_id(catalog: Catalog, embedder: str) -> int:
    """Newest face id seen by the last finished cluster run of ``embedder`` (-1: none)."""
    for run in catalog.runs(limit=1000):
        if (
            run["command"] == "cluster"
            and run["status"] == "done"
            and run["settings"].get("embedder") == embedder
            and "max_face_id" in run["summary"]
        ):
            return int(run["summary"]["max_face_id"])
    return -1


_COUNT = object()


def _last_min_faces(catalog: Catalog, default: Any = _COUNT) -> Any:
    """``min_faces`` of the last finished cluster run; else ``default`` (from the data)."""
    for run in catalog.runs(limit=100):
        if run["command"] == "cluster" and "min_faces" in run["summary"]:
            return int(run["summary"]["min_faces"])
    return default_min_faces(catalog.counts()["faces"]) if default is _COUNT else default


# -- checked reads ---------------------------------------------------------------------------
def _require_person(catalog: Catalog, person_id: int) -> dict[str, Any]:
    if isinstance(person_id, bool) or not isinstance(person_id, int | np.integer):
        raise InputError(f"person id must be an int, got {person_id!r}")
    return catalog.person(int(person_id))


def _require_face(catalog: Catalog, face_id: int) -> dict[str, Any]:
    if isinstance(face_id, bool) or not isinstance(face_id, int | np.integer):
        raise InputError(f"face id must be an int, got {face_id!r}")
    found = catalog.faces([int(face_id)])
    if not found:
        raise NotFoundError(f"face {face_id} is not in the catalog; see `faceatlas faces`")
    return found[0]
