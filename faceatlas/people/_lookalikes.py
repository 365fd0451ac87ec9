"""Look-alikes: named people whose faces are close, and the faces that sit between them.

Siblings, a parent and a child, twins: two people the user named apart, whose faces the
embedder finds alike. ``lookalikes`` lists such pairs (``faceatlas suggest --lookalikes``)
with the faces that match both; ``between_named`` is the higher bar the clustering keeps
between two named people: a face joins one of them only when it is clearly closer to it
than to the other (by ``LOOKALIKE_MARGIN``), else it waits unassigned for the user.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from faceatlas._validation import check_int
from faceatlas.catalog import Catalog
from faceatlas.people._state import _centroid, _load_state, _State
from faceatlas.policy import DEFAULT_EMBEDDER, same_person_threshold

#: How much closer (mean cosine similarity) a face must be to one named person than to
#: another named person it also matches, to join it without the user. SFace's mean
#: similarity to a person's faces spreads by about 0.05 between photos of one person
#: (LFW), so a smaller gap says nothing about which of two look-alikes it is.
LOOKALIKE_MARGIN = 0.05


def _named_rows(st: _State) -> dict[int, np.ndarray]:
    return {
        pid: np.flatnonzero(st.person == pid)
        for pid, p in st.persons.items()
        if p["name"] and not p["hidden"] and np.any(st.person == pid)
    }


def between_named(st: _State, rows: np.ndarray, joined: np.ndarray, threshold: float) -> np.ndarray:
    """``joined`` with -1 where a face matches two named people too evenly to choose.

    Parameters
    ----------
    st : _State
        The catalog as arrays.
    rows : ndarray of int
        Rows (into ``st``) of the faces that are joining people.
    joined : ndarray of int
        Person each joins (-1 none).
    threshold : float
        The joining threshold (mean similarity to a person's faces).

    Returns
    -------
    ndarray of int64
        ``joined``, with faces whose person is named and that also reach ``threshold``
        with another named person less than ``LOOKALIKE_MARGIN`` below set to -1.
    """
    joined = np.asarray(joined, np.int64).copy()
    named = _named_rows(st)
    if len(named) < 2 or rows.size == 0:
        return joined
    pids = list(named)
    C = np.stack([_centroid(st.X[r]) for r in named.values()]).astype(np.float32)
    col = {p: j for j, p in enumerate(pids)}
    S = st.X[rows] @ C.T  # mean similarity to each named person (dot with the mean)
    for i, pid in enumerate(joined):
        if int(pid) not in col:
            continue
        own = S[i, col[int(pid)]]
        others = np.delete(S[i], col[int(pid)])
        rival = float(others.max())
        if rival >= threshold and own - rival < LOOKALIKE_MARGIN:
            joined[i] = -1
    return joined


def lookalikes(
    catalog: Catalog,
    embedder: str = DEFAULT_EMBEDDER,
    *,
    limit: int = 20,
    min_similarity: float | None = None,
    max_faces: int = 10,
) -> list[dict[str, Any]]:
    """Pairs of named people whose faces are close, closest first.

    A pair is listed when some face of one and some face of the other are at least
    ``min_similarity`` alike (default: the same-person threshold of
    :func:`faceatlas.policy.same_person_threshold`): the embedder alone would call them
    one person there. With each pair come the faces that sit between them: faces of
    either person or unassigned whose mean similarity to both people reaches the
    threshold, fewest margin first.

    Parameters
    ----------
    catalog : Catalog
    embedder : str, default "sface"
    limit : int, default 20
        Pairs at most.
    min_similarity : float, optional
        Closest-pair similarity that makes two named people look-alikes.
    max_faces : int, default 10
        Faces between them listed per pair.

    Returns
    -------
    list of dict
        ``person_a``, ``person_b``, ``name_a``, ``name_b``, ``closest_similarity``,
        ``closest_faces``, ``centroid_similarity``, ``faces_between`` (list of
        ``{face_id, person, similarity_a, similarity_b}``).
    """
    limit = check_int(limit, "limit", low=1)
    max_faces = check_int(max_faces, "max_faces", low=0)
    t = same_person_threshold(catalog, embedder).value
    if min_similarity is None:
        min_similarity = t
    st = _load_state(catalog, embedder)
    named = _named_rows(st)
    pids = sorted(named)
    if len(pids) < 2:
        return []
    C = np.stack([_centroid(st.X[named[p]]) for p in pids]).astype(np.float32)
    mean_sim = st.X @ C.T  # every face against every named person's mean
    out = []
    for i, a in enumerate(pids):
        for j in range(i + 1, len(pids)):
            b = pids[j]
            S = st.X[named[a]] @ st.X[named[b]].T
            ia, ib = np.unravel_index(int(np.argmax(S)), S.shape)
            closest = float(S[ia, ib])
            if closest < min_similarity:
                continue
            both = np.minimum(mean_sim[:, i], mean_sim[:, j])
            cand = np.flatnonzero(both >= t)
            gap = np.abs(mean_sim[cand, i] - mean_sim[cand, j])
            cand = cand[np.argsort(gap, kind="stable")][:max_faces]
            out.append(
                {
                    "person_a": a,
                    "person_b": b,
                    "name_a": st.persons[a]["name"],
                    "name_b": st.persons[b]["name"],
                    "closest_similarity": round(closest, 4),
                    "closest_faces": [int(st.ids[named[a][ia]]), int(st.ids[named[b][ib]])],
                    "centroid_similarity": round(float(C[i] @ C[j]), 4),
                    "faces_between": [
                        {
                            "face_id": int(st.ids[r]),
                            "person": int(st.person[r]) if st.person[r] >= 0 else None,
                            "similarity_a": round(float(mean_sim[r, i]), 4),
                            "similarity_b": round(float(mean_sim[r, j]), 4),
                        }
                        for r in cand
                    ],
                }
            )
    out.sort(key=lambda s: (-s["closest_similarity"], s["person_a"], s["person_b"]))
    return out[:limit]
