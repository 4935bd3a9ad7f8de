"""Each rendered project passes its own type-check: `mypy` as its pyproject.toml configures it."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from .conftest import Rendered
from .helpers import REPO_ROOT, combination_id, pairwise_combinations, run

PAIRWISE = pairwise_combinations()
MYPY_CACHE = REPO_ROOT / "build" / "mypy"
"""mypy's cache, one per Python version, kept between runs. Most of a cold run goes to the
third-party packages, the same in every project of one version: with them already analysed, a
check takes a few seconds. One check at a time uses each cache, and the projects stay read-only."""


@pytest.mark.slow
@pytest.mark.parametrize("answers", PAIRWISE, ids=[combination_id(a) for a in PAIRWISE])
def test_rendered_project_type_checks(
    rendered: Rendered, python_for: Callable[[str], Path], answers: dict[str, Any]
) -> None:
    python = python_for(answers["python_version"])
    project = rendered(answers)
    cache = MYPY_CACHE / f"py{answers['python_version']}"
    cache.parent.mkdir(parents=True, exist_ok=True)

    with FileLock(f"{cache}.lock"):
        result = run([str(python), "-m", "mypy", "--cache-dir", str(cache)], project, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found"), result.stdout
