"""The local web gallery: ``faceatlas serve`` (Starlette + uvicorn, extra ``web``).

``create_app(db)`` builds the ASGI app; ``serve(db)`` runs it on 127.0.0.1:8765, on a socket
that :func:`listen` bound beforehand when given one (the CLI binds first, so a port in
use is an error before the URL is announced, and nobody can take it in between). See
:mod:`faceatlas.web._routes` for the pages and :mod:`faceatlas.web._security` for what
keeps the gallery safe by default.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from faceatlas.exceptions import FaceAtlasError, InputError, ModelNotFoundError

if TYPE_CHECKING:
    import socket

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "create_app", "listen", "serve"]

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


def listen(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening, for :func:`serve`.

    Connections that arrive before the server runs wait in the socket's queue.

    Raises
    ------
    InputError
        The address is in use or cannot be bound; the message names it.
    """
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio turns Nagle's algorithm off only on sockets that say TCP,
    # and without that a small answer written in two parts waits ~40 ms for a delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # as uvicorn does: a port left in TIME_WAIT by the last run is free to use
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)  # uvicorn's default backlog
    except OSError as exc:
        sock.close()
        raise InputError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; give another --port"
        ) from None
    return sock


def serve(
    db: str | Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    max_upload_bytes: int | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Run the gallery until interrupted (Ctrl-C).

    Parameters
    ----------
    db : str or Path
        Catalog file.
    host : str, default "127.0.0.1"
        Only this machine can connect. Another address exposes the gallery (and its
        corrections) to the network; it then also answers to that host name. With
        ``sock``, the address ``sock`` is bound to (it decides the Host names answered).
    port : int, default 8765
        Ignored with ``sock``.
    max_upload_bytes : int, optional
        Upload limit for search by photo (default 20 MB).
    sock : socket.socket, optional
        An already bound socket (see :func:`listen`) to serve on; default bind
        ``host:port`` here. The caller keeps it and closes it.

    Raises
    ------
    InputError
        ``host:port`` cannot be bound (without ``sock``).
    FaceAtlasError
        The server did not start.
    """
    _require_web()
    import uvicorn

    from faceatlas.web._app import DEFAULT_MAX_UPLOAD_BYTES, LOCAL_HOSTS
    from faceatlas.web._app import create_app as _create

    hosts = list(LOCAL_HOSTS) + ([host] if host not in LOCAL_HOSTS else [])
    if host in ("0.0.0.0", "::"):
        hosts = ["*"]  # every interface: the user asked to be reachable under any name
    app = _create(
        db,
        allowed_hosts=hosts,
        max_upload_bytes=max_upload_bytes or DEFAULT_MAX_UPLOAD_BYTES,
        warm=True,
    )
    own = sock is None
    listening = listen(host, port) if sock is None else sock
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", server_header=False)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[listening])
    finally:
        if own:
            listening.close()
    if not server.started:
        raise FaceAtlasError(f"the gallery did not start on {host}:{port}; see the log above")
