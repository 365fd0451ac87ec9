"""Merge suggestions: pairs of people that may be one person, and the user's answers."""

from __future__ import annotations

from typing import Any

import numpy as np

from faceatlas._validation import check_int
from faceatlas.catalog import Catalog
from faceatlas.exceptions import InputError
from faceatlas.people._corrections import merge_people
from faceatlas.people._state import _centroid, _load_state, _require_person, _State
from faceatlas.policy import DEFAULT_EMBEDDER, same_person_threshold


def suggest_merges(
    catalog: Catalog,
    embedder: str = DEFAULT_EMBEDDER,
    *,
    limit: int = 20,
    min_similarity: float | None = None,
    n_candidates: int = 10,
) -> list[dict[str, Any]]:
    """Pairs of people that may be one person, most likely first.

    Candidates are each person's ``n_candidates`` nearest people by centre; a pair is
    suggested when its two closest faces are at least ``min_similarity`` alike (default:
    :func:`faceatlas.policy.same_person_threshold`, a calibration stored by ``faceatlas
    calibrate`` else the embedder's published threshold). Pairs seen together in one photo are never
    suggested (one person is not twice in a photo), nor pairs the user dismissed.

    Returns
    -------
    list of dict
        ``person_a``, ``person_b``, their names and face counts, ``closest_similarity``
        (and the two faces), ``centroid_similarity`` (cosine of the mean vectors), and
        ``score``, their mean, by which the list is sorted; ``threshold`` and
        ``threshold_source``, the bar used and where it comes from.
    """
    limit = check_int(limit, "limit", low=1)
    source = "given"
    if min_similarity is None:
        chosen = same_person_threshold(catalog, embedder)
        min_similarity, source = chosen.value, chosen.source
    st = _load_state(catalog, embedder)
    return _suggest_from_state(catalog, st, limit, min_similarity, n_candidates, source)


def _suggest_from_state(
    catalog: Catalog,
    st: _State,
    limit: int,
    min_similarity: float,
    n_candidates: int,
    source: str,
) -> list[dict[str, Any]]:
    """:func:`suggest_merges` on a state already loaded (the review queue shares its own)."""
    visible = [pid for pid, p in st.persons.items() if not p["hidden"]]
    # each person's rows from one sort, not one scan of every face per person
    order = np.argsort(st.person, kind="stable")
    cut = np.flatnonzero(np.diff(st.person[order])) + 1
    groups = {int(st.person[g[0]]): g for g in np.split(order, cut) if g.size}
    empty = np.zeros(0, np.int64)
    rows_of = {pid: groups.get(pid, empty) for pid in visible}
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
            out.append(
                {
                    "person_a": a,
                    "person_b": b,
                    "name_a": pa["name"],
                    "name_b": pb["name"],
                    "n_faces_a": pa["n_faces"],
                    "n_faces_b": pb["n_faces"],
                    "closest_similarity": round(closest, 4),
                    "closest_faces": [int(st.ids[ra[ia]]), int(st.ids[rb[ib]])],
                    "centroid_similarity": round(centre, 4),
                    "score": round((closest + centre) / 2, 4),
                    "threshold": float(min_similarity),
                    "threshold_source": source,
                }
            )
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
    return {
        "person_a": min(person_a, person_b),
        "person_b": max(person_a, person_b),
        "dismissed": True,
    }


def confirm_suggestion(
    catalog: Catalog, person_a: int, person_b: int, *, embedder: str | None = None
) -> dict[str, Any]:
    """The two people are one: merge ``person_b`` into ``person_a``."""
    return merge_people(catalog, person_a, person_b, embedder=embedder, kind="confirm")
