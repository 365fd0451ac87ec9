"""The gallery's ASGI app: pages, their JSON twins, pictures and corrections.

Thin by design: every route parses its input, calls one library function
(:mod:`faceatlas.people`, :mod:`faceatlas.enroll`) on a catalog opened for the request,
and formats the answer as HTML or JSON. Corrections go through the same functions as the
CLI, so they are the same catalog constraints and survive re-clustering.

Safety, by default:

* binds 127.0.0.1 (see :func:`faceatlas.web.serve`) and answers only to local host names
  (a DNS-rebinding page cannot reach it under another name);
* photos are served by photo id only: the path comes from the catalog, its resolved form
  must stay inside the catalogued folder (a symlink pointing elsewhere is refused), and
  what is sent is a freshly encoded JPEG, never the file's own bytes;
* state-changing requests are POST and carry the app's CSRF token (header
  ``X-CSRF-Token`` or form field ``csrf_token``); a foreign ``Origin`` is refused;
* uploads are capped in size while they arrive, and must decode as an image;
* pages load nothing from elsewhere (a Content-Security-Policy of 'self' says so).
"""

from __future__ import annotations

import hmac
import io
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from faceatlas.catalog import Catalog
from faceatlas.exceptions import CatalogBusyError, FaceAtlasError, InputError, NotFoundError

__all__ = ["DEFAULT_MAX_UPLOAD_BYTES", "create_app"]

#: 20 MB: a 50-megapixel JPEG from a phone fits; anything bigger is not a photo to search by.
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: People per page of the grid (and per lazy-loaded batch).
PAGE_SIZE = 60
MAX_PAGE_SIZE = 500
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
UPLOAD_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp",
                  "GIF": ".gif", "TIFF": ".tif", "PPM": ".ppm"}
CSP = ("default-src 'self'; img-src 'self' data: blob:; script-src 'self'; "
       "style-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")

_HERE = Path(__file__).resolve().parent


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def safe_photo_path(catalog: Catalog, photo_id: int) -> Path:
    """The file of a catalogued photo, if it may be served; else NotFoundError.

    The path comes from the catalog, never from the request. Resolved (symlinks followed),
    it must lie inside the resolved folder the catalog recorded it in, and be a regular
    file with an image or video suffix: a photo replaced by a symlink to ``/etc/passwd``,
    or to a file in another folder, is refused.
    """
    from faceatlas.images import media_kind

    row = catalog.photo(photo_id)
    recorded = Path(row["path"])
    if not recorded.is_absolute():
        raise NotFoundError(f"photo {photo_id} has no absolute path in the catalog")
    try:
        folder = recorded.parent.resolve(strict=True)
        real = recorded.resolve(strict=True)
    except (OSError, RuntimeError):
        raise NotFoundError(f"photo {photo_id} is no longer on disk") from None
    if not real.is_relative_to(folder) or not real.is_file() or media_kind(real) is None \
            or media_kind(real) != media_kind(recorded):
        raise NotFoundError(f"photo {photo_id} points outside its catalogued folder")
    return real


def create_app(db: str | Path, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
               allowed_hosts: Sequence[str] | None = None, embedder: str | None = None,
               csrf_token: str | None = None) -> Any:
    """The gallery as a Starlette app over the catalog file ``db``.

    Parameters
    ----------
    db : str or Path
        Catalog file; opened per request (SQLite WAL lets a scan write meanwhile).
    max_upload_bytes : int, default 20 MB
        Larger uploads are refused with 413 while they arrive.
    allowed_hosts : sequence of str, optional
        Host names the app answers to; default the local ones (127.0.0.1, localhost, ::1).
    embedder : str, optional
        Embedder for merge suggestions and search; default the catalog's (sface if present).
    csrf_token : str, optional
        Fixed token (tests); default a random one per app.
    """
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, RedirectResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles
    from starlette.templating import Jinja2Templates

    if isinstance(max_upload_bytes, bool) or not isinstance(max_upload_bytes, int) \
            or max_upload_bytes < 1024:
        raise InputError(f"max_upload_bytes must be an int >= 1024, got {max_upload_bytes!r}")
    db_path = str(db)
    if db_path != ":memory:" and not Path(db_path).is_file():
        raise InputError(f"catalog {db_path} does not exist; run `faceatlas scan` first")
    token = csrf_token or secrets.token_urlsafe(32)
    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    templates.env.globals["csrf_token"] = token
    hosts = list(allowed_hosts) if allowed_hosts is not None else list(LOCAL_HOSTS)
    search_lock = threading.Lock()

    def catalog() -> Catalog:
        return Catalog(db_path)

    # -- plumbing -------------------------------------------------------------------------
    def wants_json(request: Request) -> bool:
        return request.url.path.endswith(".json")

    def page(request: Request, template: str, data: dict[str, Any], **extra: Any) -> Response:
        if wants_json(request):
            return JSONResponse(_jsonable(data))
        return templates.TemplateResponse(request, template, {"data": data, **extra})

    def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise _Refused(400, f"{name} must be an int, got {raw!r}") from None
        if not low <= value <= high:
            raise _Refused(400, f"{name} must be in [{low}, {high}], got {value}")
        return value

    async def in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(fn, *args, **kwargs)

    def with_catalog(fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            with catalog() as cat:
                return fn(cat, *args, **kwargs)
        return run

    async def check_csrf(request: Request, form: Any = None) -> None:
        origin = request.headers.get("origin")
        if origin is not None and origin != "null":
            host = request.headers.get("host", "")
            if origin.split("://", 1)[-1] != host:
                raise _Refused(403, f"cross-site request refused (Origin {origin})")
        sent = request.headers.get("x-csrf-token")
        if sent is None and form is not None:
            sent = form.get("csrf_token")
        if not isinstance(sent, str) or not hmac.compare_digest(sent, token):
            raise _Refused(403, "missing or wrong CSRF token; reload the page")

    # -- pages ----------------------------------------------------------------------------
    def people_data(cat: Catalog, offset: int, limit: int, hidden: bool) -> dict[str, Any]:
        from faceatlas.people import list_people

        d = list_people(cat, include_hidden=hidden)
        rows = d["people"]
        chunk = [_person_row(p) for p in rows[offset:offset + limit]]
        nxt = offset + limit if offset + limit < len(rows) else None
        return {"people": chunk, "total": len(rows), "offset": offset, "limit": limit,
                "next": nxt, "n_faces": d["n_faces"], "n_unassigned": d["n_unassigned"],
                "n_unsorted_groups": len(d["unsorted"]), "n_hidden": d["n_hidden"],
                "min_faces": d["min_faces"]}

    async def people_page(request: Request) -> Response:
        offset = int_param(request, "offset", 0, 0, 10**9)
        limit = int_param(request, "limit", PAGE_SIZE, 1, MAX_PAGE_SIZE)
        hidden = request.query_params.get("hidden") in ("1", "true")
        data = await in_thread(with_catalog(people_data), offset, limit, hidden)
        return page(request, "people.html", data, nav="people", hidden=hidden)

    def person_data(cat: Catalog, person_id: int) -> dict[str, Any]:
        from faceatlas.people import person_detail

        d = person_detail(cat, person_id)
        for f in d["faces"]:
            f["chip_url"] = f"/face/{f['face_id']}.jpg"
            f["photo_url"] = f"/face/{f['face_id']}/photo.jpg"
        d["label"] = d["name"] or f"Person {d['id']}"
        return d

    async def person_page(request: Request) -> Response:
        pid = request.path_params["person_id"]
        data = await in_thread(with_catalog(person_data), pid)
        return page(request, "person.html", data, nav="people")

    def unsorted_data(cat: Catalog, offset: int, limit: int) -> dict[str, Any]:
        from faceatlas.people import list_people

        d = list_people(cat)
        owner = cat.face_people()
        loose = [f for f in cat.faces() if f["id"] not in owner]
        faces = [{"face_id": f["id"], "photo_id": f["photo_id"], "path": f["path"],
                  "frame_index": f["frame_index"], "chip_url": f"/face/{f['id']}.jpg",
                  "photo_url": f"/face/{f['id']}/photo.jpg"}
                 for f in loose[offset:offset + limit]]
        nxt = offset + limit if offset + limit < len(loose) else None
        return {"groups": [_person_row(p) for p in d["unsorted"]], "faces": faces,
                "n_unassigned": len(loose), "offset": offset, "limit": limit, "next": nxt}

    async def unsorted_page(request: Request) -> Response:
        offset = int_param(request, "offset", 0, 0, 10**9)
        limit = int_param(request, "limit", 200, 1, 2000)
        data = await in_thread(with_catalog(unsorted_data), offset, limit)
        return page(request, "unsorted.html", data, nav="unsorted")

    def review_data(cat: Catalog, limit: int) -> dict[str, Any]:
        from faceatlas.people import suggest_merges

        emb = _embedder_name(cat, embedder)
        if emb is None:
            return {"suggestions": [], "embedder": None}
        out = suggest_merges(cat, emb, limit=limit)
        for s in out:
            s["chip_a"] = f"/face/{s['closest_faces'][0]}.jpg"
            s["chip_b"] = f"/face/{s['closest_faces'][1]}.jpg"
            s["label_a"] = s["name_a"] or f"Person {s['person_a']}"
            s["label_b"] = s["name_b"] or f"Person {s['person_b']}"
        return {"suggestions": out, "embedder": emb}

    async def review_page(request: Request) -> Response:
        limit = int_param(request, "limit", 50, 1, 500)
        data = await in_thread(with_catalog(review_data), limit)
        return page(request, "review.html", data, nav="review")

    def corrections_data(cat: Catalog) -> dict[str, Any]:
        return {"corrections": cat.corrections(50)}

    async def corrections_page(request: Request) -> Response:
        data = await in_thread(with_catalog(corrections_data))
        return JSONResponse(_jsonable(data))

    async def search_form(request: Request) -> Response:
        return templates.TemplateResponse(request, "search.html", {"data": None,
                                                                   "nav": "search"})

    # -- pictures -------------------------------------------------------------------------
    def chip_bytes(cat: Catalog, face_id: int) -> bytes:
        data = cat.face_chip(face_id)
        if not data:
            raise NotFoundError(f"face {face_id} has no stored chip")
        return bytes(data)

    async def face_chip(request: Request) -> Response:
        data = await in_thread(with_catalog(chip_bytes), request.path_params["face_id"])
        return Response(data, media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})

    def photo_jpeg(cat: Catalog, photo_id: int, face_id: int | None, size: int) -> bytes:
        from faceatlas.report._images import photo_thumbnail

        box = None
        frame = cat.photo(photo_id)["frame_index"]
        if face_id is not None:
            f = cat.face(face_id)
            box = [f["x1"], f["y1"], f["x2"], f["y2"]]
        path = safe_photo_path(cat, photo_id)
        buf = io.BytesIO()
        try:
            photo_thumbnail(path, frame, box, size).save(buf, "JPEG", quality=85)
        except (OSError, ValueError) as exc:
            raise NotFoundError(f"photo {photo_id} cannot be read now: {exc}") from None
        return buf.getvalue()

    async def photo(request: Request) -> Response:
        size = int_param(request, "size", 1024, 32, 2048)
        data = await in_thread(with_catalog(photo_jpeg), request.path_params["photo_id"],
                               None, size)
        return Response(data, media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=600"})

    def face_photo_jpeg(cat: Catalog, face_id: int, size: int) -> bytes:
        return photo_jpeg(cat, cat.face(face_id)["photo_id"], face_id, size)

    async def face_photo(request: Request) -> Response:
        size = int_param(request, "size", 480, 32, 2048)
        data = await in_thread(with_catalog(face_photo_jpeg), request.path_params["face_id"],
                               size)
        return Response(data, media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=600"})

    # -- corrections ----------------------------------------------------------------------
    def _opt_int(body: dict[str, Any], key: str) -> int | None:
        return None if body.get(key) in (None, "") else _int(body, key)

    def _int(body: dict[str, Any], key: str) -> int:
        raw = body.get(key)
        try:
            return int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _Refused(400, f"{key} must be an int, got {raw!r}") from None

    def apply(cat: Catalog, action: str, body: dict[str, Any]) -> Any:
        from faceatlas import people as P

        if action == "name":
            return P.name_person(cat, _int(body, "person"), str(body.get("name", "")))
        if action == "merge":
            return P.merge_people(cat, _int(body, "person"), _int(body, "other"))
        if action == "split":
            parts = _opt_int(body, "parts")
            return P.split_person(cat, _int(body, "person"), n_parts=parts,
                                  embedder=_embedder_name(cat, embedder) or "sface")
        if action == "move":
            return P.move_face(cat, _int(body, "face"), _opt_int(body, "person"))
        if action == "reject":
            return P.reject_face(cat, _int(body, "face"), _int(body, "person"))
        if action == "hide":
            hidden = str(body.get("hidden", "1")).lower() not in ("0", "false", "no")
            return P.hide_person(cat, _int(body, "person"), hidden)
        if action == "undo":
            return {"undone": P.undo(cat)}
        if action == "confirm":
            return P.confirm_suggestion(cat, _int(body, "person_a"), _int(body, "person_b"))
        if action == "dismiss":
            return P.dismiss_suggestion(cat, _int(body, "person_a"), _int(body, "person_b"))
        raise _Refused(404, f"no such correction: {action!r}")

    async def correction(request: Request) -> Response:
        action = request.path_params["action"]
        ctype = request.headers.get("content-type", "")
        form = None
        if ctype.startswith("application/json"):
            raw = await _read_capped(request, 64 * 1024)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                raise _Refused(400, "the body is not valid JSON") from None
            if not isinstance(body, dict):
                raise _Refused(400, "the body must be a JSON object")
            await check_csrf(request)
        else:
            form = await _capped_request(request, 64 * 1024).form()
            body = {k: v for k, v in form.items() if isinstance(v, str)}
            await check_csrf(request, form)
        result = await in_thread(with_catalog(apply), action, body)
        nxt = body.get("next")
        if form is not None and isinstance(nxt, str) and nxt.startswith("/") \
                and not nxt.startswith("//") and "\\" not in nxt:
            return RedirectResponse(nxt, status_code=303)
        return JSONResponse(_jsonable({"action": action, "result": result}))

    # -- search by photo ------------------------------------------------------------------
    def search_run(cat: Catalog, path: str, k: int) -> dict[str, Any]:
        from faceatlas.enroll import similar, who

        emb = _embedder_name(cat, embedder)
        if emb is None:
            raise InputError("the catalog has no embeddings to search; scan some photos first")
        # the detector and embedder models are cached per process and are not thread-safe
        with search_lock:
            return _search(cat, path, k, emb, who, similar)

    def _search(cat: Catalog, path: str, k: int, emb: str, who: Any, similar: Any
                ) -> dict[str, Any]:
        found = who(cat, [path], embedder=emb)
        faces = found["files"][0]["faces"] if found["files"] else []
        error = found["files"][0].get("error") if found["files"] else None
        sim: dict[str, Any] = {"queries": []}
        if faces:
            sim = similar(cat, path, k=k, embedder=emb)
        for f, q in zip(faces, sim["queries"], strict=False):
            f["similar"] = [{**r, "chip_url": f"/face/{r['face_id']}.jpg"} for r in q["results"]]
            for r in f["similar"]:
                r.pop("path", None)
        return {"faces": faces, "error": error, "threshold": found["threshold"],
                "threshold_source": found["threshold_source"], "embedder": emb}

    async def search(request: Request) -> Response:
        # 64 KB on top of the photo for the multipart headers and the token field
        capped = _capped_request(request, max_upload_bytes + 64 * 1024,
                                 f"the photo is over the upload limit of "
                                 f"{max_upload_bytes:,} bytes")
        form = await capped.form(max_files=1, max_fields=10)
        await check_csrf(request, form)
        upload = form.get("photo")
        if upload is None or isinstance(upload, str):
            raise _Refused(400, "send the photo as the multipart field 'photo'")
        data = await upload.read(max_upload_bytes + 1)
        if len(data) > max_upload_bytes:
            raise _Refused(413, f"the photo is over the upload limit of {max_upload_bytes:,} "
                                "bytes")
        suffix = _image_suffix(data)
        k = 12
        with tempfile.TemporaryDirectory(prefix="faceatlas-upload-") as tmp:
            path = os.path.join(tmp, "upload" + suffix)
            with open(path, "wb") as fh:
                fh.write(data)
            result = await in_thread(with_catalog(search_run), path, k)
        result["upload"] = {"bytes": len(data), "filename": getattr(upload, "filename", None)}
        return page(request, "search.html", result, nav="search")

    # -- errors ---------------------------------------------------------------------------
    async def on_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, _Refused):
            status, msg = exc.status, str(exc)
        elif isinstance(exc, NotFoundError):
            status, msg = 404, str(exc)
        elif isinstance(exc, CatalogBusyError):
            status, msg = 409, str(exc)
        elif isinstance(exc, HTTPException):
            status, msg = exc.status_code, str(exc.detail)
        elif isinstance(exc, FaceAtlasError):
            status, msg = 400, str(exc)
        else:  # pragma: no cover - a bug; the traceback goes to the server log
            raise exc
        if wants_json(request) or request.method == "POST" or \
                "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"error": msg, "status": status}, status_code=status)
        return templates.TemplateResponse(request, "error.html",
                                          {"data": {"error": msg, "status": status},
                                           "nav": ""}, status_code=status)

    async def home(request: Request) -> Response:
        return RedirectResponse("/people", status_code=307)

    routes = [
        Route("/", home),
        Route("/people.json", people_page),
        Route("/people", people_page),
        Route("/person/{person_id:int}.json", person_page),
        Route("/person/{person_id:int}", person_page),
        Route("/unsorted.json", unsorted_page),
        Route("/unsorted", unsorted_page),
        Route("/review.json", review_page),
        Route("/review", review_page),
        Route("/corrections.json", corrections_page),
        Route("/search", search_form, methods=["GET"]),
        Route("/search", search, methods=["POST"]),
        Route("/search.json", search, methods=["POST"]),
        Route("/face/{face_id:int}.jpg", face_chip),
        Route("/face/{face_id:int}/photo.jpg", face_photo),
        Route("/photo/{photo_id:int}.jpg", photo),
        Route("/api/{action:str}", correction, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static"),
    ]
    handlers = {_Refused: on_error, FaceAtlasError: on_error, HTTPException: on_error}
    app = Starlette(routes=routes, exception_handlers=handlers,  # type: ignore[arg-type]
                    middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)])
    app.state.csrf_token = token
    app.state.db = db_path
    return _SecurityHeaders(app)


class _SecurityHeaders:
    """Adds the Content-Security-Policy and friends to every response."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = app.state

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CSP.encode()),
                            (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer"),
                            (b"x-frame-options", b"DENY")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


async def _read_capped(request: Any, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _Refused(413, f"the request is over the limit of {limit:,} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _Refused(413, f"the request is over the limit of {limit:,} bytes")
    return bytes(body)


def _capped_request(request: Any, limit: int, refusal: str | None = None) -> Any:
    """A copy of ``request`` whose body is read lazily, refusing more than ``limit`` bytes.

    The count runs as the body arrives, so a chunked upload without a Content-Length is
    stopped at the limit too, not read to the end first.
    """
    from starlette.requests import Request

    refusal = refusal or f"the request is over the limit of {limit:,} bytes"
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _Refused(413, refusal)
    seen = 0

    async def receive() -> dict[str, Any]:
        nonlocal seen
        message = await request.receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _Refused(413, refusal)
        return message

    return Request(request.scope, receive)


def _image_suffix(data: bytes) -> str:
    """The file suffix for uploaded bytes that decode as an image; else 400/413."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format
            w, h = im.size
            im.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _Refused(400, "the upload is not an image (JPEG, PNG, WebP, BMP, GIF, TIFF)") \
            from None
    if fmt not in UPLOAD_FORMATS:
        raise _Refused(400, f"image format {fmt} is not accepted; send JPEG, PNG, WebP, BMP, "
                            "GIF or TIFF")
    if w * h > 100_000_000:
        raise _Refused(413, f"the image has {w * h:,} pixels, over the limit of 100,000,000")
    return UPLOAD_FORMATS[fmt]


def _person_row(p: dict[str, Any]) -> dict[str, Any]:
    face = p.get("example_face")
    return {"id": p["id"], "name": p["name"], "label": p["name"] or f"Person {p['id']}",
            "n_faces": p["n_faces"], "n_confirmed": p["n_confirmed"], "hidden": p["hidden"],
            "example_face": face, "chip_url": f"/face/{face}.jpg" if face else None,
            "url": f"/person/{p['id']}"}


def _embedder_name(cat: Catalog, wanted: str | None) -> str | None:
    found = [e["embedder"] for e in cat.embedders()]
    if wanted is not None:
        return wanted
    if "sface" in found:
        return "sface"
    return found[0] if found else None


def _jsonable(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict"):
        return _jsonable(obj.to_dict())
    return obj

