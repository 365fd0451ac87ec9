"""The gallery's fixing pages in a real browser: Playwright drives Debian's Chromium.

A uvicorn server runs in a thread over a catalog scanned from real photos (face_recognition's
knn examples, two of them group photos). The tests fix people on the photo page (rename,
reassign by name, remove, ignore), choose people with the name picker, and answer the review
queue with the keyboard (s, y, n), reading the catalog back after each step. Screenshots go
to ``test-artifacts/``. Skipped without /usr/bin/chromium, except under CI=true.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_browser import ARTIFACTS, _require_browser, gallery_in_browser
from tests.test_browser import _wait_for as wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KNN = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "face_recognition_examples"
KNN = KNN / "images" / "examples" / "knn_examples"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    _require_browser()
    if not KNN.is_dir():
        pytest.skip(f"{KNN} is missing")

    from faceatlas import Catalog, ScanConfig, scan
    from faceatlas.people import cluster_people

    root = tmp_path_factory.mktemp("browser_gallery")
    shutil.copytree(KNN, root / "photos")
    db = root / "cat.db"
    with Catalog(db) as cat:
        scan([root / "photos"], cat, ScanConfig(jobs=1))
        cluster_people(cat, min_faces=2)
    with gallery_in_browser(db, http_errors=False) as (base, page, _, problems):
        yield {"db": db, "base": base, "page": page, "problems": problems}


def _cat(world: dict):
    from faceatlas import Catalog

    return Catalog(world["db"])


def _photo_named(world: dict, name: str) -> tuple[int, list[int]]:
    with _cat(world) as cat:
        rows = [f for f in cat.faces() if Path(f["path"]).name == name]
    return rows[0]["photo_id"], [f["id"] for f in rows]


def test_photo_page_fixes_in_the_browser(world: dict) -> None:
    from playwright.sync_api import expect

    page, base = world["page"], world["base"]
    photo, faces = _photo_named(world, "obama_and_biden.jpg")
    assert len(faces) >= 2
    page.goto(f"{base}/photo/{photo}")
    expect(page.locator("svg#photo-svg .facebox")).to_have_count(len(faces))
    # the photo itself is drawn under the boxes
    loaded = page.evaluate(
        "fetch(document.querySelector('#photo-svg image').getAttribute('href'))"
        ".then(r => r.headers.get('content-type'))"
    )
    assert loaded == "image/jpeg"
    # a box selects its face in the list
    a, b = faces[:2]
    page.locator(f".facebox[data-face='{a}']").click()
    expect(page.locator(f"#face-{a}")).to_have_class("photo-face on")
    page.screenshot(path=str(ARTIFACTS / "gallery-photo.png"), full_page=True)

    # reassign face b to a new person by typing a new name into the picker
    li_b = page.locator(f"#face-{b}")
    li_b.locator(".reassign-input").fill("Joe Biden")
    with page.expect_navigation():
        li_b.locator(".reassign button").click()
    with _cat(world) as cat:
        wait_for(lambda: cat.face_people().get(b, (0, None))[1] == "Joe Biden", "the reassign")
        biden = cat.face_people()[b][0]
        assert cat.assignments([b])[b]["confirmed"]
    expect(page.locator(f".facebox[data-face='{b}'] text")).to_have_text("Joe Biden")

    # rename face a's person (give it a person first if it has none)
    with _cat(world) as cat:
        has = a in cat.face_people()
    if not has:
        li_a = page.locator(f"#face-{a}")
        li_a.locator(".reassign-input").fill("Barack Obama")
        with page.expect_navigation():
            li_a.locator(".reassign button").click()
    li_a = page.locator(f"#face-{a}")
    li_a.locator(".rename-input").fill("Barack Obama")
    with page.expect_navigation():
        li_a.locator(".rename button").click()
    with _cat(world) as cat:
        wait_for(lambda: cat.face_people().get(a, (0, None))[1] == "Barack Obama", "the rename")
        obama = cat.face_people()[a][0]

    # remove face a from its person: unassigned, and never that person again
    with page.expect_navigation():
        page.locator(f"#face-{a} .remove-face").click()
    with _cat(world) as cat:
        wait_for(lambda: a not in cat.face_people(), "the removal")
        assert any(
            c["face_a"] == a and c["person_id"] == obama for c in cat.constraints("not_person")
        )

    # ignore a stranger: the face goes to a hidden person of its own
    stranger = faces[2] if len(faces) > 2 else a
    with page.expect_navigation():
        page.locator(f"#face-{stranger} .ignore-face").click()
    with _cat(world) as cat:
        wait_for(lambda: stranger in cat.face_people(), "the ignore")
        assert cat.person(cat.face_people()[stranger][0])["hidden"]
        assert cat.face_people()[b][0] == biden  # the others are untouched
    expect(page.locator(f"#face-{stranger} .who")).to_contain_text("(ignored)")
    assert not world["problems"], world["problems"]


def test_name_picker_completes_and_moves(world: dict) -> None:
    from playwright.sync_api import expect

    page, base = world["page"], world["base"]
    _, faces = _photo_named(world, "kit_with_rose.jpg")
    with _cat(world) as cat:
        owner = cat.face_people()
        people = [p for p in cat.persons() if not p["hidden"]]
        source = next(owner[f][0] for f in faces if f in owner)
        face = cat.faces_of_person(source)[0]
        target = next(p for p in people if p["id"] != source)
    from faceatlas.people import name_person

    with _cat(world) as cat:
        name_person(cat, target["id"], "Rose Leslie")
    page.goto(f"{base}/person/{source}")
    # the picker's list holds every visible person, "Name #id"
    expect(page.locator("#people-names option")).to_have_count(len(people))
    values = page.eval_on_selector_all("#people-names option", "os => os.map(o => o.value)")
    assert f"Rose Leslie #{target['id']}" in values
    # typed by name (any case), the face moves to that person
    page.click(f".face[data-face='{face}']")
    page.fill("#move-input", "rose leslie")
    with page.expect_navigation():
        page.click("#move button[type=submit]")
    with _cat(world) as cat:
        wait_for(lambda: cat.face_people().get(face, (0,))[0] == target["id"], "the move")
        assert cat.assignments([face])[face]["confirmed"]
    # an unknown name is refused with a message, nothing changes
    n = len(_corrections(world))
    page.goto(f"{base}/person/{target['id']}")
    page.fill("#merge-input", "Nobody Of That Name")
    page.click("#merge button[type=submit]")
    expect(page.locator("#toast")).to_contain_text("nobody is named")
    assert len(_corrections(world)) == n
    assert not world["problems"], world["problems"]


def _corrections(world: dict) -> list[dict]:
    with _cat(world) as cat:
        return cat.corrections(1000)


def test_review_queue_with_the_keyboard(world: dict) -> None:
    from playwright.sync_api import expect

    from faceatlas.people import list_people, split_person

    page, base = world["page"], world["base"]
    with _cat(world) as cat:
        big = max(list_people(cat)["people"], key=lambda p: p["n_faces"])["id"]
        split_person(cat, big, n_parts=2)
    page.goto(base + "/review")
    questions = page.locator(".question")
    assert questions.count() >= 1
    page.screenshot(path=str(ARTIFACTS / "gallery-review-queue.png"), full_page=True)
    # s skips: the question is done, the catalog unchanged
    n = len(_corrections(world))
    first = page.locator(".question.current")
    first_face = first.get_attribute("data-face")
    page.keyboard.press("s")
    expect(page.locator(f".question[data-face='{first_face}'].done")).to_have_count(1)
    assert len(_corrections(world)) == n
    # a skip is not stored: the question is back on the next visit
    page.reload()
    expect(page.locator(f".question[data-face='{first_face}']")).to_have_count(1)
    # y on a "same person?" merges the two
    row = page.locator(".question[data-kind='same_person']:not(.done)").first
    assert row.count() == 1, "a split person should give at least one 'same person?'"
    other = int(row.get_attribute("data-b"))
    row.locator(".vs").click()
    page.keyboard.press("y")
    with _cat(world) as cat:
        wait_for(lambda: cat.faces_of_person(other) == [], "the merge by y")
        assert cat.corrections(1)[0]["kind"] == "confirm"
    # n on an open question stores the refusal
    open_rows = page.locator(".question:not(.done)")
    if open_rows.count():
        q = open_rows.first
        kind, face, person = (q.get_attribute(k) for k in ("data-kind", "data-face", "data-person"))
        q.locator(".vs").click()
        page.keyboard.press("n")
        with _cat(world) as cat:
            wait_for(lambda: len(cat.corrections(1000)) > n + 1, "the answer n")
            last = cat.corrections(1)[0]
        assert last["kind"] == ("reject" if kind == "is_this" else "dismiss")
        if kind == "is_this":
            assert last["face"] == int(face) and last["person"] == int(person)
    assert not world["problems"], world["problems"]
