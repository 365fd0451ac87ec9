"""The gallery's pages at album size: cached listings, pages of faces, one photo.

Costly answers (the people list, a person's ordering, counts) are cached per catalog file
under the catalog's write counter (:meth:`faceatlas.catalog.Catalog.write_counter`), so they
are built once per change and never served stale; lists come a page at a time from indexed
queries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from faceatlas.exceptions import InputError
from faceatlas.policy import catalog_embedder

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog

# -- the gallery at album size: cached listings, pages of faces, one photo ----------------------
#: Faces per page of a person, and of the unsorted faces.
FACES_PER_PAGE = 120
#: Quality (``faceatlas.align.face_quality``, in [0, 1]) under which an unassigned face is
#: listed as "poor": small, blurred or doubtful faces, mostly strangers in the background.
#: The mid-point of the score, until issue 11's usable/unusable verdict is in the catalog.
POOR_QUALITY = 0.5
#: Photos shown per month of a person's timeline (the month's count is always given).
TIMELINE_PHOTOS_PER_MONTH = 12
#: Small groups listed at the top of the unsorted page.
GROUPS_SHOWN = 60

_CACHE: dict[tuple[str, str], tuple[int, Any]] = {}
_CACHE_LOCK = threading.Lock()
_BUILD_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_CACHE_SIZE = 512


def cached(catalog: Catalog, key: str, build: Callable[[], Any], *, stale_ok: bool = False) -> Any:
    """``build()``, remembered per catalog file until the catalog changes.

    Keyed by :meth:`~faceatlas.catalog.Catalog.write_counter`, which every change to faces,
    vectors, people and constraints raises (triggers, so writes of other processes count
    too). One build per key at a time: concurrent requests for the same missing value
    wait for it. With ``stale_ok``, a value built before the last change is returned at
    once while a background thread builds the new one (for answers that take seconds on
    a large catalog, such as the review queue; the caller filters what went out of date);
    then ``build`` takes the catalog to read as an optional argument, since the background
    thread opens its own. The value is shared: callers must not change it.
    """
    if catalog.path == ":memory:":
        return build()
    ck = (str(catalog.path), key)
    counter = catalog.write_counter()
    hit = _CACHE.get(ck)
    if hit is not None and hit[0] == counter:
        return hit[1]
    with _CACHE_LOCK:
        lock = _BUILD_LOCKS.setdefault(ck, threading.Lock())
    if stale_ok and hit is not None:
        if lock.acquire(blocking=False):
            threading.Thread(
                target=_rebuild, args=(catalog.path, key, build, lock), daemon=True
            ).start()
        return hit[1]
    with lock:
        hit = _CACHE.get(ck)
        if hit is not None and hit[0] == counter:
            return hit[1]
        value = build()
        _store(ck, counter, value)
    return value


def _store(ck: tuple[str, str], counter: int, value: Any) -> None:
    with _CACHE_LOCK:
        # what an older state of this catalog left is never served again (a forgotten
        # person's names and paths do not stay in memory); the review queue's last build
        # is, while its new one is made
        for k in [
            k
            for k, (c, _) in _CACHE.items()
            if k[0] == ck[0] and c < counter and not k[1].startswith("review/")
        ]:
            del _CACHE[k]
        _CACHE.pop(ck, None)
        _CACHE[ck] = (counter, value)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))


def _rebuild(path: str, key: str, build: Callable[..., Any], lock: threading.Lock) -> None:
    """Build a stale value again on a catalog of its own (the request's one closes)."""
    from faceatlas.catalog import Catalog

    try:
        with Catalog(path) as cat:
            counter = cat.write_counter()
            _store((str(path), key), counter, build(cat))
    except Exception:  # noqa: BLE001 - the next request builds it, and reports the error
        with _CACHE_LOCK:
            _CACHE.pop((str(path), key), None)
    finally:
        lock.release()


def people_listing(catalog: Catalog, *, include_hidden: bool = False) -> dict[str, Any]:
    """:func:`faceatlas.people.list_people`, cached, with each person's chosen cover face."""
    from faceatlas.people import list_people

    def build() -> dict[str, Any]:
        d = list_people(catalog, include_hidden=include_hidden)
        covers = catalog.covers()
        for p in d["people"] + d["unsorted"]:
            if p["id"] in covers:
                p["example_face"] = covers[p["id"]]
        return d

    return cached(catalog, f"people/{include_hidden}", build)


def person_names(catalog: Catalog) -> list[dict[str, Any]]:
    """Every visible person for a name picker: ``id``, ``name``, ``label``, ``n_faces``.

    Named people first (by name), then the others by size; cached.
    """

    def build() -> list[dict[str, Any]]:
        rows = [
            {
                "id": p["id"],
                "name": p["name"],
                "label": p["name"] or f"Person {p['id']}",
                "n_faces": p["n_faces"],
            }
            for p in catalog.persons()
            if not p["hidden"]
        ]
        rows.sort(key=lambda r: (r["name"] is None, (r["name"] or "").lower(), -r["n_faces"]))
        return rows

    return cached(catalog, "names", build)


def _file_time(path: str) -> str | None:
    """The file's modification time (UTC, ISO text) when the catalog has no time for it."""
    import datetime as dt
    import os

    try:
        stamp = os.stat(path).st_mtime
    except OSError:
        return None
    return dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _unit(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.linalg.norm(X, axis=-1, keepdims=True), 1e-12)


def gallery_embedder(catalog: Catalog, wanted: str | None = None) -> str | None:
    """:func:`faceatlas.policy.catalog_embedder`, cached (it counts every vector)."""
    return cached(catalog, f"embedder/{wanted}", lambda: catalog_embedder(catalog, wanted))


def _person_build(catalog: Catalog, person_id: int, embedder: str | None) -> dict[str, Any]:
    from faceatlas.people import face_fields

    person = catalog.person(person_id)
    rows = catalog.person_face_rows(person_id)
    emb = gallery_embedder(catalog, embedder)
    sim: dict[int, float] = {}
    if emb is not None and rows:
        ids, X = catalog.face_vectors(emb, [r["face_id"] for r in rows])
        if ids.size:
            s = _unit(X) @ _unit(X.mean(axis=0))
            sim = {int(f): round(float(v), 4) for f, v in zip(ids, s, strict=True)}
    faces = [
        {
            **face_fields(r),
            "similarity": sim.get(r["face_id"]),
            "taken": r["taken"] or _file_time(r["path"]),
            "taken_is_capture": bool(r["taken_is_capture"]),
        }
        for r in rows
    ]
    # least like the person's centre first: that is where the mistakes are
    faces.sort(key=lambda f: (f["similarity"] is not None, f["similarity"] or 0.0, f["face_id"]))
    months: dict[str, dict[str, Any]] = {}
    seen: set[int] = set()
    for f in sorted(faces, key=lambda f: (f["taken"] or "", f["photo_id"])):
        if f["photo_id"] in seen:
            continue
        seen.add(f["photo_id"])
        key = (f["taken"] or "unknown")[:7]
        m = months.setdefault(key, {"month": key, "n_photos": 0, "photos": []})
        m["n_photos"] += 1
        if len(m["photos"]) < TIMELINE_PHOTOS_PER_MONTH:
            m["photos"].append(
                {"photo_id": f["photo_id"], "face_id": f["face_id"], "taken": f["taken"]}
            )
    cover = catalog.covers([person_id]).get(person_id)
    if cover is None and faces:
        cover = max(faces, key=lambda f: (f["quality"], -f["face_id"]))["face_id"]
    return {
        **person,
        "faces": faces,
        "timeline": list(months.values()),
        "cover_face": cover,
        "rejected_faces": catalog.rejected_faces(person_id),
        "embedder": emb,
        "dates": "capture time" if any(f["taken_is_capture"] for f in faces) else "file time",
    }


def person_page(
    catalog: Catalog,
    person_id: int,
    *,
    embedder: str | None = None,
    offset: int = 0,
    limit: int = FACES_PER_PAGE,
    year: str | None = None,
) -> dict[str, Any]:
    """One person for the gallery: a page of faces, least certain first, and a timeline.

    The timeline shows one year at a time (``year``, default the latest), month by month;
    ``years`` lists them all with their counts.

    Returns
    -------
    dict
        The person's row (``id``, ``name``, ``n_faces``, ``n_confirmed``, ``hidden``);
        ``faces``: the page (``face_id``, ``photo_id``, ``path``, ``frame_index``, ``box``,
        ``quality``, ``confirmed``, ``source``, ``similarity`` to the person's centre,
        ``taken``: capture time, else file time), lowest similarity first; ``offset``,
        ``limit``, ``next``, ``total``; ``years`` (``year``, ``n_photos``) oldest first,
        ``year`` (the one shown) and ``timeline``: its months (``month``, ``n_photos``,
        ``photos`` up to :data:`TIMELINE_PHOTOS_PER_MONTH`) oldest first; ``cover_face``;
        ``rejected_faces``; ``dates`` ("capture time" or "file time").
    """
    d = cached(
        catalog,
        f"person/{int(person_id)}/{embedder}",
        lambda: _person_build(catalog, person_id, embedder),
    )
    years: dict[str, int] = {}
    for m in d["timeline"]:
        years[m["month"][:4]] = years.get(m["month"][:4], 0) + m["n_photos"]
    if year is not None and year not in years:
        raise InputError(
            f"year must be one of the person's years ({', '.join(years)}), got {year!r}"
        )
    shown = year if year is not None else (max(years) if years else None)
    end = offset + limit
    return {
        **{k: v for k, v in d.items() if k not in ("faces", "timeline")},
        "years": [{"year": y, "n_photos": n} for y, n in years.items()],
        "year": shown,
        "timeline": [m for m in d["timeline"] if m["month"][:4] == shown],
        "faces": d["faces"][offset:end],
        "total": len(d["faces"]),
        "offset": offset,
        "limit": limit,
        "next": end if end < len(d["faces"]) else None,
    }


def photo_page(catalog: Catalog, photo_id: int) -> dict[str, Any]:
    """One photo and every face in it, boxed and named.

    Returns
    -------
    dict
        The photo's ``id``, ``path``, ``frame_index``, ``width``, ``height``, ``taken``
        and ``faces`` (``face_id``, ``box``, ``quality``, ``person_id`` or None, ``name``,
        ``label``, ``hidden``, ``confirmed``).
    """
    row = catalog.photo(photo_id)
    faces = [
        {
            "face_id": f["face_id"],
            "box": [round(f[c], 1) for c in ("x1", "y1", "x2", "y2")],
            "quality": round(f["quality"], 4),
            "person_id": f["person_id"],
            "name": f["name"],
            "label": (f["name"] or f"Person {f['person_id']}") if f["person_id"] else "nobody",
            "hidden": f["hidden"],
            "confirmed": f["confirmed"],
        }
        for f in catalog.photo_faces(photo_id)
    ]
    return {
        "id": row["id"],
        "path": row["path"],
        "frame_index": row["frame_index"],
        "width": row["width"],
        "height": row["height"],
        "taken": catalog.photo_time(photo_id) or _file_time(row["path"]),
        "status": row["status"],
        "faces": faces,
    }


def unsorted_page(
    catalog: Catalog,
    *,
    quality: str = "all",
    offset: int = 0,
    limit: int = FACES_PER_PAGE,
    poor_below: float = POOR_QUALITY,
) -> dict[str, Any]:
    """Small groups and a page of the faces of nobody, filtered by quality.

    Parameters
    ----------
    quality : {"all", "good", "poor"}
        "poor": faces the scan judged unusable (issue 11's verdict, with its reason), or
        for a catalog without verdicts, quality under ``poor_below``; "good": the others.

    Returns
    -------
    dict
        ``groups`` (the first :data:`GROUPS_SHOWN` small groups), ``n_groups``, ``faces``
        (``face_id``, ``photo_id``, ``quality``, ``poor``, ``reason``, ``path``,
        ``frame_index``), best quality first; ``counts`` (``all``, ``good``, ``poor``),
        ``n_unassigned`` (of the filter), ``offset``, ``limit``, ``next``, ``quality``,
        ``poor_below``, ``poor_by`` (what "poor" means here).
    """
    if quality not in ("all", "good", "poor"):
        raise InputError(f"quality must be all, good or poor, got {quality!r}")
    # every unassigned face's id and quality, once per change: any page is then a slice
    ids, q, usable = cached(catalog, "unassigned", catalog.unassigned_face_ids)
    # the scan's verdict when it gave one (issue 11), else the quality bar
    verdict = bool((usable >= 0).any())
    good = np.where(usable >= 0, usable == 1, q >= poor_below) if verdict else q >= poor_below
    n = {"all": int(ids.size), "good": int(good.sum()), "poor": int((~good).sum())}
    chosen = {"all": ids, "good": ids[good], "poor": ids[~good]}[quality]
    page_ids = [int(f) for f in chosen[offset : offset + limit]]
    rows = {f["id"]: f for f in catalog.faces(page_ids)}
    verdicts = catalog.face_verdicts(page_ids) if verdict else {}

    def poor(f: int) -> bool:
        usable = verdicts.get(f, (None, None))[0]
        return usable == 0 if usable is not None else rows[f]["quality"] < poor_below

    is_poor = {f: poor(f) for f in page_ids if f in rows}
    reasons = {f: verdicts[f][1] or "unusable" for f in page_ids if verdicts.get(f, (1,))[0] == 0}
    groups = people_listing(catalog)["unsorted"]
    faces = [
        {
            "face_id": f,
            "photo_id": rows[f]["photo_id"],
            "quality": round(rows[f]["quality"], 4),
            "poor": bool(is_poor.get(f)),
            "reason": reasons.get(f)
            or (f"quality under {poor_below:.2f}" if is_poor.get(f) else None),
            "path": rows[f]["path"],
            "frame_index": rows[f]["frame_index"],
        }
        for f in page_ids
        if f in rows
    ]
    end = offset + limit
    return {
        "groups": groups[:GROUPS_SHOWN],
        "n_groups": len(groups),
        "faces": faces,
        "counts": n,
        "n_unassigned": n[quality],
        "offset": offset,
        "limit": limit,
        "next": end if end < n[quality] else None,
        "quality": quality,
        "poor_below": poor_below,
        "poor_by": "the scan's verdict" if verdict else f"quality under {poor_below:.2f}",
    }


def upload_preview(path: str, max_side: int = 800) -> dict[str, Any]:
    """A searched photo, shrunk for the page: ``jpeg`` bytes and its full ``width``/``height``.

    The width and height are those of the upright photo the detector saw, the frame of
    the boxes :func:`photo_search` returns.
    """
    import io

    from PIL import Image

    from faceatlas.images import load_image

    arr = load_image(path)
    img = Image.fromarray(arr)
    h, w = arr.shape[:2]
    img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=85)
    return {"jpeg": buf.getvalue(), "width": int(w), "height": int(h)}
