"""Shared resources, one module each: open (connect and verify), a handle, and close.

Each module's `open_*` is an async context manager that the lifespan enters on its exit stack,
so whatever was opened is closed again, in reverse order, even when a later one fails.
"""

import asyncio
from collections.abc import Awaitable, Callable


class ResourceUnavailable(RuntimeError):
    """A resource could not be reached; the message names it and where it was looked for."""


async def verify(
    name: str, address: str, check: Callable[[], Awaitable[object]], seconds: float
) -> None:
    """Fail fast at startup: run `check` within `seconds` or raise `ResourceUnavailable`.

    `address` must already have its password removed; it ends up in logs.
    """
    try:
        async with asyncio.timeout(seconds):
            await check()
    except Exception as error:
        raise ResourceUnavailable(f"{name} at {address} is unavailable: {error!r}") from error
