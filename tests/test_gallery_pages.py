"""The gallery's fixing pages over HTTP: photo page, name picker, person page, unsorted, review.

A catalog scanned from real photos (face_recognition's knn examples: Obama, Biden, Kit
Harington, Rose Leslie, Alex Lacamoire, two photos with two people each), clustered, copied
per test; every page is checked against the catalog, and every action's effect is read back
from the catalog.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from faceatlas import Catalog, ScanConfig, scan
from faceatlas.people import cluster_people, list_people, name_person
from faceatlas.web import create_app
from tests.test_web import fresh_copy

TOKEN = "test-token"
BASE = "http://127.0.0.1:8765"
KNN = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "face_recognition_examples"
KNN = KNN / "images" / "examples" / "knn_examples"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not KNN.is_dir():
        pytest.skip(f"{KNN} is missing")
    root = tmp_path_factory.mktemp("gallery_pages")
    shutil.copytree(KNN, root / "photos")
    with Catalog(root / "cat.db") as cat:
        scan([root / "photos"], cat, ScanConfig(jobs=1))
        cluster_people(cat, min_faces=2)
    return root


@pytest.fixture
def db(built: Path, tmp_path: Path) -> Path:
    return fresh_copy(built, tmp_path)


@pytest.fixture
def client(db: Path) -> TestClient:
    return TestClient(create_app(db, csrf_token=TOKEN), base_url=BASE)


def _post(client: TestClient, action: str, **body: object):
    return client.post(f"/api/{action}", json=body, headers={"X-CSRF-Token": TOKEN})


def _group_photo(db: Path) -> tuple[int, list[int]]:
    """The obama_and_biden photo and its face ids."""
    with Catalog(db) as cat:
        rows = [f for f in cat.faces() if Path(f["path"]).name == "obama_and_biden.jpg"]
    assert len(rows) >= 2, "the detector should find Obama and Biden (and who is behind)"
    return rows[0]["photo_id"], [f["id"] for f in rows]


def test_photo_page_boxes_and_names_every_face(client: TestClient, db: Path) -> None:
    photo, faces = _group_photo(db)
    with Catalog(db) as cat:
        owner = cat.face_people()
    named = next(f for f in faces if f in owner)
    person = owner[named][0]
    assert _post(client, "name", person=person, name="Barack Obama").status_code == 200
    twin = client.get(f"/photo/{photo}.json").json()
    assert [f["face_id"] for f in twin["faces"]] == faces
    by_face = {f["face_id"]: f for f in twin["faces"]}
    assert by_face[named]["label"] == "Barack Obama" and by_face[named]["person_id"] == person
    assert twin["width"] > 0 and twin["height"] > 0
    for f in twin["faces"]:
        x1, y1, x2, y2 = f["box"]
        assert 0 <= x1 < x2 <= twin["width"] and 0 <= y1 < y2 <= twin["height"]
    html = client.get(f"/photo/{photo}").text
    assert html.count('class="facebox') == len(faces) and "Barack Obama" in html
    assert f'href="/photo/{photo}.jpg?size=1600"' in html
    # every face leads to its photo page
    r = client.get(f"/face/{named}", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == f"/photo/{photo}#face-{named}"
    assert client.get("/photo/999999.json").status_code == 404


def test_photo_page_actions_change_the_catalog(client: TestClient, db: Path) -> None:
    photo, faces = _group_photo(db)
    a, b = faces[:2]
    with Catalog(db) as cat:
        owner = cat.face_people()
        person_a = owner[a][0] if a in owner else None
    # reassign face b to a new person by name: a move, then the name
    moved = _post(client, "move", face=b, person=None).json()["result"]
    _post(client, "name", person=moved["person"], name="Joe Biden")
    with Catalog(db) as cat:
        assert cat.face_people()[b] == (moved["person"], "Joe Biden")
        assert cat.assignments([b])[b]["confirmed"]
    # remove face a from its person: never that person again
    if person_a is not None:
        assert _post(client, "reject", face=a, person=person_a).status_code == 200
        with Catalog(db) as cat:
            assert a not in cat.face_people()
            assert (a, person_a) in {
                (c["face_a"], c["person_id"]) for c in cat.constraints("not_person")
            }
    # ignore face a: a hidden person of its own, gone from unsorted and the people list
    r = _post(client, "ignore", faces=[a])
    assert r.status_code == 200, r.text
    hidden = r.json()["result"]["hidden_people"][0]
    with Catalog(db) as cat:
        assert cat.face_people()[a][0] == hidden and cat.person(hidden)["hidden"]
    assert a not in [f["face_id"] for f in client.get("/unsorted.json?limit=500").json()["faces"]]
    assert hidden not in [p["id"] for p in client.get("/people.json?limit=500").json()["people"]]
    twin = client.get(f"/photo/{photo}.json").json()
    assert {f["face_id"]: f["hidden"] for f in twin["faces"]}[a] is True
    assert _post(client, "ignore", faces=[]).status_code == 400


def test_names_json_feeds_the_picker(client: TestClient, db: Path) -> None:
    with Catalog(db) as cat:
        people = list_people(cat)["people"]
    pid = people[0]["id"]
    _post(client, "name", person=pid, name="Rose Leslie")
    names = client.get("/names.json").json()["people"]
    assert names[0] == {
        "id": pid,
        "name": "Rose Leslie",
        "label": "Rose Leslie",
        "n_faces": people[0]["n_faces"],
    }
    _post(client, "hide", person=pid, hidden=True)
    assert pid not in [p["id"] for p in client.get("/names.json").json()["people"]]
    # every page that chooses a person carries the picker
    assert 'list="people-names"' in client.get(f"/person/{people[-1]['id']}").text
    assert 'list="people-names"' in client.get("/unsorted").text
    assert '<datalist id="people-names">' in client.get("/review").text


def test_person_page_least_certain_first_with_dates_pages_and_cover(
    client: TestClient, db: Path
) -> None:
    with Catalog(db) as cat:
        people = list_people(cat)["people"]
        big = max(people, key=lambda p: p["n_faces"])
        faces = set(cat.faces_of_person(big["id"]))
    assert len(faces) >= 3
    d = client.get(f"/person/{big['id']}.json").json()
    assert {f["face_id"] for f in d["faces"]} == faces and d["total"] == len(faces)
    sims = [f["similarity"] for f in d["faces"]]
    assert sims == sorted(sims) and sims[0] < sims[-1] <= 1.0
    assert all(f["taken"] and f["taken"][:2] in ("19", "20") for f in d["faces"])
    assert d["dates"] in ("capture time", "file time")
    n_photos = len({f["photo_id"] for f in d["faces"]})
    assert sum(y["n_photos"] for y in d["years"]) == n_photos
    months = []
    for y in d["years"]:
        shown = client.get(f"/person/{big['id']}.json?year={y['year']}").json()
        assert shown["year"] == y["year"]
        assert sum(m["n_photos"] for m in shown["timeline"]) == y["n_photos"]
        assert all(m["month"].startswith(y["year"]) for m in shown["timeline"])
        months += [m["month"] for m in shown["timeline"]]
    assert months == sorted(months) and d["year"] == d["years"][-1]["year"]
    assert client.get(f"/person/{big['id']}.json?year=1066").status_code == 400
    page = client.get(f"/person/{big['id']}.json?limit=2&offset=1").json()
    assert [f["face_id"] for f in page["faces"]] == [f["face_id"] for f in d["faces"][1:3]]
    assert page["next"] == (3 if len(faces) > 3 else None)
    html = client.get(f"/person/{big['id']}?limit=1").text
    assert 'id="next"' in html and 'class="timeline"' in html
    # the cover: one of the person's faces, shown on its card
    cover = d["faces"][-1]["face_id"]
    assert _post(client, "cover", person=big["id"], face=cover).status_code == 200
    assert client.get(f"/person/{big['id']}.json").json()["cover_face"] == cover
    card = next(p for p in client.get("/people.json").json()["people"] if p["id"] == big["id"])
    assert card["chip_url"] == f"/face/{cover}.jpg"
    with Catalog(db) as cat:
        other = next(f["id"] for f in cat.faces() if f["id"] not in faces)
    r = _post(client, "cover", person=big["id"], face=other)
    assert r.status_code == 400 and "not a face of person" in r.json()["error"]


def test_unsorted_by_quality_and_ignore_these(client: TestClient, db: Path) -> None:
    d = client.get("/unsorted.json?limit=500").json()
    assert d["counts"]["all"] == d["counts"]["good"] + d["counts"]["poor"] == d["n_unassigned"]
    qualities = [f["quality"] for f in d["faces"]]
    assert qualities == sorted(qualities, reverse=True)
    with Catalog(db) as cat:
        owner = cat.face_people()
        assert {f["face_id"] for f in d["faces"]} == {f["id"] for f in cat.faces()} - set(owner)
    for q in ("good", "poor"):
        part = client.get(f"/unsorted.json?quality={q}&limit=500").json()
        assert len(part["faces"]) == d["counts"][q]
        assert all(f["poor"] == (q == "poor") for f in part["faces"])
        assert all(bool(f["reason"]) == (q == "poor") for f in part["faces"])
    assert client.get("/unsorted.json?quality=bad").status_code == 400
    if not d["faces"]:
        pytest.skip("every face has a person in this catalog")
    chosen = [f["face_id"] for f in d["faces"][:2]]
    r = client.post(
        "/api/ignore",
        data={"faces": ",".join(map(str, chosen)), "csrf_token": TOKEN, "next": "/unsorted"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/unsorted"
    after = client.get("/unsorted.json?limit=500").json()
    assert after["counts"]["all"] == d["counts"]["all"] - len(chosen)
    assert not set(chosen) & {f["face_id"] for f in after["faces"]}
    with Catalog(db) as cat:
        kinds = [c["kind"] for c in cat.corrections(10)]
    assert kinds.count("hide") == len(chosen)


def test_review_queue_questions_and_answers(client: TestClient, db: Path) -> None:
    with Catalog(db) as cat:
        people = list_people(cat)["people"]
    big = max(people, key=lambda p: p["n_faces"])["id"]
    # split a person: "same person?" must come back, and answering yes merges them again
    split = _post(client, "split", person=big).json()["result"]
    assert split["new_people"]
    d = client.get("/review.json").json()
    for q in d["questions"]:
        assert q["kind"] in ("is_this", "same_person")
        assert {"face_id", "person_id", "person_name", "similarity", "why"} <= set(q)
    same = [
        q
        for q in d["questions"]
        if q["kind"] == "same_person" and {q["person_id"], q["other_person_id"]} & {big}
    ]
    assert same, d["questions"]
    q = same[0]
    body = {k: q[k] for k in ("kind", "face_id", "person_id", "other_person_id")}
    skipped = _post(client, "review", **body, answer="skip").json()["result"]
    assert skipped["stored"] is False and skipped["correction"] is None
    assert _post(client, "review", **body, answer="yes").status_code == 200
    with Catalog(db) as cat:
        assert cat.corrections(1)[0]["kind"] == "confirm"
        assert not cat.faces_of_person(q["person_id"]) or not cat.faces_of_person(
            q["other_person_id"]
        )
    again = client.get("/review.json").json()["questions"]
    assert not [
        x
        for x in again
        if x["kind"] == "same_person"
        and {x["person_id"], x["other_person_id"]} == {q["person_id"], q["other_person_id"]}
    ]
    # an "is this X?" answered no is a rejection, and the question does not come back
    face = next(iter(set(_faces_of(db, big))))
    no = {"kind": "is_this", "face_id": face, "person_id": big, "answer": "no"}
    assert _post(client, "review", **no).status_code == 200
    with Catalog(db) as cat:
        assert face not in cat.faces_of_person(big)
        assert cat.corrections(1)[0]["kind"] == "reject"
    assert _post(client, "review", **{**no, "answer": "maybe"}).status_code == 400
    assert _post(client, "review", kind="is_this", person_id=big, answer="yes").status_code == 400
    html = client.get("/review").text
    assert "<kbd>s</kbd> skip" in html


def _faces_of(db: Path, person: int) -> list[int]:
    with Catalog(db) as cat:
        return cat.faces_of_person(person)


def test_cache_follows_every_write(client: TestClient, db: Path) -> None:
    with Catalog(db) as cat:
        before = cat.write_counter()
        pid = list_people(cat)["people"][0]["id"]
    client.get("/people.json")  # cached now
    with Catalog(db) as cat:  # another writer than the app: the CLI, say
        from faceatlas.people import name_person

        name_person(cat, pid, "Kit Harington")
        assert cat.write_counter() > before
    people = client.get("/people.json").json()["people"]
    assert next(p for p in people if p["id"] == pid)["label"] == "Kit Harington"


def test_search_shows_the_uploaded_photo_with_its_boxes(client: TestClient, db: Path) -> None:
    group = KNN / "test" / "kit_with_rose.jpg"
    data = group.read_bytes()
    twin = client.post(
        "/search.json",
        files={"photo": ("group.jpg", data, "image/jpeg")},
        data={"csrf_token": TOKEN},
    ).json()
    assert len(twin["faces"]) >= 2
    html = client.post(
        "/search", files={"photo": ("group.jpg", data, "image/jpeg")}, data={"csrf_token": TOKEN}
    ).text
    assert 'id="upload-svg"' in html and 'href="data:image/jpeg;base64,' in html
    assert html.count("<rect ") == len(twin["faces"])
    for f in twin["faces"]:
        assert f'x="{f["box"][0]}"' in html


def test_scan_verdicts_and_capture_times_are_used(client: TestClient, db: Path) -> None:
    # the scan's verdicts (faces.usable/reason) and capture times (photos.taken_at/guess)
    with Catalog(db) as cat:
        loose = [f for f in cat.faces() if f["id"] not in cat.face_people()]
        people = list_people(cat)["people"]
        pid = people[0]["id"]
        held = cat.faces_of_person(pid)
        photo = cat.faces(held[:1])[0]["photo_id"]
        with cat.transaction() as tx:
            tx.execute("UPDATE faces SET usable = 1, reason = NULL")
            if loose:
                tx.execute(
                    "UPDATE faces SET usable = 0, reason = 'face 12 px, under 20' WHERE id = ?",
                    (loose[-1]["id"],),
                )
            tx.execute(
                "UPDATE photos SET taken_at = '2011-07-04T10:00:00+02:00', taken_guess = 0 "
                "WHERE id = ?",
                (photo,),
            )
    d = client.get(f"/person/{pid}.json").json()
    assert d["dates"] == "capture time"
    by_photo = {f["photo_id"]: f for f in d["faces"]}
    assert by_photo[photo]["taken"] == "2011-07-04T10:00:00+02:00"
    assert "2011" in [y["year"] for y in d["years"]]
    if not loose:
        return
    poor = client.get("/unsorted.json?quality=poor").json()
    assert poor["poor_by"] == "the scan's verdict"
    assert [(f["face_id"], f["reason"]) for f in poor["faces"]] == [
        (loose[-1]["id"], "face 12 px, under 20")
    ]
    assert "face 12 px, under 20" in client.get("/unsorted?quality=poor").text


def test_person_page_by_name(client: TestClient, db: Path) -> None:
    with Catalog(db) as cat:
        pid = list_people(cat)["people"][0]["id"]
        name_person(cat, pid, "Kit Harington")
    r = client.get("/person/kit_harington.json", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == f"/person/{pid}.json"
    assert client.get("/person/Kit%20Harington.json").json()["id"] == pid
    assert client.get("/person/nobody-by-this-name").status_code == 404
