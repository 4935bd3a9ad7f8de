"""Processes of a run: servers under test, wrk, pgbench, the raw-driver loop, the open-loop
generator, and a sampler of the pool's checked-out connections.

The machine may have few cores. The server under test is pinned to the last core and every load
generator to the first (taskset), each load generator with one thread, so that they do not
take turns on the same core; PostgreSQL is left to the scheduler.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .project import PG_HOST, PG_PORT, PG_USER, Project
from .scenarios import ACCOUNTS, HOT_PRODUCT, PRODUCTS

BENCH_DIR = Path(__file__).resolve().parent
LUA = BENCH_DIR / "wrk" / "scenario.lua"
CORES = os.cpu_count() or 1


def pinned(command: list[str], role: str) -> list[str]:
    """`command` pinned to the server's core or the load generators' core, when both exist."""
    if CORES < 2 or shutil.which("taskset") is None:
        return command
    core = CORES - 1 if role == "server" else 0
    return ["taskset", "-c", str(core), *command]


@dataclass(frozen=True)
class Served:
    port: int
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (user and system), from /proc."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(port: int, path: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as answer:
        return bytes(answer.read())


@contextlib.contextmanager
def server(
    project: Project, rung: str, env: dict[str, str], log: Path, app: str | None = None
) -> Iterator[Served]:
    """Serve the rung's app on a free loopback port until the block ends.

    L4 runs the service's production entry point, `python -m <package>.server`; the others (and
    L4 with a bench route added) go through `<package>.server.main(app)`, the same uvicorn call.
    """
    port = free_port()
    settings = {
        f"{project.prefix}SERVER__PORT": str(port),
        f"{project.prefix}SERVER__HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        **env,
    }
    if app is None:
        command = [str(project.python), "-m", f"{project.package}.server"]
    else:
        command = [str(project.python), "-m", "bench.servers.launch", project.package, app]
    with log.open("ab") as output:
        process = subprocess.Popen(
            pinned(command, "server"),
            cwd=project.root,
            env=project.env(**settings),
            stdout=subprocess.DEVNULL,  # the access log: a JSON line per request
            stderr=output,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{rung} server exited {process.returncode}; see {log}")
            try:
                get(port, "/health/live", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{rung} server did not start; see {log}") from None
                time.sleep(0.1)
        # taskset execs the command, and one uvicorn worker serves in the process itself.
        yield Served(port, process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def checked_out(port: int, rung: str) -> int | None:
    """Connections the server's pool has out right now: L4's gauge, L3's own count."""
    try:
        if rung == "L3":
            return int(json.loads(get(port, "/bench/pool"))["checked_out"])
        if rung == "L4":
            text = get(port, "/metrics").decode()
            found = re.search(r"^db_pool_connections_checked_out ([0-9.e+-]+)$", text, re.M)
            return round(float(found.group(1))) if found else None
    except OSError:
        return None
    return None


@contextlib.contextmanager
def pool_sampler(port: int | None, rung: str, interval: float = 0.25) -> Iterator[dict[str, int]]:
    """Sample the pool's checked-out connections while the block runs; `peak` is the highest."""
    seen: dict[str, int] = {}
    if port is None or rung not in ("L3", "L4"):
        yield seen
        return
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            value = checked_out(port, rung)
            if value is not None:
                seen["peak"] = max(seen.get("peak", 0), value)
            stop.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


def wrk(port: int, scenario: str, connections: int, seconds: float) -> dict[str, object]:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}",
    ]
    env = {
        **os.environ,
        "BENCH_SCENARIO": scenario,
        "BENCH_PRODUCTS": str(PRODUCTS),
        "BENCH_HOT_PRODUCT": str(HOT_PRODUCT),
        "BENCH_ACCOUNTS": str(ACCOUNTS),
    }
    result = subprocess.run(
        pinned(command, "load"), env=env, capture_output=True, text=True, check=False
    )
    line = next(
        (line for line in result.stdout.splitlines() if line.startswith("BENCH_JSON ")), None
    )
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr}{result.stdout}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    counts = raw["counts"]
    socket_errors = sum(raw["socket_errors"].values())
    return {
        "requests": raw["requests"],
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "ok": counts["s2xx"],
        "conflicts_409": counts["s409"],
        "rejected_503": counts["s503"],
        "missing_retry_after": counts["s503_no_retry_after"],
        "unintended": counts["s3xx"]
        + counts["s4xx"]
        - counts["s409"]
        + counts["s5xx"]
        - counts["s503"]
        + socket_errors,
        "socket_errors": raw["socket_errors"],
    }


def pgbench(
    dsn_database: str, script: str, clients: int, seconds: float, workdir: Path
) -> dict[str, object]:
    """pgbench on the service's SQL, extended protocol with prepared statements like asyncpg."""
    scratch = workdir / f"pgbench-{time.monotonic_ns()}"
    scratch.mkdir()
    (scratch / "script.sql").write_text(script)
    command = [
        "pgbench",
        "-n",
        "-M",
        "prepared",
        "-h",
        PG_HOST,
        "-p",
        PG_PORT,
        "-U",
        PG_USER,
        "-c",
        str(clients),
        "-j",
        "1",
        "-T",
        str(max(1, round(seconds))),
        "-l",
        "--log-prefix",
        str(scratch / "log"),
        "-f",
        str(scratch / "script.sql"),
        dsn_database,
    ]
    result = subprocess.run(pinned(command, "load"), capture_output=True, text=True, check=False)
    if result.returncode not in (0, 2):
        raise RuntimeError(f"pgbench failed ({result.returncode}): {result.stderr}")
    latencies = []
    for log in scratch.glob("log*"):
        for line in log.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2].isdigit():
                latencies.append(int(fields[2]) / 1000)
    latencies.sort()
    tps = re.search(r"tps = ([0-9.]+)", result.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", result.stdout)
    shutil.rmtree(scratch, ignore_errors=True)
    return {
        "requests": len(latencies),
        "rps": float(tps.group(1)) if tps else 0.0,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "ok": len(latencies),
        "conflicts_409": 0,
        "rejected_503": 0,
        "missing_retry_after": 0,
        "unintended": (int(failed.group(1)) if failed else 0)
        + (1 if result.returncode == 2 else 0),
        "aborted": result.returncode == 2,
    }


def json_report(
    what: str, command: list[str], cwd: Path, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run one of the bench's own Python measuring programs; its last line of output is JSON."""
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed: {result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def driver(
    project: Project, dsn: str, scenario: str, tasks: int, seconds: float
) -> dict[str, object]:
    command = [
        str(project.python),
        "-m",
        "bench.servers.driver",
        scenario,
        str(tasks),
        str(seconds),
    ]
    raw = json_report(
        "the L2 loop", pinned(command, "server"), project.root, project.env(BENCH_DSN=dsn)
    )
    return {
        "requests": raw["units"],
        "rps": raw["units_per_s"],
        "statements_per_s": raw["statements_per_s"],
        "p50_ms": raw["p50_ms"],
        "p99_ms": raw["p99_ms"],
        "ok": raw["units"],
        "conflicts_409": 0,
        "rejected_503": 0,
        "missing_retry_after": 0,
        "unintended": sum(raw["errors"].values()),
        "driver_errors": raw["errors"],
        "pool_checked_out_after": raw["pool_checked_out_after"],
    }


def openloop(port: int, scenario: str, rate: float, seconds: float) -> dict[str, object]:
    command = [
        sys.executable,
        "-m",
        "bench.openloop",
        "--port",
        str(port),
        "--scenario",
        scenario,
        "--rate",
        f"{rate:.1f}",
        "--seconds",
        str(seconds),
    ]
    raw = json_report("the open-loop generator", pinned(command, "load"), BENCH_DIR.parent)
    statuses = {int(code): count for code, count in raw["statuses"].items()}
    unintended = sum(
        count for code, count in statuses.items() if not (200 <= code < 300 or code in (409, 503))
    ) + sum(raw["failures"].values())
    return {
        "requests": raw["sent"],
        "rps": raw["served_per_s"],
        "p50_ms": raw["p50_ms"],
        "p99_ms": raw["p99_ms"],
        "max_ms": raw["max_ms"],
        "ok": raw["served"],
        "conflicts_409": statuses.get(409, 0),
        "rejected_503": statuses.get(503, 0),
        "missing_retry_after": raw["missing_retry_after"],
        "unintended": unintended,
        "rejected_p99_ms": raw["rejected_p99_ms"],
        "rejected_max_ms": raw["rejected_max_ms"],
        "lag_p99_ms": raw["lag_p99_ms"],
        "lag_max_ms": raw["lag_max_ms"],
        "failures": raw["failures"],
    }


def percentile(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
