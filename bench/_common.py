"""Helpers shared by the benchmark scripts: machine description, medians, LFW lists."""

from __future__ import annotations

import csv
import os
import platform
import statistics
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine() -> str:
    """One line: CPU model, cores, Python, numpy/opencv versions."""
    cpu = cpu_model()
    import cv2
    import numpy

    cores = len(os.sched_getaffinity(0))
    return (
        f"{cpu}, {cores} cores, Python {platform.python_version()}, numpy {numpy.__version__}"
        f", opencv {cv2.__version__}"
    )


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def lfw_paths(n: int | None = None) -> list[Path]:
    """LFW images in labels.csv order (all 13,233 when ``n`` is None)."""
    with open(SHARED_DATA / "lfw" / "labels.csv") as fh:
        rows = list(csv.DictReader(fh))
    if n is not None:
        # Spread over the alphabet rather than the first people only.
        step = max(1, len(rows) // n)
        rows = rows[::step][:n]
    return [SHARED_DATA / "lfw" / r["path"] for r in rows]


def import_face_recognition():
    """Import face_recognition 1.3.0 for comparison.

    Its model package imports ``pkg_resources``, which current setuptools no longer ships;
    a two-line stand-in with the one function it uses is installed first.
    """
    if "pkg_resources" not in sys.modules:
        try:
            import pkg_resources  # noqa: F401
        except ImportError:
            shim = types.ModuleType("pkg_resources")

            def resource_filename(package: str, resource: str) -> str:
                import importlib.util

                spec = importlib.util.find_spec(package)
                root = next(iter(spec.submodule_search_locations))  # type: ignore[union-attr]
                return os.path.join(root, resource)

            shim.resource_filename = resource_filename  # type: ignore[attr-defined]
            sys.modules["pkg_resources"] = shim
    import face_recognition

    return face_recognition
