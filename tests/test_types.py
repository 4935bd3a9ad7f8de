"""Each rendered project passes its own type-check: `mypy` as its pyproject.toml configures it."""

import ast
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from .conftest import Rendered
from .helpers import (
    combination_id,
    pairwise_combinations,
    recorded_answers,
    run,
    text_files,
)

PAIRWISE = pairwise_combinations()
PROJECT_MODULES = {"tests", "migrations"}
"""Top-level modules of every project besides its package."""

TypeCheck = Callable[[Path, str], subprocess.CompletedProcess[str]]


def imported_modules(project: Path) -> set[str]:
    """Every module the project's code imports from outside the project."""
    own = PROJECT_MODULES | {recorded_answers(project)["package_name"]}
    modules = set()
    for path in text_files(project):
        if path.suffix == ".py":
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module)
    return {module for module in modules if module.split(".")[0] not in own}


@pytest.fixture(scope="session")
def type_check(
    rendered: Rendered, python_for: Callable[[str], Path], session_dir: Path
) -> TypeCheck:
    """mypy on a project, starting from a copy of a cache of what it imports from outside.

    Projects cannot share one cache: they all have the same module names at the same relative
    paths, and mypy takes a module as unchanged when its path, size and modification second
    match, which two projects rendered in the same second may share. So once a run, for each
    Python version, mypy checks a module that imports every third-party and standard module
    the pairwise set imports, configured as the project with the most files is; each check
    gets its own copy of that cache, with the third-party packages analysed already.
    """

    def third_party_cache(version: str) -> Path:
        seed = session_dir / "mypy" / f"py{version}"
        with FileLock(f"{seed}.lock"):
            if not (seed / "cache").exists():
                shutil.rmtree(seed, ignore_errors=True)
                seed.mkdir(parents=True)
                projects = [rendered(answers) for answers in PAIRWISE]
                imports = sorted(set().union(*map(imported_modules, projects)))
                configured = max(
                    (p for p in projects if recorded_answers(p)["python_version"] == version),
                    key=lambda project: len(list(text_files(project))),
                )
                shutil.copy(configured / "pyproject.toml", seed / "pyproject.toml")
                module = "".join(f"import {name}\n" for name in imports)
                (seed / "imports_of_every_project.py").write_text(module)
                # Its verdict is not the point: what it cannot import, no project can either.
                mypy = [str(python_for(version)), "-m", "mypy", "--cache-dir", "cache.partial"]
                run(mypy, seed, check=False)
                (seed / "cache.partial").rename(seed / "cache")
        return seed / "cache"

    def check(project: Path, version: str) -> subprocess.CompletedProcess[str]:
        with tempfile.TemporaryDirectory(prefix="mypy-") as folder:
            cache = shutil.copytree(third_party_cache(version), Path(folder) / "cache")
            python = str(python_for(version))
            return run([python, "-m", "mypy", "--cache-dir", str(cache)], project, check=False)

    return check


@pytest.mark.slow
@pytest.mark.parametrize("answers", PAIRWISE, ids=[combination_id(a) for a in PAIRWISE])
def test_rendered_project_type_checks(
    rendered: Rendered, type_check: TypeCheck, answers: dict[str, Any]
) -> None:
    result = type_check(rendered(answers), answers["python_version"])

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found"), result.stdout


@pytest.mark.slow
def test_a_check_sees_its_own_project_where_another_had_the_same_names_sizes_and_times(
    rendered: Rendered, type_check: TypeCheck, tmp_path: Path
) -> None:
    answers = PAIRWISE[0]
    first = rendered(answers)
    second = shutil.copytree(first, tmp_path / "project")
    package = second / "src" / recorded_answers(second)["package_name"]
    module = next(path for path in sorted(package.rglob("*.py")) if "-> None:" in path.read_text())
    source = module.read_text()
    # A function that says it returns an int and returns nothing, in the same number of bytes.
    module.write_text(source.replace("-> None:", "-> int: ", 1))
    assert module.stat().st_size == len(source.encode())
    shutil.copystat(first / module.relative_to(second), module)

    assert type_check(first, answers["python_version"]).returncode == 0
    assert "Missing return statement" in type_check(second, answers["python_version"]).stdout
