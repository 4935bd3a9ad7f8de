"""The scenarios: which request each one sends, and the data it runs on.

The wrk scripts, the open-loop generator and the raw-driver loop all draw their requests from
the same numbers here, so every rung sees the same spread of ids.
"""

import json
import random
from dataclasses import dataclass

PRODUCTS = 1000
"""Products seeded; the spread reservation and the read pick one at random."""
HOT_PRODUCT = 1
"""The product every request of the hot-row reservation takes from."""
ACCOUNTS = 4
"""Accounts seeded; transfers pick two distinct ones, so most transfers wait for a row lock."""
INITIAL_STOCK = 1_000_000_000
INITIAL_BALANCE = 1_000_000_000_000
POOL_SIZE = 10
"""Connections each of L2, L3 and L4 holds: asyncpg's min=max, the rendered pool_size with no
overflow."""

OVERLOAD_POOL_SIZE = 4
OVERLOAD_POOL_TIMEOUT = 0.5
"""Seconds a request of the overload scenario waits for a connection before it is answered 503."""
OVERLOAD_MAX_WAITING = 2
"""Requests the rendered service lets wait for a connection in the overload scenario
(`max_waiting`); beyond them it answers 503 at once. Chosen by the rule in docs/concepts.md:
4 connections x 25 ms of extra wait accepted / 50 ms held = 2. L3's raw pool has no bound."""
OVERLOAD_SLEEP = 0.05
"""Seconds the overload scenario's query sleeps in the database."""
OVERLOAD_CAPACITY = OVERLOAD_POOL_SIZE / OVERLOAD_SLEEP
"""Requests per second the small pool can serve at best: each connection busy for the sleep."""
OVERLOAD_FACTOR = 3.0


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    method: str
    description: str
    database: bool
    """Whether it touches the database, i.e. whether L1 and L2 run it."""


SCENARIOS = {
    scenario.name: scenario
    for scenario in (
        Scenario("live", "GET", "GET /health/live: no I/O, the framework alone", False),
        Scenario("read", "GET", "GET /products/{id}: one row by key, random among all", True),
        Scenario(
            "reserve_spread",
            "POST",
            "POST /products/{id}/reservations over all products: writes rarely collide",
            True,
        ),
        Scenario(
            "reserve_hot",
            "POST",
            "POST /products/1/reservations: every request updates the same row",
            True,
        ),
        Scenario(
            "transfer",
            "POST",
            f"POST /transfers between {ACCOUNTS} accounts: row locks under contention",
            True,
        ),
    )
}

OVERLOAD = Scenario(
    "overload",
    "GET",
    f"GET /bench/slow: pg_sleep({OVERLOAD_SLEEP}) on a pool of {OVERLOAD_POOL_SIZE},"
    f" {OVERLOAD_FACTOR:g}x the arrivals it can serve",
    True,
)


def draw(scenario: str, rng: random.Random) -> dict[str, int]:
    """The ids one request of `scenario` uses."""
    if scenario == "read" or scenario == "reserve_spread":
        return {"id": rng.randint(1, PRODUCTS)}
    if scenario == "reserve_hot":
        return {"id": HOT_PRODUCT}
    if scenario == "transfer":
        source = rng.randint(1, ACCOUNTS)
        target = 1 + (source + rng.randint(0, ACCOUNTS - 2)) % ACCOUNTS
        return {"source": source, "target": target, "amount": 1}
    return {}


def http_request(scenario: str, rng: random.Random) -> tuple[str, str, bytes]:
    """Method, path and body of one request of `scenario`."""
    ids = draw(scenario, rng)
    if scenario == "live":
        return "GET", "/health/live", b""
    if scenario == "read":
        return "GET", f"/products/{ids['id']}", b""
    if scenario in ("reserve_spread", "reserve_hot"):
        return "POST", f"/products/{ids['id']}/reservations", b'{"quantity":1}'
    if scenario == "transfer":
        body = {"source_id": ids["source"], "target_id": ids["target"], "amount": 1}
        return "POST", "/transfers", json.dumps(body).encode()
    if scenario == "overload":
        return "GET", "/bench/slow", b""
    raise ValueError(f"unknown scenario {scenario!r}")
