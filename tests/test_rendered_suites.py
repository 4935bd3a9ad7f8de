"""Each rendered project's own test suite passes, under the Python its answers name."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import Render
from .helpers import combination_id, combinations, run

COMBINATIONS = combinations()


def run_rendered_suite(
    project: Path, python: Path, *pytest_arguments: str, check: bool = True
) -> str:
    result = run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q", *pytest_arguments],
        project,
        env={"PYTHONPATH": str(project / "src"), "PYTHONDONTWRITEBYTECODE": "1"},
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
