"""Start-up: the CLI and ``import faceatlas`` load no heavy library until a command needs it.

scikit-learn alone costs about a second of CPU; ``faceatlas people`` should feel instant.
Each check runs in a fresh interpreter, because this test process has imported everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("sklearn", "matplotlib", "cv2", "faiss", "openvino", "torch", "scipy")
REPO = Path(__file__).resolve().parents[1]

# runs a command in-process (as `faceatlas ...` would) and prints the heavy modules it loaded
_PROBE = """
import json, sys
from click.testing import CliRunner
from faceatlas.cli import main
argv = json.loads(sys.argv[1])
result = CliRunner().invoke(main, argv)
heavy = json.loads(sys.argv[2])
loaded = sorted(m for m in heavy if m in sys.modules)
print(json.dumps({"exit_code": result.exit_code, "output": result.output, "loaded": loaded}))
"""


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.mark.parametrize(
    "statement",
    ["import faceatlas.cli", "import faceatlas", "from faceatlas import Catalog, FaceAtlasError"],
)
def test_import_loads_no_heavy_library(statement):
    code = f"{statement}; import sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = _python("-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"{statement} loaded {out.stdout.strip()}"


@pytest.fixture(scope="module")
def small_catalog(tmp_path_factory) -> Path:
    """An empty catalog: read-only commands refuse a missing one."""
    from faceatlas import Catalog

    path = tmp_path_factory.mktemp("startup") / "c.db"
    Catalog(path).close()
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["status"],
        ["people"],
        ["undo"],
        ["runs"],
        ["label", "status"],
        ["cluster", "--help"],
        ["who", "--help"],
        ["status", "--json"],
        ["scan", "--help"],
        ["serve", "--help"],
    ],
)
def test_commands_load_no_heavy_library(argv, small_catalog):
    out = _python(
        "-c",
        _PROBE,
        json.dumps(["--db", str(small_catalog), *argv]),
        json.dumps([m for m in HEAVY if m != "scipy" or argv[0] != "cluster"]),
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["exit_code"] == 0, report["output"]
    assert report["loaded"] == [], f"faceatlas {' '.join(argv)} loaded {report['loaded']}"


def test_lazy_names_resolve_and_are_complete():
    import faceatlas

    for name in faceatlas.__all__:
        assert getattr(faceatlas, name) is not None, name
    assert sorted(faceatlas.__all__) == faceatlas.__all__
    # the search module stays reachable as an attribute, never shadowed by a verb
    assert callable(faceatlas.search.search)
    with pytest.raises(AttributeError):
        _ = faceatlas.no_such_name
