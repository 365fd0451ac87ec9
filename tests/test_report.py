"""The static HTML report: pages, pictures, cache, labels, and the CLI verb."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from click.testing import CliRunner

from faceatlas import Catalog, ScanConfig, scan
from faceatlas.cli import main
from faceatlas.exceptions import InputError
from faceatlas.people import cluster_people
from faceatlas.report import write_report

SUBJECTS = ("s1", "s2", "s3")
PER_SUBJECT = 4


@pytest.fixture(scope="module")
def small_catalog(tmp_path_factory: pytest.TempPathFactory, samples: Path) -> Path:
    """12 real ORL faces of 3 people, scanned and clustered (about 3 s)."""
    root = tmp_path_factory.mktemp("report_photos")
    for s in SUBJECTS:
        (root / s).mkdir()
        for i in range(1, PER_SUBJECT + 1):
            shutil.copy(samples / "orl" / s / f"{i}.pgm", root / s / f"{i}.pgm")
    db = root / "cat.db"
    with Catalog(db) as cat:
        scan([root], cat, ScanConfig(jobs=1))
        cluster_people(cat, min_faces=2)
    return db


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key in ("src", "href"):
            for k, v in attrs:
                if k == key and v:
                    self.refs.append((tag, v))


def _refs(page: Path) -> list[tuple[str, str]]:
    p = _Links()
    p.feed(page.read_text(encoding="utf-8"))
    return p.refs


@pytest.mark.slow  # ~7 s: renders every page
def test_report_pages_pictures_and_links(small_catalog: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    with Catalog(small_catalog) as cat:
        summary = write_report(cat, out, limit_per_person=2, n_jobs=1)
        n_faces = cat.counts()["faces"]
    assert summary.n_faces == n_faces == len(SUBJECTS) * PER_SUBJECT
    assert summary.n_people >= 2
    for page in ("index.html", "unsorted.html", "methods.html"):
        assert (out / page).is_file()
    pages = sorted(out.glob("*.html")) + sorted((out / "people").glob("*.html"))
    assert len(pages) == summary.n_pages
    # self-contained: every picture and link points at a file of the report, nothing remote
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), page
        assert "<script" not in html
        for tag, ref in _refs(page):
            if ref.startswith("data:"):  # inline (the empty favicon)
                continue
            target = (page.parent / unquote(urlparse(ref).path)).resolve()
            assert target.is_file(), f"{page.name}: <{tag}> {ref} is missing"
    # the contact sheet is limited and says how many more
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "2 more" in index
    # every shown face has a chip and a thumbnail with its photo
    assert summary.thumbs_made == n_faces and summary.thumbs_failed == 0
    assert len(list((out / "thumbs").glob("*.jpg"))) == n_faces
    assert len(list((out / "chips").glob("*.jpg"))) == n_faces
    methods = (out / "methods.html").read_text(encoding="utf-8")
    for fig in ("mean_face", "eigenfaces", "explained_variance", "scatter", "elbow"):
        assert fig in summary.methods
        assert f"plots/{fig}.png" in methods
    assert "labels" in summary.skipped  # no labels imported yet
    data = json.loads((out / "report.json").read_text())
    assert data["n_faces"] == n_faces


def test_report_reuses_thumbnails_and_forgets_stale_ones(
    small_catalog: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    with Catalog(small_catalog) as cat:
        first = write_report(cat, out, n_jobs=1, methods=False)
        stale = out / "thumbs" / "999999-deadbeef.jpg"
        stale.write_bytes(b"x")
        second = write_report(cat, out, n_jobs=1, methods=False)
    assert first.thumbs_made > 0
    assert second.thumbs_made == 0 and second.thumbs_reused == first.thumbs_made
    assert second.sheets_made == 0
    assert not stale.exists()


@pytest.mark.slow  # ~6 s: renders every page and the plots
def test_report_with_labels_has_confusion_matrix_and_metrics(
    small_catalog: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "cat.db"
    shutil.copy(small_catalog, copy)
    with Catalog(copy) as cat:
        truth = {f["path"]: Path(f["path"]).parent.name for f in cat.faces()}
        if hasattr(cat, "set_labels"):  # the labels table of `faceatlas label import`
            cat.set_labels(truth)
            summary = write_report(cat, tmp_path / "report", n_jobs=1)
        else:
            labels = {f["id"]: truth[f["path"]] for f in cat.faces()}
            summary = write_report(cat, tmp_path / "report", n_jobs=1, labels=labels)
    out = tmp_path / "report"
    assert "confusion" in summary.methods and "labels" not in summary.skipped
    assert (out / "plots" / "confusion.png").is_file()
    html = (out / "methods.html").read_text(encoding="utf-8")
    assert "bcubed f" in html and "pairwise f" in html
    metrics = json.loads((out / "report.json").read_text())["metrics"]
    assert metrics["n_faces"] == len(truth)
    assert 0.0 <= metrics["bcubed_f"] <= 1.0


def test_report_refuses_bad_parameters(small_catalog: Path, tmp_path: Path) -> None:
    with Catalog(small_catalog) as cat:
        with pytest.raises(InputError, match="limit_per_person must be an int >= 1, got 0"):
            write_report(cat, tmp_path / "r", limit_per_person=0)
        with pytest.raises(InputError, match="embedder must be one the catalog holds"):
            write_report(cat, tmp_path / "r", embedder="nope")


def test_report_of_an_empty_catalog(tmp_path: Path) -> None:
    with Catalog(tmp_path / "empty.db") as cat:
        summary = write_report(cat, tmp_path / "r", n_jobs=1)
    assert summary.n_faces == 0 and summary.n_people == 0
    assert "No people yet" in (tmp_path / "r" / "index.html").read_text(encoding="utf-8")


def test_cli_report(small_catalog: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli_report"
    res = CliRunner().invoke(
        main,
        [
            "--db",
            str(small_catalog),
            "report",
            str(out),
            "--limit-per-person",
            "3",
            "--no-methods",
            "--jobs",
            "1",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["index"] == str(out / "index.html")
    assert (out / "index.html").is_file()


def test_small_jpegs_are_copied_not_reencoded(tmp_path: Path) -> None:
    from PIL import Image

    from faceatlas.thumbnails import copy_if_small_jpeg

    small, big, png = tmp_path / "small.jpg", tmp_path / "big.jpg", tmp_path / "p.png"
    Image.new("RGB", (250, 250), (200, 30, 30)).save(small)
    Image.new("RGB", (1000, 600), (200, 30, 30)).save(big)
    Image.new("RGB", (100, 100)).save(png)
    assert copy_if_small_jpeg(small, tmp_path / "a.jpg", 320)
    assert (tmp_path / "a.jpg").read_bytes() == small.read_bytes()
    assert not copy_if_small_jpeg(big, tmp_path / "b.jpg", 320)
    assert not copy_if_small_jpeg(png, tmp_path / "c.jpg", 320)
    assert not (tmp_path / "b.jpg").exists() and not (tmp_path / "c.jpg").exists()


def _faceatlas_imports(package: str) -> set[str]:
    """Every ``faceatlas...`` module imported anywhere in a package's source files."""
    import ast
    import importlib

    folder = Path(importlib.import_module(package).__file__).parent  # type: ignore[arg-type]
    found: set[str] = set()
    for py in folder.glob("*.py"):
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
    return {m for m in found if m.split(".")[0] in ("faceatlas", "sqlite3")}


def test_report_reads_the_catalog_only_through_library_functions() -> None:
    # the apps only format: page data comes from faceatlas.views, never from SQL or from
    # another package's private modules
    imports = _faceatlas_imports("faceatlas.report")
    assert "sqlite3" not in imports
    foreign_private = {
        m
        for m in imports
        if not m.startswith("faceatlas.report")
        and any(part.startswith("_") for part in m.split("."))
    }
    assert not foreign_private
    assert {"faceatlas.views", "faceatlas.thumbnails", "faceatlas.policy"} <= imports
    assert "faceatlas.report._images" not in imports
