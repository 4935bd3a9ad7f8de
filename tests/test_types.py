"""Each rendered project passes its own type-check: `mypy` as its pyproject.toml configures it."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from .conftest import Rendered
from .helpers import combination_id, pairwise_combinations, run

PAIRWISE = pairwise_combinations()


@pytest.fixture(scope="session")
def mypy_cache(session_dir: Path) -> Callable[[str], Path]:
    """mypy's cache for a Python version, shared by the checks of one run and by no other run:
    with the third-party packages, the same in every project of a version, analysed once, a
    check takes a few seconds. One check at a time uses each cache."""
    return lambda version: session_dir / "mypy" / f"py{version}"


@pytest.mark.slow
@pytest.mark.parametrize("answers", PAIRWISE, ids=[combination_id(a) for a in PAIRWISE])
def test_rendered_project_type_checks(
    rendered: Rendered,
    python_for: Callable[[str], Path],
    mypy_cache: Callable[[str], Path],
    answers: dict[str, Any],
) -> None:
    python = python_for(answers["python_version"])
    project = rendered(answers)
    cache = mypy_cache(answers["python_version"])
    cache.parent.mkdir(parents=True, exist_ok=True)

    with FileLock(f"{cache}.lock"):
        result = run([str(python), "-m", "mypy", "--cache-dir", str(cache)], project, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found"), result.stdout
