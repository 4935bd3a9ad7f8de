"""In-process coordination between coroutines of one worker."""

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class KeyedLock:
    """One `asyncio.Lock` per key, created on first use and dropped when nobody holds or awaits it.

    Use it for memory owned by this process, such as an in-process cache that must load each
    key once. It does not protect the database or anything else shared: every worker process
    and every replica has its own `KeyedLock`, and the lock knows nothing of transactions. For
    shared state, let the database decide (conditional updates, row locks, version columns,
    advisory locks).
    """

    def __init__(self) -> None:
        self._entries: dict[Hashable, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]
