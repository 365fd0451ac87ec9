"""Looking at people: the face table, the people list, one person, the k-means elbow."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from faceatlas.catalog import Catalog
from faceatlas.exceptions import InputError
from faceatlas.people._state import _last_min_faces
from faceatlas.policy import DEFAULT_EMBEDDER


def face_table(catalog: Catalog) -> list[dict[str, Any]]:
    """Every face with its photo, box and person (``None`` when unassigned)."""
    people = catalog.face_people()
    out = []
    for f in catalog.faces():
        person_id, person_name = people.get(f["id"], (None, None))
        out.append(
            {
                "face_id": f["id"],
                "path": f["path"],
                "frame_index": f["frame_index"],
                "x1": round(f["x1"], 1),
                "y1": round(f["y1"], 1),
                "x2": round(f["x2"], 1),
                "y2": round(f["y2"], 1),
                "det_score": round(f["det_score"], 4),
                "quality": round(f["quality"], 4),
                "person_id": person_id,
                "person_name": person_name or "",
            }
        )
    return out


def list_people(catalog: Catalog, *, include_hidden: bool = False) -> dict[str, Any]:
    """People (named, corrected, or with at least ``min_faces`` faces) and unsorted groups.

    Returns
    -------
    dict
        ``people`` and ``unsorted`` (lists of person dicts with ``id``, ``name``,
        ``n_faces``, ``n_confirmed``, ``hidden`` and an ``example`` face path),
        ``n_faces``, ``n_unassigned``, ``n_hidden`` and ``min_faces``.
    """
    min_faces = _last_min_faces(catalog)
    examples = catalog.person_examples()
    people, unsorted = [], []
    n_assigned = n_hidden = 0
    for p in catalog.persons():
        n_assigned += p["n_faces"]
        if p["hidden"]:
            n_hidden += 1
            if not include_hidden:
                continue
        ex = examples.get(p["id"], {})
        row = {**p, "example": ex.get("path"), "example_face": ex.get("face_id")}
        if p["name"] or p["n_confirmed"] or p["hidden"] or p["n_faces"] >= min_faces:
            people.append(row)
        else:
            unsorted.append(row)
    people.sort(key=lambda r: (-r["n_faces"], r["id"]))
    unsorted.sort(key=lambda r: (-r["n_faces"], r["id"]))
    n_faces = catalog.counts()["faces"]
    return {
        "people": people,
        "unsorted": unsorted,
        "n_faces": n_faces,
        "n_unassigned": n_faces - n_assigned,
        "n_hidden": n_hidden,
        "min_faces": min_faces,
    }


def face_fields(row: Any) -> dict[str, Any]:
    """What every view of a person shows of one of its faces (a ``person_face_rows`` row)."""
    return {
        "face_id": row["face_id"],
        "photo_id": row["photo_id"],
        "path": row["path"],
        "frame_index": row["frame_index"],
        "box": [round(row[c], 1) for c in ("x1", "y1", "x2", "y2")],
        "quality": round(row["quality"], 4),
        "source": row["source"],
        "confirmed": row["confirmed"],
    }


def person_detail(catalog: Catalog, person_id: int) -> dict[str, Any]:
    """One person: its row, its faces (with photo, box, source, pin, date) and rejected faces.

    A face's ``taken`` is its photo's time as the gallery shows it (the catalog's capture
    time, else the file time) and ``taken_guess`` is True when that is only the file time.
    """
    person = catalog.person(person_id)
    rows = catalog.person_face_rows(person_id)  # one query: faces, pins, photos, dates
    refs = catalog.reference_faces([r["face_id"] for r in rows])
    faces = [
        {
            **face_fields(r),
            # a reference photo from the known-people folder (``enroll``)
            "reference": r["face_id"] in refs,
            "taken": r["taken"],
            "taken_guess": not r["taken_is_capture"],
        }
        for r in rows
    ]
    rejected = [
        c["face_a"] for c in catalog.constraints("not_person") if c["person_id"] == person_id
    ]
    return {**person, "faces": faces, "rejected_faces": rejected}


# -- k-means elbow ------------------------------------------------------------------------
def elbow_curve(
    catalog: Catalog,
    embedder: str = DEFAULT_EMBEDDER,
    k_values: Sequence[int] | None = None,
    *,
    random_state: int = 0,
) -> dict[str, Any]:
    """k-means inertia and silhouette over k for the catalog's faces (``kmeans_curve``)."""
    from faceatlas.cluster import kmeans_curve

    ids, X = catalog.embeddings(embedder)
    if ids.size < 3:
        raise InputError(
            f"the elbow curve needs at least 3 faces embedded with {embedder!r}, got {ids.size}"
        )
    curve = kmeans_curve(X, k_values, random_state=random_state)
    return {**curve, "embedder": embedder, "n_faces": int(ids.size)}


def save_elbow_plot(curve: dict[str, Any], path: str | Path) -> Path:
    """Inertia (left axis) and silhouette (right axis) against k, with the chosen k marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    ax.plot(curve["k"], curve["inertia"], "o-", color="tab:blue", label="inertia")
    ax.set_xlabel("k (number of clusters)")
    ax.set_ylabel("inertia", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(curve["k"], curve["silhouette"], "s--", color="tab:orange", label="silhouette")
    ax2.set_ylabel("silhouette (cosine)", color="tab:orange")
    ax.axvline(curve["elbow_k"], color="grey", ls=":", label=f"elbow k={curve['elbow_k']}")
    ax.axvline(curve["best_k"], color="tab:green", ls="-.", label=f"chosen k={curve['best_k']}")
    ax.set_title(f"k-means on {curve.get('n_faces', '?')} faces ({curve.get('embedder', '')})")
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
