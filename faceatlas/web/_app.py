"""The gallery's ASGI app: :func:`create_app` builds it from the routes table.

The handlers live in :mod:`faceatlas.web._routes` (one per page, JSON twin, picture and
correction), what keeps the gallery safe in :mod:`faceatlas.web._security`. This module
only checks the parameters and puts what the handlers share on ``app.state``:

``db``
    the catalog file, opened per request;
``embedder``
    the embedder for merge suggestions, splits and search (None: the catalog's default,
    by :func:`faceatlas.policy.catalog_embedder`);
``templates``, ``csrf_token``, ``max_upload_bytes``, ``search_lock``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from faceatlas.exceptions import FaceAtlasError, InputError
from faceatlas.web._security import DEFAULT_MAX_UPLOAD_BYTES, LOCAL_HOSTS, Refused

__all__ = ["DEFAULT_MAX_UPLOAD_BYTES", "LOCAL_HOSTS", "create_app", "routes"]

_HERE = Path(__file__).resolve().parent


def routes() -> list[Any]:
    """The routes table: every page with its JSON twin, the pictures, the corrections."""
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from faceatlas.web._corrections import correction
    from faceatlas.web._gallery import (
        cover_action,
        face_page,
        ignore_action,
        names,
        photo_view,
        review_action,
    )
    from faceatlas.web._routes import (
        corrections_page,
        face_chip,
        face_photo,
        home,
        people_page,
        person_by_name,
        person_page,
        photo,
        review_page,
        search,
        search_form,
        unsorted_page,
    )

    return [
        Route("/", home),
        Route("/people.json", people_page),
        Route("/people", people_page),
        Route("/person/{person_id:int}.json", person_page),
        Route("/person/{person_id:int}", person_page),
        Route("/person/{person_ref}", person_by_name),
        Route("/unsorted.json", unsorted_page),
        Route("/unsorted", unsorted_page),
        Route("/review.json", review_page),
        Route("/review", review_page),
        Route("/corrections.json", corrections_page),
        Route("/names.json", names),
        Route("/photo/{photo_id:int}.json", photo_view),
        Route("/photo/{photo_id:int}", photo_view),
        Route("/face/{face_id:int}", face_page),
        Route("/search", search_form, methods=["GET"]),
        Route("/search", search, methods=["POST"]),
        Route("/search.json", search, methods=["POST"]),
        Route("/face/{face_id:int}.jpg", face_chip),
        Route("/face/{face_id:int}/photo.jpg", face_photo),
        Route("/photo/{photo_id:int}.jpg", photo),
        # the gallery's own actions, before the corrections' catch-all
        Route("/api/review", review_action, methods=["POST"]),
        Route("/api/ignore", ignore_action, methods=["POST"]),
        Route("/api/cover", cover_action, methods=["POST"]),
        Route("/api/{action:str}", correction, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static"),
    ]


def create_app(
    db: str | Path,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    allowed_hosts: Sequence[str] | None = None,
    embedder: str | None = None,
    csrf_token: str | None = None,
    warm: bool = False,
) -> Any:
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
    warm : bool, default False
        Build the costly answers (people list, names, review queue) in a background
        thread now, so the first visitor does not wait (``faceatlas serve`` does).
    """
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.templating import Jinja2Templates

    from faceatlas.web._routes import on_error
    from faceatlas.web._security import SecurityHeaders

    if (
        isinstance(max_upload_bytes, bool)
        or not isinstance(max_upload_bytes, int)
        or max_upload_bytes < 1024
    ):
        raise InputError(f"max_upload_bytes must be an int >= 1024, got {max_upload_bytes!r}")
    db_path = str(db)
    if db_path != ":memory:" and "://" not in db_path and not Path(db_path).is_file():
        raise InputError(f"catalog {db_path} does not exist; run `faceatlas scan` first")
    token = csrf_token or secrets.token_urlsafe(32)
    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    templates.env.globals["csrf_token"] = token
    hosts = list(allowed_hosts) if allowed_hosts is not None else list(LOCAL_HOSTS)

    handlers = {Refused: on_error, FaceAtlasError: on_error, HTTPException: on_error}
    app = Starlette(
        routes=routes(),
        exception_handlers=handlers,
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
    )
    app.state.db = db_path
    app.state.embedder = embedder
    app.state.templates = templates
    app.state.csrf_token = token
    app.state.max_upload_bytes = max_upload_bytes
    # the detector and embedder models are cached per process and are not thread-safe
    app.state.search_lock = threading.Lock()
    if db_path != ":memory:":
        from faceatlas.catalog import Catalog

        # held open for the app's life: when a request's connection is the last one to
        # close, SQLite checkpoints the WAL and deletes it, ~2 ms each time
        app.state.keeper = Catalog(db_path)
    if warm and db_path != ":memory:":
        from faceatlas.views import warm as warm_caches

        warm_caches(db_path, embedder=embedder)
    return SecurityHeaders(app)
