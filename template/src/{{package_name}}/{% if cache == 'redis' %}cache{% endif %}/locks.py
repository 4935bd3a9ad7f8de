"""Mutual exclusion across processes and replicas, held in Redis.

A Redis lock is advisory, and it expires while its holder may still be working (a long pause, a
slow query): it keeps concurrent work from piling up, it does not make a write safe. A write that
must never happen twice still needs the database to refuse it: a unique constraint, a conditional
update, or a version check.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import LockNotOwnedError

logger = logging.getLogger(__name__)


class LockNotAcquired(Exception):
    """Another holder kept the lock for longer than this request was willing to wait."""

    def __init__(self, name: str, wait: float) -> None:
        super().__init__(f"lock {name!r} is held elsewhere; gave up after {wait:g} s")
        self.name = name


@asynccontextmanager
async def distributed_lock(
    redis: Redis, name: str, *, ttl: float, wait: float
) -> AsyncIterator[None]:
    """Hold the lock `name` for at most `ttl` seconds, after waiting at most `wait` for it.

    Each use creates its own lock object: redis-py keeps the lock's token in the object, so one
    object shared by several tasks would let each of them release the others' lock.
    """
    lock = redis.lock(name, timeout=ttl, blocking_timeout=wait, thread_local=False)
    if not await lock.acquire():
        raise LockNotAcquired(name, wait)
    try:
        yield
    finally:
        try:
            await lock.release()
        except LockNotOwnedError:
            logger.warning(
                "lock %r expired before its holder finished; others may have run alongside", name
            )
