"""The local web gallery: ``faceatlas serve`` (Starlette + uvicorn, extra ``web``).

``create_app(db)`` builds the ASGI app; ``serve(db)`` runs it on 127.0.0.1:8765. See
:mod:`faceatlas.web._routes` for the pages and :mod:`faceatlas.web._security` for what
keeps the gallery safe by default.
"""

from __future__ import annotations

from pathlib import Path

from faceatlas.exceptions import ModelNotFoundError

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "create_app", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def _require_web() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ModelNotFoundError(
            f"the web gallery needs the 'web' extra ({exc.name} is missing): "
            "pip install 'faceatlas[web]'"
        ) from None


def create_app(db: str | Path, **kwargs: object) -> object:
    """The gallery's ASGI app over catalog ``db``; see :func:`faceatlas.web._app.create_app`."""
    _require_web()
    from faceatlas.web._app import create_app as _create

    return _create(db, **kwargs)  # type: ignore[arg-type]


def serve(
    db: str | Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    max_upload_bytes: int | None = None,
) -> None:
    """Run the gallery until interrupted (Ctrl-C).

    Parameters
    ----------
    db : str or Path
        Catalog file.
    host : str, default "127.0.0.1"
        Only this machine can connect. Another address exposes the gallery (and its
        corrections) to the network; it then also answers to that host name.
    port : int, default 8765
    max_upload_bytes : int, optional
        Upload limit for search by photo (default 20 MB).
    """
    _require_web()
    import uvicorn

    from faceatlas.web._app import DEFAULT_MAX_UPLOAD_BYTES, LOCAL_HOSTS
    from faceatlas.web._app import create_app as _create

    hosts = list(LOCAL_HOSTS) + ([host] if host not in LOCAL_HOSTS else [])
    if host in ("0.0.0.0", "::"):
        hosts = ["*"]  # every interface: the user asked to be reachable under any name
    app = _create(
        db, allowed_hosts=hosts, max_upload_bytes=max_upload_bytes or DEFAULT_MAX_UPLOAD_BYTES
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)
