"""Fixtures of the generator's tests: one template snapshot and one render per combination,
shared by every test and every xdist worker of the session."""

import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from resource import RUSAGE_CHILDREN, RUSAGE_SELF, getrusage
from typing import Any

import pytest
from filelock import FileLock, Timeout

from .environments import declared_requirements, shared_environment
from .forkserver import ForkServer
from .helpers import (
    REPO_ROOT,
    REQUIRE_SERVICES,
    combination_id,
    full_answers,
    pairwise_combinations,
    render,
    snapshot,
)


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A directory that all xdist workers of this run share."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


@pytest.fixture(scope="session", autouse=True)
def bytecode_of_the_run(session_dir: Path) -> Iterator[None]:
    """Every Python this run starts writes its bytecode under the run's directory: compiled once
    a run, never into a rendered project or the shared environments, never kept for the next
    run. Without it, each process would compile every module it imports again, and would also
    under a PYTHONDONTWRITEBYTECODE meant to keep bytecode out of source trees."""
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("PYTHONPYCACHEPREFIX", str(session_dir / "bytecode"))
        environment.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
        yield


@pytest.fixture(scope="session")
def template(session_dir: Path) -> Path:
    destination = session_dir / "template"
    with FileLock(f"{destination}.lock"):
        if not (destination / ".git").exists():
            shutil.rmtree(destination, ignore_errors=True)
            snapshot(destination)
    return destination


class Rendered:
    """The project rendered with some answers: rendered once in a run, whichever answers were
    left to their defaults, and read-only for the tests."""

    def __init__(self, template: Path, root: Path, worker: int, workers: int) -> None:
        self.template, self.root = template, root
        self.worker, self.workers = worker, workers

    def __call__(self, answers: Mapping[str, Any]) -> Path:
        return self._render(answers, wait=True)

    def many(self, combinations: Sequence[Mapping[str, Any]]) -> list[Path]:
        """All of them, rendered by every worker that asks at the same time: each starts at a
        place of its own and passes over a project another worker is rendering."""
        start = self.worker * len(combinations) // self.workers
        for answers in [*combinations[start:], *combinations[:start]]:
            self._render(answers, wait=False)
        return [self(answers) for answers in combinations]

    def _render(self, answers: Mapping[str, Any], wait: bool) -> Path:
        combination = full_answers(answers)
        destination = self.root / combination_id(combination)
        try:
            with FileLock(f"{destination}.lock", timeout=-1 if wait else 0):
                if not (destination / ".copier-answers.yml").exists():
                    shutil.rmtree(destination, ignore_errors=True)
                    render(self.template, destination, combination)
        except Timeout:
            pass  # another worker is rendering it
        return destination


@pytest.fixture(scope="session")
def rendered(template: Path, session_dir: Path, worker_id: str) -> Rendered:
    worker = int(worker_id.removeprefix("gw")) if worker_id != "master" else 0
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return Rendered(template, session_dir / "rendered", worker, workers)


@pytest.fixture(scope="session")
def python_for(rendered: Rendered) -> Callable[[str], Path]:
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


WORKERS_PER_CORE = 2.5
DURATIONS = Path(__file__).with_name("durations.json")
"""Seconds each test took in a recorded run (`--record-durations`): only the order tests start
in comes from it, never an outcome."""
CPU_SECONDS = REPO_ROOT / "build" / "cpu-seconds.json"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-durations",
        action="store_true",
        help=f"write how long each test took to {DURATIONS.name}, for ordering later runs",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest tests first, so that no worker starts a long one when the rest are done.

    xdist hands the tests out in this order, one at a time to a worker with fewer than two
    waiting (`--maxschedchunk=1`; by default each worker would take a quarter of its share at
    once, the longest tests all going to the first). A test missing from the
    recorded durations counts as long as the longest of its kind, slow or not, so a new slow
    test is not left for last; without any, the slow tests go first.
    """
    recorded: dict[str, float] = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    longest = {
        slow: max(
            (recorded.get(item.nodeid, 0.0) for item in items if is_slow(item) == slow),
            default=0.0,
        )
        for slow in (True, False)
    }
    items.sort(
        key=lambda item: (-recorded.get(item.nodeid, longest[is_slow(item)]), not is_slow(item))
    )


def is_slow(item: pytest.Item) -> bool:
    return item.get_closest_marker("slow") is not None


def cpu_seconds() -> float:
    """This process's processor time, that of the children it has waited for and that of the
    suites it had a fork server run."""
    own, children = (getrusage(who) for who in (RUSAGE_SELF, RUSAGE_CHILDREN))
    forked = ForkServer.processor_seconds
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + forked


class CpuMeter:
    """In each worker: the processor time a test took, its subprocesses included, sent to the
    controller with the test's last report."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        item.stash[CPU_AT_START] = cpu_seconds()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Iterator[None]:
        report = yield
        if call.when == "teardown" and CPU_AT_START in item.stash:
            report.user_properties.append(("cpu", cpu_seconds() - item.stash[CPU_AT_START]))
        return report


CPU_AT_START = pytest.StashKey[float]()


class DurationRecorder:
    """Adds up each test's setup, call and teardown, as the reports reach the controller, and
    what processor time it took (into build/, to see where a run's time goes)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + report.duration
        self.cpu.update(
            (report.nodeid, value) for name, value in report.user_properties if name == "cpu"
        )

    def pytest_sessionfinish(self) -> None:
        """Updates the files with the tests that ran, keeping what they hold of the others."""
        for path, figures in ((DURATIONS, self.seconds), (CPU_SECONDS, self.cpu)):
            known = json.loads(path.read_text()) if path.exists() else {}
            known |= {nodeid: round(seconds, 2) for nodeid, seconds in figures.items()}
            path.parent.mkdir(exist_ok=True)
            path.write_text(json.dumps(dict(sorted(known.items())), indent=0) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--record-durations"):
        if hasattr(config, "workerinput") or not config.getoption("numprocesses"):
            config.pluginmanager.register(CpuMeter(), "cpu-meter")
        if not hasattr(config, "workerinput"):
            config.pluginmanager.register(DurationRecorder(), "duration-recorder")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Five workers on two cores for `--numprocesses=auto`: the slow tests wait on servers,
    subprocesses and timers for about half their time, so one a core would leave cores idle;
    two a core still left a fifth of the processor unused, and three a core make a busy
    machine's lag fail timing tests."""
    return round(WORKERS_PER_CORE * (os.cpu_count() or 1))
