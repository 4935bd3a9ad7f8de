"""The database's metrics: the connection pool's use and waits, and retried units of work.

`watch_pool` follows a pool through SQLAlchemy's pool events, which fire in whichever task
takes or returns a connection; the numbers are kept per process (see `observability/metrics.py`
for several workers).
"""

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

from .pool import QueueFull

CHECKED_OUT = Gauge(
    "db_pool_connections_checked_out",
    "Connections taken from the pool and not yet returned.",
    multiprocess_mode="livesum",
)
OVERFLOW = Gauge(
    "db_pool_overflow_connections",
    "Connections open beyond pool_size, up to max_overflow; closed again when returned.",
    multiprocess_mode="livesum",
)
CHECKOUT_DURATION = Histogram(
    "db_pool_checkout_duration_seconds",
    "Time to get a connection: waiting for a free one, or opening a new one.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
TIMEOUTS = Counter(
    "db_pool_timeouts_total",
    "Requests for a connection that found none free within pool_timeout (answered 503).",
)
QUEUE_FULL = Counter(
    "db_pool_queue_full_total",
    "Requests for a connection refused at once because max_waiting already waited (answered 503).",
)
RETRIES = Counter(
    "db_transaction_retries_total",
    "Units of work run again after a serialization failure, deadlock or lock timeout.",
)
GIVEN_UP = Counter(
    "db_transactions_given_up_total",
    "Units of work that still conflicted after every attempt (answered 503).",
)


def watch_pool(engine: AsyncEngine) -> None:
    """Measure `engine`'s pool from now until it is disposed."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):  # e.g. an in-memory SQLite database's single connection
        return
    size = pool.size()
    opened = pool.checkedin() + pool.checkedout()  # startup's check may have opened one

    def on_connect(_connection: Any, _record: ConnectionPoolEntry) -> None:
        nonlocal opened
        opened += 1
        OVERFLOW.set(max(0, opened - size))

    def on_close(_connection: Any, _record: ConnectionPoolEntry) -> None:
        nonlocal opened
        opened -= 1
        OVERFLOW.set(max(0, opened - size))

    event.listen(pool, "connect", on_connect)
    event.listen(pool, "close", on_close)
    event.listen(pool, "checkout", lambda *_: CHECKED_OUT.inc())
    event.listen(pool, "checkin", lambda *_: CHECKED_OUT.dec())
    # No event fires before a checkout, so the time it takes is measured around the pool's own
    # method for it; the pool calls it with the event loop's waiting done for it.
    pool._do_get = timed_checkout(pool._do_get)  # type: ignore[method-assign]


def timed_checkout(get: Callable[[], ConnectionPoolEntry]) -> Callable[[], ConnectionPoolEntry]:
    def checkout() -> ConnectionPoolEntry:
        started = time.perf_counter()
        refused = False
        try:
            return get()
        except QueueFull:
            refused = True  # turned away before any wait: not a checkout to time
            QUEUE_FULL.inc()
            raise
        except PoolTimeout:
            TIMEOUTS.inc()
            raise
        finally:
            if not refused:
                CHECKOUT_DURATION.observe(time.perf_counter() - started)

    return checkout
