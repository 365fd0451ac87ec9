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


# -- PostgreSQL: a real server for the session; catalog-level tests run on both backends ----
# The tests of these modules open their catalogs as ":memory:"; under the "postgresql"
# parameter each such catalog is a fresh schema of a real PostgreSQL server instead, so the
# very same checks run on both backends (tests that open a file stay on SQLite).
CATALOG_BACKEND_MODULES = {"test_pipeline", "test_people"}


@pytest.fixture(scope="session")
def postgres_server():
    """A private PostgreSQL server on 127.0.0.1 (Debian's package), stopped at the end."""
    from pg_server import PostgresServer, find_bindir

    if find_bindir() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but PostgreSQL is not installed (.ci/run installs it)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    pytest.importorskip("psycopg")
    server = PostgresServer().start()
    server.db_url = server.new_database()
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres_server):
    """URL of a fresh, empty PostgreSQL catalog (its own schema), dropped afterwards."""
    import uuid

    import psycopg

    schema = "s_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_server.db_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{postgres_server.db_url}?options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_server.db_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def pytest_generate_tests(metafunc):
    if metafunc.module.__name__ in CATALOG_BACKEND_MODULES:
        if "catalog_backend" not in metafunc.fixturenames:
            metafunc.fixturenames.append("catalog_backend")
        metafunc.parametrize("catalog_backend", ["sqlite", "postgresql"])


@pytest.fixture(autouse=True)
def _catalog_backend_switch(request, monkeypatch):
    """Under the ``postgresql`` parameter every ``Catalog(":memory:")`` is a server one.

    Autouse, so it is in place before the test's other fixtures open their catalogs.
    """
    callspec = getattr(request.node, "callspec", None)
    if callspec is None or callspec.params.get("catalog_backend") != "postgresql":
        yield
        return
    server = request.getfixturevalue("postgres_server")
    import uuid

    import psycopg

    from faceatlas.catalog._base import CatalogBase

    made: list[str] = []
    original = CatalogBase.__init__

    def init(self, path=":memory:", **kwargs):
        if str(path) == ":memory:":
            schema = "s_" + uuid.uuid4().hex[:12]
            with psycopg.connect(server.db_url, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            made.append(schema)
            path = f"{server.db_url}?options=-csearch_path%3D{schema}"
        original(self, path, **kwargs)

    monkeypatch.setattr(CatalogBase, "__init__", init)
    yield
    monkeypatch.undo()
    with psycopg.connect(server.db_url, autocommit=True) as conn:
        for schema in made:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
