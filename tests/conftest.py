"""Shared fixtures: where the real data lives, and a guard that CI never silently skips it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
SAMPLES = REPO / "samples"


def _require_shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the real data folder {SHARED_DATA} is missing")
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only folder of real labelled face data (`../shared/data`)."""
    return _require_shared_data()


@pytest.fixture(scope="session")
def samples() -> Path:
    """The bundled sample photos (ORL subset, redistributable with credit)."""
    return SAMPLES
