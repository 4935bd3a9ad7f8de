"""The rendered service under test: rendering it, its Python, and its database.

Rendering and the environment reuse the generator's test helpers (tests/helpers.py,
tests/environments.py), so the benchmark runs the service exactly as the rendered-suite tests
do. The database is handled with psql, which the benchmark needs anyway beside pgbench.
"""

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.environments import declared_requirements, find_interpreter, shared_environment
from tests.helpers import (
    REPO_ROOT,
    questions,
    recorded_answers,
    render,
    rendered_project_env,
    snapshot,
)

from .scenarios import ACCOUNTS, INITIAL_BALANCE, INITIAL_STOCK, PRODUCTS

ANSWERS = {
    "database": "postgresql",
    "include_example": True,
    "cache": "none",
    "http_client": False,
    "object_storage": "none",
    "broker": "none",
    "tracing": False,
}
PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("BENCH_PG_PORT", "5432")
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")


@dataclass(frozen=True)
class Project:
    root: Path
    package: str
    python: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment the service's processes and bench.servers run in."""
        paths = [str(self.root / "src"), str(REPO_ROOT)]
        return {
            **os.environ,
            **rendered_project_env(self.root),
            "PYTHONPATH": os.pathsep.join(paths),
            "BENCH_PACKAGE": self.package,
            **extra,
        }

    @property
    def prefix(self) -> str:
        """Where the service's settings come from: `MY_SERVICE_...`."""
        return self.package.upper() + "_"


def render_project(workdir: Path) -> Project:
    template = snapshot(workdir / "template")
    root = render(template, workdir / "service", ANSWERS)
    answers = recorded_answers(root)
    python = shared_environment(str(answers["python_version"]), declared_requirements(root))
    return Project(root=root, package=str(answers["package_name"]), python=python)


def psql(sql: str, database: str = "postgres") -> str:
    """Run `sql` and return its unaligned output; fail loudly with psql's message."""
    result = subprocess.run(
        [
            *("psql", "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", database),
            *("-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"psql failed: {result.stderr.strip()}\n{sql}")
    return result.stdout.strip()


def missing_tools() -> list[str]:
    """What the benchmark needs and this machine lacks, each with how to get it."""
    missing = [
        f"{tool} (apt-get install {package})"
        for tool, package in (
            ("wrk", "wrk"),
            ("pgbench", "postgresql-contrib"),
            ("psql", "postgresql-client"),
        )
        if shutil.which(tool) is None
    ]
    version = str(questions()["python_version"]["default"])
    if find_interpreter(version) is None:
        missing.append(f"Python {version}, the rendered default (uv python install {version})")
    if not missing:
        try:
            psql("SELECT 1")
        except RuntimeError as error:
            missing.append(
                f"a PostgreSQL server at {PG_USER}@{PG_HOST}:{PG_PORT} ({error}); start one"
            )
    return missing


class Database:
    """A fresh database for one benchmark run, dropped at the end."""

    def __init__(self) -> None:
        self.name = f"bench_{uuid.uuid4().hex[:10]}"

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.name}"

    @property
    def dsn(self) -> str:
        return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.name}"

    def create(self, project: Project) -> None:
        psql(f'CREATE DATABASE "{self.name}"')
        env = project.env(**{f"{project.prefix}DATABASE__URL": self.sqlalchemy_url})
        result = subprocess.run(
            [str(project.python), "-m", "alembic", "upgrade", "head"],
            cwd=project.root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"migrations failed:\n{result.stderr}")
        self.seed()

    def seed(self) -> None:
        psql(
            "INSERT INTO products (name, stock, view_count, version)"
            f" SELECT 'product ' || n, {INITIAL_STOCK}, 0, 1 FROM generate_series(1, {PRODUCTS}) n;"
            "INSERT INTO accounts (owner, balance)"
            f" SELECT 'owner ' || n, {INITIAL_BALANCE} FROM generate_series(1, {ACCOUNTS}) n",
            self.name,
        )
        psql("VACUUM ANALYZE", self.name)

    def drop(self) -> None:
        psql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def settled_invariants(self) -> list[str]:
        """The broken invariants, after a moment for transactions that were just ending."""
        return _settled(self.broken_invariants)

    def broken_invariants(self) -> list[str]:
        """What no run may break: stock and money are conserved, no transaction hangs open."""
        broken = []
        negative = int(psql("SELECT count(*) FROM products WHERE stock < 0", self.name))
        if negative:
            broken.append(f"{negative} products with negative stock")
        unbalanced = int(
            psql(
                "SELECT count(*) FROM products p LEFT JOIN (SELECT product_id, sum(quantity) q"
                " FROM reservations GROUP BY product_id) r ON r.product_id = p.id"
                f" WHERE p.stock + coalesce(r.q, 0) <> {INITIAL_STOCK}",
                self.name,
            )
        )
        if unbalanced:
            broken.append(f"{unbalanced} products whose stock plus reservations changed")
        total = int(psql("SELECT coalesce(sum(balance), 0) FROM accounts", self.name))
        if total != ACCOUNTS * INITIAL_BALANCE:
            broken.append(f"account total {total}, expected {ACCOUNTS * INITIAL_BALANCE}")
        idle = int(
            psql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state LIKE 'idle in transaction%'",
                self.name,
            )
        )
        if idle:
            broken.append(f"{idle} sessions idle in transaction")
        return broken


def _settled(check: Callable[[], list[str]], seconds: float = 5.0) -> list[str]:
    """`check()` once the database has had `seconds` to finish what was in flight."""
    deadline = time.monotonic() + seconds
    while True:
        broken = check()
        if not broken or time.monotonic() > deadline:
            return broken
        time.sleep(0.1)


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="bench-"))
