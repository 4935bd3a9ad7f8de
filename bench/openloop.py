"""An open-loop load generator: requests leave at a constant rate, whatever the answers do.

wrk is closed-loop: each connection waits for its answer before sending again, so a slow server
slows the arrivals down and hides its own queueing (coordinated omission). Here request i is
due at `start + i / rate`, and its latency runs from that scheduled moment, not from when it
was actually sent; if the generator itself falls behind, its lag is reported, so a run whose
schedule slipped can be recognised. The first `warmup` seconds run at the same rate but are not
counted: they open the connections and let the server's queue reach its steady state.

`python -m bench.openloop --port P --scenario S --rate R --seconds T` prints one JSON line.
Plain asyncio streams and HTTP/1.1 keep-alive, no dependencies.
"""

import argparse
import asyncio
import json
import random
import time
from collections import deque
from dataclasses import dataclass, field

from .scenarios import http_request


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    """Seconds from each served (2xx) request's scheduled send to its complete answer."""
    statuses: dict[int, int] = field(default_factory=dict)
    rejection_latencies: list[float] = field(default_factory=list)
    """Seconds from scheduled send to answer for 503s."""
    missing_retry_after: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)
    """How late the generator started each request, against its schedule."""


class Connections:
    """Keep-alive connections to one server, opened on demand up to a limit."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self.host, self.port, self.limit = host, port, limit
        self.idle: deque[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = deque()
        self.opened = 0
        self.free = asyncio.Semaphore(limit)

    async def take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        await self.free.acquire()
        if self.idle:
            return self.idle.pop()
        try:
            connection = await asyncio.open_connection(self.host, self.port)
        except BaseException:
            self.free.release()
            raise
        self.opened += 1
        return connection

    def give_back(
        self, connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], reusable: bool
    ) -> None:
        if reusable:
            self.idle.append(connection)
        else:
            connection[1].close()
        self.free.release()

    def close(self) -> None:
        while self.idle:
            self.idle.pop()[1].close()


async def exchange(
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    host: str,
    method: str,
    path: str,
    body: bytes,
) -> tuple[int, dict[str, str], bool]:
    """Send one request and read its answer: status, headers, whether to keep the connection."""
    reader, writer = connection
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    writer.write(head.encode() + b"\r\n" + body)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed before answering")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, headers.get("connection", "").lower() != "close"


async def run(
    host: str,
    port: int,
    scenario: str,
    rate: float,
    seconds: float,
    connections: int,
    timeout: float,
    warmup: float = 1.0,
) -> dict[str, object]:
    pool = Connections(host, port, connections)
    measured, unmeasured = Result(), Result()
    rng = random.Random(1)
    total = int(rate * (warmup + seconds))
    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter() + 0.05
    measured_from = start + warmup

    async def one(due: float) -> None:
        counted = measured if due >= measured_from else unmeasured
        counted.lags.append(time.perf_counter() - due)
        method, path, body = http_request(scenario, rng)
        connection = None
        try:
            async with asyncio.timeout(timeout):
                connection = await pool.take()
                status, headers, reusable = await exchange(connection, host, method, path, body)
        except (OSError, TimeoutError, ConnectionError, ValueError, IndexError) as error:
            kind = type(error).__name__
            counted.failures[kind] = counted.failures.get(kind, 0) + 1
            if connection is not None:
                pool.give_back(connection, reusable=False)
            return
        pool.give_back(connection, reusable)
        elapsed = time.perf_counter() - due
        counted.statuses[status] = counted.statuses.get(status, 0) + 1
        if 200 <= status < 300:
            counted.latencies.append(elapsed)
        elif status == 503:
            counted.rejection_latencies.append(elapsed)
            if "retry-after" not in headers:
                counted.missing_retry_after += 1

    for index in range(total):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks)
    elapsed = time.perf_counter() - measured_from
    pool.close()
    return summary(measured, scenario, rate, elapsed, total - int(rate * warmup), pool.opened)


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def milliseconds(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def summary(
    result: Result, scenario: str, rate: float, elapsed: float, sent: int, opened: int
) -> dict[str, object]:
    return {
        "scenario": scenario,
        "rate": rate,
        "sent": sent,
        "seconds": elapsed,
        "served": len(result.latencies),
        "served_per_s": len(result.latencies) / elapsed,
        "statuses": {str(code): count for code, count in sorted(result.statuses.items())},
        "failures": result.failures,
        "p50_ms": milliseconds(percentile(result.latencies, 0.50)),
        "p99_ms": milliseconds(percentile(result.latencies, 0.99)),
        "max_ms": milliseconds(max(result.latencies, default=None)),
        "rejected_p99_ms": milliseconds(percentile(result.rejection_latencies, 0.99)),
        "rejected_max_ms": milliseconds(max(result.rejection_latencies, default=None)),
        "missing_retry_after": result.missing_retry_after,
        "lag_p99_ms": milliseconds(percentile(result.lags, 0.99)),
        "lag_max_ms": milliseconds(max(result.lags, default=None)),
        "connections_opened": opened,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--connections", type=int, default=256, help="most open at once")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds sent, not counted")
    arguments = parser.parse_args()
    print(
        json.dumps(
            asyncio.run(
                run(
                    arguments.host,
                    arguments.port,
                    arguments.scenario,
                    arguments.rate,
                    arguments.seconds,
                    arguments.connections,
                    arguments.timeout,
                    arguments.warmup,
                )
            )
        )
    )


if __name__ == "__main__":
    main()
