"""The gallery's fixing pages: one photo, the names for pickers, and their actions.

``/photo/{id}`` shows a photo with every face boxed and named (its JSON twin
``/photo/{id}.json``); ``/face/{id}`` leads to the photo of a face; ``/names.json`` feeds
the name pickers. The actions (``/api/review``, ``/api/ignore``, ``/api/cover``) are
posted like every correction (CSRF-checked, JSON or form) and call one function of
:mod:`faceatlas.views`, which makes its changes through :mod:`faceatlas.people`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from faceatlas.web._corrections import _correction_body, after_correction
from faceatlas.web._routes import chip_url, on_catalog, page
from faceatlas.web._security import Refused

__all__ = ["cover_action", "face_page", "ignore_action", "names", "photo_view", "review_action"]


async def photo_view(request: Request) -> Response:
    from faceatlas.views import photo_page

    d = await on_catalog(request, photo_page, request.path_params["photo_id"])
    faces = [
        {
            **f,
            "chip_url": chip_url(f["face_id"]),
            "person_url": f"/person/{f['person_id']}" if f["person_id"] else None,
        }
        for f in d["faces"]
    ]
    data = {**d, "faces": faces, "image_url": f"/photo/{d['id']}.jpg?size=1600"}
    return page(request, "photo.html", data, nav="")


async def face_page(request: Request) -> Response:
    """A face leads to its photo, scrolled to the face."""
    from faceatlas.views import picture_source

    src = await on_catalog(request, lambda cat: picture_source(cat, face_id=_face(request)))
    return RedirectResponse(f"/photo/{src['photo_id']}#face-{_face(request)}", status_code=307)


def _face(request: Request) -> int:
    return int(request.path_params["face_id"])


async def names(request: Request) -> Response:
    import json

    from faceatlas.views import cached, person_names

    def encoded(cat: Any) -> bytes:
        # thousands of people: encoded once per catalog change, not per keystroke's page
        return cached(cat, "names.json", lambda: json.dumps({"people": person_names(cat)}).encode())

    return Response(await on_catalog(request, encoded), media_type="application/json")


def _ints(raw: Any, key: str) -> list[int]:
    items = raw if isinstance(raw, list) else str(raw or "").replace(",", " ").split()
    try:
        return [int(v) for v in items]
    except (TypeError, ValueError):
        raise Refused(400, f"{key} must be face ids, got {raw!r}") from None


def _int(body: dict[str, Any], key: str, *, optional: bool = False) -> int | None:
    raw = body.get(key)
    if optional and raw in (None, ""):
        return None
    try:
        return int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise Refused(400, f"{key} must be an int, got {raw!r}") from None


def _person(body: dict[str, Any]) -> int:
    pid = _int(body, "person")
    assert pid is not None  # not optional: _int refused a missing one
    return pid


async def _answer(request: Request, fn: Any) -> Response:
    body, is_form = await _correction_body(request)
    result = await on_catalog(request, fn, body)
    return after_correction(body, is_form, {"result": result})


async def review_action(request: Request) -> Response:
    """Answer one review question: ``kind``, ``face_id``, ``person_id``,
    ``other_person_id`` (same person), ``answer`` (yes, no, skip)."""
    from faceatlas.views import answer_review

    def run(cat: Any, b: dict[str, Any]) -> Any:
        q = {
            "kind": b.get("kind"),
            "face_id": _int(b, "face_id", optional=True),
            "person_id": _int(b, "person_id"),
            "other_person_id": _int(b, "other_person_id", optional=True),
        }
        if q["kind"] == "is_this" and q["face_id"] is None:
            raise Refused(400, "an 'is this' answer needs face_id")
        if q["kind"] == "same_person" and q["other_person_id"] is None:
            raise Refused(400, "a 'same person' answer needs other_person_id")
        return answer_review(cat, q, str(b.get("answer", "")))

    return await _answer(request, run)


async def ignore_action(request: Request) -> Response:
    """Hide strangers: ``faces`` (a list, or ids separated by commas or spaces)."""
    from faceatlas.views import ignore_faces

    return await _answer(request, lambda cat, b: ignore_faces(cat, _ints(b.get("faces"), "faces")))


async def cover_action(request: Request) -> Response:
    """Show ``person`` by ``face`` (empty: by its best face again)."""
    from faceatlas.views import choose_cover

    return await _answer(
        request,
        lambda cat, b: choose_cover(cat, _person(b), _int(b, "face", optional=True)),
    )
