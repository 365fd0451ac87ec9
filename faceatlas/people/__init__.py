"""People: clustering applied to the catalog, corrections, stable person ids.

:func:`cluster_people` turns one embedder's vectors into people with
:func:`faceatlas.cluster.cluster_faces`, under constraints gathered here:

- **cannot-link**: two faces of one photo (or one video frame) never share a person;
  neither do pinned faces of two different people, nor a face and a person the user said
  it is not (``reject``).
- **must-link / pins**: a user correction (``merge``, ``split``, ``move``) or an enrolment
  *pins* faces to a person (a confirmed assignment). Clustering never moves a pinned
  face, and all pinned faces of one person are must-linked, so a re-cluster keeps them
  together and keeps them apart from everybody else's.

New groups are matched to the persons of the previous assignment by maximum overlap
(Hungarian assignment, pinned faces weighing more than all others together), so person
ids, names and hidden flags stay put across runs.

Every correction is logged with the rows it changed, so :func:`undo` reverts the last one.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faceatlas.catalog import Catalog
from faceatlas.exceptions import InputError, NotFoundError

__all__ = [
    "ClusterSummary",
    "cluster_people",
    "confirm_suggestion",
    "default_min_faces",
    "dismiss_suggestion",
    "elbow_curve",
    "face_table",
    "hide_person",
    "list_people",
    "merge_people",
    "move_face",
    "name_person",
    "person_detail",
    "reject_face",
    "save_elbow_plot",
    "split_person",
    "suggest_merges",
    "undo",
]

#: Fewest same-person and different-person pairs among the catalog's confirmed faces for
#: a threshold calibrated on them to replace the embedder's published one. 1,000
#: different pairs resolve a false-match rate of 0.001, the rate the calibration targets.
CALIBRATION_MIN_SAME = 50
CALIBRATION_MIN_DIFFERENT = 1000
CALIBRATION_TARGET_FMR = 0.001


def face_table(catalog: Catalog) -> list[dict[str, Any]]:
    """Every face with its photo, box and person (``None`` when unassigned)."""
    people = catalog.face_people()
    out = []
    for f in catalog.faces():
        person_id, person_name = people.get(f["id"], (None, None))
        out.append({"face_id": f["id"], "path": f["path"], "frame_index": f["frame_index"],
                    "x1": round(f["x1"], 1), "y1": round(f["y1"], 1), "x2": round(f["x2"], 1),
                    "y2": round(f["y2"], 1), "det_score": round(f["det_score"], 4),
                    "quality": round(f["quality"], 4), "person_id": person_id,
                    "person_name": person_name or ""})
    return out


# -- settings that come from the data -------------------------------------------------------
def default_min_faces(n_faces: int) -> int:
    """Fewest faces a group needs to be listed as a person rather than "unsorted".

    ``max(2, ceil(log10(n_faces)))``: 2 up to 100 faces, 3 up to 1,000, 4 up to 10,000,
    5 up to 100,000. The larger the library, the more strangers are caught twice or three
    times in the background; a person the user cares about appears more often than that
    (and a named or corrected person is always listed, whatever its size).
    """
    return max(2, math.ceil(math.log10(max(n_faces, 1))))


def _embedder_threshold(embedder: str) -> tuple[float, str]:
    from faceatlas.cluster import DEFAULT_THRESHOLD
    from faceatlas.embed import get_embedder

    try:
        emb = get_embedder(embedder)
    except InputError:
        return DEFAULT_THRESHOLD, "SFace's published threshold (unknown embedder)"
    return float(emb.threshold), str(emb.threshold_source)


def _calibrated_threshold(X: np.ndarray, pinned_person: np.ndarray, fallback: float,
                          fallback_source: str) -> tuple[float, str]:
    """Same-person threshold from the catalog's own confirmed faces, when there are enough."""
    ok = pinned_person >= 0
    if ok.sum() < 3 or np.unique(pinned_person[ok]).size < 2:
        return fallback, fallback_source
    from faceatlas.recognize import calibrate_threshold, pairs_from_labels

    sims, same = pairs_from_labels(X[ok], pinned_person[ok], max_pairs=200_000)
    n_same, n_diff = int(same.sum()), int((~same).sum())
    if n_same < CALIBRATION_MIN_SAME or n_diff < CALIBRATION_MIN_DIFFERENT:
        return fallback, fallback_source
    cal = calibrate_threshold(sims, same, CALIBRATION_TARGET_FMR,
                              source="the catalog's confirmed faces")
    # The lowest threshold meeting the target sits right above the worst impostor pair
    # seen; when the confirmed people are well apart, the middle of the gap up to the
    # nearest same-person pair above it is the safer bar (on overlapping data the two
    # coincide).
    above = sims[same & (sims >= cal.threshold)]
    t = (cal.threshold + float(above.min())) / 2 if above.size else cal.threshold
    return float(t), (f"calibrated on the catalog's confirmed faces ({n_same} same "
                                  f"/ {n_diff} different pairs, FMR <= "
                                  f"{CALIBRATION_TARGET_FMR:g})")


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
        raise InputError(f"the catalog has no faces embedded with {embedder!r} (embedders "
                         f"present: {known}); run `faceatlas scan` first or pass --embedder")
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
    return _State(ids, X, photo, quality, person, pinned, dict(not_person),
                  np.array(ml, np.int64).reshape(-1, 2), np.array(cl, np.int64).reshape(-1, 2),
                  persons, row_of)


def _photo_pairs(photo: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Every pair of ``rows`` that share a photo, as positions into ``rows``."""
    order = np.argsort(photo[rows], kind="stable")
    ph = photo[rows][order]
    bounds = np.flatnonzero(np.r_[True, ph[1:] != ph[:-1], True])
    pairs = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if hi - lo > 1:
            members = order[lo:hi]
            a, b = np.triu_indices(hi - lo, 1)
            pairs.append(np.stack([members[a], members[b]], axis=1))
    return np.concatenate(pairs).astype(np.int64) if pairs else np.zeros((0, 2), np.int64)


def _centroid(X: np.ndarray) -> np.ndarray:
    c = X.astype(np.float64).sum(axis=0)
    return c / max(float(np.linalg.norm(c)), 1e-12)


def _constraints_for(st: _State, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Must-link and cannot-link pairs among ``rows`` (positions into ``rows``)."""
    pos = np.full(st.ids.size, -1, np.int64)
    pos[rows] = np.arange(rows.size)
    cl = [_photo_pairs(st.photo, rows)]
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
    return mls.reshape(-1, 2), cls.reshape(-1, 2)


def _match(groups: np.ndarray, old: np.ndarray, pinned: np.ndarray) -> dict[int, int]:
    """New group -> old person, maximising overlap (Hungarian per connected block).

    A pinned face weighs more than all unpinned faces together, so a group holding a
    person's pins always inherits that person.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ok = (groups >= 0) & (old >= 0)
    if not ok.any():
        return {}
    big = float(groups.size + 1)
    w = np.where(pinned[ok], big, 1.0)
    g_ids, g_inv = np.unique(groups[ok], return_inverse=True)
    p_ids, p_inv = np.unique(old[ok], return_inverse=True)
    W = coo_matrix((w, (g_inv.ravel(), p_inv.ravel())),
                   shape=(g_ids.size, p_ids.size)).tocsr()
    W.sum_duplicates()
    n_g = g_ids.size
    bip = coo_matrix((np.ones(W.nnz), (W.tocoo().row, W.tocoo().col + n_g)),
                     shape=(n_g + p_ids.size,) * 2)
    _, comp = connected_components(bip, directed=False)
    out: dict[int, int] = {}
    for c in np.unique(comp[:n_g]):
        gs = np.flatnonzero(comp[:n_g] == c)
        ps = np.flatnonzero(comp[n_g:] == c)
        if ps.size == 0:
            continue
        block = W[gs][:, ps].toarray()
        if block.shape == (1, 1):  # the common case: no assignment problem to solve
            out[int(g_ids[gs[0]])] = int(p_ids[ps[0]])
            continue
        if block.size > 25_000_000:  # a degenerate block (k-means, tiny k): greedy is enough
            order = np.dstack(np.unravel_index(np.argsort(-block, axis=None), block.shape))[0]
            used_g, used_p = set(), set()
            for gi, pi in order:
                if block[gi, pi] <= 0:
                    break
                if gi not in used_g and pi not in used_p:
                    used_g.add(gi)
                    used_p.add(pi)
                    out[int(g_ids[gs[gi]])] = int(p_ids[ps[pi]])
            continue
        from scipy.optimize import linear_sum_assignment  # slow import: only when needed

        r, col = linear_sum_assignment(block, maximize=True)
        for gi, pi in zip(r, col, strict=True):
            if block[gi, pi] > 0:
                out[int(g_ids[gs[gi]])] = int(p_ids[ps[pi]])
    return out


def _finalize(st: _State, final: np.ndarray, protected: set[int]) -> np.ndarray:
    """Apply the rules no clustering result may break; returns the corrected copy.

    ``final`` holds person ids (existing, >= 1), new-group keys (<= -2) or -1. Pins win;
    "not this person" unassigns; a person keeps one face per photo (a pinned one, else the
    one closest to its centre); a new or unprotected group of one face is no group.
    """
    final = final.copy()
    final[st.pinned] = st.person[st.pinned]
    for r, pids in st.not_person.items():
        if not st.pinned[r] and int(final[r]) in pids:
            final[r] = -1
    assigned = np.flatnonzero(final != -1)
    if assigned.size:
        key = np.stack([final[assigned], st.photo[assigned]], axis=1)
        _, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
        inv = inv.ravel()
        clash = counts[inv] > 1
        if clash.any():
            centres: dict[int, np.ndarray] = {}
            for grp in np.unique(inv[clash]):
                rows = assigned[inv == grp]
                pid = int(final[rows[0]])
                if pid not in centres:
                    centres[pid] = _centroid(st.X[final == pid])
                score = st.X[rows] @ centres[pid] + 10.0 * st.pinned[rows]
                keep = rows[int(np.argmax(score))]
                drop = rows[(rows != keep) & ~st.pinned[rows]]
                final[drop] = -1
    labels, counts = np.unique(final[final != -1], return_counts=True)
    for pid, cnt in zip(labels, counts, strict=True):
        if cnt == 1 and int(pid) not in protected:
            lone = np.flatnonzero(final == pid)
            if not st.pinned[lone].any():
                final[lone] = -1
    return final


# -- clustering -------------------------------------------------------------------------------
@dataclass
class ClusterSummary:
    """What one ``cluster`` run did."""

    run_id: int
    embedder: str
    method: str
    mode: str  # "incremental" or "all"
    n_faces: int
    n_clustered: int  # faces handed to the clustering method
    n_new_faces: int  # faces added since the last run of this embedder
    n_matched_existing: int  # new faces that joined an existing person
    n_people: int
    n_unsorted_groups: int
    n_unassigned: int
    n_new_people: int
    n_changed: int
    n_cannot_link: int
    n_must_link: int
    min_faces: int
    threshold: float
    threshold_source: str
    assign_threshold: float
    assign_threshold_source: str
    seconds: float
    max_face_id: int  # the newest face this run saw: later faces are "new"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        return (f"{self.n_people} people, {self.n_unsorted_groups} unsorted groups, "
                f"{self.n_unassigned} unassigned faces of {self.n_faces} ({self.mode}, "
                f"{self.method}; {self.n_new_faces} new faces, {self.n_matched_existing} "
                f"joined existing people, "
                f"{self.n_clustered} re-clustered, {self.n_new_people} new people) in "
                f"{self.seconds:.2f} s")


def cluster_people(
    catalog: Catalog,
    embedder: str = "sface",
    method: str | None = None,
    *,
    all: bool = False,  # noqa: A002 - the CLI flag's name
    k: int | str | None = None,
    min_faces: int | None = None,
    threshold: float | None = None,
    random_state: int = 0,
    **params: Any,
) -> ClusterSummary:
    """Group the catalog's faces into people, obeying every stored correction.

    Parameters
    ----------
    catalog : Catalog
    embedder : str, default "sface"
        Whose vectors to cluster; vectors of different embedders are never mixed.
    method : str, optional
        A :data:`faceatlas.cluster.METHODS` name; default ``faceatlas.cluster.DEFAULT_METHOD``
        (``"kmeans"`` when ``k`` is given).
    all : bool, default False
        Re-cluster every face. By default only faces without a person (and faces of
        small unconfirmed groups) are touched: each face added since the last run is
        first given to an existing person whose faces it matches (mean similarity >= the
        assignment threshold), the rest are clustered among themselves, so the cost
        grows with the new (and still unassigned) faces, not with the people.
    k : int or "auto", optional
        Number of people for k-means (which always re-clusters every face).
    min_faces : int, optional
        Fewest faces of a listed person; default the last run's value for an incremental
        run, else :func:`default_min_faces` of the number of faces.
    threshold : float, optional
        Same-person cosine similarity for clustering; default the embedder's published
        threshold (0.363 for SFace, OpenCV's value on LFW verification pairs).
    random_state : int, default 0
    **params
        Passed to the clustering method (e.g. ``n_neighbors``, ``min_quality``).

    Returns
    -------
    ClusterSummary
    """
    from faceatlas.cluster import DEFAULT_METHOD, METHODS

    t0 = time.perf_counter()
    if method is None:
        method = "kmeans" if k is not None else DEFAULT_METHOD
    if method in ("auto", "default"):
        method = DEFAULT_METHOD
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if k is not None:
        if method != "kmeans":
            raise InputError(f"k is only for method 'kmeans', got method {method!r}")
        if k != "auto" and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise InputError(f"k must be an int >= 1 or 'auto', got {k!r}")
        params["n_clusters"] = k
    if method == "kmeans":
        # k-means partitions the whole catalog into k people: k means nothing for a pool
        all = True  # noqa: A001
    # The scan lock: a scan deleting or adding faces half-way through would make the
    # assignments written at the end refer to faces that are gone.
    catalog.acquire_scan_lock()
    try:
        return _cluster_people(catalog, embedder, method, all, min_faces, threshold,
                               random_state, params, t0)
    finally:
        catalog.release_scan_lock()


def _cluster_people(catalog: Catalog, embedder: str, method: str, all: bool,  # noqa: A002
                    min_faces: int | None, threshold: float | None, random_state: int,
                    params: dict[str, Any], t0: float) -> ClusterSummary:
    k = params.get("n_clusters")
    st = _load_state(catalog, embedder)
    n = st.ids.size
    if min_faces is None:
        # An incremental run keeps the last run's value: a few new faces crossing a power
        # of ten must not turn people of the previous run into "unsorted" groups.
        last = None if all else _last_min_faces(catalog, default=None)
        min_faces = default_min_faces(n) if last is None else last
    elif isinstance(min_faces, bool) or not isinstance(min_faces, int) or min_faces < 1:
        raise InputError(f"min_faces must be an int >= 1, got {min_faces!r}")
    if threshold is None:
        threshold, t_source = _embedder_threshold(embedder)
    else:
        t_source = "given"
    pinned_person = np.where(st.pinned, st.person, -1)
    a_threshold, a_source = _calibrated_threshold(st.X, pinned_person, threshold, t_source)
    settings = {"embedder": embedder, "method": method, "all": bool(all), "k": k,
                "min_faces": min_faces, "threshold": threshold, **{
                    key: v for key, v in params.items() if key != "n_clusters"}}
    last_max_id = _last_max_face_id(catalog, embedder)
    run_id = catalog.start_run("cluster", settings)
    try:
        summary = _cluster_run(catalog, st, run_id, embedder, method, all, min_faces,
                               threshold, t_source, a_threshold, a_source, last_max_id,
                               random_state, params, t0)
    except BaseException as exc:
        catalog.finish_run(run_id, {"error": str(exc)}, status="error")
        raise
    catalog.finish_run(run_id, summary.to_dict())
    return summary


def _cluster_run(catalog: Catalog, st: _State, run_id: int, embedder: str, method: str,
                 all: bool, min_faces: int, threshold: float, t_source: str,  # noqa: A002
                 a_threshold: float, a_source: str, last_max_id: int, random_state: int,
                 params: dict[str, Any], t0: float) -> ClusterSummary:
    from faceatlas.cluster import cluster_faces

    n = st.ids.size

    protected = {pid for pid, p in st.persons.items()
                 if p["name"] or p["hidden"] or p["n_confirmed"] > 0}
    established = {pid for pid, p in st.persons.items()
                   if pid in protected or p["n_faces"] >= min_faces}
    final = st.person.copy()
    n_matched = 0
    if all:
        pool = np.arange(n)
    else:
        soft = np.isin(st.person, list(set(st.persons) - established)) & ~st.pinned
        new = (st.person < 0) & (st.ids > last_max_id)
        # 1. new faces (added since the last run) join existing people they match. Faces
        # an earlier run left out are not offered again: they wait in the pool for faces
        # like them, so a run's result does not depend on how often cluster was called.
        cand = np.flatnonzero(new)
        est = sorted(established)
        if cand.size and est:
            joined = _join_existing(st, cand, est, a_threshold)
            final[cand] = np.where(joined >= 0, joined, final[cand])
            n_matched = int((joined >= 0).sum())
        leftover = new.copy()
        leftover[cand[final[cand] >= 0]] = False
        # 2. the new faces left over are clustered with the old unassigned faces and
        # small groups near them; the rest of that pool had no partner last time and
        # still has none, so leaving it alone keeps the cost with the new faces.
        pool_mask = leftover | _near_new(st, np.flatnonzero(leftover),
                                         np.flatnonzero(((st.person < 0) | soft) & ~new),
                                         threshold)
        soft_hit = np.unique(st.person[pool_mask & soft])
        pool_mask |= soft & np.isin(st.person, soft_hit)  # a small group moves as a whole
        final[pool_mask & soft] = -1
        pool = np.flatnonzero(pool_mask)

    n_ml = n_cl = 0
    if pool.size:
        ml, cl = _constraints_for(st, pool)
        n_ml, n_cl = len(ml), len(cl)
        clparams = {"threshold": threshold, "random_state": random_state, **params}
        if pool.size < n:  # on every face the method's own estimate is the same thing
            clparams.update(_catalog_bars(method, params, st.X, threshold, random_state))
        if pool.size == 1:
            labels = np.full(1, -1, np.int64)
        else:
            if method == "kmeans" and isinstance(params.get("n_clusters"), int):
                clparams["n_clusters"] = min(int(params["n_clusters"]), pool.size)
            labels = cluster_faces(st.X[pool], method, cannot_link=cl, must_link=ml,
                                   quality=st.quality[pool], **clparams)
        # old persons of pool faces (all of them when re-clustering everything)
        old = st.person[pool]
        mapping = _match(labels, old, st.pinned[pool])
        mapped = np.array([mapping.get(int(g), -(int(g) + 2)) if g >= 0 else -1
                           for g in labels], np.int64)
        final[pool] = mapped
    final = _finalize(st, final, protected)

    # write only what changed
    changed = np.flatnonzero(final != st.person)
    assign = {int(st.ids[r]): int(final[r]) for r in changed if final[r] >= 0}
    unassign = [int(st.ids[r]) for r in changed if final[r] == -1]
    new_keys = sorted({int(final[r]) for r in changed if final[r] <= -2}, reverse=True)
    new_people = [[int(st.ids[r]) for r in np.flatnonzero(final == key)] for key in new_keys]
    catalog.apply_clustering(run_id, assign, new_people, unassign)

    people = catalog.persons()
    n_people = sum(1 for p in people if p["n_faces"] >= min_faces or p["id"] in protected)
    summary = ClusterSummary(
        run_id=run_id, embedder=embedder, method=method, mode="all" if all else "incremental",
        n_faces=n, n_clustered=int(pool.size), n_matched_existing=n_matched,
        n_new_faces=int((st.ids > last_max_id).sum()),
        n_people=n_people, n_unsorted_groups=len(people) - n_people,
        n_unassigned=n - sum(p["n_faces"] for p in people), n_new_people=len(new_people),
        n_changed=int(changed.size), n_cannot_link=n_cl, n_must_link=n_ml,
        min_faces=min_faces, threshold=float(threshold), threshold_source=t_source,
        assign_threshold=float(a_threshold), assign_threshold_source=a_source,
        seconds=round(time.perf_counter() - t0, 3), max_face_id=int(st.ids.max()))
    return summary


def _catalog_bars(method: str, params: dict[str, Any], X: np.ndarray, threshold: float,
                  random_state: int) -> dict[str, float]:
    """The data-derived bars of a method (``pair_threshold``, ``edge_threshold``), from all
    the catalog's faces, for those the caller left on "auto".

    The bar models chance matches among all the catalog's faces: estimated by the method
    on an incremental pool or one person's faces (a few faces, often of one person) it
    would be meaningless.
    """
    from faceatlas.cluster import make_clusterer, pair_threshold

    names = [k for k in ("pair_threshold", "edge_threshold")
             if k in make_clusterer(method).get_params() and params.get(k, "auto") == "auto"]
    if not names:
        return {}
    n = X.shape[0]
    bar = pair_threshold(X, threshold, random_state=random_state,
                         # 50,000 pairs pin the median and MAD to ~0.5 %; a small
                         # catalog has few distinct pairs to sample
                         n_samples=int(min(50_000, max(10_000, n * (n - 1)))))
    # Capped half-way between the threshold and 1: the estimate assumes most random pairs
    # are of different people, which fails in a library of two or three people (it then
    # reaches 1.0 and nothing would ever be grouped). On LFW it is 0.515 and on the
    # face_recognition examples 0.565, under the cap (0.68 for SFace).
    bar = min(bar, threshold + (1.0 - threshold) / 2)
    return dict.fromkeys(names, float(bar))


def _near_new(st: _State, new: np.ndarray, old: np.ndarray, threshold: float) -> np.ndarray:
    """Mask of the ``old`` rows within ``threshold`` of at least one ``new`` row."""
    out = np.zeros(st.ids.size, bool)
    if new.size == 0 or old.size == 0:
        return out
    if new.size * old.size > 50_000_000:  # mostly new (a first run): take them all
        out[old] = True
        return out
    Xn = st.X[new]
    for start in range(0, old.size, 8192):
        rows = old[start:start + 8192]
        out[rows] = (st.X[rows] @ Xn.T).max(axis=1) >= threshold
    return out


def _join_existing(st: _State, cand: np.ndarray, persons: Sequence[int], threshold: float
                   ) -> np.ndarray:
    """Existing person (or -1) of each candidate face: the best allowed mean similarity.

    The score of a person is the mean similarity to its faces (the dot product with their
    mean vector, as :func:`faceatlas.cluster.assign_to_clusters` does with ``how="mean"``);
    a person is not allowed when it already holds a face of the candidate's photo or the
    user said the face is not that person. Two candidates of one photo never join the
    same person: the better match wins.
    """
    from scipy import sparse

    pid_arr = np.unique(np.asarray(persons, np.int64))
    col = {int(p): j for j, p in enumerate(pid_arr)}
    member = np.flatnonzero(np.isin(st.person, pid_arr))
    member = member[~np.isin(member, cand)]
    if member.size == 0:
        return np.full(cand.size, -1, np.int64)
    cols = np.searchsorted(pid_arr, st.person[member])
    # per-person sums as one sparse product (float32 throughout: no n x d float64 copy)
    onehot = sparse.csr_matrix((np.ones(member.size, np.float32), (cols, np.arange(member.size))),
                               shape=(pid_arr.size, member.size))
    S = np.asarray(onehot @ st.X[member])
    size = np.bincount(cols, minlength=pid_arr.size)
    C = (S / np.maximum(size, 1)[:, None]).astype(np.float32)
    scores = st.X[cand] @ C.T  # (n_cand, n_persons): mean similarity to each person
    scores[:, size == 0] = -np.inf
    # forbidden: persons holding a face of the same photo, and rejected persons
    photo_persons: dict[int, set[int]] = defaultdict(set)
    for r in member[np.isin(st.photo[member], st.photo[cand])]:
        photo_persons[int(st.photo[r])].add(int(st.person[r]))
    for i, r in enumerate(cand):
        for pid in photo_persons.get(int(st.photo[r]), ()):
            scores[i, col[pid]] = -np.inf
        for pid in st.not_person.get(int(r), ()):
            if pid in col:
                scores[i, col[pid]] = -np.inf
    best = np.argmax(scores, axis=1)
    best_score = scores[np.arange(cand.size), best]
    out = np.where(best_score >= threshold, pid_arr[best], -1)
    # one face per photo per person: the best-scoring candidate keeps it
    order = np.argsort(-best_score, kind="stable")
    taken: set[tuple[int, int]] = set()
    for i in order:
        if out[i] < 0:
            continue
        key = (int(st.photo[cand[i]]), int(out[i]))
        if key in taken:
            out[i] = -1
        else:
            taken.add(key)
    return out.astype(np.int64)


def _last_max_face_id(catalog: Catalog, embedder: str) -> int:
    """Newest face id seen by the last finished cluster run of ``embedder`` (-1: none)."""
    for run in catalog.runs(limit=1000):
        if (run["command"] == "cluster" and run["status"] == "done"
                and run["settings"].get("embedder") == embedder
                and "max_face_id" in run["summary"]):
            return int(run["summary"]["max_face_id"])
    return -1


# -- looking at people ------------------------------------------------------------------------
_COUNT = object()


def _last_min_faces(catalog: Catalog, default: Any = _COUNT) -> Any:
    """``min_faces`` of the last finished cluster run; else ``default`` (from the data)."""
    for run in catalog.runs(limit=100):
        if run["command"] == "cluster" and "min_faces" in run["summary"]:
            return int(run["summary"]["min_faces"])
    return default_min_faces(catalog.counts()["faces"]) if default is _COUNT else default


def list_people(catalog: Catalog, *, include_hidden: bool = False) -> dict[str, Any]:
    """People (named, corrected, or with at least ``min_faces`` faces) and unsorted groups.

    Returns
    -------
    dict
        ``people`` and ``unsorted`` (lists of person dicts with ``id``, ``name``,
        ``n_faces``, ``n_confirmed``, ``hidden`` and an ``example`` face path),
        ``n_faces``, ``n_unassigned``, ``n_hidden`` and ``min_faces``.
    """
    min_faces = _last_min_faces(catalog)
    examples = catalog.person_examples()
    people, unsorted = [], []
    n_assigned = n_hidden = 0
    for p in catalog.persons():
        n_assigned += p["n_faces"]
        if p["hidden"]:
            n_hidden += 1
            if not include_hidden:
                continue
        ex = examples.get(p["id"], {})
        row = {**p, "example": ex.get("path"), "example_face": ex.get("face_id")}
        if p["name"] or p["n_confirmed"] or p["hidden"] or p["n_faces"] >= min_faces:
            people.append(row)
        else:
            unsorted.append(row)
    people.sort(key=lambda r: (-r["n_faces"], r["id"]))
    unsorted.sort(key=lambda r: (-r["n_faces"], r["id"]))
    n_faces = catalog.counts()["faces"]
    return {"people": people, "unsorted": unsorted, "n_faces": n_faces,
            "n_unassigned": n_faces - n_assigned, "n_hidden": n_hidden,
            "min_faces": min_faces}


def person_detail(catalog: Catalog, person_id: int) -> dict[str, Any]:
    """One person: its row, its faces (with photo, box, source, pin) and rejected faces."""
    person = catalog.person(person_id)
    face_ids = catalog.faces_of_person(person_id)
    assign = catalog.assignments(face_ids)
    faces = []
    for f in catalog.faces(face_ids):
        a = assign[f["id"]]
        faces.append({"face_id": f["id"], "photo_id": f["photo_id"], "path": f["path"],
                      "frame_index": f["frame_index"],
                      "box": [round(f[c], 1) for c in ("x1", "y1", "x2", "y2")],
                      "quality": round(f["quality"], 4), "source": a["source"],
                      "confirmed": a["confirmed"]})
    rejected = [c["face_a"] for c in catalog.constraints("not_person")
                if c["person_id"] == person_id]
    return {**person, "faces": faces, "rejected_faces": rejected}


# -- corrections ------------------------------------------------------------------------------
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


def name_person(catalog: Catalog, person_id: int, name: str) -> dict[str, Any]:
    """Give a person a name (an empty name clears it). Undoable."""
    old = _require_person(catalog, person_id)
    if not isinstance(name, str):
        raise InputError(f"name must be text, got {name!r}")
    clean = " ".join(name.split()) or None
    with catalog.correction("name", {"person": person_id, "name": clean,
                                     "old_name": old["name"]}) as c:
        c.update_person(person_id, name=clean)
    return catalog.person(person_id)


def hide_person(catalog: Catalog, person_id: int, hidden: bool = True) -> dict[str, Any]:
    """Hide a person from listings (its faces stay assigned, so they are not re-used)."""
    _require_person(catalog, person_id)
    with catalog.correction("hide", {"person": person_id, "hidden": bool(hidden)}) as c:
        c.update_person(person_id, hidden=int(bool(hidden)))
    return catalog.person(person_id)


def _embeddings_of(catalog: Catalog, face_ids: Sequence[int], embedder: str | None
                   ) -> dict[int, np.ndarray]:
    """Vectors of the given faces under ``embedder`` (default: the most common one)."""
    if embedder is None:
        found = catalog.embedders()
        if not found:
            return {}
        embedder = found[0]["embedder"]
    ids, X = catalog.embeddings(embedder, face_ids)
    return {int(i): x for i, x in zip(ids, X, strict=True)}


def merge_people(catalog: Catalog, person_a: int, person_b: int, *,
                 embedder: str | None = None, kind: str = "merge") -> dict[str, Any]:
    """Person ``person_b`` is ``person_a``: pin every face of both to ``person_a``.

    Faces of one photo cannot both stay: when the two people hold faces of the same
    photo, the face closer to the merged centre stays and the other is unassigned
    (reported in ``dropped``); if both are pinned, nothing is changed and InputError
    says which faces to move first. ``person_a`` keeps its name, or takes ``person_b``'s.
    """
    a = _require_person(catalog, person_a)
    b = _require_person(catalog, person_b)
    if person_a == person_b:
        raise InputError(f"cannot merge person {person_a} with itself")
    fa, fb = catalog.faces_of_person(person_a), catalog.faces_of_person(person_b)
    faces = fa + fb
    assign = catalog.assignments(faces)
    rows = catalog.faces(faces)
    by_photo: dict[int, list[int]] = defaultdict(list)
    for r in rows:
        by_photo[r["photo_id"]].append(r["id"])
    dropped: list[int] = []
    clashes = [fs for fs in by_photo.values() if len(fs) > 1]
    if clashes:
        vecs = _embeddings_of(catalog, faces, embedder)
        centre = _centroid(np.stack(list(vecs.values()))) if vecs else None
        for fs in clashes:
            pins = [f for f in fs if assign[f]["confirmed"]]
            if len(pins) > 1:
                raise InputError(f"faces {pins[0]} and {pins[1]} are in the same photo and both "
                                 f"confirmed, so persons {person_a} and {person_b} cannot be "
                                 f"one person; move or reject one of those faces first")

            def score(f: int, pins: list[int] = pins) -> float:
                if f in pins:
                    return 10.0
                v = vecs.get(f)
                return float(v @ centre) if v is not None and centre is not None else 0.0

            keep = max(fs, key=score)
            dropped += [f for f in fs if f != keep]
    # a face the user said is not one of the two is not the merged person either
    refused = {con["face_a"] for con in catalog.constraints("not_person")
               if con["person_id"] in (person_a, person_b)}
    dropped += [f for f in faces if f in refused and f not in dropped]
    kept = [f for f in faces if f not in set(dropped)]
    info = {"person": person_a, "merged": person_b, "faces": len(kept), "dropped": dropped}
    with catalog.correction(kind, info) as c:
        if dropped:
            c.unassign(dropped)
        c.assign(kept, person_a, source="user", confirmed=True)
        if not a["name"] and b["name"]:
            c.update_person(person_a, name=b["name"])
        if b["name"]:
            c.update_person(person_b, name=None)  # one name, one person
        # what was "not person b" is now "not person a"
        for con in catalog.constraints("not_person"):
            if con["person_id"] == person_b:
                c.add_constraint("not_person", con["face_a"], person_id=person_a)
    return {**catalog.person(person_a), "merged": person_b, "dropped": dropped}


def split_person(catalog: Catalog, person_id: int, *, n_parts: int | None = None,
                 embedder: str = "sface", method: str | None = None,
                 threshold: float | None = None) -> dict[str, Any]:
    """Re-cluster inside one person and make each part a person of its own (pinned).

    The method's own groups are used when it finds two or more; otherwise (or when
    ``n_parts`` is given) k-means splits the faces into ``n_parts`` (default 2). The
    largest part keeps the id and the name. Faces the method leaves unsorted lose their
    person.
    """
    from faceatlas.cluster import DEFAULT_METHOD, cluster_faces

    _require_person(catalog, person_id)
    if n_parts is not None and (isinstance(n_parts, bool) or not isinstance(n_parts, int)
                                or n_parts < 2):
        raise InputError(f"n_parts must be an int >= 2, got {n_parts!r}")
    faces = catalog.faces_of_person(person_id)
    ids, X = catalog.embeddings(embedder, faces)
    if ids.size < 2:
        raise InputError(f"person {person_id} has {ids.size} face(s) with embedder "
                         f"{embedder!r}; splitting needs at least 2")
    if threshold is None:
        threshold, _ = _embedder_threshold(embedder)
    labels = None
    if n_parts is None:
        method = method or DEFAULT_METHOD
        _, X_all = catalog.embeddings(embedder)
        labels = cluster_faces(X, method, threshold=threshold, min_cluster_size=1,
                               **_catalog_bars(method, {}, X_all, threshold, 0))
        if np.unique(labels[labels >= 0]).size < 2:
            labels = None
    if labels is None:
        k = min(n_parts or 2, ids.size)
        labels = cluster_faces(X, "kmeans", n_clusters=k, min_cluster_size=1,
                               threshold=threshold)
    parts = [ids[labels == g].tolist() for g in np.unique(labels[labels >= 0])]
    parts.sort(key=len, reverse=True)
    loose = [int(f) for f in ids[labels < 0]] + [f for f in faces if f not in set(ids.tolist())]
    new_ids = []
    with catalog.correction("split", {"person": person_id, "parts": [len(p) for p in parts],
                                      "unassigned": loose}) as c:
        c.assign(parts[0], person_id, source="user", confirmed=True)
        for part in parts[1:]:
            pid = c.create_person()
            new_ids.append(pid)
            c.assign(part, pid, source="user", confirmed=True)
        if loose:
            c.unassign(loose)
    return {"person": person_id, "new_people": new_ids, "parts": [len(p) for p in parts],
            "unassigned": loose}


def move_face(catalog: Catalog, face_id: int, person_id: int | None) -> dict[str, Any]:
    """Face ``face_id`` is person ``person_id`` (a new person when None); pinned there.

    Another face of the same photo held by that person loses it (a person appears once
    per photo); if that face is itself confirmed, nothing changes and InputError says so.
    """
    face = _require_face(catalog, face_id)
    if person_id is not None:
        _require_person(catalog, person_id)
        members = catalog.faces_of_person(person_id)
        same_photo = [f["id"] for f in catalog.faces(members)
                      if f["photo_id"] == face["photo_id"] and f["id"] != face_id]
    else:
        same_photo = []
    assign = catalog.assignments(same_photo)
    pinned = [f for f in same_photo if assign[f]["confirmed"]]
    if pinned:
        raise InputError(f"person {person_id} already holds face {pinned[0]} of the same photo "
                         f"(confirmed); move or reject face {pinned[0]} first")
    old = catalog.assignments([face_id]).get(face_id, {}).get("person_id")
    with catalog.correction("move", {"face": face_id, "person": person_id, "from": old,
                                     "displaced": same_photo}) as c:
        if person_id is None:
            person_id = c.create_person()
        if same_photo:
            c.unassign(same_photo)
        c.remove_constraints([con["id"] for con in catalog.constraints("not_person")
                              if con["face_a"] == face_id and con["person_id"] == person_id])
        c.assign([face_id], person_id, source="user", confirmed=True)
    return {"face": face_id, "person": person_id, "from": old, "displaced": same_photo}


def reject_face(catalog: Catalog, face_id: int, person_id: int) -> dict[str, Any]:
    """Face ``face_id`` is not person ``person_id``: unassign it there, and never again."""
    _require_face(catalog, face_id)
    _require_person(catalog, person_id)
    current = catalog.assignments([face_id]).get(face_id, {}).get("person_id")
    with catalog.correction("reject", {"face": face_id, "person": person_id}) as c:
        if current == person_id:
            c.unassign([face_id])
        already = any(con["face_a"] == face_id and con["person_id"] == person_id
                      for con in catalog.constraints("not_person"))
        if not already:
            c.add_constraint("not_person", face_id, person_id=person_id)
    return {"face": face_id, "person": person_id, "was_assigned": current == person_id}


def undo(catalog: Catalog) -> dict[str, Any] | None:
    """Revert the last correction not yet undone; returns it, or None if there is none."""
    return catalog.undo_last_correction()


# -- merge suggestions ------------------------------------------------------------------------
def suggest_merges(catalog: Catalog, embedder: str = "sface", *, limit: int = 20,
                   min_similarity: float | None = None, n_candidates: int = 10
                   ) -> list[dict[str, Any]]:
    """Pairs of people that may be one person, most likely first.

    Candidates are each person's ``n_candidates`` nearest people by centre; a pair is
    suggested when its two closest faces are at least ``min_similarity`` alike (default:
    the embedder's same-person threshold). Pairs seen together in one photo are never
    suggested (one person is not twice in a photo), nor pairs the user dismissed.

    Returns
    -------
    list of dict
        ``person_a``, ``person_b``, their names and face counts, ``closest_similarity``
        (and the two faces), ``centroid_similarity`` (cosine of the mean vectors), and
        ``score``, their mean, by which the list is sorted.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError(f"limit must be an int >= 1, got {limit!r}")
    if min_similarity is None:
        min_similarity, _ = _embedder_threshold(embedder)
    st = _load_state(catalog, embedder)
    visible = [pid for pid, p in st.persons.items() if not p["hidden"]]
    rows_of = {pid: np.flatnonzero(st.person == pid) for pid in visible}
    visible = [pid for pid in visible if rows_of[pid].size]
    if len(visible) < 2:
        return []
    C = np.stack([_centroid(st.X[rows_of[pid]]) for pid in visible]).astype(np.float32)
    sims = C @ C.T
    np.fill_diagonal(sims, -np.inf)
    k = min(n_candidates, len(visible) - 1)
    near = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    dismissed = catalog.dismissed_pairs()
    photos_of = {pid: set(st.photo[rows_of[pid]].tolist()) for pid in visible}
    seen: set[tuple[int, int]] = set()
    out = []
    for i, pid in enumerate(visible):
        for j in near[i]:
            a, b = sorted((pid, visible[j]))
            if (a, b) in seen or (a, b) in dismissed:
                continue
            seen.add((a, b))
            if photos_of[a] & photos_of[b]:
                continue
            ra, rb = rows_of[a], rows_of[b]
            S = st.X[ra] @ st.X[rb].T
            ia, ib = np.unravel_index(int(np.argmax(S)), S.shape)
            closest = float(S[ia, ib])
            if closest < min_similarity:
                continue
            centre = float(sims[i, j])
            pa, pb = st.persons[a], st.persons[b]
            out.append({"person_a": a, "person_b": b, "name_a": pa["name"],
                        "name_b": pb["name"], "n_faces_a": pa["n_faces"],
                        "n_faces_b": pb["n_faces"], "closest_similarity": round(closest, 4),
                        "closest_faces": [int(st.ids[ra[ia]]), int(st.ids[rb[ib]])],
                        "centroid_similarity": round(centre, 4),
                        "score": round((closest + centre) / 2, 4)})
    out.sort(key=lambda s: (-s["score"], s["person_a"], s["person_b"]))
    return out[:limit]


def dismiss_suggestion(catalog: Catalog, person_a: int, person_b: int) -> dict[str, Any]:
    """Never suggest merging these two people again. Undoable."""
    _require_person(catalog, person_a)
    _require_person(catalog, person_b)
    if person_a == person_b:
        raise InputError(f"a suggestion pairs two different people, got {person_a} twice")
    with catalog.correction("dismiss", {"person_a": person_a, "person_b": person_b}) as c:
        c.dismiss(person_a, person_b)
    return {"person_a": min(person_a, person_b), "person_b": max(person_a, person_b),
            "dismissed": True}


def confirm_suggestion(catalog: Catalog, person_a: int, person_b: int, *,
                       embedder: str | None = None) -> dict[str, Any]:
    """The two people are one: merge ``person_b`` into ``person_a``."""
    return merge_people(catalog, person_a, person_b, embedder=embedder, kind="confirm")


# -- k-means elbow ------------------------------------------------------------------------
def elbow_curve(catalog: Catalog, embedder: str = "sface", k_values: Sequence[int] | None = None,
                *, random_state: int = 0) -> dict[str, Any]:
    """k-means inertia and silhouette over k for the catalog's faces (``kmeans_curve``)."""
    from faceatlas.cluster import kmeans_curve

    ids, X = catalog.embeddings(embedder)
    if ids.size < 3:
        raise InputError(f"the elbow curve needs at least 3 faces embedded with {embedder!r}, "
                         f"got {ids.size}")
    curve = kmeans_curve(X, k_values, random_state=random_state)
    return {**curve, "embedder": embedder, "n_faces": int(ids.size)}


def save_elbow_plot(curve: dict[str, Any], path: str | Path) -> Path:
    """Inertia (left axis) and silhouette (right axis) against k, with the chosen k marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    ax.plot(curve["k"], curve["inertia"], "o-", color="tab:blue", label="inertia")
    ax.set_xlabel("k (number of clusters)")
    ax.set_ylabel("inertia", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(curve["k"], curve["silhouette"], "s--", color="tab:orange", label="silhouette")
    ax2.set_ylabel("silhouette (cosine)", color="tab:orange")
    ax.axvline(curve["elbow_k"], color="grey", ls=":", label=f"elbow k={curve['elbow_k']}")
    ax.axvline(curve["best_k"], color="tab:green", ls="-.", label=f"chosen k={curve['best_k']}")
    ax.set_title(f"k-means on {curve.get('n_faces', '?')} faces "
                 f"({curve.get('embedder', '')})")
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
