"""The `copier` command line as users and their CI run it: no prompt, clear refusals."""

import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from .helpers import REPO_ROOT, recorded_answers, rendered_project_env, run

COPIER = [sys.executable, "-m", "copier"]


def copier_copy(template: Path, destination: Path, *options: str, check: bool = True):
    return run(
        [*COPIER, "copy", "--vcs-ref=HEAD", *options, str(template), str(destination)],
        destination.parent,
        check=check,
    )


def test_defaults_with_data_render_without_a_prompt(template: Path, tmp_path: Path) -> None:
    project = tmp_path / "billing"

    copier_copy(
        template,
        project,
        "--defaults",
        "--data",
        "project_name=Billing API",
        "--data",
        "database=none",
    )

    answers = recorded_answers(project)
    assert answers["package_name"] == "billing_api"
    assert answers["database"] == "none"
    assert (project / "src" / "billing_api" / "main.py").is_file()


def test_a_data_file_renders_without_a_prompt(template: Path, tmp_path: Path) -> None:
    data_file = tmp_path / "answers.yml"
    data_file.write_text(
        yaml.safe_dump(
            {"project_name": "Stock Keeper", "python_version": "3.13", "include_example": False}
        )
    )
    project = tmp_path / "stock"

    copier_copy(template, project, "--defaults", "--data-file", str(data_file))

    answers = recorded_answers(project)
    assert answers["package_name"] == "stock_keeper"
    assert answers["python_version"] == "3.13"
    assert answers["include_example"] is False
    assert not (project / "src" / "stock_keeper" / "services").exists()


def test_an_invalid_answer_is_refused_and_nothing_is_written(
    template: Path, tmp_path: Path
) -> None:
    project = tmp_path / "refused"

    result = copier_copy(
        template, project, "--defaults", "--data", "package_name=json", check=False
    )

    assert result.returncode != 0
    assert 'package_name "json" is a Python keyword or would shadow' in result.stderr
    assert not project.exists() or not any(project.iterdir())


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"databse": "postgresql"}, "unknown answers: databse; the questions are project_name,"),
        ({"database": "oracle"}, "Invalid choice for 'database': 'oracle'"),
    ],
)
def test_a_data_file_with_a_wrong_answer_is_refused_and_nothing_is_written(
    template: Path, tmp_path: Path, answers: dict[str, str], message: str
) -> None:
    """A misspelt question would otherwise fall back to its default without a word."""
    data_file = tmp_path / "answers.yml"
    data_file.write_text(yaml.safe_dump(answers))
    project = tmp_path / "refused"

    result = copier_copy(
        template, project, "--defaults", "--data-file", str(data_file), check=False
    )

    assert result.returncode != 0
    assert message in result.stderr
    assert not project.exists() or not any(project.iterdir())


def readme_commands() -> list[str]:
    """The commands of the README's set-up block."""
    readme = (REPO_ROOT / "README.md").read_text()
    block = re.search(r"<!-- set-up -->\s*```(?:sh|bash|console)\n(.*?)```", readme, re.S)
    assert block, "README.md lost its set-up block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_gives_exactly_two_set_up_commands() -> None:
    render_command, test_command = readme_commands()

    assert render_command.startswith("uv run copier copy --defaults ")
    assert test_command == "uv run pytest"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(python: Path, project: Path, package: str) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [
            *(str(python), "-m", "uvicorn", f"{package}.main:create_app", "--factory"),
            *("--host", "127.0.0.1", "--port", str(port)),
        ],
        cwd=project,
        env={"PATH": "/usr/bin:/bin", **rendered_project_env(project)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                httpx.get(f"{base_url}/health/live", timeout=1, trust_env=False)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_the_readme_renders_a_service_that_starts_and_answers(
    template: Path, tmp_path: Path, python_for: Callable[[str], Path]
) -> None:
    """Follow the README: render with its command, migrate, start, and call the endpoints."""
    render_command = readme_commands()[0]
    *options, source, destination = render_command.split()[3:]
    # An absolute source, so that `copier update` can find the template again later.
    assert (source, destination) == ('"$PWD"', "../my-service")
    project = tmp_path / "my-service"
    run([*COPIER, *options, str(template), str(project)], tmp_path)
    answers = recorded_answers(project)
    python = python_for(answers["python_version"])
    run([str(python), "-m", "alembic", "upgrade", "head"], project, rendered_project_env(project))
    with (
        serving(python, project, answers["package_name"]) as base_url,
        httpx.Client(base_url=base_url, trust_env=False) as client,
    ):
        ready = client.get("/health/ready")
        created = client.post("/products", json={"name": "lamp", "stock": 1})
        reservations = f"/products/{created.json()['id']}/reservations"
        reserved = client.post(reservations, json={"quantity": 1})
        sold_out = client.post(reservations, json={"quantity": 1})

    assert ready.json() == {"status": "ok", "checks": {"database": "ok"}}
    assert created.status_code == 201
    assert reserved.json()["remaining_stock"] == 0
    assert sold_out.status_code == 409
    assert (project / "my_service.db").is_file()
