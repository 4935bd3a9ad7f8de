"""What keeps a rendered project healthy across template updates: line endings pinned by
.gitattributes, and a pre-commit hook that refuses what a conflicting update leaves behind."""

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import Rendered
from .helpers import GIT, commit_all, git_init, run

ANSWERS = {"python_version": "3.11", "database": "sqlite", "include_example": True}


def committed_copy(rendered: Rendered, destination: Path) -> Path:
    project = shutil.copytree(rendered(ANSWERS), destination)
    git_init(project)
    commit_all(project, "rendered")
    return project


def test_line_endings_are_pinned_to_lf(rendered: Rendered, tmp_path: Path) -> None:
    project = committed_copy(rendered, tmp_path / "project")

    attributes = run(["git", "check-attr", "text", "eol", "--", "README.md"], project).stdout

    assert "text: auto" in attributes
    assert "eol: lf" in attributes


@pytest.mark.slow
def test_the_pre_commit_hook_refuses_conflict_markers_and_rej_files(
    rendered: Rendered, python_for: Callable[[str], Path], tmp_path: Path
) -> None:
    project = committed_copy(rendered, tmp_path / "project")
    python = python_for(ANSWERS["python_version"])
    pre_commit = [str(python), "-m", "pre_commit"]
    environment = {  # the hooks find ruff where `uv run` would put it: on the PATH
        "PATH": os.pathsep.join([str(python.parent), os.environ["PATH"]]),
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache"),
    }

    clean = run([*pre_commit, "run", "--all-files"], project, environment, check=False)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    readme = project / "README.md"
    readme.write_text(
        readme.read_text() + "<<<<<<< before updating\nmine\n=======\ntheirs\n"
        ">>>>>>> after updating\n"
    )
    (project / "pyproject.toml.rej").write_text("@@ -1 +1 @@\n")
    run([*GIT, "add", "--all"], project)

    dirty = run([*pre_commit, "run", "--all-files"], project, environment, check=False)
    output = dirty.stdout + dirty.stderr

    assert dirty.returncode == 1, output
    assert "README.md:" in output and "<<<<<<< before updating" in output, output
    assert "pyproject.toml.rej" in output, output
