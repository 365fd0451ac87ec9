"""Issue 17 points 3-4: a job that sees its disk fill up records its run as ``failed``.

The real full disk (a tmpfs filled under a running scan) is in ``tests/test_zoo.py`` and
needs root to mount; here the same code path runs anywhere, with SQLite's own error
(``database or disk is full``) raised at the commit, as a full disk raises it in WAL mode,
for as long as the job's reserve still takes up the space.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from faceatlas.catalog import Catalog
from faceatlas.catalog._base import RESERVE_BYTES, DiskFullError
from faceatlas.config import ScanConfig
from faceatlas.exceptions import CatalogError
from faceatlas.pipeline import scan


class _FillingDisk:
    """A connection whose commits fail once ``full`` is set, until the reserve is freed."""

    def __init__(
        self, db: sqlite3.Connection, reserve: str, error: str = "database or disk is full"
    ) -> None:
        self._db = db
        self._reserve = reserve
        self._error = error
        self.full = False
        self.refused = 0

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT" and self.full and os.path.exists(self._reserve):
            self.refused += 1
            raise sqlite3.OperationalError(self._error)
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


@pytest.fixture
def photos(tmp_path: Path, shared_data: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    people = sorted(p for p in (shared_data / "lfw" / "images").iterdir() if p.is_dir())
    for person in people[:6]:
        shutil.copyfile(next(person.glob("*.jpg")), folder / f"{person.name}.jpg")
    return folder


def test_a_job_holds_a_reserve_beside_the_catalog_while_it_runs(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.db") as cat:
        reserve = tmp_path / "c.db.reserve"
        cat.acquire_scan_lock()
        assert reserve.stat().st_size == RESERVE_BYTES
        assert reserve.stat().st_blocks * 512 >= RESERVE_BYTES  # allocated, not sparse
        cat.release_scan_lock()
        assert not reserve.exists()


def test_the_disk_full_error_is_its_own_kind(tmp_path: Path) -> None:
    with (
        Catalog(tmp_path / "c.db") as cat,
        pytest.raises(DiskFullError, match="disk is full"),
        cat.transaction(),
    ):
        raise sqlite3.OperationalError("database or disk is full")


@pytest.mark.parametrize(
    ("error", "reason"),
    [("database or disk is full", "disk is full"), ("disk I/O error", "disk I/O error")],
)
def test_a_scan_that_fills_the_disk_is_recorded_failed_with_the_reason(
    tmp_path: Path, photos: Path, error: str, reason: str
) -> None:
    # SQLite says "disk I/O error" when what cannot grow is the WAL index (<db>-shm)
    with Catalog(tmp_path / "c.db") as cat:
        disk = _FillingDisk(cat.db, cat.path + ".reserve", error)
        cat.db = disk  # type: ignore[assignment]
        written = []
        replace_file = cat.replace_file

        def fill_after_two(*args: Any, **kwargs: Any) -> Any:
            written.append(args)
            disk.full = len(written) > 2
            return replace_file(*args, **kwargs)

        cat.replace_file = fill_after_two  # type: ignore[method-assign]
        config = ScanConfig(detector="fake", embedder="fake", jobs=1)
        with pytest.raises(CatalogError, match=reason):
            scan([photos], cat, config)
        assert disk.refused == 2  # the third photo, then the run's record before the reserve
        run = cat.runs()[0]
        assert run["status"] == "failed"
        assert reason in run["summary"]["failure"]
        assert cat.counts()["photos"] == 2
        assert not os.path.exists(cat.path + ".reserve")
        cat.replace_file = replace_file  # type: ignore[method-assign]
        disk.full = False  # space freed
        scan([photos], cat, config)
        assert [r["status"] for r in cat.runs()] == ["done", "failed"]
        assert cat.counts()["photos"] == 6


def test_without_a_reserve_the_run_is_left_to_be_found_interrupted(tmp_path: Path) -> None:
    # the disk was full before the job began: no reserve, the record cannot be written; the
    # error is raised and the next start finds the run interrupted (never done)
    with Catalog(tmp_path / "c.db") as cat:
        run_id = cat.start_run("scan", {})
        disk = _FillingDisk(cat.db, str(tmp_path / "never"))
        cat.db = disk  # type: ignore[assignment]
        disk.full = True
        (tmp_path / "never").touch()
        with pytest.raises(DiskFullError):
            cat.finish_run(run_id, {"failure": "x"}, "failed")
        cat.db = disk._db
    with Catalog(tmp_path / "c.db") as cat:
        assert cat.runs()[0]["status"] == "interrupted"


def test_a_long_error_list_is_cut_short_when_written_in_the_reserve(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.db") as cat:
        cat.acquire_scan_lock()
        run_id = cat.start_run("scan", {})
        disk = _FillingDisk(cat.db, cat.path + ".reserve")
        cat.db = disk  # type: ignore[assignment]
        disk.full = True
        errors = [{"path": f"/p/{i}.jpg", "error": "truncated"} for i in range(500)]
        cat.finish_run(run_id, {"errors": errors, "failure": "full"}, "failed")
        cat.db = disk._db
        summary = cat.runs()[0]["summary"]
        assert len(summary["errors"]) == 10 and summary["errors_not_recorded"] == 490
        cat.release_scan_lock()


def test_a_clustering_that_stops_on_an_error_is_recorded_failed_with_the_reason(
    tmp_path: Path, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faceatlas import people
    from faceatlas.people import _cluster

    with Catalog(tmp_path / "c.db") as cat:
        scan([photos], cat, ScanConfig(detector="fake", embedder="fake", jobs=1))

        def boom(*args: Any, **kwargs: Any) -> Any:
            raise CatalogError("catalog c.db: the disk is full")

        monkeypatch.setattr(_cluster, "_cluster_run", boom)
        with pytest.raises(CatalogError):
            people.cluster_people(cat, embedder="fake")
        run = cat.runs()[0]
        assert (run["command"], run["status"]) == ("cluster", "failed")
        assert run["summary"]["failure"] == "catalog c.db: the disk is full"
