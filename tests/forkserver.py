"""A shared environment's Python with the packages of every rendered suite already imported,
forking a process for each suite instead of starting one.

A rendered suite's pytest spends about 1.3 s of processor time importing pytest, FastAPI,
SQLAlchemy, pydantic and the drivers before it collects a test, the same in every suite. The
server imports them once; each suite then runs in a fork of it, as `python -m pytest` would run
in the project: its own working directory, environment, `sys.path` and process group, its
output in a file. Only packages that read nothing from the environment when imported are
imported ahead (`PRELOADED`), so a suite's environment means what it would mean in a new process.

This file runs both in the generator's tests (the client, `ForkServer`) and, as a script, under
a shared environment's Python (the server): it imports nothing beyond the standard library.
"""

import contextlib
import importlib
import io
import json
import os
import runpy
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

PRELOADED = (
    "pytest",
    "pytest_asyncio.plugin",
    "anyio",
    "pydantic",
    "pydantic_settings",
    "fastapi",
    "starlette.testclient",
    "httpx",
    "asgi_lifespan",
    "sqlalchemy.ext.asyncio",
    "sqlalchemy.orm",
    "alembic.command",
    "asyncpg",
    "aiomysql",
    "aiosqlite",
    "redis.asyncio",
    "aio_pika",
    "nats",
    "aiokafka",
    "aiobotocore.session",
    "uvicorn",
)
"""What every suite imports, or the suites of some answer. Left out: what reads environment
variables when it is imported (prometheus_client's multiprocess mode, OpenTelemetry's context),
whose reading would be the server's instead of the suite's."""


class ForkServer:
    """A server under `python`, started on first use and stopped with this process."""

    processor_seconds = 0.0
    """The processor time of every suite run through a fork server in this process, their
    subprocesses included: they are the server's children, so this process's own count of its
    children's time leaves them out."""

    def __init__(self, python: Path) -> None:
        self.python = python
        self._folder = tempfile.TemporaryDirectory(prefix="forkserver-")
        self.address = str(Path(self._folder.name) / "socket")
        # The server ends when its standard input does, with this process at the latest.
        self._server = subprocess.Popen(
            [str(python), __file__, self.address, *PRELOADED],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._server.stdout is not None
        if self._server.stdout.readline() != "ready\n":
            raise RuntimeError(f"the fork server under {python} did not start")

    def run(
        self, arguments: list[str], cwd: Path, env: dict[str, str], timeout: float
    ) -> tuple[int, str]:
        """Run `python -m pytest *arguments` in `cwd` with `env`; its exit code and output
        (standard output and error, interleaved as written)."""
        output = Path(self._folder.name) / f"output-{os.getpid()}-{id(arguments)}"
        request = {"argv": arguments, "cwd": str(cwd), "env": env, "output": str(output)}
        with socket.socket(socket.AF_UNIX) as connection:
            connection.connect(self.address)
            connection.sendall(json.dumps(request).encode() + b"\n")
            connection.settimeout(timeout)
            replies = connection.makefile()
            pid = int(self._reply(replies.readline(), "pid"))
            try:
                code, seconds = self._reply(replies.readline(), "exit").split()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(["pytest", *arguments], timeout) from None
        ForkServer.processor_seconds += float(seconds)
        try:
            return int(code), output.read_text(errors="replace")
        finally:
            output.unlink(missing_ok=True)

    def _reply(self, line: str, word: str) -> str:
        if not line.startswith(f"{word} "):
            status = self._server.poll()
            raise RuntimeError(f"the fork server under {self.python} stopped (exit {status})")
        return line.removeprefix(f"{word} ")

    def stop(self) -> None:
        assert self._server.stdin is not None
        self._server.stdin.close()
        self._server.wait(30)
        self._folder.cleanup()


def _run_pytest(request: dict[str, object]) -> int:
    """In the forked child: become `python -m pytest` run in the request's project."""
    os.setsid()  # a group of its own, which a timeout ends with everything the suite started
    output = os.open(str(request["output"]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    environment = request["env"]
    assert isinstance(environment, dict)
    os.environ.clear()
    os.environ.update(environment)
    cwd = str(request["cwd"])
    os.chdir(cwd)
    # `python -m` puts the working directory first, then PYTHONPATH, where the server's script
    # directory was.
    added = [entry for entry in environment.get("PYTHONPATH", "").split(os.pathsep) if entry]
    sys.path[:] = [cwd, *added, *sys.path[1:]]
    argv = request["argv"]
    assert isinstance(argv, list)
    sys.argv = ["pytest", *argv]
    try:
        runpy.run_module("pytest", run_name="__main__", alter_sys=True)
    except SystemExit as exit:
        code = exit.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


def _preload(modules: list[str]) -> None:
    """Import pytest's plugins as pytest imports them, through its assertion rewriting, by
    collecting an empty folder; then the rest. A plugin imported otherwise would be imported
    already when the suite's pytest starts, too late to rewrite, and pytest would say so."""
    os.environ.pop("PYTEST_ADDOPTS", None)  # options of the client's pytest, not for this one
    with tempfile.TemporaryDirectory() as empty, contextlib.redirect_stdout(io.StringIO()):
        importlib.import_module("pytest").main(["-q", "-p", "no:cacheprovider", "--co", empty])
    for module in modules:
        with contextlib.suppress(ModuleNotFoundError):  # each environment has what it declares
            importlib.import_module(module)


def _serve(address: str, modules: list[str]) -> None:
    _preload(modules)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(address)
    listener.listen(16)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}
    print("ready", flush=True)
    while True:
        for key, _ in selector.select(timeout=0.05):
            if key.fileobj is sys.stdin:
                for pid in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGKILL)
                return
            connection, _ = listener.accept()
            request = json.loads(connection.makefile().readline())
            pid = os.fork()
            if pid == 0:
                listener.close()
                selector.close()
                connection.close()
                os._exit(_run_pytest(request))
            connection.sendall(f"pid {pid}\n".encode())
            children[pid] = connection
        while children:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                break
            connection = children.pop(pid)
            code, seconds = os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
            with contextlib.suppress(OSError):  # the client may have given up on it
                connection.sendall(f"exit {code} {seconds}\n".encode())
            connection.close()


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2:])
