"""Shared fixtures: a fresh data directory and catalog per test, on SQLite and PostgreSQL.

Every test that uses `services` (and therefore `app`, `client`, `world` …) runs twice, once
per catalog backend. PostgreSQL is expected on 127.0.0.1:5432 (REPO_TEST_POSTGRES_URL to
point elsewhere); when it is unreachable those tests FAIL with a message saying so, they are
never skipped. Set REPO_TEST_DATABASES=sqlite to run one backend on purpose (the run header
then says so).

Speed: the SQLite catalog is migrated and seeded once per session and copied per test; the
PostgreSQL one is migrated once per xdist worker and truncated + reseeded per test.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from moto.server import ThreadedMotoServer
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from repo_server.blobstore import StagedFile
from repo_server.catalog.migrate import upgrade
from repo_server.catalog.models import Base, User
from repo_server.catalog.vocab import seed_vocabularies
from repo_server.config import Settings
from repo_server.services import Actor, Services
from repo_server.services import accounts, api_tokens
from repo_server.services.maintenance import initialise
from tests.support import S3Server, free_port, start_server, stop_server

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
PG_URL = os.environ.get("REPO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASES = [d.strip() for d in os.environ.get("REPO_TEST_DATABASES", "sqlite,postgresql").split(",")]
SEED = Path(__file__).resolve().parents[1] / "repo_server" / "catalog" / "seed" / "vocab.json"


def pytest_report_header(config) -> list[str]:
    lines = [f"catalog backends: {', '.join(DATABASES)} (PostgreSQL at {make_url(PG_URL).host}:"
             f"{make_url(PG_URL).port})"]
    lines.append(f"shared corpus: {CORPUS if CORPUS.is_dir() else 'MISSING (tests that need it fail)'}")
    if "postgresql" not in DATABASES:
        lines.append("WARNING: PostgreSQL tests are switched off by REPO_TEST_DATABASES")
    return lines


# -- catalog backends --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "catalog.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    settings = Settings(data_dir=path.parent)
    services = Services.open(settings)
    with services.catalog.write() as session:
        seed_vocabularies(session, SEED)
    services.close()
    return path


@pytest.fixture(scope="session")
def postgres_database(worker_id: str) -> Iterator[str]:
    """A migrated database of this test worker's own, dropped at the end."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"repo_test_{worker_id}_{os.getpid()}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - turned into a loud failure below
        pytest.fail(f"PostgreSQL is needed for the catalog tests and is not reachable at {PG_URL} "
                    f"({type(exc).__name__}: {exc}). Start it (see README) or set "
                    "REPO_TEST_POSTGRES_URL.", pytrace=False)
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    upgrade(engine)
    with engine.begin() as conn:  # snapshot of the seeded vocabularies, restored per test
        with Session(bind=conn) as session:
            seed_vocabularies(session, SEED)
            session.flush()
        conn.execute(text("CREATE SCHEMA seed_snapshot"))  # outside the schema under test
        for table in _VOCAB_TABLES:
            conn.execute(text(f"CREATE TABLE seed_snapshot.{table} AS SELECT * FROM {table}"))
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_VOCAB_TABLES = ("vocab_terms", "vocab_aliases")


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text("INSERT INTO change_counter (id, value) VALUES (1, 0)"))
        for table in _VOCAB_TABLES:
            conn.execute(text(f"INSERT INTO {table} SELECT * FROM seed_snapshot.{table}"))
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))
    engine.dispose()


@pytest.fixture(params=DATABASES)
def settings(request, tmp_path: Path) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if request.param == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), data_dir / "catalog.sqlite3")
        return Settings(data_dir=data_dir, secret_key="test-secret")
    url = request.getfixturevalue("postgres_database")
    _reset_postgres(url)
    return Settings(data_dir=data_dir, database_url=url, secret_key="test-secret")


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    svc = Services.open(settings)
    initialise(svc)  # migrations are current already; this seeds PostgreSQL and makes dirs
    yield svc
    svc.close()


# -- people ---------------------------------------------------------------------------------
@dataclass
class World:
    """A small district: 市 → 县 → two schools, with one user of each role that matters."""

    admin: Actor
    county_editor: Actor
    school_editor: Actor
    teacher: Actor          # teacher at 一小
    other_teacher: Actor    # teacher at 二小
    county_teacher: Actor   # 教研员 at the county office
    tokens: dict[str, str]
    passwords: dict[str, str]


_PEOPLE = {
    "admin": ("admin", None), "county_editor": ("editor", "示例县"),
    "school_editor": ("editor", "一小"), "teacher": ("teacher", "一小"),
    "other_teacher": ("teacher", "二小"), "county_teacher": ("teacher", "示例县"),
}


@pytest.fixture(scope="session")
def password_hashes() -> dict[str, tuple[str, str]]:
    """username → (password, its real scrypt hash), computed once: scrypt is slow on purpose."""
    return {name: (f"pw-{name}-123", generate_password_hash(f"pw-{name}-123")) for name in _PEOPLE}


@pytest.fixture
def world(services: Services, password_hashes) -> World:
    accounts.add_org(services, "示例市", "city")
    accounts.add_org(services, "示例县", "county", "示例市")
    accounts.add_org(services, "一小", "school", "示例市/示例县")
    accounts.add_org(services, "二小", "school", "示例县")
    actors, tokens, passwords = {}, {}, {}
    for username, (role, org) in _PEOPLE.items():
        actors[username] = accounts.add_user(services, username, role, org=org)
        tokens[username] = api_tokens.create_token(services, username, "tests")
    with services.catalog.write() as session:
        for user in session.scalars(select(User)):
            passwords[user.username], user.password_hash = password_hashes[user.username]
    return World(**actors, tokens=tokens, passwords=passwords)


# -- files ----------------------------------------------------------------------------------
@pytest.fixture
def stage(services: Services) -> Callable[[bytes], StagedFile]:
    """Stage bytes as an upload would (hashed, on the staging disk)."""
    def _stage(data: bytes) -> StagedFile:
        staged = services.staging.new()
        staged.write(data)
        staged.seek(0)
        return staged
    return _stage


@pytest.fixture(scope="session")
def corpus() -> Callable[[str], Path]:
    """Path of a file in ../shared/corpus (read-only; copy before changing)."""
    def _path(name: str) -> Path:
        path = CORPUS / name
        if not path.is_file():
            pytest.fail(f"shared corpus file {path} is missing: the tests need ../shared beside "
                        "the checkout", pytrace=False)
        return path
    return _path


# -- web ------------------------------------------------------------------------------------
@pytest.fixture
def app(services: Services):
    from repo_server.app import create_app

    application = create_app(services.settings, services)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(client, world: World):
    """Call the API as a named user: api('admin').post(...)."""
    class _As:
        def __init__(self, username: str) -> None:
            self.headers = {"Authorization": f"Bearer {world.tokens[username]}"}

        def __getattr__(self, method: str):
            call = getattr(client, method)
            return lambda *a, headers=None, **kw: call(*a, headers={**self.headers, **(headers or {})}, **kw)
    return _As


# -- a real server ------------------------------------------------------------------------------
@dataclass
class LiveServer:
    url: str
    host: str
    port: int
    log: Path
    pid: int = 0    # the `repo-server serve` process (gunicorn's master)

    def worker_pids(self) -> list[int]:
        """The master's child processes (gunicorn workers, an embedded media worker)."""
        children = []
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            children += [int(p) for p in (task / "children").read_text().split()]
        return children


@pytest.fixture
def live_server(services: Services, tmp_path: Path, request) -> Iterator[LiveServer]:
    """`repo-server serve` (gunicorn, 1 worker, 4 threads) on the test's catalog and data dir.

    Extra REPO_* variables can be given with @pytest.mark.server_env(REPO_X="…").
    """
    marker = request.node.get_closest_marker("server_env")
    env = {"REPO_DATA_DIR": str(services.settings.data_dir),
           "REPO_DATABASE_URL": services.settings.database_url, "REPO_SECRET_KEY": "test-secret",
           "REPO_WORKERS": "1", "REPO_THREADS": "4", "REPO_LOG_LEVEL": "warning",
           "REPO_EMBEDDED_WORKER": "false",   # media jobs only where a test asks for them
           **(marker.kwargs if marker else {})}
    log = tmp_path / "server.log"
    process, url, port = start_server(env, log)
    yield LiveServer(url=url, host="127.0.0.1", port=port, log=log, pid=process.pid)
    print(f"--- {log} (last 5,000 characters) ---\n{log.read_text()[-5000:]}")  # shown on failure
    stop_server(process)


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port for the whole session (any keys work)."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"127.0.0.1:{port}", "testing", "testing", False, "t")
    finally:
        server.stop()
