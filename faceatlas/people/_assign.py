"""Who gets which face once a clustering method has spoken (arrays in, arrays out).

New faces join existing people they match (:func:`_join_existing`); the clustering's new
groups inherit the persons of the previous run by maximum overlap (:func:`_match`, the
Hungarian assignment that keeps person ids, names and hidden flags stable); and
:func:`_finalize` applies the rules no clustering result may break.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from collections.abc import Set as AbstractSet

import numpy as np

from faceatlas.people._state import _centroid, _State


def _match(groups: np.ndarray, old: np.ndarray, pinned: np.ndarray) -> dict[int, int]:
    """New group -> old person, maximising overlap (Hungarian per connected block).

    Every face weighs the same, pinned or not: a group goes to the person most of its
    faces were with. (A pin used to outweigh everything, so one face moved by hand to a
    person dragged the whole group it was clustered with into that person, emptying the
    person the group had been; :func:`_finalize` keeps the pins where they are anyway.)
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ok = (groups >= 0) & (old >= 0)
    if not ok.any():
        return {}
    w = np.ones(int(ok.sum()))
    g_ids, g_inv = np.unique(groups[ok], return_inverse=True)
    p_ids, p_inv = np.unique(old[ok], return_inverse=True)
    W = coo_matrix((w, (g_inv.ravel(), p_inv.ravel())), shape=(g_ids.size, p_ids.size)).tocsr()
    W.sum_duplicates()
    n_g = g_ids.size
    bip = coo_matrix(
        (np.ones(W.nnz), (W.tocoo().row, W.tocoo().col + n_g)), shape=(n_g + p_ids.size,) * 2
    )
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


def _finalize(
    st: _State,
    final: np.ndarray,
    protected: set[int],
    repeat_photos: AbstractSet[int] = frozenset(),
) -> np.ndarray:
    """Apply the rules no clustering result may break; returns the corrected copy.

    ``final`` holds person ids (existing, >= 1), new-group keys (<= -2) or -1. Pins win;
    "not this person" unassigns; a person keeps one face per photo (a pinned one, else the
    one closest to its centre) except in ``repeat_photos`` (one person shown twice: a
    collage, an album page, a mirror), and keeps every face pinned to it whatever the
    photo (a correction wins over the rule); a new or unprotected group of one face is no
    group.
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
                if int(st.photo[rows[0]]) in repeat_photos:
                    continue
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
        rows = old[start : start + 8192]
        out[rows] = (st.X[rows] @ Xn.T).max(axis=1) >= threshold
    return out


def _join_existing(
    st: _State, cand: np.ndarray, persons: Sequence[int], threshold: float
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
    onehot = sparse.csr_matrix(
        (np.ones(member.size, np.float32), (cols, np.arange(member.size))),
        shape=(pid_arr.size, member.size),
    )
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
