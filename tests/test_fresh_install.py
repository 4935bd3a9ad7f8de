"""A rendered project installed from its own pyproject.toml into a fresh virtual environment.

The other rendered suites share one environment built from the union of every project's
requirements, with `src/` on the path: a dependency that one project forgot to declare could
hide there. Here nothing is installed but what the project declares, the way `uv sync` would.
Packages come from uv's cache, which the shared environment filled, so nothing is downloaded:
the versions are those of the shared environment, which resolved a superset of what any one
project declares. Left to resolve on its own, the project would take the newest release it
has heard of, and a new release of a dependency's dependency is not in the cache.
"""

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import Rendered
from .environments import UV_ENV
from .helpers import run

FRESH = [
    {"python_version": "3.12", "database": "postgresql", "include_example": True},
    {"python_version": "3.13", "database": "none"},
]


@pytest.mark.slow
@pytest.mark.parametrize("answers", FRESH, ids=lambda answers: answers["database"])
def test_a_project_installed_from_its_own_declarations_passes_its_suite(
    rendered: Rendered, python_for: Callable[[str], Path], tmp_path: Path, answers: dict
) -> None:
    project = shutil.copytree(rendered(answers), tmp_path / "project")
    environment = python_for(answers["python_version"])
    interpreter = environment.resolve()
    uv = shutil.which("uv") or "uv"
    venv = project / ".venv"
    run([uv, "venv", "--quiet", "--python", str(interpreter), str(venv)], project, UV_ENV)
    python = venv / "bin" / "python"
    # Built as a wheel, not installed editable: the tests then import the package from what the
    # wheel holds, and building needs only the backend the shared environment put in the cache.
    declared = [".", "--group", "dev"]
    shared = run([uv, "pip", "freeze", "--python", str(environment)], project, UV_ENV).stdout
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(shared)
    offline = ["--quiet", "--offline", "--constraint", str(constraints)]
    run([uv, "pip", "install", *offline, "--python", str(python), *declared], project, UV_ENV)

    # A temporary directory of its own, as `run_rendered_suite` gives the other suites.
    pytest = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    result = run(
        [*pytest, "--basetemp", str(tmp_path / "pytest")],
        project,
        {"PYTHONPATH": "", "PYTHONNOUSERSITE": "1", "PYTEST_ADDOPTS": ""},
    )

    assert " passed" in result.stdout
    assert " skipped" not in result.stdout, result.stdout
