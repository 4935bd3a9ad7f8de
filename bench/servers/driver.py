"""L2: the raw driver. N tasks share an asyncpg pool and run the service's statements in a loop.

`python -m bench.servers.driver SCENARIO CONCURRENCY SECONDS` prints one JSON line: statements
per second (each unit of work counts its statements), units of work per second, latencies.
"""

import asyncio
import json
import random
import sys
import time

import asyncpg

from .. import sql
from ..scenarios import POOL_SIZE, draw
from . import work

STATEMENTS = {
    "read": len(sql.CHECKOUT_PING) + len(sql.READ),
    "reserve_spread": len(sql.CHECKOUT_PING) + len(sql.RESERVE),
    "reserve_hot": len(sql.CHECKOUT_PING) + len(sql.RESERVE),
    "transfer": len(sql.CHECKOUT_PING) + len(sql.TRANSFER),
}


async def unit_of_work(connection: asyncpg.Connection, scenario: str, ids: dict[str, int]) -> None:
    if scenario == "read":
        await work.read_product(connection, ids["id"])
    elif scenario in ("reserve_spread", "reserve_hot"):
        await work.reserve(connection, ids["id"], 1)
    else:
        await work.transfer(connection, ids["source"], ids["target"], ids["amount"])


async def run(scenario: str, concurrency: int, seconds: float) -> dict[str, object]:
    pool = await work.create_pool(POOL_SIZE)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + seconds

    async def loop(seed: int) -> None:
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                async with pool.acquire() as connection:
                    await unit_of_work(connection, scenario, draw(scenario, rng))
            except asyncpg.PostgresError as error:
                errors[error.sqlstate or "?"] = errors.get(error.sqlstate or "?", 0) + 1
                continue
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(loop(seed) for seed in range(concurrency)))
    elapsed = time.perf_counter() - started
    left_checked_out = work.checked_out(pool)
    await pool.close()
    latencies.sort()

    def percentile(fraction: float) -> float | None:
        if not latencies:
            return None
        return latencies[min(len(latencies) - 1, int(fraction * len(latencies)))]

    return {
        "units": len(latencies),
        "seconds": elapsed,
        "units_per_s": len(latencies) / elapsed,
        "statements_per_s": len(latencies) * STATEMENTS[scenario] / elapsed,
        "p50_ms": (percentile(0.50) or 0) * 1000,
        "p99_ms": (percentile(0.99) or 0) * 1000,
        "errors": errors,
        "pool_checked_out_after": left_checked_out,
    }


def main() -> None:
    scenario, concurrency, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(asyncio.run(run(scenario, concurrency, seconds))))


if __name__ == "__main__":
    main()
