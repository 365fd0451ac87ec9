"""The gallery's pages, their JSON twins, pictures and corrections: one handler each.

Every handler parses its input, calls one library function (:mod:`faceatlas.views`,
:mod:`faceatlas.people`) on a catalog opened for the request, in a worker thread, and
formats the answer: HTML from a template, or JSON when the path ends in ``.json``. What
the app was built with (catalog file, embedder, templates, limits, CSRF token) is read from
``request.app.state`` (see :func:`faceatlas.web._app.create_app`).

Corrections go through the same functions as the CLI, so they are the same catalog
constraints and survive re-clustering.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from faceatlas.catalog import Catalog
from faceatlas.exceptions import CatalogBusyError, FaceAtlasError, NotFoundError
from faceatlas.jsonable import json_default
from faceatlas.web._security import (
    Refused,
    capped_request,
    check_csrf,
    image_suffix,
    safe_photo_path,
)

__all__ = [
    "corrections_page",
    "face_chip",
    "face_photo",
    "home",
    "jsonable",
    "on_catalog",
    "on_error",
    "people_page",
    "person_page",
    "photo",
    "review_page",
    "search",
    "search_form",
    "unsorted_page",
]

#: People per page of the grid (and per lazy-loaded batch).
PAGE_SIZE = 60
MAX_PAGE_SIZE = 500
#: Matches shown per face found in an uploaded photo.
SEARCH_K = 12


# -- plumbing -----------------------------------------------------------------------------------
def wants_json(request: Request) -> bool:
    return request.url.path.endswith(".json")


def page(request: Request, template: str, data: dict[str, Any], **extra: Any) -> Response:
    """``data`` as JSON for a ``.json`` path, else rendered into ``template``."""
    if wants_json(request):
        return json_response(data)
    data = displayable(data)
    return request.app.state.templates.TemplateResponse(request, template, {"data": data, **extra})


def displayable(obj: Any) -> Any:
    """``obj`` with file names that are not UTF-8 shown escaped (``caf\\xe9.jpg``).

    The catalog keeps such names as their bytes (surrogate escapes in Python); a page or
    a JSON answer must be UTF-8, so they are shown as the escaped bytes, never a 500.
    """
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            return obj.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        return obj
    if isinstance(obj, dict):
        return {k: displayable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [displayable(v) for v in obj]
    if type(obj) is tuple:
        return tuple(displayable(v) for v in obj)
    return obj


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    """Query parameter ``name`` as an int in ``[low, high]``; 400 otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Refused(400, f"{name} must be an int, got {raw!r}") from None
    if not low <= value <= high:
        raise Refused(400, f"{name} must be in [{low}, {high}], got {value}")
    return value


async def on_catalog(request: Request, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(catalog, *args)`` in a worker thread, on a catalog opened for this request.

    SQLite's WAL lets a scan write meanwhile; the event loop is never blocked by a query.
    """

    def run() -> Any:
        with Catalog(request.app.state.db) as cat:
            try:
                return fn(cat, *args)
            except OverflowError:  # an id in the URL at or above 2**63 reached SQLite
                raise NotFoundError(
                    f"no such id in the catalog: {request.url.path} (ids are below 2**63)"
                ) from None

    return await run_in_threadpool(run)


def json_response(data: Any, status_code: int = 200) -> Response:
    """``data`` as JSON, encoded by the json module's C walker (numpy values, paths too).

    Several times faster than :func:`jsonable` then JSONResponse on a page of 120 faces;
    data the fast path refuses (numpy dict keys, file names that are not UTF-8) goes
    through :func:`jsonable`, which shows such names escaped.
    """
    import json

    try:
        body = json.dumps(data, default=json_default, ensure_ascii=False, separators=(",", ":"))
        raw = body.encode("utf-8")  # a file name that is not UTF-8 fails here
    except (TypeError, ValueError):
        return JSONResponse(jsonable(data), status_code=status_code)
    return Response(raw, status_code, media_type="application/json")


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy values, paths and dataclasses turned into JSON's types."""
    if obj is None or isinstance(obj, int | float):
        return obj
    if isinstance(obj, str):
        return displayable(obj)
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [jsonable(v) for v in obj]
    try:  # numpy values, paths, records: as every JSON answer of faceatlas turns them
        return jsonable(json_default(obj))
    except TypeError:
        return obj


def chip_url(face_id: int) -> str:
    return f"/face/{face_id}.jpg"


def person_row(p: dict[str, Any]) -> dict[str, Any]:
    """A person of :func:`faceatlas.people.list_people` as the grid shows it."""
    face = p.get("example_face")
    return {
        "id": p["id"],
        "name": p["name"],
        "label": p["name"] or f"Person {p['id']}",
        "n_faces": p["n_faces"],
        "n_confirmed": p["n_confirmed"],
        "hidden": p["hidden"],
        "example_face": face,
        "chip_url": chip_url(face) if face else None,
        "url": f"/person/{p['id']}",
    }


def window(rows: list[Any], offset: int, limit: int) -> tuple[list[Any], int | None]:
    """``rows[offset:offset + limit]`` and the offset of the next batch (None at the end)."""
    return rows[offset : offset + limit], (offset + limit if offset + limit < len(rows) else None)


# -- pages ----------------------------------------------------------------------------------
async def home(request: Request) -> Response:
    return RedirectResponse("/people", status_code=307)


async def people_page(request: Request) -> Response:
    from faceatlas.views import people_listing

    offset = int_param(request, "offset", 0, 0, 10**9)
    limit = int_param(request, "limit", PAGE_SIZE, 1, MAX_PAGE_SIZE)
    hidden = request.query_params.get("hidden") in ("1", "true")
    d = await on_catalog(request, lambda cat: people_listing(cat, include_hidden=hidden))
    chunk, nxt = window(d["people"], offset, limit)
    data = {
        "people": [person_row(p) for p in chunk],
        "total": len(d["people"]),
        "offset": offset,
        "limit": limit,
        "next": nxt,
        "n_faces": d["n_faces"],
        "n_unassigned": d["n_unassigned"],
        "n_unsorted_groups": len(d["unsorted"]),
        "n_hidden": d["n_hidden"],
        "min_faces": d["min_faces"],
    }
    return page(request, "people.html", data, nav="people", hidden=hidden)


async def person_by_name(request: Request) -> Response:
    """``/person/Tony_Blair`` (or ``.json``): the person of that name, as the CLI finds it."""
    from faceatlas.people import find_person

    ref = request.path_params["person_ref"]
    twin = ref.endswith(".json")
    ref = ref.removesuffix(".json")
    pid = await on_catalog(request, lambda cat: find_person(cat, ref))
    return RedirectResponse(f"/person/{pid}{'.json' if twin else ''}", status_code=307)


async def person_page(request: Request) -> Response:
    from faceatlas.views import FACES_PER_PAGE
    from faceatlas.views import person_page as person_data

    offset = int_param(request, "offset", 0, 0, 10**9)
    limit = int_param(request, "limit", FACES_PER_PAGE, 1, MAX_PAGE_SIZE)
    pid, embedder = request.path_params["person_id"], request.app.state.embedder
    year = request.query_params.get("year")
    d = await on_catalog(
        request,
        lambda cat: person_data(cat, pid, embedder=embedder, offset=offset, limit=limit, year=year),
    )
    faces = [{**f, **face_urls(f)} for f in d["faces"]]
    timeline = [
        {**m, "photos": [{**ph, "url": f"/photo/{ph['photo_id']}"} for ph in m["photos"]]}
        for m in d["timeline"]
    ]
    data = {
        **d,
        "faces": faces,
        "timeline": timeline,
        "label": d["name"] or f"Person {d['id']}",
        "cover_url": chip_url(d["cover_face"]) if d["cover_face"] else None,
    }
    return page(request, "person.html", data, nav="people")


def face_urls(f: dict[str, Any]) -> dict[str, str]:
    """The chip, the photo with the face boxed, and the photo page of a face."""
    return {
        "chip_url": chip_url(f["face_id"]),
        "photo_url": f"/face/{f['face_id']}/photo.jpg",
        "page_url": f"/photo/{f['photo_id']}#face-{f['face_id']}",
    }


async def unsorted_page(request: Request) -> Response:
    from faceatlas.views import FACES_PER_PAGE
    from faceatlas.views import unsorted_page as unsorted_data

    offset = int_param(request, "offset", 0, 0, 10**9)
    limit = int_param(request, "limit", FACES_PER_PAGE, 1, 2000)
    quality = request.query_params.get("quality", "all")
    d = await on_catalog(
        request, lambda cat: unsorted_data(cat, quality=quality, offset=offset, limit=limit)
    )
    data = {
        **d,
        "groups": [person_row(p) for p in d["groups"]],
        "faces": [{**f, **face_urls(f)} for f in d["faces"]],
    }
    return page(request, "unsorted.html", data, nav="unsorted")


async def review_page(request: Request) -> Response:
    from faceatlas.views import review_questions

    limit = int_param(request, "limit", 50, 1, 500)
    embedder = request.app.state.embedder
    qs = await on_catalog(request, lambda cat: review_questions(cat, limit, embedder=embedder))
    questions = []
    for raw in qs:
        q = {
            **raw,
            "chip": chip_url(raw["face_id"]),
            "label": raw["person_name"] or f"Person {raw['person_id']}",
        }
        if q["kind"] == "same_person":
            q["other_chip"] = chip_url(q["other_face_id"])
            q["other_label"] = q["other_person_name"] or f"Person {q['other_person_id']}"
        questions.append(q)
    # the merge suggestions among them, as the review page listed them before
    suggestions = [
        {
            "person_a": q["person_id"],
            "person_b": q["other_person_id"],
            "name_a": q["person_name"],
            "name_b": q["other_person_name"],
            "closest_similarity": q["similarity"],
            "closest_faces": [q["face_id"], q["other_face_id"]],
        }
        for q in questions
        if q["kind"] == "same_person"
    ]
    data = {"questions": questions, "suggestions": suggestions}
    return page(request, "review.html", data, nav="review")


async def corrections_page(request: Request) -> Response:
    from faceatlas.views import recent_corrections

    return JSONResponse(jsonable(await on_catalog(request, recent_corrections, 50)))


async def search_form(request: Request) -> Response:
    return request.app.state.templates.TemplateResponse(
        request, "search.html", {"data": None, "nav": "search"}
    )


async def search(request: Request) -> Response:
    from faceatlas.views import photo_search, upload_preview

    state = request.app.state
    limit = state.max_upload_bytes
    refusal = f"the photo is over the upload limit of {limit:,} bytes"
    # 64 KB on top of the photo for the multipart headers and the token field
    form = await capped_request(request, limit + 64 * 1024, refusal).form(
        max_files=1, max_fields=10
    )
    await check_csrf(request, form)
    upload = form.get("photo")
    if upload is None or isinstance(upload, str):
        raise Refused(400, "send the photo as the multipart field 'photo'")
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise Refused(413, refusal)
    suffix = image_suffix(data)

    def run(cat: Catalog, path: str) -> dict[str, Any]:
        # the detector and embedder models are cached per process and are not thread-safe
        with state.search_lock:
            return photo_search(cat, path, k=SEARCH_K, embedder=state.embedder)

    with tempfile.TemporaryDirectory(prefix="faceatlas-upload-") as tmp:
        path = os.path.join(tmp, "upload" + suffix)
        with open(path, "wb") as fh:
            fh.write(data)
        result = await on_catalog(request, run, path)
        preview = None
        if not wants_json(request) and not result["error"]:
            preview = await run_in_threadpool(upload_preview, path)
    for f in result["faces"]:
        for r in f["similar"]:
            r["chip_url"] = chip_url(r["face_id"])
            r["page_url"] = f"/face/{r['face_id']}"
    if preview is not None:
        # the uploaded photo is not kept: it goes into the page itself, with its boxes
        result["preview"] = {
            "src": "data:image/jpeg;base64," + base64.b64encode(preview["jpeg"]).decode(),
            "width": preview["width"],
            "height": preview["height"],
        }
    result["upload"] = {"bytes": len(data), "filename": getattr(upload, "filename", None)}
    return page(request, "search.html", result, nav="search")


# -- pictures -------------------------------------------------------------------------------
async def face_chip(request: Request) -> Response:
    from faceatlas.views import face_chip as chip_of

    data = await on_catalog(request, chip_of, request.path_params["face_id"])
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


def _photo_jpeg(cat: Catalog, photo_id: int | None, face_id: int | None, size: int) -> bytes:
    import io

    from faceatlas.thumbnails import photo_thumbnail
    from faceatlas.views import picture_source

    src = picture_source(cat, photo_id=photo_id, face_id=face_id)
    row = cat.photo(src["photo_id"])
    path = safe_photo_path(src["path"], src["photo_id"], scanned=(row["size"], row["mtime"]))
    buf = io.BytesIO()
    try:
        photo_thumbnail(path, src["frame_index"], src["box"], size).save(buf, "JPEG", quality=85)
    except (OSError, ValueError) as exc:
        raise NotFoundError(f"photo {src['photo_id']} cannot be read now: {exc}") from None
    return buf.getvalue()


async def photo(request: Request) -> Response:
    size = int_param(request, "size", 1024, 32, 2048)
    data = await on_catalog(request, _photo_jpeg, request.path_params["photo_id"], None, size)
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=600"}
    )


async def face_photo(request: Request) -> Response:
    size = int_param(request, "size", 480, 32, 2048)
    data = await on_catalog(request, _photo_jpeg, None, request.path_params["face_id"], size)
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=600"}
    )


# -- errors ---------------------------------------------------------------------------------
#: Library errors and their HTTP status, most specific first.
_STATUS = ((NotFoundError, 404), (CatalogBusyError, 409), (FaceAtlasError, 400))


async def on_error(request: Request, exc: Exception) -> Response:
    """A refusal or library error as JSON (API, POST) or the error page (a browser's GET)."""
    if isinstance(exc, Refused):
        status = exc.status
    elif isinstance(exc, HTTPException):
        status = exc.status_code
    else:
        status = next((s for cls, s in _STATUS if isinstance(exc, cls)), 0)
    if not status:  # pragma: no cover - a bug; the traceback goes to the server log
        raise exc
    msg = str(exc.detail) if isinstance(exc, HTTPException) else str(exc)
    if (
        wants_json(request)
        or request.method == "POST"
        or "text/html" not in request.headers.get("accept", "")
    ):
        return JSONResponse({"error": msg, "status": status}, status_code=status)
    return request.app.state.templates.TemplateResponse(
        request,
        "error.html",
        {"data": {"error": msg, "status": status}, "nav": ""},
        status_code=status,
    )
