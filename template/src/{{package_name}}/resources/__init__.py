"""Shared resources, one module each: open (connect and verify), a handle, and close.

Each module's `open_*` is an async context manager that `selected.open_resources` enters on the
lifespan's exit stack, so whatever was opened is closed again, in reverse order, even when a
later one fails.
"""

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

ReadinessCheck = Callable[[], Awaitable[object]]
"""Answers when the resource is usable and raises when it is not; readiness runs it."""


class ResourceUnavailable(RuntimeError):
    """A resource could not be reached; the message names it and where it was looked for."""


async def verify(name: str, address: str, check: ReadinessCheck, seconds: float) -> None:
    """Fail fast at startup: run `check` within `seconds` or raise `ResourceUnavailable`.

    `address` must already have its password removed; it ends up in logs.
    """
    try:
        async with asyncio.timeout(seconds):
            await check()
    except Exception as error:
        raise ResourceUnavailable(f"{name} at {address} is unavailable: {error!r}") from error


def redact_url(url: str) -> str:
    """`url` with its password, if any, replaced by `***`: what logs and errors may show."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    name = user.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{name}:***@{host}"))
