"""Each rendered project's own test suite passes, under the Python its answers name."""

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import Render
from .helpers import combination_id, combinations, rendered_project_env, run

COMBINATIONS = combinations()


def run_rendered_suite(
    project: Path, python: Path, *pytest_arguments: str, check: bool = True
) -> str:
    result = run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q", *pytest_arguments],
        project,
        env=rendered_project_env(project),
        check=check,
    )
    return result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("answers", COMBINATIONS, ids=[combination_id(a) for a in COMBINATIONS])
def test_rendered_suite_passes(
    rendered: Render, python_for: Callable[[str], Path], answers: dict[str, Any]
) -> None:
    python = python_for(answers["python_version"])

    output = run_rendered_suite(rendered(answers), python)

    assert " passed" in output
    assert " skipped" not in output, output


@pytest.mark.slow
def test_a_new_migration_comes_out_lint_clean(
    rendered: Render, python_for: Callable[[str], Path], tmp_path: Path
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
