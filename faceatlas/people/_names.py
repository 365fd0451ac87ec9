"""People by name: one normal form for names, and one way to turn "id or name" into an id.

Every command and page that takes a person goes through :func:`find_person`, so
``merge "Tony Blair" 17``, ``merge tony_blair 17`` and ``merge 3 17`` mean the same thing.
"""

from __future__ import annotations

import re
from typing import Any

from faceatlas.exceptions import InputError, NotFoundError

_SPACES = re.compile(r"[\s_]+")


def normalize_name(text: str) -> str:
    """The key two names are compared by: case-folded, underscores as spaces, spaces collapsed.

    Parameters
    ----------
    text : str
        A name as typed or as a folder name (``"Tony_Blair"``, ``" tony  blair "``).

    Returns
    -------
    str
        ``"tony blair"`` for all of the above; ``""`` for a blank name.

    Examples
    --------
    >>> normalize_name("Tony_Blair") == normalize_name("  tony   BLAIR ")
    True
    """
    return _SPACES.sub(" ", str(text)).strip().casefold()


def display_name(text: str) -> str:
    """A name as it is stored and shown: underscores as spaces, spaces collapsed, case kept.

    >>> display_name(" Tony_Blair ")
    'Tony Blair'
    """
    return _SPACES.sub(" ", str(text)).strip()


def _label(p: dict[str, Any]) -> str:
    return f"{p['id']} ({p['name'] or 'unnamed'}, {p['n_faces']} faces)"


def people_named(catalog: Any, name: str) -> list[dict[str, Any]]:
    """Every person (empty ones too) whose name equals ``name`` after :func:`normalize_name`."""
    key = normalize_name(name)
    if not key:
        return []
    return [
        p
        for p in catalog.persons(with_empty=True)
        if p["name"] is not None and normalize_name(p["name"]) == key
    ]


def find_person(catalog: Any, text_or_id: str | int) -> int:
    """The id of the person a user meant by an id or a name.

    Parameters
    ----------
    catalog : Catalog
        The open catalog.
    text_or_id : str or int
        A person id (``17``, ``"17"``) or a name, compared case-insensitively with
        underscores and spaces alike (``"tony_blair"`` finds "Tony Blair").

    Returns
    -------
    int
        The person id.

    Raises
    ------
    InputError
        The text is blank, or the name belongs to several people (the message lists them).
    NotFoundError
        No person has that id or name.
    """
    if isinstance(text_or_id, bool):
        raise InputError(f"person must be an id or a name, got {text_or_id!r}")
    if isinstance(text_or_id, int):
        pid = int(text_or_id)
        catalog.person(pid)  # NotFoundError naming the id
        return pid
    text = str(text_or_id).strip()
    if not text:
        raise InputError("person must be an id or a name, got an empty text")
    if text.isdigit():
        pid = int(text)
        catalog.person(pid)
        return pid
    found = people_named(catalog, text)
    # A name left on an empty person (e.g. after its faces were moved away) does not make a
    # name ambiguous: people who hold faces come first.
    holding = [p for p in found if p["n_faces"] > 0]
    candidates = holding or found
    if len(candidates) == 1:
        return int(candidates[0]["id"])
    if not candidates:
        raise NotFoundError(
            f"person {text!r}: no person has this id or name; see `faceatlas people`"
        )
    raise InputError(
        f"person {text!r} is ambiguous: "
        + ", ".join(_label(p) for p in candidates)
        + "; use the id"
    )
