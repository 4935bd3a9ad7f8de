"""What the generator's tests share: reading copier.yml, rendering, running commands."""

import atexit
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from functools import cache, cached_property
from pathlib import Path
from types import CodeType
from typing import Any

import jinja2
import yaml
from copier._main import Worker
from copier._template import Template
from copier._types import AnyByStrMutableMapping, LazyDict
from jinja2.sandbox import SandboxedEnvironment

from .forkserver import ForkServer

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


@cache
def _varied_questions() -> dict[str, dict[str, Any]]:
    """The questions with choices and the yes/no ones: those that change what is rendered."""
    return {
        name: spec
        for name, spec in asked_questions().items()
        if "choices" in spec or spec.get("type") == "bool"
    }


def _asked_of(answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers in question order, less those to questions that these answers never ask."""
    specs = _varied_questions()
    return {name: answers[name] for name in specs if _is_asked(specs[name], answers)}


def combinations() -> list[dict[str, Any]]:
    """Every distinct set of answers to the questions that change what is rendered.

    Questions with choices and yes/no questions are varied; free-text ones keep their defaults.
    Answers to questions that a combination never asks are dropped, and duplicates with them.
    """
    varied = {
        name: choice_values(spec) if "choices" in spec else [True, False]
        for name, spec in _varied_questions().items()
    }
    distinct: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
    for values in itertools.product(*varied.values()):
        asked = _asked_of(dict(zip(varied, values, strict=True)))
        distinct.setdefault(tuple(sorted(asked.items())), asked)
    return list(distinct.values())


def full_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    """The combination that `answers` render: every varied question answered, the ones left out
    by their defaults, so that two spellings of one render share one name.

    Free-text answers are not varied by the matrix; a test that gives one renders on its own.
    """
    unknown = set(answers) - set(_varied_questions())
    assert not unknown, f"free-text answers have no combination: {sorted(unknown)}"
    defaults = {name: spec["default"] for name, spec in _varied_questions().items()}
    return _asked_of({**defaults, **answers})


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


_COMPILED: dict[tuple[Any, ...], CodeType | str] = {}
"""Jinja's compiled templates by source and environment, kept for the life of the process."""
_TEMPLATES: dict[tuple[Any, ...], Template] = {}
"""Copier's template objects, each with its clone and its parsed copier.yml, by what they
were read from, kept for the life of the process."""


def _template_state(url: str, ref: str) -> tuple[str, ...] | None:
    """Everything Copier reads from a git template at `ref`: the commit, how it is described
    (the nearest tag and the distance to it), and whether the work tree holds uncommitted
    changes, which Copier copies into its clone. None where any of it cannot be had."""
    commands = (
        ["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        ["describe", "--tags", "--always", ref],
        ["status", "--porcelain", "--untracked-files=all"],
    )
    answers = []
    for command in commands:
        result = run(["git", *command], Path(url), check=False)
        if result.returncode != 0:
            return None
        answers.append(result.stdout)
    commit, description, changes = answers
    return None if changes else (commit, description)


def _compile_once(environment: SandboxedEnvironment) -> None:
    """Make `environment` reuse what an equally configured environment compiled before.

    Copier builds a new environment for every render and compiles each template again, which is
    most of a render's time. The compiled code depends only on the source, the template's name
    and the settings that shape the lexer and the code generator, which are the key. The file
    name, a new clone of the template each time, only labels tracebacks. Extensions still see the
    source before every compile, as they would.
    """
    compile_anew = environment.compile
    settings = (
        type(environment),
        environment.lexer,  # one per set of delimiters and whitespace rules
        tuple(sorted(environment.extensions)),
        environment.optimized,
        environment.autoescape,
        environment.finalize,
        environment.is_async,
    )

    def compile(source, name=None, filename=None, raw=False, defer_init=False):  # type: ignore[no-untyped-def]
        key = (settings, source, name, raw, defer_init)
        if key not in _COMPILED:
            _COMPILED[key] = compile_anew(source, name, filename, raw, defer_init)
        else:
            environment.preprocess(source, name, filename)
        return _COMPILED[key]

    environment.compile = compile  # type: ignore[method-assign]


class _Worker(Worker):
    """Copier's worker, rendering exactly as `copier copy` does, with compiled templates reused
    and a question to git that a render into a plain directory never needs left out: together a
    quarter of the time a render takes. Copier's own class, not a public API of it:
    `test_the_tests_render_what_copier_copy_renders` holds the two to the same output."""

    @cached_property
    def template(self) -> Template:
        """Copier clones the template and parses its copier.yml for every render, about 40 %
        of a render's time; this reads each template commit once a process. A repository that
        moved on, was tagged or has uncommitted changes since is read again."""
        ref = self.resolved_vcs_ref
        state = _template_state(self.src_path, ref) if self.src_path and ref else None
        if state is None:
            return Worker.template.func(self)  # type: ignore[attr-defined]
        key = (self.src_path, ref, self.use_prereleases, *state)
        if key not in _TEMPLATES:
            template = Template(url=self.src_path, ref=ref, use_prereleases=self.use_prereleases)
            atexit.register(template._cleanup)
            _TEMPLATES[key] = template
        return _TEMPLATES[key]

    @cached_property
    def jinja_env(self) -> SandboxedEnvironment:
        environment = super().jinja_env
        _compile_once(environment)
        return environment

    def _render_template(self) -> None:
        self._final_context = super()._render_context()
        try:
            super()._render_template()
        finally:
            del self._final_context

    def _render_context(self) -> AnyByStrMutableMapping:
        """Copier builds the whole context again for every path and file it renders, a third
        of a render's time, though the answers are final once rendering starts; this builds it
        once then. Each caller still gets its own `_copier_conf`, which Copier edits."""
        final = getattr(self, "_final_context", None)
        if final is None:
            return super()._render_context()
        return {**final, "_copier_conf": LazyDict(final["_copier_conf"]._pending)}

    def _sync_git_index_executable_bit(self, dst_relpath: Path, src_mode: int) -> None:
        """Copier asks git, once per file, whether the destination's index needs an executable
        bit; outside a git repository the answer is always no, so the question is not asked."""
        destination = Path(self.subproject.local_abspath)
        if any((folder / ".git").exists() for folder in (destination, *destination.parents)):
            super()._sync_git_index_executable_bit(dst_relpath, src_mode)


def render(
    template: Path, destination: Path, answers: Mapping[str, Any], ref: str = "HEAD"
) -> Path:
    with _Worker(
        src_path=str(template),
        dst_path=destination,
        data=dict(answers),
        defaults=True,
        vcs_ref=ref,
        quiet=True,
        unsafe=False,
    ) as worker:
        worker.run_copy()
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
    """Environment for running a rendered project's code from the shared environment.

    Under the tests, bytecode goes to the run's own directory (`PYTHONPYCACHEPREFIX`, set by
    conftest.py), so the project stays as rendered and each module is compiled once a run.
    Options given to this repository's pytest through PYTEST_ADDOPTS are not the project's."""
    return {"PYTHONPATH": str(project / "src"), "PYTEST_ADDOPTS": ""}


@cache
def _fork_server(python: Path) -> ForkServer:
    server = ForkServer(python)
    atexit.register(server.stop)
    return server


def run_rendered_suite(
    project: Path,
    python: Path,
    *pytest_arguments: str,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float = 900,
) -> str:
    """Run a rendered project's pytest under a shared environment's Python, in a fork of a
    server that has imported what every suite imports (`forkserver.py`); its output."""
    # A temporary directory of the run's own: in the shared one, each run would first clear
    # out what the runs before it left.
    with tempfile.TemporaryDirectory(prefix="rendered-suite-") as temporary:
        arguments = ["-p", "no:cacheprovider", "-q", "--basetemp", temporary, *pytest_arguments]
        environment = {**os.environ, **rendered_project_env(project), **(env or {})}
        code, output = _fork_server(python).run(arguments, project, environment, timeout)
    if check and code != 0:
        raise AssertionError(
            f"pytest {' '.join(arguments)} exited {code} in {project}\n--- output ---\n{output}"
        )
    return output


def recorded_answers(project: Path) -> dict[str, Any]:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def text_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".git" not in path.parts and "__pycache__" not in path.parts:
            yield path


def ruff(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "ruff", *arguments]


RUFF_COMMANDS = {
    "check": ["check", "--no-cache", "--output-format=concise", "--quiet"],
    "format": ["format", "--no-cache", "--check", "--output-format=concise", "--quiet"],
}
"""The two ruff commands every rendered project must pass, each finding on a line of its own."""


def ruff_findings(projects: list[Path], command: str, target: str) -> dict[Path, list[str]]:
    """What `ruff check` or `ruff format --check` finds in each project, from one ruff process.

    Ruff reads each file's settings from the nearest pyproject.toml, so a run over many projects
    applies each one's own configuration, as a run inside it does; the finding's path tells
    whose it is. Every project gets an entry, empty where ruff found nothing.
    """
    result = run(
        ruff(*RUFF_COMMANDS[command], "--target-version", target, *map(str, projects)),
        REPO_ROOT,
        check=False,
    )
    if result.returncode not in {0, 1}:
        raise AssertionError(f"ruff {command} failed:\n{result.stdout}{result.stderr}")
    findings: dict[Path, list[str]] = {project: [] for project in projects}
    for line in (result.stdout + result.stderr).splitlines():
        owner = next((p for p in projects if f"{p}{os.sep}" in line), None)
        if owner is None:
            # A warning about ruff itself would not fail a run inside one project either.
            if line.strip() and not line.startswith("warning:"):
                raise AssertionError(f"ruff {command}: a finding outside the projects: {line}")
            continue
        findings[owner].append(line.replace(f"{owner}{os.sep}", ""))
    return findings
