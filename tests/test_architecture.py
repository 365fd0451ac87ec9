"""The house of docs/architecture.md, held against the code.

Every import of a faceatlas module (at the top or inside a function) must point down a floor,
or sideways inside a package; every module has its line in docs/architecture.md; no module is
over 700 lines (the CLI's modules included). Run as a script to print each module's floor and
its faceatlas imports (the picture of docs/architecture.md in words).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "faceatlas"
DOC = REPO / "docs" / "architecture.md"

GROUND = ["exceptions", "_validation", "jsonable", "_heap"]
STAGES = [
    "models",
    "_images_compact",
    "images",
    "metadata",
    "yunet",
    "detect",
    "detect_retries",
    "align",
    "quality",
    "reduce",
    "embed",
    "config",
    "tabular",
    "evaluate",
    "cluster",
    "recognize",
    "search",
    "thumbnails",
    "xmp",
]
STORAGE = ["catalog"]
# In the order docs/architecture.md lists them: each may import those before it.
WORKFLOWS = [
    "policy",
    "walk",
    "executors",
    "pipeline",
    "labels",
    "people",
    "album",
    "known",
    "evaluation",
    "eigenfaces",
    "views",
    "privacy",
    "regions",
]
APPS = ["report", "web", "cli", "__init__", "__main__"]

# Stages may use each other in this order (a stage imports only stages before it).
FLOORS: dict[str, tuple[int, int]] = {}
for i, name in enumerate(GROUND):
    FLOORS[name] = (1, i)
for i, name in enumerate(STAGES):
    FLOORS[name] = (2, i)
for i, name in enumerate(STORAGE):
    FLOORS[name] = (3, i)
for i, name in enumerate(WORKFLOWS):
    FLOORS[name] = (4, i)
for i, name in enumerate(APPS):
    FLOORS[name] = (5, i)

#: Libraries a stage must never touch: storage and app frameworks.
STAGE_FORBIDDEN = ("sqlite3", "click", "starlette", "uvicorn", "jinja2", "psycopg")


def _room(module: str) -> str:
    """``faceatlas.people._state`` -> ``people``; ``faceatlas`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _modules() -> dict[str, Path]:
    out = {}
    for py in sorted(PACKAGE.rglob("*.py")):
        rel = py.relative_to(REPO).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1 and parts != ["faceatlas", "__init__"]:
            parts = parts[:-1]
        name = ".".join(parts) if parts != ["faceatlas", "__init__"] else "faceatlas"
        out[name] = py
    return out


def _imports(module: str, path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "faceatlas":
                found.extend(f"faceatlas.{a.name}" for a in node.names)
            else:
                found.append(node.module)
    return found


def _own(name: str) -> bool:
    return name == "faceatlas" or name.startswith("faceatlas.")


def test_every_room_has_a_floor() -> None:
    rooms = {_room(m) for m in _modules()}
    assert rooms - set(FLOORS) == set(), "add the new module to FLOORS and the docs"


def test_imports_point_down() -> None:
    wrong = []
    for module, path in _modules().items():
        room = _room(module)
        floor = FLOORS[room]
        for imported in _imports(module, path):
            if not _own(imported):
                if floor[0] <= 2 and imported.split(".")[0] in STAGE_FORBIDDEN:
                    wrong.append(f"{module} imports {imported}")
                continue
            target = _room(imported)
            if target == room or target not in FLOORS:
                continue
            if FLOORS[target] > floor and not (room == "cli" and target in ("web", "report")):
                wrong.append(f"{module} ({floor}) imports {imported} ({FLOORS[target]})")
    assert wrong == [], "\n".join(wrong)


def test_no_module_reaches_into_another_packages_private_module() -> None:
    wrong = []
    for module, path in _modules().items():
        for imported in _imports(module, path):
            parts = imported.split(".")
            private = _own(imported) and len(parts) > 2 and parts[2].startswith("_")
            if private and _room(imported) != _room(module):
                wrong.append(f"{module} imports {imported}")
    assert wrong == [], "\n".join(wrong)


def test_every_module_is_in_the_docs() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = []
    for module in _modules():
        parts = module.split(".")[1:]
        if not parts:
            continue
        top = parts[0]
        if (f"`{top}.py`" not in text and f"`{top}/`" not in text) or (
            len(parts) > 1
            and parts[-1] != "__init__"
            and f"`{parts[-1]}`" not in text
            and f"`{parts[-1]}.py`" not in text
        ):
            missing.append(module)
    assert missing == [], "\n".join(missing)


@pytest.mark.parametrize("module", sorted(_modules()))
def test_no_module_over_700_lines(module: str) -> None:
    n = len(_modules()[module].read_text(encoding="utf-8").splitlines())
    assert n <= 700, f"{module} has {n} lines; split it"


def main() -> None:
    rows = []
    for module, path in _modules().items():
        own = sorted({_room(i) for i in _imports(module, path) if _own(i)} - {_room(module)})
        rows.append((FLOORS.get(_room(module), (0, 0)), module, own))
    for floor, module, own in sorted(rows, key=lambda r: (-r[0][0], r[1])):
        sys.stdout.write(f"floor {floor[0]}  {module:36} -> {', '.join(own) or '-'}\n")


if __name__ == "__main__":
    main()
