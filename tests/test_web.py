"""The web gallery over HTTP (Starlette's TestClient): JSON twins, corrections, safety."""

from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

import warnings

from PIL import Image

with warnings.catch_warnings():
    # Starlette >= 1.0 warns that its TestClient will move from httpx to httpx2.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from faceatlas import Catalog, ScanConfig, scan
from faceatlas.people import cluster_people, list_people, person_detail
from faceatlas.web import create_app

TOKEN = "test-token"
BASE = "http://127.0.0.1:8765"
SUBJECTS = ("s1", "s2", "s3")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, samples: Path) -> Path:
    """Real ORL photos of 3 people (4 each) copied, scanned and clustered; the master copy."""
    root = tmp_path_factory.mktemp("web_photos")
    photos = root / "photos"
    for s in SUBJECTS:
        (photos / s).mkdir(parents=True)
        for i in range(1, 5):
            shutil.copy(samples / "orl" / s / f"{i}.pgm", photos / s / f"{i}.pgm")
    db = root / "cat.db"
    with Catalog(db) as cat:
        scan([photos], cat, ScanConfig(jobs=1))
        cluster_people(cat, min_faces=2)
    return root


def fresh_copy(built: Path, tmp_path: Path) -> Path:
    """A copy of ``built``'s catalog and photos in ``tmp_path``, the catalog moved with them."""
    shutil.copytree(built / "photos", tmp_path / "photos")
    with Catalog(built / "cat.db") as src, Catalog(tmp_path / "cat.db") as dst:
        src.db.backup(dst.db)
    with Catalog(tmp_path / "cat.db") as cat:
        for p in cat.photos():
            new = str(tmp_path / "photos" / Path(p["path"]).relative_to(built / "photos"))
            cat.move_file(p["path"], new, None)
    return tmp_path / "cat.db"


@pytest.fixture
def db(built: Path, tmp_path: Path) -> Path:
    """A fresh copy of the catalog and its photos for each test (corrections change it)."""
    return fresh_copy(built, tmp_path)


@pytest.fixture
def client(db: Path) -> TestClient:
    return TestClient(create_app(db, csrf_token=TOKEN), base_url=BASE)


def _post(client: TestClient, action: str, **body: object):
    return client.post(f"/api/{action}", json=body, headers={"X-CSRF-Token": TOKEN})


def _people(db: Path) -> list[dict]:
    with Catalog(db) as cat:
        return list_people(cat)["people"]


# -- pages and their JSON twins --------------------------------------------------------------
def test_people_json_is_paginated_and_matches_the_library(client: TestClient, db: Path) -> None:
    people = _people(db)
    r = client.get("/people.json")
    assert r.status_code == 200
    data = r.json()
    assert data["total"] == len(people) >= 2
    assert [p["id"] for p in data["people"]] == [p["id"] for p in people]
    assert data["n_faces"] == 12
    page = client.get("/people.json?offset=1&limit=1").json()
    assert [p["id"] for p in page["people"]] == [people[1]["id"]]
    assert page["next"] == (2 if len(people) > 2 else None)
    assert client.get("/people.json?limit=0").status_code == 400
    assert client.get("/people.json?limit=x").status_code == 400


def test_every_page_has_a_json_twin(client: TestClient, db: Path) -> None:
    pid = _people(db)[0]["id"]
    with Catalog(db) as cat:
        detail = person_detail(cat, pid)
    twin = client.get(f"/person/{pid}.json").json()
    # the same faces, least like the person's centre first (issue 13)
    assert sorted(f["face_id"] for f in twin["faces"]) == [f["face_id"] for f in detail["faces"]]
    sims = [f["similarity"] for f in twin["faces"]]
    assert sims == sorted(sims)
    assert twin["faces"][0]["chip_url"] == f"/face/{twin['faces'][0]['face_id']}.jpg"
    for path in ("/people", f"/person/{pid}", "/unsorted", "/review", "/search"):
        html = client.get(path)
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert f'<meta name="csrf-token" content="{TOKEN}">' in html.text
        # nothing is loaded from another site
        assert not re.search(r"""(src|href|action)=["']?(https?:)?//""", html.text), path
    for path in ("/unsorted.json", "/review.json", "/corrections.json"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert set(client.get("/unsorted.json").json()) >= {"groups", "faces", "n_unassigned"}
    assert "suggestions" in client.get("/review.json").json()
    assert client.get("/person/999999.json").status_code == 404


def test_security_headers_and_local_hosts_only(client: TestClient, db: Path) -> None:
    r = client.get("/people")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    evil = TestClient(create_app(db, csrf_token=TOKEN), base_url="http://evil.example")
    assert evil.get("/people.json").status_code == 400  # DNS rebinding: wrong Host


def test_pictures(client: TestClient, db: Path) -> None:
    with Catalog(db) as cat:
        face = cat.faces()[0]
    for url in (
        f"/face/{face['id']}.jpg",
        f"/face/{face['id']}/photo.jpg",
        f"/photo/{face['photo_id']}.jpg?size=64",
    ):
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg", url
        Image.open(io.BytesIO(r.content)).verify()
    assert (
        max(
            Image.open(
                io.BytesIO(client.get(f"/photo/{face['photo_id']}.jpg?size=64").content)
            ).size
        )
        <= 64
    )
    assert client.get("/face/999999.jpg").status_code == 404


# -- corrections: POST + CSRF, same functions and constraints as the CLI -------------------
def test_corrections_refused_without_csrf_token(client: TestClient, db: Path) -> None:
    pid = _people(db)[0]["id"]
    assert client.post("/api/name", json={"person": pid, "name": "X"}).status_code == 403
    assert (
        client.post(
            "/api/name", json={"person": pid, "name": "X"}, headers={"X-CSRF-Token": "wrong"}
        ).status_code
        == 403
    )
    assert client.post("/api/name", data={"person": pid, "name": "X"}).status_code == 403
    assert (
        client.post(
            "/api/name",
            json={"person": pid, "name": "X"},
            headers={"X-CSRF-Token": TOKEN, "Origin": "http://evil.example"},
        ).status_code
        == 403
    )
    assert client.get("/api/name").status_code == 405  # state changes are POST only
    assert _people(db)[0]["name"] is None


def test_rename_merge_move_reject_hide_undo(client: TestClient, db: Path) -> None:
    a, b = (p["id"] for p in _people(db)[:2])
    assert _post(client, "name", person=a, name="  Alice  ").json()["result"]["name"] == "Alice"
    # the same function as `faceatlas name`: whitespace tidied, stored on the person
    with Catalog(db) as cat:
        assert cat.person(a)["name"] == "Alice"
        faces_b = cat.faces_of_person(b)
    r = _post(client, "merge", person=a, other=b)
    assert r.status_code == 200
    with Catalog(db) as cat:
        assert set(faces_b) <= set(cat.faces_of_person(a))
        assert cat.assignments(faces_b)[faces_b[0]]["confirmed"]  # a pin, as the CLI makes
    face = faces_b[0]
    moved = _post(client, "move", face=face, person=None).json()["result"]
    with Catalog(db) as cat:
        assert cat.assignments([face])[face]["person_id"] == moved["person"] != a
    _post(client, "undo")
    rej = _post(client, "reject", face=face, person=a).json()["result"]
    assert rej["was_assigned"]
    with Catalog(db) as cat:
        assert face not in cat.faces_of_person(a)
        assert any(
            c["face_a"] == face and c["person_id"] == a for c in cat.constraints("not_person")
        )
    _post(client, "hide", person=a, hidden="1")
    assert a not in [p["id"] for p in client.get("/people.json").json()["people"]]
    undone = _post(client, "undo").json()["result"]["undone"]
    assert undone["kind"] == "hide"
    assert a in [p["id"] for p in client.get("/people.json").json()["people"]]


def test_corrections_survive_reclustering(client: TestClient, db: Path) -> None:
    a, b = (p["id"] for p in _people(db)[:2])
    _post(client, "merge", person=a, other=b)
    with Catalog(db) as cat:
        before = set(cat.faces_of_person(a))
        cluster_people(cat, all=True, min_faces=2)
        assert set(cat.faces_of_person(a)) == before


def test_split_confirm_dismiss_and_form_posts(client: TestClient, db: Path) -> None:
    a = _people(db)[0]["id"]
    split = _post(client, "split", person=a, parts=2).json()["result"]
    new = split["new_people"][0]
    # a plain HTML form post (no JS) with the token field, redirected back to a local page
    r = client.post(
        "/api/dismiss",
        data={"person_a": a, "person_b": new, "csrf_token": TOKEN, "next": f"/person/{a}"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/person/{a}"
    with Catalog(db) as cat:
        assert (min(a, new), max(a, new)) in cat.dismissed_pairs()
    r = client.post(
        "/api/confirm",
        data={"person_a": a, "person_b": new, "csrf_token": TOKEN, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert r.status_code == 200  # an off-site "next" is ignored
    with Catalog(db) as cat:
        assert cat.faces_of_person(new) == []
    assert _post(client, "merge", person=a, other=a).status_code == 400
    # a person field is an id or a name (issue 12): "x" names nobody
    assert _post(client, "merge", person=a, other="x").status_code == 404
    assert _post(client, "frobnicate").status_code == 404


# -- files: only catalogued photos, never a path from the request ---------------------------
def test_path_traversal_is_refused(client: TestClient) -> None:
    for url in (
        "/photo/../../etc/passwd",
        "/photo/..%2f..%2fetc%2fpasswd.jpg",
        "/photo/%2e%2e/%2e%2e/etc/passwd",
        "/static/../_app.py",
        "/static/%2e%2e/_app.py",
        "/photo/1.jpg/../../../etc/passwd",
        "/face/-1.jpg",
        "/photo/abc.jpg",
    ):
        r = client.get(url)
        assert r.status_code in (400, 404), url
        assert b"root:" not in r.content and b"def create_app" not in r.content


def test_symlink_escape_is_refused(client: TestClient, db: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("root:x:0:0:secret\n")
    other_image = outside / "elsewhere.pgm"
    with Catalog(db) as cat:
        photos = cat.photos()
    shutil.copy(photos[0]["path"], other_image)
    # a catalogued photo replaced by a symlink to a file outside its folder
    for i, target in enumerate((secret, other_image)):
        victim = Path(photos[i]["path"])
        victim.unlink()
        victim.symlink_to(target)
        r = client.get(f"/photo/{photos[i]['id']}.jpg")
        assert r.status_code == 404, target
        assert b"secret" not in r.content
    # a symlink to another photo of the same folder stays inside it: served
    inside = Path(photos[2]["path"])
    sibling = inside.parent / "sibling.pgm"
    shutil.copy(inside, sibling)
    inside.unlink()
    inside.symlink_to(sibling.name)
    assert client.get(f"/photo/{photos[2]['id']}.jpg").status_code == 200
    # a missing photo is a 404, not a crash
    os.unlink(photos[3]["path"])
    assert client.get(f"/photo/{photos[3]['id']}.jpg").status_code == 404


# -- uploads --------------------------------------------------------------------------------
def _jpeg(path: Path) -> bytes:
    buf = io.BytesIO()
    Image.open(path).convert("RGB").save(buf, "JPEG")
    return buf.getvalue()


def test_upload_limits_and_type_checks(db: Path, samples: Path) -> None:
    small = TestClient(create_app(db, csrf_token=TOKEN, max_upload_bytes=4096), base_url=BASE)
    big = b"\xff\xd8\xff" + os.urandom(20_000)
    r = small.post(
        "/search.json", files={"photo": ("big.jpg", big, "image/jpeg")}, data={"csrf_token": TOKEN}
    )
    assert r.status_code == 413
    assert "upload limit of 4,096 bytes" in r.json()["error"]

    def chunked():  # no Content-Length: the limit must hold while the body arrives
        yield (
            b'--B\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            + TOKEN.encode()
            + b"\r\n--B\r\nContent-Disposition: form-data; "
            b'name="photo"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        )
        for _ in range(200):
            yield b"\xff" * 1000
        yield b"\r\n--B--\r\n"

    r = small.post(
        "/search.json",
        content=chunked(),
        headers={"Content-Type": "multipart/form-data; boundary=B"},
    )
    assert r.status_code == 413
    r = small.post(
        "/search.json",
        files={"photo": ("x.jpg", b"not an image at all", "image/jpeg")},
        data={"csrf_token": TOKEN},
    )
    assert r.status_code == 400 and "not an image" in r.json()["error"]
    r = small.post("/search.json", files={"photo": ("x.jpg", b"GIF89a", "image/gif")})
    assert r.status_code == 403  # no token
    assert small.post("/search.json", data={"csrf_token": TOKEN}).status_code == 400


def test_search_by_photo_names_the_person(client: TestClient, db: Path, samples: Path) -> None:
    with Catalog(db) as cat:
        faces = {f["id"]: Path(f["path"]).parent.name for f in cat.faces()}
        owner = cat.face_people()
    s1_person = next(owner[f][0] for f, s in faces.items() if s == "s1" and f in owner)
    _post(client, "name", person=s1_person, name="Subject One")
    # a photo of s1 that is not in the catalog
    held_out = _jpeg(samples / "orl" / "s1" / "7.pgm")
    r = client.post(
        "/search.json",
        files={"photo": ("who.jpg", held_out, "image/jpeg")},
        data={"csrf_token": TOKEN},
    )
    assert r.status_code == 200, r.text
    data = r.json()
    assert len(data["faces"]) == 1
    face = data["faces"][0]
    assert face["outcome"] == "known_person" and face["name"] == "Subject One"
    assert face["similar"] and face["similar"][0]["chip_url"].startswith("/face/")
    html = client.post(
        "/search", files={"photo": ("who.jpg", held_out, "image/jpeg")}, data={"csrf_token": TOKEN}
    )
    assert "Subject One" in html.text


# -- the CLI verb ---------------------------------------------------------------------------
def test_cli_serve_binds_localhost_by_default(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    import uvicorn
    from click.testing import CliRunner

    import faceatlas.cli._apps as apps
    from faceatlas.cli import main

    bound: list[tuple[str, int, socket.socket]] = []

    def fake_listen(host: str, port: int) -> socket.socket:
        # a real socket, on a free port: the default port may be taken on this machine
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        bound.append((host, port, sock))
        return sock

    served: list[tuple[str, list[socket.socket]]] = []

    def fake_run(self: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
        served.append((self.config.host, list(sockets or [])))
        self.started = True

    monkeypatch.setattr(apps, "listen", fake_listen)
    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    res = CliRunner().invoke(main, ["--db", str(db), "serve"])
    assert res.exit_code == 0, res.output
    assert bound[0][:2] == ("127.0.0.1", 8765)
    # the server runs on the very socket the CLI bound before announcing the URL
    assert served[0] == ("127.0.0.1", [bound[0][2]])
    assert bound[0][2].fileno() == -1  # closed once the server returns
    res = CliRunner().invoke(
        main, ["--db", str(db), "serve", "--host", "0.0.0.0", "--port", "9001"]
    )
    assert res.exit_code == 0 and "warning" in res.output
    assert bound[1][:2] == ("0.0.0.0", 9001) and served[1] == ("0.0.0.0", [bound[1][2]])
    missing = CliRunner().invoke(main, ["--db", str(db.parent / "nope.db"), "serve"])
    assert missing.exit_code == 1 and "no catalog at" in missing.output
    assert len(bound) == 2  # a missing catalog fails before any port is bound


def test_serve_answers_on_a_socket_bound_beforehand(db: Path, monkeypatch) -> None:
    import socket
    import threading

    import uvicorn

    from faceatlas.exceptions import InputError
    from faceatlas.web import listen, serve

    servers: list[uvicorn.Server] = []
    real_run = uvicorn.Server.run

    def keep(self: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
        servers.append(self)
        real_run(self, sockets=sockets)

    monkeypatch.setattr(uvicorn.Server, "run", keep)
    with listen("127.0.0.1", 0) as sock:
        port = sock.getsockname()[1]
        with pytest.raises(InputError, match=f"cannot listen on 127.0.0.1:{port}"):
            listen("127.0.0.1", port)
        # a client connects before the server runs: it waits in the socket's queue
        client = socket.create_connection(("127.0.0.1", port), timeout=30)
        client.sendall(b"GET /people HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        thread = threading.Thread(target=serve, args=(db,), kwargs={"sock": sock}, daemon=True)
        thread.start()
        try:
            reply = b""
            while chunk := client.recv(65536):
                reply += chunk
        finally:
            client.close()
            for server in servers:
                server.should_exit = True
            thread.join(timeout=30)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert not thread.is_alive()


def test_web_reads_the_catalog_only_through_library_functions() -> None:
    import ast

    import faceatlas.web

    imports: set[str] = set()
    for py in Path(faceatlas.web.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imports.add(node.module)
            elif isinstance(node, ast.Import):
                imports.update(a.name for a in node.names)
    assert "sqlite3" not in imports
    foreign_private = {
        m
        for m in imports
        if m.startswith("faceatlas.")
        and not m.startswith("faceatlas.web")
        and any(part.startswith("_") for part in m.split("."))
    }
    assert not foreign_private  # the gallery once reached into faceatlas.report._images
    assert {"faceatlas.views", "faceatlas.thumbnails", "faceatlas.policy"} <= imports


def test_handlers_are_module_level_functions(db: Path) -> None:
    # one small handler per page, sharing what the app was built with via app.state
    import inspect

    app = create_app(db, csrf_token=TOKEN, embedder="sface")
    assert app.state.embedder == "sface" and app.state.csrf_token == TOKEN
    for route in app.app.routes:
        endpoint = getattr(route, "endpoint", None)
        if inspect.isfunction(endpoint):
            assert "<locals>" not in endpoint.__qualname__, route.path
