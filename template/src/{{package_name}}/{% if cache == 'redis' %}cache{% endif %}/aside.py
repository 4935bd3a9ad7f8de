"""Cache-aside: read from Redis, and on a miss load once, store with a time to live, return.

When a popular key expires, every request that misses would run the loader at once (a cache
stampede) and pile onto the database. Here one loader per key runs at a time: a `KeyedLock`
queues the requests of one process, and a Redis lock queues the processes. Whoever gets the lock
reads the cache again before loading, so the requests that waited find the value there.
"""

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from pydantic import TypeAdapter
from redis.asyncio import Redis

from ..concurrency import KeyedLock
from ..resources.redis import RedisSettings
from .locks import distributed_lock

T = TypeVar("T")


_adapters: dict[Any, TypeAdapter[Any]] = {}


def _adapter(as_type: Any) -> TypeAdapter[Any]:
    """One adapter per type, built on first use: building one is the costly part."""
    if (adapter := _adapters.get(as_type)) is None:
        adapter = _adapters[as_type] = TypeAdapter(as_type)
    return adapter


class Cache:
    """Values as JSON under the settings' key prefix, each with a time to live, and named locks."""

    def __init__(self, redis: Redis, settings: RedisSettings) -> None:
        self.redis = redis
        self.prefix = settings.key_prefix
        self.lock_ttl = settings.lock_ttl
        self.lock_wait = settings.lock_wait
        self._loading = KeyedLock()

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def lock(
        self, name: str, *, ttl: float | None = None, wait: float | None = None
    ) -> AbstractAsyncContextManager[None]:
        """A lock shared by every process using this Redis; see `distributed_lock`."""
        return distributed_lock(
            self.redis,
            self.key(f"lock:{name}"),
            ttl=self.lock_ttl if ttl is None else ttl,
            wait=self.lock_wait if wait is None else wait,
        )

    async def get_or_load(
        self, name: str, load: Callable[[], Awaitable[T]], *, ttl: float, as_type: type[T]
    ) -> T:
        """The cached value of `name`, or `load()`'s result, stored for `ttl` seconds.

        `as_type` reads the JSON back: a pydantic model, or any type pydantic can validate.
        """
        adapter: TypeAdapter[T] = _adapter(as_type)
        if (cached := await self.redis.get(self.key(name))) is not None:
            return adapter.validate_json(cached)
        async with self._loading.hold(name):
            # Whoever held the lock before may have loaded it: read again at each step.
            if (cached := await self.redis.get(self.key(name))) is not None:
                return adapter.validate_json(cached)
            async with self.lock(f"load:{name}"):
                if (cached := await self.redis.get(self.key(name))) is not None:
                    return adapter.validate_json(cached)
                value = await load()
                data = adapter.dump_json(value)
                await self.redis.set(self.key(name), data, px=round(ttl * 1000))
                return value

    async def invalidate(self, name: str) -> None:
        """Drop the cached value; call it after the change it reflects has committed."""
        await self.redis.delete(self.key(name))
