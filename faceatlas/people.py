"""People: clustering applied to the catalog, corrections, stable person ids."""

from __future__ import annotations

from typing import Any

from faceatlas.catalog import Catalog


def face_table(catalog: Catalog) -> list[dict[str, Any]]:
    """Every face with its photo, box and person (``None`` when unassigned)."""
    people = getattr(catalog, "face_people", lambda: {})()
    out = []
    for f in catalog.faces():
        person_id, person_name = people.get(f["id"], (None, None))
        out.append({"face_id": f["id"], "path": f["path"], "frame_index": f["frame_index"],
                    "x1": round(f["x1"], 1), "y1": round(f["y1"], 1), "x2": round(f["x2"], 1),
                    "y2": round(f["y2"], 1), "det_score": round(f["det_score"], 4),
                    "quality": round(f["quality"], 4), "person_id": person_id,
                    "person_name": person_name or ""})
    return out
