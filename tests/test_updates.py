"""`copier update` from the previous release to the working tree: clean, equal to a fresh render,
and honest about conflicts.

The previous release comes from the commit the CHANGELOG names, not from a tag, so a clone
without tags still runs these tests. The template repository built here holds that release and
then the working tree, as two commits: what a user's `copier update` sees.
"""

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .environments import UV_ENV
from .helpers import (
    REPO_ROOT,
    TEMPLATE_SOURCES,
    commit_all,
    copy_template_sources,
    git_init,
    recorded_answers,
    render,
    ruff,
    run,
    run_rendered_suite,
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


@pytest.mark.parametrize(
    ("start", "added"),
    [
        ({"database": "none"}, {"database": "sqlite"}),
        ({"database": "none"}, {"database": "postgresql"}),
        ({"database": "sqlite"}, {"broker": "redis"}),
    ],
    ids=["sqlite", "postgresql", "broker-with-a-database"],
)
def test_a_resource_added_later_equals_a_fresh_render_with_it(
    template: Path, tmp_path: Path, start: dict[str, str], added: dict[str, str]
) -> None:
    """The command docs/updating.md gives for changing an answer on an existing project. A
    broker added to a project with the example also brings the outbox's migration and the
    reservation's announcement."""
    project = rendered_and_committed(template, "HEAD", tmp_path / "project", start)
    edited = project / "src" / "my_service" / "concurrency.py"
    edited.write_text(edited.read_text() + "\n\nUSER_LIMIT = 3  # mine\n")
    commit_all(project, "edited")

    data = [argument for name, value in added.items() for argument in ("--data", f"{name}={value}")]
    run([*COPIER, "update", "--defaults", "--vcs-ref=HEAD", "--quiet", *data], project)
    fresh = render(template, tmp_path / "fresh", start | added)

    assert leftovers(project) == []
    assert {name: recorded_answers(project)[name] for name in added} == added
    changed = {name for name, text in tree(project).items() if tree(fresh).get(name) != text}
    assert changed == {"src/my_service/concurrency.py"}, "only the user's own edit differs"


def edit(project: Path, name: str, after: str, addition: str) -> tuple[str, str]:
    """Insert `addition` right after the first `after` in a file, as a user's edit would;
    returns the file and the addition, to look for after the update."""
    path = project / name
    text = path.read_text()
    assert after in text, f"{name} no longer holds {after!r}"
    path.write_text(text.replace(after, after + addition, 1))
    return name, addition


ORDERS_ROUTER = '''"""Orders: routes of my own."""

from fastapi import APIRouter

router = APIRouter(prefix="/orders")


@router.get("")
async def list_orders() -> list[str]:
    return []
'''

ORDERS_TEST = """from my_service.settings import Settings

from .conftest import running


async def test_my_route_and_my_setting(settings: Settings, greeting: str) -> None:
    async with running(settings) as service:
        response = await service.client.get("/orders")

    assert response.json() == []
    assert settings.greeting == greeting
"""


def edit_every_shared_file(project: Path, python: Path) -> list[tuple[str, str]]:
    """What a user adds in a project's first weeks, in each file the template shares with them:
    a setting, a step in the lifespan, a provider, an error answer, a router, a fixture, a
    dependency, a documented variable and a README paragraph. Returns each (file, addition)."""
    package = "src/my_service"
    (project / package / "api" / "orders.py").write_text(ORDERS_ROUTER)
    (project / "tests" / "test_orders.py").write_text(ORDERS_TEST)
    uv = shutil.which("uv") or "uv"
    add = [uv, "add", "--frozen", "--quiet", "--python", str(python), "orjson>=3.10"]
    run(add, project, UV_ENV)
    return [
        ("pyproject.toml", '"orjson>=3.10",\n'),
        edit(
            project,
            f"{package}/settings.py",
            '    title: str = "My Service"\n',
            '    greeting: str = "hello"  # mine\n',
        ),
        edit(
            project,
            f"{package}/lifespan.py",
            "open_resources(settings, stack)\n",
            "            # mine: my own resources open here, on the same stack\n",
        ),
        edit(
            project,
            f"{package}/dependencies.py",
            "    return readiness_checks\n",
            "\n\ndef get_greeting(request: Request) -> str:  # mine\n"
            "    return request.state.settings.greeting\n",
        ),
        edit(
            project,
            f"{package}/errors.py",
            "    app.add_exception_handler(Unprocessable, unprocessable)\n",
            "    app.add_exception_handler(LookupError, not_found)  # mine\n",
        ),
        edit(project, f"{package}/main.py", "from . import api\n", "from .api import orders\n"),
        edit(
            project,
            f"{package}/main.py",
            "        app.include_router(router)\n",
            "    app.include_router(orders.router)  # mine\n",
        ),
        edit(
            project,
            "tests/conftest.py",
            'pytest_plugins = ["tests.resources"]\n',
            '\n\n@pytest.fixture\ndef greeting() -> str:  # mine\n    return "hello"\n',
        ),
        edit(
            project, ".env.example", "_READINESS_TIMEOUT=2.0\n", '# MY_SERVICE_GREETING="hello"\n'
        ),
        edit(
            project,
            "README.md",
            "closes them at shutdown.\n",
            "\nThe payments team owns this service. (mine)\n",
        ),
    ]


@pytest.mark.slow
@pytest.mark.parametrize("added", ["database=postgresql", "cache=redis", "broker=redis"])
def test_a_resource_added_to_a_project_with_edited_shared_files_keeps_every_edit(
    template: Path, tmp_path: Path, python_for: Callable[[str], Path], added: str
) -> None:
    """The README's command for adding a resource, on a project whose shared files the user
    has edited: nothing conflicts, every edit survives, and the result passes ruff and its
    own suite, the user's tests included."""
    project = rendered_and_committed(template, "HEAD", tmp_path / "project", {"database": "none"})
    python = python_for(recorded_answers(project)["python_version"])
    additions = edit_every_shared_file(project, python)
    commit_all(project, "my own code")

    run(
        [*COPIER, "update", "--defaults", "--vcs-ref=HEAD", "--quiet", "-d", added],
        project,
    )

    assert leftovers(project) == []
    lost = [(name, line) for name, line in additions if line not in (project / name).read_text()]
    assert lost == []
    run(ruff("check", "--no-cache", "."), project)
    run(ruff("format", "--no-cache", "--check", "."), project)
    output = run_rendered_suite(project, python)
    assert " passed" in output
    assert " skipped" not in output, output
