"""Corrections from the gallery: ``POST /api/<action>``, one small function per action.

Each parses the request's fields (a JSON object or an HTML form, CSRF-checked, capped at
64 KB) and calls the :mod:`faceatlas.people` function the CLI calls for the same
correction, so both make the same catalog constraints and survive re-clustering. A form
post may name a page of this site to return to (``next``); a JSON post gets the result.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from faceatlas.catalog import Catalog
from faceatlas.web._routes import jsonable, on_catalog
from faceatlas.web._security import Refused, capped_request, check_csrf, read_capped

__all__ = ["CORRECTIONS", "correction"]

#: Corrections arrive as small forms or JSON objects; 64 KB is far more than any needs.
MAX_FORM_BYTES = 64 * 1024


def _int(body: dict[str, Any], key: str) -> int:
    raw = body.get(key)
    try:
        return int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise Refused(400, f"{key} must be an int, got {raw!r}") from None


def _opt_int(body: dict[str, Any], key: str) -> int | None:
    return None if body.get(key) in (None, "") else _int(body, key)


#: Fields that name a person: an id or a name, as on the command line.
PERSON_KEYS = ("person", "other", "person_a", "person_b")


def _person(cat: Catalog, body: dict[str, Any], key: str) -> int:
    """A person field by id or name (:func:`faceatlas.people.find_person`)."""
    from faceatlas.people import find_person

    raw = body.get(key)
    if isinstance(raw, bool) or not isinstance(raw, int | str) or raw == "":
        raise Refused(400, f"{key} must be a person id or name, got {raw!r}")
    return find_person(cat, raw)


def _opt_person(cat: Catalog, body: dict[str, Any], key: str) -> int | None:
    return None if body.get(key) in (None, "", "new") else _person(cat, body, key)


def _split(cat: Catalog, b: dict[str, Any], embedder: str | None) -> Any:
    from faceatlas.people import split_person
    from faceatlas.policy import DEFAULT_EMBEDDER, catalog_embedder

    parts = _opt_int(b, "parts")
    return split_person(
        cat,
        _person(cat, b, "person"),
        n_parts=parts,
        embedder=catalog_embedder(cat, embedder) or DEFAULT_EMBEDDER,
    )


def _hide(cat: Catalog, b: dict[str, Any], embedder: str | None) -> Any:
    from faceatlas.people import hide_person

    hidden = str(b.get("hidden", "1")).lower() not in ("0", "false", "no")
    return hide_person(cat, _person(cat, b, "person"), hidden)


def _people_call(
    name: str, *keys: str, optional: tuple[str, ...] = ()
) -> Callable[[Catalog, dict[str, Any], str | None], Any]:
    """A correction that passes fields ``keys`` (then ``optional`` ones) to a function:
    person fields by id or name, the others as ints."""

    def run(cat: Catalog, b: dict[str, Any], embedder: str | None) -> Any:
        from faceatlas import people

        args: list[int | None] = [
            _person(cat, b, k) if k in PERSON_KEYS else _int(b, k) for k in keys
        ]
        args += [_opt_person(cat, b, k) if k in PERSON_KEYS else _opt_int(b, k) for k in optional]
        return getattr(people, name)(cat, *args)

    return run


def _name(cat: Catalog, b: dict[str, Any], embedder: str | None) -> Any:
    from faceatlas.people import name_person

    merge = str(b.get("merge", "0")).lower() in ("1", "true", "yes", "on")
    return name_person(cat, _person(cat, b, "person"), str(b.get("name", "")), merge=merge)


def _undo(cat: Catalog, b: dict[str, Any], embedder: str | None) -> Any:
    from faceatlas.people import undo

    return {"undone": undo(cat)}


#: action -> handler(catalog, body, embedder); the names are the ``/api/<action>`` paths.
CORRECTIONS: dict[str, Callable[[Catalog, dict[str, Any], str | None], Any]] = {
    "name": _name,
    "merge": _people_call("merge_people", "person", "other"),
    "split": _split,
    "move": _people_call("move_face", "face", optional=("person",)),
    "reject": _people_call("reject_face", "face", "person"),
    "hide": _hide,
    "undo": _undo,
    "confirm": _people_call("confirm_suggestion", "person_a", "person_b"),
    "dismiss": _people_call("dismiss_suggestion", "person_a", "person_b"),
}


async def _correction_body(request: Request) -> tuple[dict[str, Any], bool]:
    """The correction's fields, CSRF-checked, and whether they came as an HTML form."""
    if request.headers.get("content-type", "").startswith("application/json"):
        raw = await read_capped(request, MAX_FORM_BYTES)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise Refused(400, "the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise Refused(400, "the body must be a JSON object")
        await check_csrf(request)
        return body, False
    form = await capped_request(request, MAX_FORM_BYTES).form()
    await check_csrf(request, form)
    return {k: v for k, v in form.items() if isinstance(v, str)}, True


async def correction(request: Request) -> Response:
    action = request.path_params["action"]
    body, is_form = await _correction_body(request)
    run = CORRECTIONS.get(action)
    if run is None:
        raise Refused(404, f"no such correction: {action!r}")
    result = await on_catalog(request, run, body, request.app.state.embedder)
    return after_correction(body, is_form, {"action": action, "result": result})


def after_correction(body: dict[str, Any], is_form: bool, payload: dict[str, Any]) -> Response:
    """A form goes back to its ``next`` page (a path on this site only); JSON gets ``payload``."""
    nxt = body.get("next")
    # only a path on this site: "//host" and backslashes would leave it
    if (
        is_form
        and isinstance(nxt, str)
        and nxt.startswith("/")
        and not nxt.startswith("//")
        and "\\" not in nxt
    ):
        return RedirectResponse(nxt, status_code=303)
    return JSONResponse(jsonable(payload))
