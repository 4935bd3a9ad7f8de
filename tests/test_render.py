"""Every combination of answers renders exactly its files, clean, lint-free and formatted."""

import json
import re
import shutil
import sys
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from copier.errors import DirtyLocalWarning
from filelock import FileLock

from .conftest import Rendered
from .environments import declared_requirements
from .helpers import (
    GIT,
    REPO_ROOT,
    RUFF_COMMANDS,
    answer_pairs,
    choice_values,
    combination_id,
    combinations,
    commit_all,
    pairwise_combinations,
    questions,
    recorded_answers,
    render,
    ruff,
    ruff_findings,
    run,
    text_files,
)

COMBINATIONS = combinations()
RENDERED_UNDER = "3.11"
UNTRACED = [
    answers
    for answers in COMBINATIONS
    if answers["python_version"] == RENDERED_UNDER and not answers["tracing"]
]
"""Every combination of the other answers, tracing off, rendered once. `python_version` changes
nothing but the interpreter pin and ruff's target version (see
`test_python_version_changes_only_the_interpreter_pin_and_ruff_target`), so each render is
linted for every target version instead of being rendered again for each."""
TRACED = [
    answers
    for answers in COMBINATIONS
    if answers["python_version"] == RENDERED_UNDER
    and answers["tracing"]
    and answers["object_storage"] == "none"
    and answers.get("include_example", True)
]
"""Tracing with every combination of the answers its code reads (the database, cache, upstream
and broker): under a third as many renders again, where tracing in the full product would double
them. The pairwise set, which runs the rendered suites, holds tracing with every other answer."""
RENDERED = UNTRACED + TRACED
TARGETS = [
    f"py{version.replace('.', '')}" for version in choice_values(questions()["python_version"])
]
JINJA_LEFTOVER = re.compile(r"\{\{|\{%|%\}|\{#|#\}")


def expected_files(answers: Mapping[str, Any]) -> set[str]:
    """The rendered file set, spelled out so that a file leaking into a combination shows."""
    package = "src/my_service"
    database = answers["database"]
    example = database != "none" and answers.get("include_example", True)
    files = {
        ".copier-answers.yml",
        ".dockerignore",
        ".env.example",
        ".github/workflows/ci.yml",
        "Dockerfile",
        "compose.yaml",
        "deploy/configmap.yaml",
        "deploy/deployment.yaml",
        "deploy/hpa.yaml",
        "deploy/kustomization.yaml",
        "deploy/pdb.yaml",
        "deploy/service.yaml",
        "docs/deployment.md",
        ".gitattributes",
        ".gitignore",
        ".pre-commit-config.yaml",
        ".python-version",
        "README.md",
        "docs/observability.md",
        "docs/production.md",
        "pyproject.toml",
        f"{package}/__init__.py",
        f"{package}/api/__init__.py",
        f"{package}/api/health.py",
        f"{package}/concurrency.py",
        f"{package}/dependencies.py",
        f"{package}/errors.py",
        f"{package}/exceptions.py",
        f"{package}/lifespan.py",
        f"{package}/main.py",
        f"{package}/observability/__init__.py",
        f"{package}/observability/context.py",
        f"{package}/observability/http.py",
        f"{package}/observability/logs.py",
        f"{package}/observability/metrics.py",
        f"{package}/resources/__init__.py",
        f"{package}/resources/selected.py",
        f"{package}/server.py",
        f"{package}/settings.py",
        "tests/__init__.py",
        "tests/conftest.py",
        "tests/processes.py",
        "tests/resources.py",
        "tests/shutdown_app.py",
        "tests/test_errors.py",
        "tests/test_health.py",
        "tests/test_keep_alive.py",
        "tests/test_keyed_lock.py",
        "tests/test_lifespan.py",
        "tests/test_observability.py",
        "tests/test_resources.py",
        "tests/test_settings.py",
        "tests/test_shutdown.py",
    }
    if database != "none":
        files |= {
            "alembic.ini",
            "docs/database.md",
            "migrations/env.py",
            "migrations/script.py.mako",
            f"{package}/db/__init__.py",
            f"{package}/db/base.py",
            f"{package}/db/database.py",
            f"{package}/db/dependencies.py",
            f"{package}/db/errors.py",
            f"{package}/db/metrics.py",
            f"{package}/db/pool.py",
            f"{package}/db/settings.py",
            f"{package}/resources/{database}.py",
            "tests/database.py",
            "tests/schema.py",
            "tests/test_database.py",
            "tests/test_database_metrics.py",
            f"tests/{database}_database.py",
            f"tests/test_{database}.py",
            "tests/test_capacity.py",
            "tests/test_migrations.py",
            "tests/test_transactions.py",
        }
    if database in {"postgresql", "mysql"}:
        files |= {"deploy/migrate-job.yaml", "tests/races.py"}
    broker = answers.get("broker", "none")
    outbox = broker != "none" and database != "none"
    if database != "none" and not example and not outbox:
        files.add("migrations/versions/.gitkeep")
    if database != "none":
        files.add(f"{package}/db/tables.py")
    if example:
        files |= {
            "docs/example.md",
            "migrations/versions/0001_create_products.py",
            "migrations/versions/0002_add_reservations_and_accounts.py",
            f"{package}/api/accounts.py",
            f"{package}/api/fields.py",
            f"{package}/services/accounts.py",
            f"{package}/services/idempotency.py",
            "tests/test_accounts.py",
            "tests/test_accounts_concurrency.py",
            f"{package}/db/models.py",
            f"{package}/services/__init__.py",
            f"{package}/services/products.py",
            f"{package}/api/products.py",
            "tests/test_products.py",
            "tests/test_products_concurrency.py",
        }
    if example and database in {"postgresql", "mysql"}:
        files |= {"tests/served_app.py", "tests/test_multiprocess.py"}
    if (
        database in {"postgresql", "mysql"}
        or answers.get("cache", "none") != "none"
        or answers.get("object_storage", "none") != "none"
        or broker != "none"
    ):
        files |= {"deploy/secret.example.yaml", "tests/proxy.py"}
    if (
        database in {"postgresql", "mysql"}
        or answers.get("cache", "none") != "none"
        or answers.get("object_storage", "none") != "none"
        or broker not in {"none", "kafka"}
    ):
        files.add("tests/test_outages.py")  # a Kafka mock cluster cannot come back
    if answers.get("cache", "none") == "redis":
        files |= {
            "docs/cache.md",
            f"{package}/cache/__init__.py",
            f"{package}/cache/aside.py",
            f"{package}/cache/dependencies.py",
            f"{package}/cache/errors.py",
            f"{package}/cache/locks.py",
            f"{package}/cache/rate_limits.py",
            f"{package}/resources/redis.py",
            "tests/redis_server.py",
            "tests/test_cache.py",
        }
    if answers.get("http_client", False):
        files |= {
            "docs/upstream.md",
            f"{package}/resources/upstream.py",
            f"{package}/upstream/__init__.py",
            f"{package}/upstream/breaker.py",
            f"{package}/upstream/client.py",
            f"{package}/upstream/dependencies.py",
            f"{package}/upstream/errors.py",
            f"{package}/upstream/metrics.py",
            "tests/test_upstream.py",
            "tests/test_upstream_observability.py",
            "tests/upstream_server.py",
        }
    if broker != "none":
        module = {"redis": "redis_streams"}.get(broker, broker)
        files |= {
            "docs/messaging.md",
            f"docs/{module.replace('_', '-')}.md",
            f"{package}/consumers.py",
            f"{package}/messaging/__init__.py",
            f"{package}/messaging/broker.py",
            f"{package}/messaging/consumer.py",
            f"{package}/messaging/dependencies.py",
            f"{package}/messaging/errors.py",
            f"{package}/messaging/messages.py",
            f"{package}/messaging/metrics.py",
            f"{package}/messaging/settings.py",
            f"{package}/messaging/supervisor.py",
            f"{package}/resources/{module}.py",
            "tests/messaging.py",
            f"tests/{module}_server.py",
            "tests/test_messaging.py",
            "tests/test_messaging_observability.py",
            f"tests/test_{module}.py",
        }
    if broker != "none" and database == "none":
        files |= {f"{package}/messaging/inbox.py", "tests/test_inbox.py"}
    if outbox:
        files |= {
            "migrations/versions/0003_add_the_message_outbox_and_inbox.py",
            f"{package}/messaging/inbox.py",
            f"{package}/messaging/outbox.py",
            "tests/test_outbox.py",
            "tests/test_outbox_observability.py",
        }
    if outbox and example:
        files |= {
            f"{package}/api/demand.py",
            f"{package}/db/demand.py",
            f"{package}/services/demand.py",
            "tests/test_demand.py",
        }
    if answers.get("tracing", False):
        files |= {"docs/tracing.md", f"{package}/tracing.py", "tests/test_tracing.py"}
    if answers.get("object_storage", "none") == "s3":
        files |= {
            "docs/storage.md",
            f"{package}/api/files.py",
            f"{package}/resources/s3.py",
            f"{package}/storage/__init__.py",
            f"{package}/storage/dependencies.py",
            f"{package}/storage/errors.py",
            f"{package}/storage/objects.py",
            "tests/s3_server.py",
            "tests/test_storage.py",
        }
    return files


TEMPLATE_OWNED = {
    ".copier-answers.yml",
    ".env.example",
    ".github/workflows/ci.yml",
    "Dockerfile",
    "README.md",
    "compose.yaml",
    "deploy/configmap.yaml",
    "deploy/deployment.yaml",
    "deploy/kustomization.yaml",
    "docs/deployment.md",
    "pyproject.toml",
    "src/my_service/api/__init__.py",
    "src/my_service/resources/selected.py",
    "tests/resources.py",
}
"""The files that change when a resource or the example is toggled: Copier's own, three
composition modules the rendered README marks as the template's, three whose resource
lines sit apart from where users add theirs, and the container, deployment and CI files, which
start a server or a service container per resource. Every other file is the same whatever the
resource answers, so an update that adds a resource cannot conflict with a user's edits to it."""


def rendered_files(project: Any) -> set[str]:
    return {str(path.relative_to(project)) for path in text_files(project)}


@pytest.fixture(params=RENDERED, ids=[combination_id(a) for a in RENDERED])
def answers(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.param


def test_renders_exactly_the_files_of_its_answers(rendered: Rendered, answers: dict) -> None:
    assert rendered_files(rendered(answers)) == expected_files(answers)


def test_records_the_answers_for_copier_update(rendered: Rendered, answers: dict) -> None:
    recorded = recorded_answers(rendered(answers))

    assert recorded["_src_path"]
    assert recorded["_commit"]
    assert {name: recorded[name] for name in answers} == answers
    computed = {name for name, spec in questions().items() if spec.get("when") is False}
    assert not computed & set(recorded)


def test_leaves_no_template_syntax_behind(rendered: Rendered, answers: dict) -> None:
    project = rendered(answers)
    leftovers = [
        f"{path.relative_to(project)}:{number}: {line}"
        for path in text_files(project)
        if path.suffix != ".mako"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if JINJA_LEFTOVER.search(line)
    ]

    assert leftovers == []


def test_has_no_blank_line_scars(rendered: Rendered, answers: dict) -> None:
    """Conditional blocks must not leave runs of blank lines or trailing whitespace behind."""
    project = rendered(answers)
    scars = []
    for path in text_files(project):
        text = path.read_text()
        name = path.relative_to(project)
        if text and (not text.endswith("\n") or text.endswith("\n\n")):
            scars.append(f"{name}: must end with exactly one newline")
        if text.startswith("\n"):
            scars.append(f"{name}: starts with a blank line")
        allowed_blank_run = 2 if path.suffix in {".py", ".mako"} else 1
        if "\n" * (allowed_blank_run + 2) in text:
            scars.append(f"{name}: more than {allowed_blank_run} blank lines in a row")
        scars += [
            f"{name}:{number}: trailing whitespace"
            for number, line in enumerate(text.splitlines(), 1)
            if line != line.rstrip()
        ]

    assert scars == []


Lint = Callable[[str, str], dict[Path, list[str]]]


@pytest.fixture(scope="session")
def matrix_findings(rendered: Rendered, session_dir: Path) -> Lint:
    """Ruff's findings in every project of the matrix, by command and target version.

    One ruff process per command and target reads the whole matrix, instead of one per project
    (`test_one_ruff_over_many_projects_finds_what_it_finds_in_each`); the first test to ask
    runs it, and the other xdist workers read what it wrote, once each.
    """

    @cache
    def get(command: str, target: str) -> dict[Path, list[str]]:
        stored = session_dir / f"ruff-{command}-{target}.json"
        with FileLock(f"{stored}.lock"):
            if not stored.exists():
                projects = rendered.many(RENDERED)
                findings = ruff_findings(projects, command, target)
                stored.write_text(json.dumps({str(p): lines for p, lines in findings.items()}))
        return {Path(p): lines for p, lines in json.loads(stored.read_text()).items()}

    return get


@pytest.mark.parametrize("target", TARGETS)
def test_passes_ruff_check(
    rendered: Rendered, matrix_findings: Lint, answers: dict, target: str
) -> None:
    assert matrix_findings("check", target)[rendered(answers)] == []


@pytest.mark.parametrize("target", TARGETS)
def test_is_ruff_formatted(
    rendered: Rendered, matrix_findings: Lint, answers: dict, target: str
) -> None:
    assert matrix_findings("format", target)[rendered(answers)] == []


def test_one_ruff_over_many_projects_finds_what_it_finds_in_each(
    rendered: Rendered, tmp_path: Path
) -> None:
    """What lets the matrix lint all its projects in one ruff process: each finding goes to the
    project it is in, under that project's own settings, exactly as a run inside it reports."""
    sources = [rendered(answers) for answers in (RENDERED[0], RENDERED[-1])]
    projects = [shutil.copytree(source, tmp_path / str(n)) for n, source in enumerate(sources)]
    unused_import, unformatted = projects
    with (unused_import / "src/my_service/concurrency.py").open("a") as module:
        module.write("import os\n")
    with (unformatted / "src/my_service/concurrency.py").open("a") as module:
        module.write("x = [1,2]\n")

    together = {
        (command, target): ruff_findings(projects, command, target)
        for command in ("check", "format")
        for target in TARGETS
    }
    for (command, target), findings in together.items():
        for project in projects:
            alone = ruff_findings([project], command, target)[project]
            inside = run(
                ruff(*RUFF_COMMANDS[command], "--target-version", target, "."),
                project,
                check=False,
            )
            assert findings[project] == alone, (command, target, project.name)
            assert (inside.stdout + inside.stderr).splitlines() == alone
    assert any("F401" in line for line in together["check", "py311"][unused_import])
    assert together["check", "py311"][unformatted] == []
    assert together["format", "py311"][unformatted] != []
    assert len(together["format", "py311"][unused_import]) == 1


def test_the_tests_render_what_copier_copy_renders(template: Path, tmp_path: Path) -> None:
    """Both the first render of a template in a process and one that reuses what the first
    read and compiled."""
    everything = max(RENDERED, key=lambda answers: len(expected_files(answers)))
    fewest = min(RENDERED, key=lambda answers: len(expected_files(answers)))
    copy = [sys.executable, "-m", "copier", "copy", "--defaults", "--vcs-ref=HEAD", "--quiet"]
    for name, answers in {"everything": everything, "fewest": fewest}.items():
        ours = render(template, tmp_path / "ours" / name, answers)
        copied = tmp_path / "copied" / name
        data = [f"--data={question}={value}" for question, value in answers.items()]
        run([*copy, *data, str(template), str(copied)], tmp_path)

        assert {path: (copied / path).read_bytes() for path in rendered_files(copied)} == {
            path: (ours / path).read_bytes() for path in rendered_files(ours)
        }, name


def test_a_template_that_moved_on_is_read_again(template: Path, tmp_path: Path) -> None:
    """Renders share what Copier read of a template commit: a new commit, a new tag or an
    uncommitted change is seen by the next render."""
    moving = shutil.copytree(template, tmp_path / "template")
    readme = moving / "template" / "README.md.jinja"
    first = render(moving, tmp_path / "first", {})
    readme.write_text(readme.read_text() + "\nA line of the second commit.\n")
    commit_all(moving, "second")
    second = render(moving, tmp_path / "second", {})
    run([*GIT, "tag", "v99.0.0"], moving)
    tagged = render(moving, tmp_path / "tagged", {})
    readme.write_text(readme.read_text() + "A line not committed.\n")
    with pytest.warns(DirtyLocalWarning):
        uncommitted = render(moving, tmp_path / "uncommitted", {})

    assert "A line of the second commit." not in (first / "README.md").read_text()
    assert "A line of the second commit." in (second / "README.md").read_text()
    assert recorded_answers(second)["_commit"] != recorded_answers(first)["_commit"]
    assert recorded_answers(tagged)["_commit"] == "v99.0.0"
    assert "A line not committed." in (uncommitted / "README.md").read_text()


def test_python_version_changes_only_the_interpreter_pin_and_ruff_target(
    rendered: Rendered,
) -> None:
    """What lets the matrix render each combination under one Python version only: besides the
    pin, ruff's and mypy's targets and `requires-python`, only the README's line naming the
    version and the Dockerfile's base images differ."""
    everything = max(RENDERED, key=lambda answers: len(expected_files(answers)))
    base = rendered(everything)
    for version in choice_values(questions()["python_version"]):
        other = rendered(everything | {"python_version": version})
        differing = {
            name
            for name in rendered_files(base) | rendered_files(other)
            if not (base / name).exists()
            or not (other / name).exists()
            or (base / name).read_text() != (other / name).read_text()
        }
        target = version.replace(".", "")
        pyproject_lines = set((other / "pyproject.toml").read_text().splitlines()) - set(
            (base / "pyproject.toml").read_text().splitlines()
        )
        readme_lines = set((other / "README.md").read_text().splitlines()) - set(
            (base / "README.md").read_text().splitlines()
        )
        dockerfile_lines = set((other / "Dockerfile").read_text().splitlines()) - set(
            (base / "Dockerfile").read_text().splitlines()
        )

        assert differing <= {
            ".copier-answers.yml",
            ".python-version",
            "Dockerfile",
            "pyproject.toml",
            "README.md",
        }
        assert (other / ".python-version").read_text() == f"{version}\n"
        assert all(f"Python {version}+" in line for line in readme_lines)
        assert all(f"FROM python:{version}-slim" in line for line in dockerfile_lines)
        assert pyproject_lines <= {
            f'requires-python = ">={version}"',
            f'target-version = "py{target}"',
            f'python_version = "{version}"',
        }


def test_resource_answers_change_only_the_files_the_template_owns(rendered: Rendered) -> None:
    projects = rendered.many(RENDERED)
    shared = set.intersection(*(rendered_files(project) for project in projects))
    varying = {
        name for name in shared if len({(project / name).read_text() for project in projects}) > 1
    }

    assert varying == TEMPLATE_OWNED


def test_the_matrix_covers_every_choice() -> None:
    seen = {(name, value) for answers in COMBINATIONS for name, value in answers.items()}

    assert {("database", d) for d in ("none", "sqlite", "postgresql", "mysql")} <= seen
    assert {("python_version", v) for v in ("3.11", "3.12", "3.13")} <= seen
    assert {("include_example", True), ("include_example", False)} <= seen
    assert {("cache", "none"), ("cache", "redis")} <= seen
    assert {("http_client", False), ("http_client", True)} <= seen
    assert {("object_storage", "none"), ("object_storage", "s3")} <= seen
    assert {("broker", b) for b in ("none", "rabbitmq", "kafka", "nats", "redis")} <= seen
    assert {("tracing", False), ("tracing", True)} <= seen
    assert all("include_example" not in a for a in COMBINATIONS if a["database"] == "none")


def test_tracing_is_rendered_with_every_answer_its_code_reads() -> None:
    read = ("database", "cache", "http_client", "broker")
    combined = {tuple(answers[name] for name in read) for answers in UNTRACED}

    assert {tuple(answers[name] for name in read) for answers in TRACED} == combined


def test_the_rendered_suites_cover_every_pair_of_answers() -> None:
    """The slow tier runs the pairwise set; every full combination is rendered and linted here."""
    pairwise = pairwise_combinations()
    every_pair = set().union(*(answer_pairs(answers) for answers in COMBINATIONS))

    assert set().union(*(answer_pairs(answers) for answers in pairwise)) == every_pair
    assert all(answers in COMBINATIONS for answers in pairwise)
    assert len(pairwise) < len(COMBINATIONS)


def test_the_repository_itself_is_ruff_clean() -> None:
    run(ruff("check", "--no-cache", "."), REPO_ROOT)
    run(ruff("format", "--no-cache", "--check", "."), REPO_ROOT)


def test_the_pairwise_set_declares_every_dependency_of_every_combination(
    rendered: Rendered,
) -> None:
    """The shared environment is built from the pairwise set's declarations alone."""
    declared = [declared_requirements(project) for project in rendered.many(RENDERED)]
    pairwise = [declared_requirements(rendered(answers)) for answers in pairwise_combinations()]

    assert set().union(*pairwise) == set().union(*declared)
