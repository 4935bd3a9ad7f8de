"""The database handle that the lifespan opens and every unit of work runs through."""

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

logger = logging.getLogger(__name__)

T = TypeVar("T")


class RetriesExhausted(Exception):
    """A unit of work kept conflicting with concurrent ones and was given up."""

    def __init__(self, attempts: int) -> None:
        super().__init__(f"the transaction conflicted with concurrent ones {attempts} times")
        self.attempts = attempts


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with full-jitter exponential backoff.

    Jitter spreads out transactions that collided, so they do not collide again in lockstep.
    """

    attempts: int = 3
    base_delay: float = 0.01
    max_delay: float = 0.5

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


@dataclass(frozen=True, slots=True)
class Database:
    """One engine and session factory per process, plus what the dialect needs to retry.

    `is_retryable` and `write_options` come from the module that opened the database: they say
    which driver errors mean "a concurrent transaction got in the way, run again", and which
    execution options a writing transaction starts with.
    """

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    is_retryable: Callable[[DBAPIError], bool]
    write_options: Mapping[str, Any] = field(default_factory=dict)
    retry: RetryPolicy = RetryPolicy()

    async def transaction(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` in its own transaction and commit; roll back if it raises.

        The whole unit of work, commit included, runs again when the database reports a
        retryable conflict, because the conflict can surface at any statement or at commit.
        `work` must therefore do nothing it cannot repeat (no calls to other services).
        """
        attempt = 1
        while True:
            try:
                async with self.sessions() as session:
                    await session.connection(execution_options=dict(self.write_options))
                    result = await work(session)
                    await session.commit()
                    return result
            except DBAPIError as error:
                if not self.is_retryable(error):
                    raise
                if attempt == self.retry.attempts:
                    raise RetriesExhausted(attempt) from error
                delay = self.retry.delay(attempt)
                logger.warning(
                    "transaction attempt %d of %d conflicted (%s); retrying in %.3fs",
                    attempt,
                    self.retry.attempts,
                    error.orig,
                    delay,
                )
                await asyncio.sleep(delay)
                attempt += 1

    async def ping(self) -> None:
        """Round-trip to the database; raises if it does not answer."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
