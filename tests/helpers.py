"""What the generator's tests share: reading copier.yml, rendering, running commands."""

import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import copier
import jinja2
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_SOURCES = ("copier.yml", "includes", "template")
GIT = ["git", "-c", "user.name=Template Tests", "-c", "user.email=tests@example.com"]
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
"""Set by CI: what would be skipped for lack of a server or interpreter fails instead."""


class _CopierYamlLoader(yaml.SafeLoader):
    """Reads copier.yml the way Copier does, following its `!include` tags."""


def _include(loader: _CopierYamlLoader, node: yaml.Node) -> Any:
    path = REPO_ROOT / str(loader.construct_scalar(node))
    return yaml.load(path.read_text(), Loader=_CopierYamlLoader)


_CopierYamlLoader.add_constructor("!include", _include)


def copier_config() -> dict[str, Any]:
    """Settings (keys starting with "_") and questions, merged from every document."""
    merged: dict[str, Any] = {}
    for document in yaml.load_all((REPO_ROOT / "copier.yml").read_text(), Loader=_CopierYamlLoader):
        merged.update(document or {})
    return merged


def questions() -> dict[str, dict[str, Any]]:
    """Every question, computed values included, in the order Copier asks them."""
    return {name: spec for name, spec in copier_config().items() if not name.startswith("_")}


def asked_questions() -> dict[str, dict[str, Any]]:
    """The questions a person may be asked: computed values (`when: false`) left out."""
    return {name: spec for name, spec in questions().items() if spec.get("when") is not False}


def choice_values(spec: Mapping[str, Any]) -> list[Any]:
    choices = spec["choices"]
    return list(choices.values()) if isinstance(choices, dict) else list(choices)


def _is_asked(spec: Mapping[str, Any], answers: Mapping[str, Any]) -> bool:
    when = spec.get("when", True)
    if isinstance(when, bool):
        return when
    rendered = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(when)
    return rendered.render(answers).strip().lower() == "true"


def combinations() -> list[dict[str, Any]]:
    """Every distinct set of answers to the questions that change what is rendered.

    Questions with choices and yes/no questions are varied; free-text ones keep their defaults.
    Answers to questions that a combination never asks are dropped, and duplicates with them.
    """
    specs = {
        name: spec
        for name, spec in asked_questions().items()
        if "choices" in spec or spec.get("type") == "bool"
    }
    varied = {
        name: choice_values(spec) if "choices" in spec else [True, False]
        for name, spec in specs.items()
    }
    distinct: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
    for values in itertools.product(*varied.values()):
        answers = dict(zip(varied, values, strict=True))
        asked = {name: value for name, value in answers.items() if _is_asked(specs[name], answers)}
        distinct.setdefault(tuple(sorted(asked.items())), asked)
    return list(distinct.values())


def answer_pairs(answers: Mapping[str, Any]) -> set[tuple[tuple[str, Any], tuple[str, Any]]]:
    items = sorted(answers.items(), key=lambda item: item[0])
    return set(itertools.combinations(items, 2))


def pairwise_combinations() -> list[dict[str, Any]]:
    """A few combinations that between them hold every pair of answers that can occur together.

    Chosen greedily from `combinations()`: each pick covers the most pairs not yet covered, the
    earliest in order on a tie, so the set is the same on every run and grows with copier.yml.
    """
    candidates = combinations()
    uncovered = set().union(*(answer_pairs(answers) for answers in candidates))
    chosen = []
    while uncovered:
        best = max(candidates, key=lambda answers: len(answer_pairs(answers) & uncovered))
        chosen.append(best)
        uncovered -= answer_pairs(best)
    return chosen


def combination_id(answers: Mapping[str, Any]) -> str:
    return "-".join(
        f"{name}={value}" if not isinstance(value, bool) else f"{name}={'yes' if value else 'no'}"
        for name, value in answers.items()
    )


def copy_template_sources(destination: Path) -> None:
    """Put the working tree's copier.yml, includes and template into `destination`, replacing
    what is there."""
    for name in TEMPLATE_SOURCES:
        source, target = REPO_ROOT / name, destination / name
        shutil.rmtree(target, ignore_errors=True)
        target.unlink(missing_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)


def snapshot(destination: Path) -> Path:
    """A committed copy of the template as it is in the working tree.

    Copier renders a git template from a commit; rendering the working tree directly would
    depend on whether it happens to be clean. The snapshot holds only what Copier reads.
    """
    destination.mkdir(parents=True)
    copy_template_sources(destination)
    git_init(destination)
    commit_all(destination, "snapshot")
    return destination


def git_init(repository: Path) -> None:
    run([*GIT, "init", "--quiet", "--initial-branch=main"], repository)


def commit_all(repository: Path, message: str) -> str:
    """Stage everything in `repository`, commit it, and return the commit's hash."""
    run([*GIT, "add", "--all"], repository)
    run([*GIT, "commit", "--quiet", "--allow-empty", "--message", message], repository)
    return run(["git", "rev-parse", "HEAD"], repository).stdout.strip()


def render(
    template: Path, destination: Path, answers: Mapping[str, Any], ref: str = "HEAD"
) -> Path:
    copier.run_copy(
        str(template),
        destination,
        data=dict(answers),
        defaults=True,
        vcs_ref=ref,
        quiet=True,
        unsafe=False,
    )
    return destination


def run(
    command: list[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run a command, and on failure show its whole output in the assertion."""
    result = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} exited {result.returncode} in {cwd}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    return result


def rendered_project_env(project: Path) -> dict[str, str]:
    """Environment for running a rendered project's code from the shared environment."""
    return {"PYTHONPATH": str(project / "src"), "PYTHONDONTWRITEBYTECODE": "1"}


def run_rendered_suite(
    project: Path,
    python: Path,
    *pytest_arguments: str,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> str:
    result = run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q", *pytest_arguments],
        project,
        env={**rendered_project_env(project), **(env or {})},
        check=check,
    )
    return result.stdout + result.stderr


def recorded_answers(project: Path) -> dict[str, Any]:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def text_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".git" not in path.parts and "__pycache__" not in path.parts:
            yield path


def ruff(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "ruff", *arguments]
