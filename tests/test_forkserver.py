"""A suite run in a fork of the preloaded server sees what `python -m pytest` would show it."""

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .forkserver import ForkServer


@pytest.fixture(scope="module")
def server() -> Iterator[ForkServer]:
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("ONLY_IN_THE_SERVER", "1")
        server = ForkServer(Path(sys.executable))
    yield server
    server.stop()


def environment(**variables: str) -> dict[str, str]:
    """This process's environment without the options given to its own pytest."""
    return {**os.environ, "PYTEST_ADDOPTS": "", **variables}


def project(root: Path, test: str) -> Path:
    (root / "src" / "library").mkdir(parents=True)
    (root / "src" / "library" / "__init__.py").write_text("NAME = 'library'\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_it.py").write_text(textwrap.dedent(test))
    return root


def test_a_suite_sees_what_python_m_pytest_shows_it(server: ForkServer, tmp_path: Path) -> None:
    """Its working directory, `sys.path`, environment, arguments and `__main__`."""
    root = project(
        tmp_path,
        """
        import json, os, sys
        from pathlib import Path

        import library

        def test_it():
            seen = {
                "cwd": os.getcwd(),
                "path": sys.path[: sys.path.index(os.path.dirname(os.__file__))],
                "environment": {"ONLY_IN_THE_SERVER": os.environ.get("ONLY_IN_THE_SERVER")},
                "argv": sys.argv[1:],
                "main": sys.modules["__main__"].__spec__.name,
                "library": library.NAME,
            }
            Path(os.environ["SEEN"]).write_text(json.dumps(seen))
            print("written by the test")
        """,
    )
    arguments = ["-p", "no:cacheprovider", "-s", "tests"]
    seen = {}
    for way in ("fork", "process"):
        env = environment(SEEN=str(tmp_path / way), PYTHONPATH=str(root / "src"))
        if way == "fork":
            code, output = server.run(arguments, root, env, timeout=60)
        else:
            started = [sys.executable, "-m", "pytest", *arguments]
            result = subprocess.run(started, cwd=root, env=env, capture_output=True, text=True)
            code, output = result.returncode, result.stdout + result.stderr
        assert code == 0, output
        assert "written by the test" in output
        seen[way] = json.loads((tmp_path / way).read_text())

    assert seen["fork"] == seen["process"]
    assert seen["fork"]["environment"] == {"ONLY_IN_THE_SERVER": None}


def test_a_failing_suite_exits_1_and_shows_why(server: ForkServer, tmp_path: Path) -> None:
    root = project(tmp_path, "def test_it():\n    assert 1 + 1 == 3\n")

    code, output = server.run(["-p", "no:cacheprovider", "tests"], root, environment(), 60)

    assert code == 1
    assert "assert (1 + 1) == 3" in output


def test_a_suite_past_its_timeout_is_ended_with_what_it_started(
    server: ForkServer, tmp_path: Path
) -> None:
    marker = tmp_path / "sleeper.pid"
    root = project(
        tmp_path,
        f"""
        import subprocess, sys, time
        from pathlib import Path

        def test_it():
            sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            Path({str(marker)!r}).write_text(str(sleeper.pid))
            time.sleep(60)
        """,
    )

    with pytest.raises(subprocess.TimeoutExpired):
        server.run(["-p", "no:cacheprovider", "tests"], root, environment(), timeout=5)

    sleeper = int(marker.read_text())
    deadline = time.monotonic() + 5
    while _running(sleeper):
        assert time.monotonic() < deadline, f"{sleeper}, started by the suite, outlived it"
        time.sleep(0.05)


def _running(pid: int) -> bool:
    """Whether `pid` runs: a process ended but not yet reaped is a zombie, state Z."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
