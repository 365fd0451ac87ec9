"""The gallery and the report in a real browser: Playwright drives Debian's Chromium.

A uvicorn server runs in a thread on a free port over a catalog scanned from real ORL
photos. The test renames, searches by photo, merges and moves by drag-and-drop, splits and
confirms a suggestion with the keyboard, undoes, then checks the catalog after each step.
Screenshots go to ``test-artifacts/`` (gitignored). Skipped without /usr/bin/chromium,
except under CI=true, where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
SUBJECTS = ("s1", "s2", "s3", "s4")


def _require_browser() -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not installed")
    pytest.importorskip("playwright.sync_api")
    pytest.importorskip("uvicorn")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def gallery_in_browser(db: Path, *, http_errors: bool) -> Iterator[tuple]:
    """``(base URL, page, browser, problems)``: the gallery of ``db`` served by uvicorn in a
    thread, a Chromium page on it, and the page errors (and HTTP errors) it has met."""
    import uvicorn
    from playwright.sync_api import sync_playwright

    from faceatlas.web import create_app

    port = _free_port()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        server = uvicorn.Server(
            uvicorn.Config(create_app(db), host="127.0.0.1", port=port, log_level="warning")
        )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait_for(lambda: server.started, "the server to start")
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
                ),
            )
            if http_errors:
                page.on(
                    "response",
                    lambda r: (
                        problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None
                    ),
                )
            yield f"http://127.0.0.1:{port}", page, browser, problems
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, samples: Path) -> Iterator[dict]:
    _require_browser()
    from PIL import Image

    from faceatlas import Catalog, ScanConfig, scan
    from faceatlas.people import cluster_people

    root = tmp_path_factory.mktemp("browser")
    for s in SUBJECTS:
        (root / "photos" / s).mkdir(parents=True)
        for i in range(1, 5):
            shutil.copy(samples / "orl" / s / f"{i}.pgm", root / "photos" / s / f"{i}.pgm")
    held_out = root / "who.jpg"  # s1, not in the catalog
    Image.open(samples / "orl" / "s1" / "7.pgm").convert("RGB").save(held_out)
    db = root / "cat.db"
    with Catalog(db) as cat:
        scan([root / "photos"], cat, ScanConfig(jobs=1))
        cluster_people(cat, min_faces=2)
        subject_of = {f["id"]: Path(f["path"]).parent.name for f in cat.faces()}
        owner = cat.face_people()
    person_of = {}
    for face, subject in sorted(subject_of.items()):
        if face in owner:
            person_of.setdefault(subject, owner[face][0])
    assert set(person_of) == set(SUBJECTS), "clustering should find the 4 ORL people"

    with gallery_in_browser(db, http_errors=True) as (base, page, browser, problems):
        yield {
            "db": db,
            "root": root,
            "base": base,
            "page": page,
            "person_of": person_of,
            "subject_of": subject_of,
            "held_out": held_out,
            "problems": problems,
            "browser": browser,
        }


def _catalog(world: dict):
    from faceatlas import Catalog

    return Catalog(world["db"])


def test_gallery_corrections_in_the_browser(world: dict) -> None:
    # The page's CSP forbids eval, so waits are Playwright's expect() or Python polling,
    # never page.wait_for_function with a string.
    from playwright.sync_api import expect

    page, base, person_of = world["page"], world["base"], world["person_of"]
    s1, s2, s3, s4 = (person_of[s] for s in SUBJECTS)

    # the people grid
    page.goto(base + "/people")
    assert page.locator(".card[data-person]").count() == 4
    page.screenshot(path=str(ARTIFACTS / "gallery-people.png"), full_page=True)

    # rename a person with the button
    page.goto(f"{base}/person/{s1}")
    page.fill("#name-input", "Alice")
    page.click("#rename button[type=submit]")
    expect(page.locator("#person-name")).to_have_text("Alice")
    with _catalog(world) as cat:
        assert cat.person(s1)["name"] == "Alice"
    page.screenshot(path=str(ARTIFACTS / "gallery-person.png"), full_page=True)

    # search by uploading a photo of Alice that is not in the catalog
    page.goto(base + "/search")
    page.set_input_files("#photo", str(world["held_out"]))
    page.click("#search button[type=submit]")
    page.wait_for_selector(".result .who")
    assert page.locator(".result .who").first.inner_text() == "Alice"
    page.screenshot(path=str(ARTIFACTS / "gallery-search.png"), full_page=True)

    # merge two people by dragging one card onto the other
    with _catalog(world) as cat:
        faces_s3 = cat.faces_of_person(s3)
    page.goto(base + "/people")
    with page.expect_navigation():  # the page reloads after a correction
        page.drag_and_drop(f".card[data-person='{s3}']", f".card[data-person='{s2}']")
    with _catalog(world) as cat:
        _wait_for(lambda: set(faces_s3) <= set(cat.faces_of_person(s2)), "the merge")
        assert cat.faces_of_person(s3) == []

    # move a face to a new person by dragging it onto "New person"
    with _catalog(world) as cat:
        face = cat.faces_of_person(s4)[0]
    page.goto(f"{base}/person/{s4}")
    with page.expect_navigation():
        page.drag_and_drop(f".face[data-face='{face}']", "#to-new")
    with _catalog(world) as cat:
        _wait_for(
            lambda: cat.assignments([face]).get(face, {}).get("person_id") not in (None, s4),
            "the move",
        )
        assert cat.assignments([face])[face]["confirmed"]

    # split Alice, then confirm the merge suggestion with the keyboard
    page.goto(f"{base}/person/{s1}")
    with page.expect_navigation():
        page.click("#split")
    with _catalog(world) as cat:
        _wait_for(lambda: len(cat.faces_of_person(s1)) < 4, "the split")
        alice_faces = cat.faces_of_person(s1)
    page.goto(base + "/review")
    row = page.locator(f".suggestion[data-a='{s1}'], .suggestion[data-b='{s1}']").first
    assert row.count() == 1, "splitting a person should suggest merging the parts back"
    row.locator(".vs").click()
    page.screenshot(path=str(ARTIFACTS / "gallery-review.png"), full_page=True)
    page.keyboard.press("y")
    with _catalog(world) as cat:
        _wait_for(lambda: len(cat.faces_of_person(s1)) == 4, "the confirmed merge")
        assert cat.person(s1)["name"] == "Alice"

    # undo the confirmation: the split is back
    with page.expect_navigation():
        page.click("#undo")
    with _catalog(world) as cat:
        _wait_for(lambda: cat.faces_of_person(s1) == alice_faces, "the undo")

    # reject a face with the buttons: select it, "Not this person"
    with _catalog(world) as cat:
        face = cat.faces_of_person(s2)[-1]
    page.goto(f"{base}/person/{s2}")
    page.click(f".face[data-face='{face}']")
    with page.expect_navigation():
        page.click("#reject-selected")
    with _catalog(world) as cat:
        assert face not in cat.face_people()
        assert any(
            c["face_a"] == face and c["person_id"] == s2 for c in cat.constraints("not_person")
        )

    page.goto(base + "/unsorted")
    assert page.locator(f".face[data-face='{face}']").count() == 1
    page.screenshot(path=str(ARTIFACTS / "gallery-unsorted.png"), full_page=True)
    assert not world["problems"], world["problems"]


def _check_images(page) -> None:
    page.evaluate("document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
    _wait_for(
        lambda: page.evaluate("[...document.images].every(i => i.complete)"),
        f"the images of {page.url}",
    )
    broken = page.evaluate(
        "[...document.images].filter(i => !i.naturalWidth).map(i => i.getAttribute('src'))"
    )
    assert not broken, f"{page.url}: broken images {broken}"


def test_static_report_in_the_browser(world: dict) -> None:
    from faceatlas.report import write_report

    out = world["root"] / "report"
    with _catalog(world) as cat:
        write_report(cat, out, n_jobs=1, limit_per_person=3)
    page = world["page"]
    seen: set[str] = set()
    todo = [(out / "index.html").as_uri()]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        page.goto(url)
        _check_images(page)
        for href in page.evaluate("[...document.links].map(a => a.href)"):
            parsed = urlparse(href)
            assert parsed.scheme == "file", f"{url} links out of the report: {href}"
            target = Path(unquote(parsed.path))
            assert target.is_file(), f"{url}: broken link {href}"
            if target.suffix == ".html":
                todo.append(target.as_uri())
    assert len(seen) >= 3 + len(SUBJECTS)
    for name in ("index", "methods", "unsorted"):
        page.goto((out / f"{name}.html").as_uri())
        _check_images(page)
        page.screenshot(path=str(ARTIFACTS / f"report-{name}.png"), full_page=True)
    assert not world["problems"], world["problems"]
