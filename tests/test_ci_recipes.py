"""The CI recipes in docs/ci.md, run exactly as written against a template with two releases."""

import os
import re
import sys
from pathlib import Path

import pytest
import yaml

from .helpers import REPO_ROOT, commit_all, git_init, recorded_answers, render, run
from .test_updates import RECENT_RELEASES, template_history

CI_DOC = REPO_ROOT / "docs" / "ci.md"
RECIPE = re.compile(r"<!-- recipe: ([\w-]+) -->\n```sh\n(.*?)```", re.S)


def recipes() -> dict[str, str]:
    return dict(RECIPE.findall(CI_DOC.read_text()))


@pytest.fixture(scope="module")
def released_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repository whose newest tag is the working tree, and an older tag before it."""
    version, commit = RECENT_RELEASES[-1]
    template, released = template_history(tmp_path_factory.mktemp("ci") / "template", commit)
    run(["git", "tag", version, released], template)
    run(["git", "tag", "v99.0.0"], template)
    return template


def run_recipe(name: str, workdir: Path, template: Path, check: bool = True) -> str:
    environment = {
        "TEMPLATE": str(template),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    result = run(["bash", "-euo", "pipefail", "-c", recipes()[name]], workdir, environment, check)
    return f"exit {result.returncode}\n{result.stdout}{result.stderr}"


def test_the_doc_holds_each_recipe() -> None:
    assert set(recipes()) == {"data", "data-file", "check-update", "update"}


@pytest.mark.parametrize(
    ("recipe", "answers"),
    [
        ("data", {"project_name": "Inventory Service", "database": "postgresql"}),
        ("data-file", {"database": "postgresql", "include_example": False}),
    ],
)
def test_rendering_recipes_record_their_answers(
    released_template: Path, tmp_path: Path, recipe: str, answers: dict[str, object]
) -> None:
    run_recipe(recipe, tmp_path, released_template)

    recorded = recorded_answers(tmp_path / "inventory-service")
    assert {name: recorded[name] for name in answers} == answers
    assert recorded["_commit"] == "v99.0.0", "the newest release tag, not a branch head"


def test_check_update_passes_on_the_newest_release_and_fails_on_an_older_one(
    released_template: Path, tmp_path: Path
) -> None:
    run_recipe("data", tmp_path, released_template)
    assert run_recipe("check-update", tmp_path, released_template).startswith("exit 0")

    older = tmp_path / "older"
    older.mkdir()
    version, _commit = RECENT_RELEASES[-1]
    render(released_template, older / "inventory-service", {}, ref=version)
    outcome = run_recipe("check-update", older, released_template, check=False)
    assert outcome.startswith("exit 2"), outcome


def test_the_update_recipe_brings_an_older_render_to_the_newest_release(
    released_template: Path, tmp_path: Path
) -> None:
    version, _commit = RECENT_RELEASES[-1]
    project = render(released_template, tmp_path / "inventory-service", {}, ref=version)
    git_init(project)
    commit_all(project, "rendered")

    run_recipe("update", tmp_path, released_template)

    assert recorded_answers(project)["_commit"] == "v99.0.0"
    assert run_recipe("check-update", tmp_path, released_template).startswith("exit 0")


def edit_a_line_the_newer_release_changes(project: Path, newer: Path) -> str:
    """Append a comment to the first line that differs between the project and a render of the
    newer release, so that the update must conflict there. Returns the file's path."""
    for path in sorted(newer.rglob("*.py")):
        name = path.relative_to(newer)
        mine = project / name
        if not mine.exists():
            continue
        lines = mine.read_text().splitlines(keepends=True)
        pairs = zip(lines, path.read_text().splitlines(keepends=True), strict=False)
        changed = next((i for i, (old, new) in enumerate(pairs) if old != new), None)
        if changed is not None:
            lines[changed] = lines[changed].rstrip("\n") + "  # mine\n"
            mine.write_text("".join(lines))
            return str(name)
    raise AssertionError("the newer release changes no line of a file the older one has")


def test_the_update_recipe_fails_on_a_conflict(released_template: Path, tmp_path: Path) -> None:
    version, _commit = RECENT_RELEASES[-1]
    project = render(released_template, tmp_path / "inventory-service", {}, ref=version)
    newer = render(released_template, tmp_path / "newer" / "inventory-service", {}, ref="v99.0.0")
    git_init(project)
    edited = edit_a_line_the_newer_release_changes(project, newer)
    commit_all(project, "rendered, then edited where the newer release changes it")

    outcome = run_recipe("update", tmp_path, released_template, check=False)

    assert outcome.startswith("exit 1"), outcome
    assert edited in outcome
    assert "resolve the files above" in outcome


def test_the_example_workflow_runs_the_check() -> None:
    workflow = re.search(r"<!-- workflow -->\n```yaml\n(.*?)```", CI_DOC.read_text(), re.S)
    assert workflow is not None
    steps = yaml.safe_load(workflow.group(1))["jobs"]["check-update"]["steps"]

    assert {"run": "uvx copier check-update --quiet"} in steps
