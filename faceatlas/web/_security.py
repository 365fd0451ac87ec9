"""What keeps the gallery safe by default: hosts, headers, CSRF, capped uploads, photo paths.

* The app answers only to local host names (:data:`LOCAL_HOSTS`), so a DNS-rebinding page
  cannot reach it under another name.
* Photos are served by photo id only: the path comes from the catalog, and its resolved
  form must stay inside the catalogued folder (:func:`safe_photo_path`).
* State-changing requests are POST and carry the app's CSRF token; a foreign ``Origin`` is
  refused (:func:`check_csrf`).
* Bodies are capped in size while they arrive (:func:`read_capped`, :func:`capped_request`),
  and an upload must decode as an image (:func:`image_suffix`).
* Every response says that pages load nothing from elsewhere (:class:`SecurityHeaders`).
"""

from __future__ import annotations

import hmac
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from faceatlas.exceptions import NotFoundError

__all__ = [
    "CSP",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "LOCAL_HOSTS",
    "Refused",
    "SecurityHeaders",
    "capped_request",
    "check_csrf",
    "image_suffix",
    "read_capped",
    "safe_photo_path",
]

#: 20 MB: a 50-megapixel JPEG from a phone fits; anything bigger is not a photo to search by.
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
UPLOAD_FORMATS = {
    "JPEG": ".jpg",
    "PNG": ".png",
    "WEBP": ".webp",
    "BMP": ".bmp",
    "GIF": ".gif",
    "TIFF": ".tif",
    "PPM": ".ppm",
}
#: Decoding more pixels than this would take gigabytes; no camera makes such a photo.
MAX_UPLOAD_PIXELS = 100_000_000
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; "
    "style-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)


class Refused(Exception):
    """A request the app declines, with the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def safe_photo_path(
    recorded: str | Path, photo_id: int, scanned: tuple[int | None, float | None] | None = None
) -> Path:
    """The file of a catalogued photo, if it may be served; else NotFoundError.

    ``recorded`` is the path the catalog holds for ``photo_id``, never one from the
    request. Resolved (symlinks followed), it must lie inside the resolved folder the
    catalog recorded it in, and be a regular file with an image or video suffix: a photo
    replaced by a symlink to ``/etc/passwd``, or to a file in another folder, is refused.

    One exception, because the scan follows symlinked files on purpose: when ``recorded``
    is itself a symlink and its target is the very file the scan read (same media kind,
    and the same ``scanned`` size and modification time the catalog recorded through the
    link), the target is served wherever it lies. A link re-pointed elsewhere since the
    scan does not match and is refused.
    """
    from faceatlas.images import media_kind

    recorded = Path(recorded)
    if not recorded.is_absolute():
        raise NotFoundError(f"photo {photo_id} has no absolute path in the catalog")
    try:
        folder = recorded.parent.resolve(strict=True)
        real = recorded.resolve(strict=True)
    except (OSError, RuntimeError):
        raise NotFoundError(f"photo {photo_id} is no longer on disk") from None
    if not real.is_file() or media_kind(real) is None or media_kind(real) != media_kind(recorded):
        raise NotFoundError(f"photo {photo_id} points outside its catalogued folder")
    if not real.is_relative_to(folder) and not _is_scanned_link(recorded, real, scanned):
        raise NotFoundError(f"photo {photo_id} points outside its catalogued folder")
    return real


def _is_scanned_link(
    recorded: Path, real: Path, scanned: tuple[int | None, float | None] | None
) -> bool:
    """Whether ``recorded`` is a symlinked file whose target is what the scan recorded."""
    if scanned is None or None in scanned or not recorded.is_symlink():
        return False
    try:
        st = real.stat()
    except OSError:
        return False
    return (st.st_size, st.st_mtime) == scanned


async def check_csrf(request: Any, form: Any = None) -> None:
    """Refuse (403) a foreign ``Origin`` or a missing or wrong CSRF token.

    The token comes in the header ``X-CSRF-Token`` or the form field ``csrf_token`` and is
    compared with ``request.app.state.csrf_token`` in constant time.
    """
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            raise Refused(403, f"cross-site request refused (Origin {origin})")
    sent = request.headers.get("x-csrf-token")
    if sent is None and form is not None:
        sent = form.get("csrf_token")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, request.app.state.csrf_token):
        raise Refused(403, "missing or wrong CSRF token; reload the page")


async def read_capped(request: Any, limit: int) -> bytes:
    """The request's body, refusing (413) more than ``limit`` bytes as it arrives."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"the request is over the limit of {limit:,} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refused(413, f"the request is over the limit of {limit:,} bytes")
    return bytes(body)


def capped_request(request: Any, limit: int, refusal: str | None = None) -> Any:
    """A copy of ``request`` whose body is read lazily, refusing more than ``limit`` bytes.

    The count runs as the body arrives, so a chunked upload without a Content-Length is
    stopped at the limit too, not read to the end first.
    """
    from starlette.requests import Request

    refusal = refusal or f"the request is over the limit of {limit:,} bytes"
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refused(413, refusal)
    seen = 0

    async def receive() -> dict[str, Any]:
        nonlocal seen
        message = await request.receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise Refused(413, refusal)
        return message

    return Request(request.scope, receive)


def image_suffix(data: bytes) -> str:
    """The file suffix for uploaded bytes that decode as an image; else 400/413."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format
            w, h = im.size
            im.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise Refused(400, "the upload is not an image (JPEG, PNG, WebP, BMP, GIF, TIFF)") from None
    if fmt not in UPLOAD_FORMATS:
        raise Refused(
            400, f"image format {fmt} is not accepted; send JPEG, PNG, WebP, BMP, GIF or TIFF"
        )
    if w * h > MAX_UPLOAD_PIXELS:
        raise Refused(
            413, f"the image has {w * h:,} pixels, over the limit of {MAX_UPLOAD_PIXELS:,}"
        )
    return UPLOAD_FORMATS[fmt]


class SecurityHeaders:
    """ASGI wrapper adding the Content-Security-Policy and friends to every response."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = app.state

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
