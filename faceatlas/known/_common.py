"""What every known-people workflow shares: the log callback, the embedder to compare with.

The rules themselves (default embedder, threshold precedence) live in
:mod:`faceatlas.policy`; this module only adapts them to the workflows' signatures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from faceatlas.policy import DEFAULT_EMBEDDER, catalog_embedder, same_person_threshold

if TYPE_CHECKING:
    from faceatlas.catalog import Catalog
    from faceatlas.embed import Embedder

Log = Callable[[str], None]


def quiet(_: str) -> None:
    """A log that drops its lines (the default when the caller passes none)."""


def embedder_of(catalog: Catalog, name: str | None) -> Embedder:
    """The embedder to compare with, by :func:`faceatlas.policy.catalog_embedder`.

    A catalog without vectors still gets :data:`~faceatlas.policy.DEFAULT_EMBEDDER`, so
    ``who`` and ``similar`` on an empty catalog say "no people" rather than "no embedder".
    """
    from faceatlas.embed import get_embedder

    return get_embedder(catalog_embedder(catalog, name) or DEFAULT_EMBEDDER)


def resolve_threshold(
    catalog: Catalog, embedder: Embedder, threshold: float | None = None
) -> tuple[float, str, dict[str, Any] | None]:
    """``(value, source, stored calibration)`` of :func:`faceatlas.policy.same_person_threshold`.

    Kept for callers of the former ``faceatlas.enroll.resolve_threshold``; new code calls
    :func:`faceatlas.policy.same_person_threshold`.
    """
    t = same_person_threshold(catalog, embedder, threshold)
    return t.value, t.source, t.calibration
