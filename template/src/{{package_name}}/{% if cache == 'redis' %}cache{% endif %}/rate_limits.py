"""Rate limits shared by every process and replica, counted in Redis by the `limits` library.

The moving window records each hit with its time, so "10/second" never admits more than 10 in
any one-second span, not even across the edge of a fixed window. The counting runs as a script
inside Redis, so two processes cannot both take the last slot. The counters live in the same
connection pool as the rest of the service's Redis traffic.
"""

import time

from limits import RateLimitItem
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

from ..resources.redis import RedisSettings


class RateLimited(Exception):
    """A limit is used up; `retry_after` says in how many seconds a slot frees up."""

    def __init__(self, limit: RateLimitItem, retry_after: float) -> None:
        super().__init__(f"rate limit of {limit} exceeded; retry in {retry_after:.1f} s")
        self.retry_after = retry_after


class RateLimiter:
    def __init__(self, redis: Redis, settings: RedisSettings) -> None:
        storage = RedisStorage(
            f"async+{settings.url}",
            implementation="redispy",
            # Documented as accepted, but typed as if every option were a scalar.
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]
            key_prefix=f"{settings.key_prefix}limits",
        )
        self._window = MovingWindowRateLimiter(storage)

    async def hit(self, limit: RateLimitItem, *identifiers: str) -> None:
        """Count one hit against `limit` for `identifiers`, or raise `RateLimited`."""
        if not await self._window.hit(limit, *identifiers):
            stats = await self._window.get_window_stats(limit, *identifiers)
            raise RateLimited(limit, max(0.0, stats.reset_time - time.time()))
