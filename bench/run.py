"""The benchmark run: render, set up the database, measure every rung, check, report."""

import argparse
import contextlib
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import loadgen, report, sql
from .project import Database, Project, missing_tools, render_project, workdir
from .scenarios import (
    ACCOUNTS,
    HOT_PRODUCT,
    OVERLOAD,
    OVERLOAD_CAPACITY,
    OVERLOAD_FACTOR,
    OVERLOAD_MAX_WAITING,
    OVERLOAD_POOL_SIZE,
    OVERLOAD_POOL_TIMEOUT,
    POOL_SIZE,
    PRODUCTS,
    SCENARIOS,
)

RUNGS = ("L0", "L1", "L2", "L3", "L4")
RUNG_NAMES = {
    "L0": "bare ASGI app",
    "L1": "pgbench",
    "L2": "asyncpg pool",
    "L3": "FastAPI + asyncpg",
    "L4": "rendered service",
}
CAPACITY_FRACTION = 0.8
"""The overload scenario's reference run offers this share of the small pool's capacity."""
FIXED_RATE_SHARE = 0.5
"""Open-loop runs per endpoint offer this share of the service's best closed-loop throughput."""
FIXED_RATE_CEILING = 800.0
"""...and no more than this many requests per second, which the generator sends on time."""


@dataclass
class Bench:
    project: Project
    database: Database
    work: Path
    seconds: float
    concurrency: list[int]
    scenarios: list[str]
    rungs: list[str]
    smoke: bool = False
    results: list[dict[str, Any]] = field(default_factory=list)
    fixed_rates: dict[str, float] = field(default_factory=dict)

    def record(
        self,
        rung: str,
        scenario: str,
        mode: str,
        load: float,
        measured: dict[str, Any],
        pool_leak: int | None = None,
    ) -> dict[str, Any]:
        broken = self.database.settled_invariants()
        if pool_leak:
            broken.append(f"{pool_leak} connections still checked out of the pool")
        if measured.get("missing_retry_after"):
            broken.append(f"{measured['missing_retry_after']} answers 503 without Retry-After")
        entry = {
            "rung": rung,
            "scenario": scenario,
            "mode": mode,
            "load": load,
            **measured,
            "broken": broken,
            "valid": not broken,
        }
        self.results.append(entry)
        report.progress(entry)
        return entry

    def server_settings(
        self, rung: str, pool_size: int, pool_timeout: float, max_waiting: int | None
    ) -> dict[str, str]:
        prefix = self.project.prefix
        if rung == "L4":
            return {
                f"{prefix}DATABASE__URL": self.database.sqlalchemy_url,
                f"{prefix}DATABASE__POOL_SIZE": str(pool_size),
                f"{prefix}DATABASE__MAX_OVERFLOW": "0",
                f"{prefix}DATABASE__POOL_TIMEOUT": str(pool_timeout),
                f"{prefix}DATABASE__MAX_WAITING": "" if max_waiting is None else str(max_waiting),
            }
        return {
            "BENCH_DSN": self.database.dsn,
            "BENCH_POOL_SIZE": str(pool_size),
            "BENCH_POOL_TIMEOUT": str(pool_timeout),
        }

    @contextlib.contextmanager
    def serve(
        self,
        rung: str,
        app: str | None = None,
        pool_size: int = POOL_SIZE,
        pool_timeout: float = 3.0,
        max_waiting: int | None = None,
    ) -> Iterator[loadgen.Served]:
        if rung == "L0":
            app = "bench.servers.bare:create_app"
        elif rung == "L3":
            app = app or "bench.servers.fastapi_raw:create_app"
        env = self.server_settings(rung, pool_size, pool_timeout, max_waiting)
        with loadgen.server(self.project, rung, env, self.work / f"{rung}.log", app) as served:
            yield served

    def pool_left(self, port: int, rung: str) -> int | None:
        """Connections still out once the load has stopped; waits a little for the last ones."""
        deadline = time.monotonic() + 5
        while True:
            value = loadgen.checked_out(port, rung)
            if not value or time.monotonic() > deadline:
                return value
            time.sleep(0.1)

    def measure_http(
        self,
        served: loadgen.Served,
        rung: str,
        scenario: str,
        mode: str,
        load: float,
        load_generator: Callable[[], dict[str, Any]],
    ) -> None:
        """Run one load generator against a server, with the pool sampled and CPU time taken."""
        cpu_before = served.cpu_seconds()
        with loadgen.pool_sampler(served.port, rung) as seen:
            measured = load_generator()
        cpu = served.cpu_seconds() - cpu_before
        measured["pool_peak"] = seen.get("peak")
        measured["server_cpu_ms_per_request"] = (
            round(cpu * 1000 / measured["requests"], 3) if measured["requests"] else None
        )
        self.record(rung, scenario, mode, load, measured, self.pool_left(served.port, rung))

    def http_sweep(self, rung: str, served: loadgen.Served) -> None:
        for scenario in self.http_scenarios():
            for connections in self.concurrency:
                self.measure_http(
                    served,
                    rung,
                    scenario,
                    "wrk",
                    connections,
                    lambda scenario=scenario, connections=connections: loadgen.wrk(
                        served.port, scenario, connections, self.seconds
                    ),
                )

    def http_scenarios(self) -> list[str]:
        return [name for name in self.scenarios if name in SCENARIOS]

    def database_scenarios(self) -> list[str]:
        return [name for name in self.scenarios if name in SCENARIOS and SCENARIOS[name].database]

    def fixed_rate(self, rung: str, scenario: str) -> float:
        """The rate of the scenario's fixed-rate runs, set by the first rung that runs one."""
        if scenario not in self.fixed_rates:
            best = max(
                (
                    entry["rps"]
                    for entry in self.results
                    if entry["rung"] == rung
                    and entry["scenario"] == scenario
                    and entry["mode"] == "wrk"
                ),
                default=100.0,
            )
            self.fixed_rates[scenario] = round(
                max(10.0, min(FIXED_RATE_CEILING, best * FIXED_RATE_SHARE))
            )
        return self.fixed_rates[scenario]

    def fixed_rate_runs(self, rung: str, served: loadgen.Served) -> None:
        for scenario in self.http_scenarios():
            rate = self.fixed_rate(rung, scenario)
            self.measure_http(
                served,
                rung,
                scenario,
                "fixed-rate",
                rate,
                lambda scenario=scenario, rate=rate: loadgen.openloop(
                    served.port, scenario, rate, self.seconds
                ),
            )

    def overload(self, rung: str) -> None:
        app = (
            "bench.servers.service_overload:create_app"
            if rung == "L4"
            else "bench.servers.fastapi_raw:create_app"
        )
        seconds = self.seconds if self.smoke else max(self.seconds, 5)
        with self.serve(
            rung, app, OVERLOAD_POOL_SIZE, OVERLOAD_POOL_TIMEOUT, OVERLOAD_MAX_WAITING
        ) as served:
            for mode, share in (("capacity", CAPACITY_FRACTION), ("overload", OVERLOAD_FACTOR)):
                rate = OVERLOAD_CAPACITY * share
                self.measure_http(
                    served,
                    rung,
                    OVERLOAD.name,
                    mode,
                    rate,
                    lambda rate=rate: loadgen.openloop(served.port, "overload", rate, seconds),
                )

    def run(self) -> None:
        database_scenarios = self.database_scenarios()
        if "L0" in self.rungs and self.http_scenarios():
            with self.serve("L0") as served:
                self.http_sweep("L0", served)
        if "L1" in self.rungs:
            for scenario in database_scenarios:
                script = sql.pgbench_script(scenario, PRODUCTS, HOT_PRODUCT, ACCOUNTS)
                for clients in self.concurrency:
                    measured = loadgen.pgbench(
                        self.database.name, script, clients, self.seconds, self.work
                    )
                    self.record("L1", scenario, "pgbench", clients, measured)
        if "L2" in self.rungs:
            for scenario in database_scenarios:
                for tasks in self.concurrency:
                    measured = loadgen.driver(
                        self.project, self.database.dsn, scenario, tasks, self.seconds
                    )
                    self.record(
                        "L2",
                        scenario,
                        "driver",
                        tasks,
                        measured,
                        measured["pool_checked_out_after"],
                    )
        # The service first: its throughput sets the rate of both fixed-rate runs. A smoke run
        # keeps the fixed-rate and overload comparisons to the service.
        for rung in ("L4", "L3"):
            if rung in self.rungs and self.http_scenarios():
                with self.serve(rung) as served:
                    self.http_sweep(rung, served)
                    if rung == "L4" or not self.smoke:
                        self.fixed_rate_runs(rung, served)
        if OVERLOAD.name in self.scenarios:
            for rung in ("L4", "L3"):
                if rung in self.rungs and (rung == "L4" or not self.smoke):
                    self.overload(rung)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure the rendered service against the rungs beneath it.",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="about a second per scenario and rung, one concurrency"
    )
    parser.add_argument("--out", type=Path, default=Path("build/bench"))
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument(
        "--concurrency",
        default="1,16,64",
        help="comma-separated connections (wrk), clients (pgbench), tasks (L2)",
    )
    parser.add_argument("--rungs", default=",".join(RUNGS))
    parser.add_argument("--scenarios", default=",".join([*SCENARIOS, OVERLOAD.name]))
    parser.add_argument(
        "--docs", action="store_true", help="also copy the plot to docs/assets/benchmarks.png"
    )
    arguments = parser.parse_args(argv)
    if arguments.smoke:
        arguments.duration = 1.0
        arguments.concurrency = "16"
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse(argv)
    missing = missing_tools()
    if missing:
        print("cannot benchmark; missing: " + "; ".join(missing), file=sys.stderr)
        return 2
    rungs = [rung.strip() for rung in arguments.rungs.split(",") if rung.strip()]
    scenarios = [name.strip() for name in arguments.scenarios.split(",") if name.strip()]
    unknown = [*(set(rungs) - set(RUNGS)), *(set(scenarios) - {*SCENARIOS, OVERLOAD.name})]
    if unknown:
        print(f"unknown rungs or scenarios: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    concurrency = [int(value) for value in arguments.concurrency.split(",")]
    work = workdir()
    started = time.time()
    try:
        print(f"rendering the service into {work} ...", flush=True)
        project = render_project(work)
        database = Database()
        try:
            database.create(project)
            bench = Bench(
                project,
                database,
                work,
                arguments.duration,
                concurrency,
                scenarios,
                rungs,
                smoke=arguments.smoke,
            )
            bench.run()
        finally:
            database.drop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = report.write(
        arguments.out,
        bench.results,
        {
            "duration": arguments.duration,
            "concurrency": concurrency,
            "smoke": arguments.smoke,
            "pool_size": POOL_SIZE,
            "overload": {
                "pool_size": OVERLOAD_POOL_SIZE,
                "pool_timeout": OVERLOAD_POOL_TIMEOUT,
                "max_waiting": OVERLOAD_MAX_WAITING,
                "capacity_per_s": OVERLOAD_CAPACITY,
                "factor": OVERLOAD_FACTOR,
            },
            "fixed_rates": bench.fixed_rates,
            "cores": loadgen.CORES,
            "pinning": "server and L2 on the last core, wrk/pgbench/open-loop on the first"
            if loadgen.pinned(["x"], "server") != ["x"]
            else "none",
            "elapsed_s": round(time.time() - started, 1),
            "rung_names": RUNG_NAMES,
        },
    )
    if arguments.docs:
        docs_assets = Path(__file__).resolve().parents[1] / "docs" / "assets"
        docs_assets.mkdir(parents=True, exist_ok=True)
        shutil.copy2(arguments.out / "benchmarks.png", docs_assets / "benchmarks.png")
    return 0 if summary["valid"] else 1
