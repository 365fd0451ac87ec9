"""Purity rules every face must pass to stay in a person: support, poor faces, content order.

One chance match is enough to carry a stranger into a person in a graph method: a face
in a collection of n faces is compared with all the others, and with a small or blurred
face the embedding is noisy enough that one of those comparisons clears the bar. The
rules here ask for more than one witness:

- ``support_prune``: a face stays in a person of ``LARGE_PERSON`` (5) or more faces only if
  at least two of the person's other faces are among its kNN edges at the edge bar; faces that fail
  are taken out, repeatedly, until every member is supported (a chain of faces, each
  hanging on the one before, unravels from its loose end).
- ``join_with_support``: a face that may not found a person (quality below
  ``min_quality``) joins the person of which at least two members (one when the person
  has a single face) are among its nearest clustered faces at the bar, the person with
  the highest total similarity of those members; it is never a node of the graph, so it
  never links two groups.
- ``content_order``: the rows sorted by their own values, so that the same faces give
  the same people whatever order they were scanned in.
"""

from __future__ import annotations

import numpy as np

#: Members of a person that must vouch for a face (edges at the bar) in a large person: one
#: chance match above the bar is expected for about 1 face in 100 (``pair_threshold``'s
#: rate); two to the same person, about 1 in 10,000 times the person's share of the catalog.
MIN_SUPPORT = 2

#: Faces from which a person is "large" and ``MIN_SUPPORT`` applies (smaller ones need one
#: edge, as any graph clusterer does): a face then needs 2 of at least 4 other members. In
#: a person of 3-4 faces two witnesses are half or all of the others, which one person's
#: varied photos often do not give (every face of LFW: BCubed F 0.982 with the rule from 3
#: faces, 0.985 from 5, 0.987 without it), while a small person offers few faces for a
#: stranger's chance match to hit.
LARGE_PERSON = 2 * MIN_SUPPORT + 1


def content_order(X: np.ndarray) -> np.ndarray:
    """A permutation that sorts the rows of ``X`` by their values (first 4 columns).

    Two scans of the same photos put the faces in different orders (workers finish in any
    order); sorting by content first makes every later step (sampled pairs, the random
    order of Chinese whispers, ties) see the same sequence. Rows equal in their first four
    floats are, for unit vectors of real faces, the same vector; they keep input order.
    """
    m = min(4, X.shape[1])
    keys = tuple(X[:, j] for j in range(m - 1, -1, -1))
    return np.lexsort(keys) if m else np.arange(X.shape[0])


def support_prune(
    labels: np.ndarray,
    D: np.ndarray,
    I: np.ndarray,  # noqa: E741 - faiss's name
    bar: float,
    min_support: int = MIN_SUPPORT,
    large: int = LARGE_PERSON,
) -> np.ndarray:
    """Take out of each person the faces fewer than ``min_support`` of its members vouch for.

    Parameters
    ----------
    labels : ndarray of int of shape (n,)
        Person of each face, -1 for none.
    D, I : ndarray of shape (n, k)
        The kNN graph (similarities, neighbour indices, -1 for none).
    bar : float
        Similarity an edge needs to count (the method's edge bar).
    min_support : int, default=MIN_SUPPORT
        Members needed in a person of ``large`` faces or more; a smaller one needs one.
    large : int, default=LARGE_PERSON

    Returns
    -------
    ndarray of int64
        ``labels`` with unsupported faces set to -1.
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    n = labels.size
    if n == 0 or I.size == 0:
        return labels
    # edges both ways (the kNN graph is directed; an edge counts if either side lists it)
    sims = np.asarray(D)
    ok = (I >= 0) & (sims >= bar)
    rows = np.repeat(np.arange(n), I.shape[1])[ok.ravel()]
    cols = I.ravel()[ok.ravel()]
    a = np.concatenate([rows, cols])
    b = np.concatenate([cols, rows])
    pair = np.unique(a * n + b)
    a, b = pair // n, pair % n
    for _ in range(n):
        live = labels >= 0
        size = np.bincount(labels[live], minlength=int(labels.max()) + 1 if live.any() else 0)
        same = live[a] & (labels[a] == labels[b])
        support = np.bincount(a[same], minlength=n)
        need = np.zeros(n, np.int64)
        sz = size[labels[live]]
        need[live] = np.where(sz >= large, np.minimum(min_support, sz - 1), np.minimum(1, sz - 1))
        bad = live & (support < need)
        if not bad.any():
            break
        labels[bad] = -1
    return labels


def join_with_support(
    X_new: np.ndarray,
    X_members: np.ndarray,
    member_labels: np.ndarray,
    bar: float,
    n_neighbors: int,
    min_support: int = MIN_SUPPORT,
) -> np.ndarray:
    """The person each new face joins, or -1: ``min_support`` members at the bar vouch.

    Parameters
    ----------
    X_new : ndarray of shape (m, d)
        Faces that may join but not found a person (L2-normalised).
    X_members : ndarray of shape (n, d)
        Faces already in people.
    member_labels : ndarray of int of shape (n,)
        Their people (>= 0).
    bar : float
        Similarity a member needs to vouch.
    n_neighbors : int
        Nearest members looked at per face.
    min_support : int, default=MIN_SUPPORT
        Members needed (all the person's faces when it has fewer).

    Returns
    -------
    ndarray of int64 of shape (m,)
    """
    import faiss

    m = X_new.shape[0]
    out = np.full(m, -1, np.int64)
    if m == 0 or X_members.shape[0] == 0:
        return out
    member_labels = np.asarray(member_labels, dtype=np.int64)
    size = np.bincount(member_labels)
    k = min(int(n_neighbors), X_members.shape[0])
    idx = faiss.IndexFlatIP(X_members.shape[1])
    idx.add(np.ascontiguousarray(X_members, dtype=np.float32))
    D, I = idx.search(np.ascontiguousarray(X_new, dtype=np.float32), k)  # noqa: E741
    # (face, person) totals over the neighbours at the bar, all faces at once
    ok = (I >= 0) & (np.asarray(D) >= bar)
    rows = np.repeat(np.arange(m), k).reshape(m, k)[ok]
    lab = member_labels[I[ok]]
    if rows.size == 0:
        return out
    n_lab = int(member_labels.max()) + 2
    key = rows * n_lab + lab
    uk, inv = np.unique(key, return_inverse=True)
    count = np.bincount(inv.ravel())
    total = np.bincount(inv.ravel(), weights=np.asarray(D)[ok].astype(np.float64))
    face, person = uk // n_lab, uk % n_lab
    enough = count >= np.minimum(min_support, size[person])
    face, person, total = face[enough], person[enough], total[enough]
    # best total per face; ties to the smaller label (deterministic)
    o = np.lexsort((person, -total, face))
    first = np.r_[True, face[o][1:] != face[o][:-1]] if o.size else np.zeros(0, bool)
    out[face[o][first]] = person[o][first]
    return out
