"""One Python environment per Python version, shared by every rendered project.

Installing each rendered project on its own would take most of the suite's time. Instead the
environment holds the union of what the rendered projects declare, and each project's tests run
in it with `src/` on the path. It is kept in the user's cache directory, shared by every clone
and run, and built anew when the requirements change; one unused for a fortnight is removed.
"""

import hashlib
import os
import shutil
import subprocess
import time
import tomllib
from collections.abc import Iterable
from pathlib import Path

from filelock import FileLock, Timeout

from .helpers import REPO_ROOT, run

ENVIRONMENTS = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "fastapi-lifespan-template"
    / "environments"
)
UNUSED_FOR = 14 * 24 * 3600
"""Seconds after its last use that an environment is removed, when another is built."""
UV_ENV = {"UV_PYTHON_DOWNLOADS": "never"}


def declared_requirements(project: Path) -> set[str]:
    """The project's dependencies, its dev group and its build backend, as its pyproject.toml
    declares them. The backend is among them so that uv's cache holds it for an offline build of
    the project itself."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    return (
        set(pyproject["project"]["dependencies"])
        | set(pyproject.get("dependency-groups", {}).get("dev", []))
        | set(pyproject["build-system"]["requires"])
    )


def find_interpreter(version: str) -> Path | None:
    """An installed CPython of this minor version: uv's discovery, then pyenv's versions."""
    uv = shutil.which("uv")
    if uv:
        found = subprocess.run(
            [uv, "python", "find", "--no-project", version],
            capture_output=True,
            text=True,
            env={**os.environ, **UV_ENV},
            check=False,
        )
        if found.returncode == 0:
            return Path(found.stdout.strip())
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for candidate in sorted((pyenv_root / "versions").glob(f"{version}.*/bin/python{version}")):
        return candidate
    return None


def shared_environment(version: str, requirements: Iterable[str]) -> Path:
    """The path of a virtual environment's Python with `requirements` installed."""
    interpreter = find_interpreter(version)
    if interpreter is None:
        raise LookupError(
            f"no Python {version} found; install it, e.g. `uv python install {version}`"
        )
    wanted = sorted(set(requirements))
    key = hashlib.sha256("\n".join([version, *wanted]).encode()).hexdigest()[:12]
    environment = ENVIRONMENTS / f"py{version}-{key}"
    ENVIRONMENTS.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{environment}.lock"):
        ready = environment / ".ready"
        if not ready.exists():
            shutil.rmtree(environment, ignore_errors=True)
            remove_unused(version)
            uv = shutil.which("uv") or "uv"
            run(
                [uv, "venv", "--quiet", "--python", str(interpreter), str(environment)],
                REPO_ROOT,
                UV_ENV,
            )
            python = environment / "bin" / "python"
            run(
                [uv, "pip", "install", "--quiet", "--python", str(python), *wanted],
                REPO_ROOT,
                UV_ENV,
            )
        ready.touch()
    return environment / "bin" / "python"


def remove_unused(version: str) -> None:
    """Environments of this Python that no run has used for a while: their requirements have
    changed since."""
    for ready in ENVIRONMENTS.glob(f"py{version}-*/.ready"):
        if time.time() - ready.stat().st_mtime > UNUSED_FOR:
            try:
                with FileLock(f"{ready.parent}.lock", timeout=0):
                    shutil.rmtree(ready.parent, ignore_errors=True)
            except Timeout:
                pass  # in use by another run after all
