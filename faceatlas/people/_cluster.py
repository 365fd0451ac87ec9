"""Clustering applied to the catalog: :func:`cluster_people` and its summary."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from faceatlas._validation import check_int
from faceatlas.catalog import Catalog
from faceatlas.exceptions import InputError
from faceatlas.people._assign import _finalize, _join_existing, _match, _near_new
from faceatlas.people._lookalikes import between_named
from faceatlas.people._state import (
    _constraints_for,
    _last_max_face_id,
    _last_min_faces,
    _load_state,
    _repeat_photos,
    _State,
    default_min_faces,
    repeat_bar,
)
from faceatlas.people._thresholds import cluster_thresholds
from faceatlas.policy import DEFAULT_EMBEDDER


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
    n_photo_pairs_apart: int  # pairs of faces of one photo the rule kept apart
    n_photo_pairs_relaxed: int  # pairs alike enough to be one person shown twice
    n_repeat_photos: int  # photos showing someone twice (collage, album page, mirror)
    min_faces: int
    threshold: float
    threshold_source: str
    assign_threshold: float
    assign_threshold_source: str
    seconds: float
    max_face_id: int  # the newest face this run saw: later faces are "new"
    why_no_people: str = ""  # set when every face was left out of people

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        return (
            f"{self.n_people} people, {self.n_unsorted_groups} unsorted groups, "
            f"{self.n_unassigned} unassigned faces of {self.n_faces} ({self.mode}, "
            f"{self.method}; {self.n_new_faces} new faces, {self.n_matched_existing} "
            f"joined existing people, "
            f"{self.n_clustered} re-clustered, {self.n_new_people} new people) in "
            f"{self.seconds:.2f} s; threshold {self.threshold:.4f} ({self.threshold_source}); "
            f"{self.n_photo_pairs_apart} face pairs of one photo kept apart"
            + (
                f", {self.n_photo_pairs_relaxed} pairs in {self.n_repeat_photos} photos "
                "showing someone twice allowed together"
                if self.n_photo_pairs_relaxed
                else ""
            )
            + (f"\nno people: {self.why_no_people}" if self.why_no_people else "")
        )


def cluster_people(
    catalog: Catalog,
    embedder: str = DEFAULT_EMBEDDER,
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
        Same-person cosine similarity. Default by :func:`faceatlas.policy.same_person_threshold`:
        a calibration stored by ``faceatlas calibrate`` for this embedder, else the
        embedder's published threshold (0.363 for SFace, OpenCV's value on LFW
        verification pairs). New faces join existing people at the same threshold, except
        that without an explicit or stored one, a threshold calibrated on the catalog's
        confirmed faces (when there are enough) comes before the published one.
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
        return _cluster_people(
            catalog, embedder, method, all, min_faces, threshold, random_state, params, t0
        )
    finally:
        catalog.release_scan_lock()


def _cluster_people(
    catalog: Catalog,
    embedder: str,
    method: str,
    all: bool,  # noqa: A002 - the CLI flag's name
    min_faces: int | None,
    threshold: float | None,
    random_state: int,
    params: dict[str, Any],
    t0: float,
) -> ClusterSummary:
    k = params.get("n_clusters")
    st = _load_state(catalog, embedder)
    n = st.ids.size
    if min_faces is None:
        # An incremental run keeps the last run's value: a few new faces crossing a power
        # of ten must not turn people of the previous run into "unsorted" groups.
        last = None if all else _last_min_faces(catalog, default=None)
        min_faces = default_min_faces(n) if last is None else last
    else:
        min_faces = check_int(min_faces, "min_faces", low=1)
    group, join = cluster_thresholds(
        catalog, embedder, threshold, st.X, np.where(st.pinned, st.person, -1)
    )
    threshold, t_source = group.value, group.source
    a_threshold, a_source = join.value, join.source
    settings = {
        "embedder": embedder,
        "method": method,
        "all": bool(all),
        "k": k,
        "min_faces": min_faces,
        "threshold": threshold,
        **{key: v for key, v in params.items() if key != "n_clusters"},
    }
    last_max_id = _last_max_face_id(catalog, embedder)
    run_id = catalog.start_run("cluster", settings)
    try:
        summary = _cluster_run(
            catalog,
            st,
            run_id,
            embedder,
            method,
            all,
            min_faces,
            threshold,
            t_source,
            a_threshold,
            a_source,
            last_max_id,
            random_state,
            params,
            t0,
        )
    except BaseException as exc:
        # the statuses of every run: Ctrl-C is "interrupted", an error "failed", with why
        stopped = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        why = " ".join(str(exc).split()) or type(exc).__name__
        catalog.finish_run(run_id, {"failure": why}, status=stopped)
        raise
    catalog.finish_run(run_id, summary.to_dict())
    return summary


def _cluster_run(
    catalog: Catalog,
    st: _State,
    run_id: int,
    embedder: str,
    method: str,
    all: bool,  # noqa: A002 - the CLI flag's name
    min_faces: int,
    threshold: float,
    t_source: str,
    a_threshold: float,
    a_source: str,
    last_max_id: int,
    random_state: int,
    params: dict[str, Any],
    t0: float,
) -> ClusterSummary:
    from faceatlas.cluster import cluster_faces

    n = st.ids.size

    protected = {
        pid for pid, p in st.persons.items() if p["name"] or p["hidden"] or p["n_confirmed"] > 0
    }
    established = {
        pid for pid, p in st.persons.items() if pid in protected or p["n_faces"] >= min_faces
    }
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
            # between two named look-alikes the bar is higher: the face waits for the user
            joined = between_named(st, cand, joined, a_threshold)
            final[cand] = np.where(joined >= 0, joined, final[cand])
            n_matched = int((joined >= 0).sum())
        leftover = new.copy()
        leftover[cand[final[cand] >= 0]] = False
        # 2. the new faces left over are clustered with the old unassigned faces and
        # small groups near them; the rest of that pool had no partner last time and
        # still has none, so leaving it alone keeps the cost with the new faces.
        pool_mask = leftover | _near_new(
            st, np.flatnonzero(leftover), np.flatnonzero(((st.person < 0) | soft) & ~new), threshold
        )
        soft_hit = np.unique(st.person[pool_mask & soft])
        pool_mask |= soft & np.isin(st.person, soft_hit)  # a small group moves as a whole
        final[pool_mask & soft] = -1
        pool = np.flatnonzero(pool_mask)

    n_ml = n_cl = 0
    bar = repeat_bar(threshold)
    repeats = _repeat_photos(st, bar)
    counts = {"photo_pairs_apart": 0, "photo_pairs_relaxed": 0, "repeat_photos": 0}
    if pool.size:
        ml, cl, counts = _constraints_for(st, pool, bar)
        n_ml, n_cl = len(ml), len(cl)
        clparams = {"threshold": threshold, "random_state": random_state, **params}
        if pool.size < n:  # on every face the method's own estimate is the same thing
            clparams.update(_catalog_bars(method, params, st.X, threshold, random_state))
        if pool.size == 1:
            labels = np.full(1, -1, np.int64)
        else:
            if method == "kmeans" and isinstance(params.get("n_clusters"), int):
                clparams["n_clusters"] = min(int(params["n_clusters"]), pool.size)
            labels = cluster_faces(
                st.X[pool],
                method,
                cannot_link=cl,
                must_link=ml,
                quality=st.quality[pool],
                **clparams,
            )
        # old persons of pool faces (all of them when re-clustering everything)
        old = st.person[pool]
        mapping = _match(labels, old, st.pinned[pool])
        mapped = np.array(
            [mapping.get(int(g), -(int(g) + 2)) if g >= 0 else -1 for g in labels], np.int64
        )
        final[pool] = mapped
    final = _finalize(st, final, protected, repeats)

    # write only what changed
    changed = np.flatnonzero(final != st.person)
    assign = {int(st.ids[r]): int(final[r]) for r in changed if final[r] >= 0}
    unassign = [int(st.ids[r]) for r in changed if final[r] == -1]
    new_keys = sorted({int(final[r]) for r in changed if final[r] <= -2}, reverse=True)
    new_people = [[int(st.ids[r]) for r in np.flatnonzero(final == key)] for key in new_keys]
    catalog.apply_clustering(run_id, assign, new_people, unassign)

    people = catalog.persons()
    n_people = sum(1 for p in people if p["n_faces"] >= min_faces or p["id"] in protected)
    return ClusterSummary(
        run_id=run_id,
        embedder=embedder,
        method=method,
        mode="all" if all else "incremental",
        n_faces=n,
        n_clustered=int(pool.size),
        n_matched_existing=n_matched,
        n_new_faces=int((st.ids > last_max_id).sum()),
        n_people=n_people,
        n_unsorted_groups=len(people) - n_people,
        n_unassigned=n - sum(p["n_faces"] for p in people),
        n_new_people=len(new_people),
        n_changed=int(changed.size),
        n_cannot_link=n_cl,
        n_must_link=n_ml,
        min_faces=min_faces,
        threshold=float(threshold),
        threshold_source=t_source,
        assign_threshold=float(a_threshold),
        assign_threshold_source=a_source,
        seconds=round(time.perf_counter() - t0, 3),
        max_face_id=int(st.ids.max()),
        n_photo_pairs_apart=counts["photo_pairs_apart"],
        n_photo_pairs_relaxed=counts["photo_pairs_relaxed"],
        n_repeat_photos=counts["repeat_photos"],
        why_no_people=(_why_no_people(st, min_faces, threshold, counts) if n_people == 0 else ""),
    )


def _why_no_people(st: _State, min_faces: int, threshold: float, counts: dict[str, int]) -> str:
    """One sentence on why a run left every face out of people."""
    n, n_photos = st.ids.size, np.unique(st.photo).size
    if n_photos == 1 and n > 1:
        return (
            f"all {n} faces are in one photo, and faces of one photo are never one person "
            f"unless they look alike (similarity >= {repeat_bar(threshold):.2f}: a collage, "
            "an album page, a mirror); scan more photos"
        )
    if n < min_faces:
        return f"{n} faces, fewer than --min-faces {min_faces}"
    if counts["photo_pairs_apart"] and n_photos * 2 <= n:
        return (
            f"most faces share photos ({n} faces in {n_photos} photos) and faces of one "
            f"photo are kept apart ({counts['photo_pairs_apart']} pairs); scan more photos"
        )
    return (
        f"no {min_faces} faces of different photos are alike at threshold {threshold:.4f}; "
        "try a lower --threshold or --min-faces"
    )


def _catalog_bars(
    method: str, params: dict[str, Any], X: np.ndarray, threshold: float, random_state: int
) -> dict[str, float]:
    """The data-derived bars of a method (``pair_threshold``, ``edge_threshold``), from all
    the catalog's faces, for those the caller left on "auto".

    The bar models chance matches among all the catalog's faces: estimated by the method
    on an incremental pool or one person's faces (a few faces, often of one person) it
    would be meaningless.
    """
    from faceatlas.cluster import make_clusterer, pair_threshold

    names = [
        k
        for k in ("pair_threshold", "edge_threshold")
        if k in make_clusterer(method).get_params() and params.get(k, "auto") == "auto"
    ]
    if not names:
        return {}
    n = X.shape[0]
    bar = pair_threshold(
        X,
        threshold,
        random_state=random_state,
        # 50,000 pairs pin the median and MAD to ~0.5 %; a small
        # catalog has few distinct pairs to sample
        n_samples=int(min(50_000, max(10_000, n * (n - 1)))),
    )
    # Capped half-way between the threshold and 1: the estimate assumes most random pairs
    # are of different people, which fails in a library of two or three people (it then
    # reaches 1.0 and nothing would ever be grouped). On LFW it is 0.515 and on the
    # face_recognition examples 0.565, under the cap (0.68 for SFace).
    bar = min(bar, threshold + (1.0 - threshold) / 2)
    return dict.fromkeys(names, float(bar))
