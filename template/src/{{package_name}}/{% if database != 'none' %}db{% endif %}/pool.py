"""A bound on the queue for connections, so that overload is answered fast.

Without it, when every connection is in use, each new request waits up to `pool_timeout` for
one. Under sustained overload the queue then holds a pool timeout's worth of requests, and every
request served waits nearly that long first. With `max_waiting` set, a request that would join
a queue already that long is refused at once; the ones that do wait are served within a few
queries' time, and the rest get a 503 they can retry elsewhere or later.
"""

from collections.abc import Callable

from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

from .settings import DatabaseSettings


class QueueFull(PoolTimeout):
    """Every connection is in use and `max_waiting` requests already wait for one."""


def limit_waiting(engine: AsyncEngine, settings: DatabaseSettings) -> None:
    """Refuse a checkout at once when every connection is in use and `max_waiting` wait."""
    pool = engine.pool
    if settings.max_waiting is None or not isinstance(pool, QueuePool):
        return
    pool._do_get = _bounded_checkout(  # type: ignore[method-assign]
        pool, pool._do_get, settings.pool_size + settings.max_overflow, settings.max_waiting
    )


def _bounded_checkout(
    pool: QueuePool,
    get: Callable[[], ConnectionPoolEntry],
    connections: int,
    max_waiting: int,
) -> Callable[[], ConnectionPoolEntry]:
    # The pool's own checkout method, which waits for a connection when none is free; no
    # event fires before it. One event loop calls it, so the count needs no lock.
    waiting = 0

    def checkout() -> ConnectionPoolEntry:
        nonlocal waiting
        # A connection just returned belongs to a woken waiter: with max_waiting already
        # waiting, a newcomer that took it would send that waiter to the back of the queue.
        if waiting >= max_waiting and (waiting or pool.checkedout() >= connections):
            raise QueueFull(
                f"all {connections} connections are in use and {waiting} requests wait for one"
            )
        waiting += 1
        try:
            return get()
        finally:
            waiting -= 1

    return checkout
