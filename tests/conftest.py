"""Fixtures of the generator's tests: one template snapshot and one render per combination,
shared by every test and every xdist worker of the session."""

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from .environments import declared_requirements, shared_environment
from .helpers import REQUIRE_SERVICES, combination_id, pairwise_combinations, render, snapshot

Render = Callable[[Mapping[str, Any]], Path]


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A directory that all xdist workers of this run share."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


@pytest.fixture(scope="session")
def template(session_dir: Path) -> Path:
    destination = session_dir / "template"
    with FileLock(f"{destination}.lock"):
        if not (destination / ".git").exists():
            shutil.rmtree(destination, ignore_errors=True)
            snapshot(destination)
    return destination


@pytest.fixture(scope="session")
def rendered(template: Path, session_dir: Path) -> Render:
    """The project rendered with these answers; rendered once, read-only for the tests."""

    def get(answers: Mapping[str, Any]) -> Path:
        destination = session_dir / "rendered" / combination_id(answers)
        with FileLock(f"{destination}.lock"):
            if not (destination / ".copier-answers.yml").exists():
                shutil.rmtree(destination, ignore_errors=True)
                render(template, destination, answers)
        return destination

    return get


@pytest.fixture(scope="session")
def python_for(rendered: Render) -> Callable[[str], Path]:
    """The shared environment's Python for a `python_version` answer.

    Each dependency a rendered project declares follows from one answer, and the pairwise set
    holds every answer, so its projects together declare everything any combination does.
    """
    requirements = set().union(
        *(declared_requirements(rendered(answers)) for answers in pairwise_combinations())
    )

    def get(version: str) -> Path:
        try:
            return shared_environment(version, requirements)
        except LookupError as missing:
            if REQUIRE_SERVICES:
                pytest.fail(str(missing))
            pytest.skip(str(missing))

    return get
