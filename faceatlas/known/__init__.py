"""Recognition applied to a catalog: enrol, who, calibrate, similar, and the search index.

* :func:`enroll` scans a ``known_people`` folder (one sub-folder, or one file, per person)
  and pins those faces to named persons.
* :func:`who` says, for every face of some photos or videos, *same image*, *known person*
  or *stranger* (:func:`faceatlas.recognize.identify`), against every named person of the
  catalog (enrolled, or named after clustering).
* :func:`calibrate` picks the same-person threshold for a target false-match rate, from
  labelled pairs or from the catalog's confirmed people, and stores it in the catalog.
* :func:`similar` lists the faces most like a photo's faces, a face or a person.
* :func:`catalog_index` keeps a search index next to the catalog (``<db>.index/``): exact
  search while the catalog is small, a tuned faiss index above ``exact_max`` faces.

Each workflow has its own module (``_enroll``, ``_who``, ``_similar``, ``_calibrate``,
``_index``, ``_gallery``); this package re-exports their public names. The embedder and
threshold rules come from :mod:`faceatlas.policy`.
"""

from __future__ import annotations

from faceatlas.known._calibrate import calibrate, plot_roc, read_pairs
from faceatlas.known._common import resolve_threshold
from faceatlas.known._enroll import EnrollSummary, enroll, known_people
from faceatlas.known._gallery import catalog_gallery
from faceatlas.known._index import DRIFT_FRACTION, INDEX_KINDS, IndexInfo, catalog_index, index_dir
from faceatlas.known._similar import similar
from faceatlas.known._who import who, who_csv_lines

__all__ = [
    "DRIFT_FRACTION",
    "INDEX_KINDS",
    "EnrollSummary",
    "IndexInfo",
    "calibrate",
    "catalog_gallery",
    "catalog_index",
    "enroll",
    "index_dir",
    "known_people",
    "plot_roc",
    "read_pairs",
    "resolve_threshold",
    "similar",
    "who",
    "who_csv_lines",
]
