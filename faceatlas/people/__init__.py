"""People: clustering applied to the catalog, corrections, stable person ids.

:func:`cluster_people` turns one embedder's vectors into people with
:func:`faceatlas.cluster.cluster_faces`, under constraints gathered here:

- **cannot-link**: two faces of one photo (or one video frame) never share a person;
  neither do pinned faces of two different people, nor a face and a person the user said
  it is not (``reject``).
- **must-link / pins**: a user correction (``merge``, ``split``, ``move``) or an enrolment
  *pins* faces to a person (a confirmed assignment). Clustering never moves a pinned
  face, and all pinned faces of one person are must-linked, so a re-cluster keeps them
  together and keeps them apart from everybody else's.

New groups are matched to the persons of the previous assignment by maximum overlap
(Hungarian assignment, pinned faces weighing more than all others together), so person
ids, names and hidden flags stay put across runs.

Every correction is logged with the rows it changed, so :func:`undo` reverts the last one.

The package's rooms: ``_state`` (the catalog's faces as aligned arrays, constraints),
``_assign`` (who gets which face after a clustering: joining, Hungarian matching, the
rules no result may break), ``_thresholds`` (the confirmed faces' own threshold),
``_cluster`` (:func:`cluster_people`), ``_corrections``, ``_suggest``, ``_lookalikes``
(named people whose faces are close), ``_review`` (the review queue) and ``_views``.
Thresholds and the default embedder follow :mod:`faceatlas.policy`.
"""

from faceatlas.people._cluster import ClusterSummary, cluster_people
from faceatlas.people._corrections import (
    hide_person,
    merge_people,
    move_face,
    name_person,
    reject_face,
    split_person,
    undo,
)
from faceatlas.people._lookalikes import lookalikes
from faceatlas.people._names import display_name, find_person, normalize_name, people_named
from faceatlas.people._review import answer_review, review_questions
from faceatlas.people._state import default_min_faces, repeat_bar
from faceatlas.people._suggest import confirm_suggestion, dismiss_suggestion, suggest_merges
from faceatlas.people._views import (
    elbow_curve,
    face_fields,
    face_table,
    list_people,
    person_detail,
    save_elbow_plot,
)

__all__ = [
    "ClusterSummary",
    "answer_review",
    "cluster_people",
    "confirm_suggestion",
    "default_min_faces",
    "dismiss_suggestion",
    "display_name",
    "elbow_curve",
    "face_table",
    "find_person",
    "hide_person",
    "list_people",
    "lookalikes",
    "merge_people",
    "move_face",
    "name_person",
    "normalize_name",
    "people_named",
    "face_fields",
    "person_detail",
    "reject_face",
    "repeat_bar",
    "review_questions",
    "save_elbow_plot",
    "split_person",
    "suggest_merges",
    "undo",
]
