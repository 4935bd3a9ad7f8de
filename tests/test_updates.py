"""`copier update` from the previous release to the working tree: clean, equal to a fresh render,
and honest about conflicts.

The previous release comes from the commit the CHANGELOG names, not from a tag, so a clone
without tags still runs these tests. The template repository built here holds that release and
then the working tree, as two commits: what a user's `copier update` sees.
"""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .helpers import (
    REPO_ROOT,
    TEMPLATE_SOURCES,
    commit_all,
    copy_template_sources,
    git_init,
    recorded_answers,
    render,
    run,
    text_files,
)

RELEASE = re.compile(r"^## (v\d+\.\d+\.\d+) \(commit ([0-9a-f]{40})\)$", re.M)
CONFLICT_MARKER = re.compile(r"^(<<<<<<<|>>>>>>>)( |$)", re.M)


def releases() -> list[tuple[str, str]]:
    """(version, commit) for every release in the CHANGELOG, newest first."""
    return RELEASE.findall((REPO_ROOT / "CHANGELOG.md").read_text())


def template_history(destination: Path, release_commit: str) -> tuple[Path, str]:
    """A template repository: the release's sources, then the working tree's. Returns it and
    the release's commit in it."""
    destination.mkdir()
    git_init(destination)
    archive = subprocess.run(
        ["git", "archive", release_commit, *TEMPLATE_SOURCES],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(destination)], input=archive.stdout, check=True)
    released = commit_all(destination, "the previous release")
    copy_template_sources(destination)
    commit_all(destination, "the working tree")
    return destination, released


COPIER = [sys.executable, "-m", "copier"]


def update(project: Path) -> subprocess.CompletedProcess[str]:
    """The command the rendered README gives, run as a user would."""
    return run([*COPIER, "update", "--defaults", "--vcs-ref=HEAD", "--quiet"], project)


def tree(project: Path) -> dict[str, str]:
    return {str(path.relative_to(project)): path.read_text() for path in text_files(project)}


def leftovers(project: Path) -> list[str]:
    """Conflict markers and .rej files: what copier leaves behind when a change conflicts."""
    found = [str(path.relative_to(project)) for path in project.rglob("*.rej")]
    found += [
        str(path.relative_to(project))
        for path in text_files(project)
        if CONFLICT_MARKER.search(path.read_text())
    ]
    return found


RECENT_RELEASES = releases()[:2]


@pytest.fixture(scope="module", params=RECENT_RELEASES, ids=[v for v, _ in RECENT_RELEASES])
def history(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """The template from one of the two latest releases to the working tree."""
    version, commit = request.param
    return template_history(tmp_path_factory.mktemp("template") / version, commit)


def rendered_and_committed(template: Path, ref: str, destination: Path, answers: Any) -> Path:
    project = render(template, destination, answers, ref=ref)
    git_init(project)
    commit_all(project, "rendered")
    return project


ANSWERS = [
    {"database": "sqlite", "include_example": True},
    {"database": "none"},
]


def test_the_changelog_names_each_release_and_its_commit() -> None:
    versions = [version for version, _ in releases()]

    assert len(versions) >= 2
    assert versions == sorted(versions, key=lambda v: tuple(map(int, v[1:].split("."))))[::-1]
    for _version, commit in releases():
        run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], REPO_ROOT)


@pytest.mark.parametrize("answers", ANSWERS, ids=lambda answers: answers["database"])
def test_an_update_from_the_previous_release_equals_a_fresh_render(
    history: tuple[Path, str], tmp_path: Path, answers: dict[str, Any]
) -> None:
    template, released = history
    project = rendered_and_committed(template, released, tmp_path / "project", answers)

    update(project)
    fresh = render(template, tmp_path / "fresh", answers)

    assert leftovers(project) == []
    assert tree(project) == tree(fresh)


def test_user_edits_survive_and_a_conflicting_one_is_reported(tmp_path: Path) -> None:
    """From v0.1.0, whose reservation answer lacked the `id` that v0.2.0 added."""
    [(version, commit)] = [release for release in releases() if release[0] == "v0.1.0"]
    template, released = template_history(tmp_path / version, commit)
    project = rendered_and_committed(template, released, tmp_path / "project", ANSWERS[0])
    package = project / "src" / "my_service"
    untouched = package / "concurrency.py"
    untouched.write_text(untouched.read_text() + "\n\nUSER_LIMIT = 3  # mine\n")
    (package / "api" / "orders.py").write_text('"""Orders: my own routes."""\n')
    conflicting = package / "api" / "products.py"
    conflicting.write_text(
        conflicting.read_text().replace(
            "class ReservationRead(BaseModel):\n", "class ReservationRead(BaseModel):  # mine\n"
        )
    )
    commit_all(project, "rendered, then edited")

    update(project)

    assert "USER_LIMIT = 3  # mine" in untouched.read_text()
    assert (package / "api" / "orders.py").exists()
    assert leftovers(project) == ["src/my_service/api/products.py"]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_database_added_later_equals_a_fresh_render_with_it(
    template: Path, tmp_path: Path, database: str
) -> None:
    """The command docs/questions.md gives for changing an answer on an existing project."""
    project = rendered_and_committed(template, "HEAD", tmp_path / "project", {"database": "none"})
    edited = project / "src" / "my_service" / "concurrency.py"
    edited.write_text(edited.read_text() + "\n\nUSER_LIMIT = 3  # mine\n")
    commit_all(project, "edited")

    run(
        [
            *COPIER,
            "update",
            "--defaults",
            "--vcs-ref=HEAD",
            "--quiet",
            "--data",
            f"database={database}",
        ],
        project,
    )
    fresh = render(template, tmp_path / "fresh", {"database": database})

    assert leftovers(project) == []
    assert recorded_answers(project)["database"] == database
    changed = {name for name, text in tree(project).items() if tree(fresh).get(name) != text}
    assert changed == {"src/my_service/concurrency.py"}, "only the user's own edit differs"
