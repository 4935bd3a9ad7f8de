"""Each rendered project's own test suite passes, under the Python its answers name."""

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import Rendered
from .helpers import (
    combination_id,
    combinations,
    pairwise_combinations,
    rendered_project_env,
    run,
    run_rendered_suite,
)

PAIRWISE = pairwise_combinations()
WITHOUT_A_RESOURCE = {
    "database": "none",
    "cache": "none",
    "http_client": False,
    "object_storage": "none",
    "broker": "none",
}
ALONE = [
    answers
    for answers in combinations()
    if answers["python_version"] == "3.13"
    and not answers["tracing"]
    and sum(answers[name] != none for name, none in WITHOUT_A_RESOURCE.items()) == 1
]
"""Each resource with no other beside it: what a pair of answers cannot show. Tracing, not a
resource, stays off here; the pairwise set holds it with each resource."""
SUITES = PAIRWISE + [answers for answers in ALONE if answers not in PAIRWISE]


@pytest.mark.slow
@pytest.mark.parametrize("answers", SUITES, ids=[combination_id(a) for a in SUITES])
def test_rendered_suite_passes(
    rendered: Rendered, python_for: Callable[[str], Path], answers: dict[str, Any]
) -> None:
    python = python_for(answers["python_version"])

    output = run_rendered_suite(rendered(answers), python)

    assert " passed" in output
    assert " skipped" not in output, output


@pytest.mark.slow
def test_a_new_migration_comes_out_lint_clean(
    rendered: Rendered, python_for: Callable[[str], Path], tmp_path: Path
) -> None:
    answers = {"python_version": "3.11", "database": "sqlite", "include_example": True}
    project = shutil.copytree(rendered(answers), tmp_path / "project")
    python = python_for(answers["python_version"])
    run(
        [str(python), "-m", "alembic", "revision", "-m", "add notes"],
        project,
        rendered_project_env(project),
    )

    [revision] = [p for p in (project / "migrations" / "versions").glob("*add_notes.py")]
    run([str(python), "-m", "ruff", "check", "--no-cache", str(revision)], project)
    run([str(python), "-m", "ruff", "format", "--no-cache", "--check", str(revision)], project)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("answers", "variable", "server", "unreachable"),
    [
        (
            {"database": "postgresql", "include_example": False},
            "TEST_DATABASE_URL",
            "PostgreSQL",
            "postgresql+asyncpg://postgres@127.0.0.1:9/postgres",
        ),
        (
            {"database": "mysql", "include_example": False},
            "TEST_DATABASE_URL",
            "MySQL/MariaDB",
            "mysql+aiomysql://root@127.0.0.1:9/",
        ),
        (
            {"database": "none", "cache": "redis"},
            "TEST_REDIS_URL",
            "Redis",
            "redis://127.0.0.1:9/0",
        ),
        (
            {"database": "none", "broker": "rabbitmq"},
            "TEST_RABBITMQ_URL",
            "RabbitMQ",
            "amqp://127.0.0.1:9/",
        ),
        (
            {"database": "none", "broker": "nats"},
            "TEST_NATS_URL",
            "NATS",
            "nats://127.0.0.1:9",
        ),
        (
            {"database": "none", "broker": "kafka"},
            "TEST_KAFKA_BOOTSTRAP_SERVERS",
            "Kafka",
            "127.0.0.1:9",
        ),
        (
            {"database": "none", "broker": "redis"},
            "TEST_REDIS_URL",
            "Redis",
            "redis://127.0.0.1:9/0",
        ),
    ],
    ids=["postgresql", "mysql", "redis", "rabbitmq", "nats", "kafka", "redis-streams"],
)
def test_without_a_server_the_tests_skip_and_say_what_to_start(
    rendered: Rendered,
    python_for: Callable[[str], Path],
    answers: dict[str, Any],
    variable: str,
    server: str,
    unreachable: str,
) -> None:
    """On a laptop without the server the suite still runs, and says why tests were skipped;
    in CI (REQUIRE_SERVICES=1) the same situation is a failure."""
    answers = {"python_version": "3.11", **answers}
    project, python = rendered(answers), python_for(answers["python_version"])
    reason = f"{server} is not reachable at {unreachable} "

    relaxed = run_rendered_suite(
        project, python, "-rs", env={variable: unreachable, "REQUIRE_SERVICES": "0"}
    )
    required = run_rendered_suite(
        project, python, check=False, env={variable: unreachable, "REQUIRE_SERVICES": "1"}
    )

    assert " skipped" in relaxed and " error" not in relaxed, relaxed
    assert reason in relaxed and "Start a server there" in relaxed, relaxed
    assert " error" in required and " skipped" not in required, required
    assert reason in required, required
