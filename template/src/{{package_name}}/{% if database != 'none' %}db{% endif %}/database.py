"""The database handle that the lifespan opens and every unit of work runs through."""

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from .metrics import GIVEN_UP, RETRIES

logger = logging.getLogger(__name__)

T = TypeVar("T")

Isolation = Literal["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"]
"""How much of other transactions' work a unit of work may see while it runs.

READ COMMITTED suits atomic updates and row locks. REPEATABLE READ gives every statement the
same snapshot. SERIALIZABLE makes the database refuse any interleaving that no serial order
could produce: the refused unit of work fails with a serialization error and runs again.
"""


NamedLock = Callable[[AsyncSession, str], Awaitable[None]]
"""Takes the lock of that name until the session's transaction ends; see `Database.lock`."""


class RetriesExhausted(Exception):
    """A unit of work kept conflicting with concurrent ones and was given up."""

    def __init__(self, attempts: int) -> None:
        super().__init__(f"the transaction conflicted with concurrent ones {attempts} times")
        self.attempts = attempts


class DatabaseUnavailable(Exception):
    """No new connection to the database could be opened: it is down or unreachable."""


def report_unreachable_database(engine: AsyncEngine) -> None:
    """Make a failed connection attempt raise `DatabaseUnavailable`, whatever the driver raised.

    Drivers differ: asyncpg raises `OSError` (connection refused, a timeout), which SQLAlchemy
    passes on unwrapped, while aiomysql raises its own `OperationalError`. One exception lets the
    app answer 503 while the database is away, rather than 500.
    """

    @event.listens_for(engine.sync_engine, "do_connect")
    def connect(
        dialect: Dialect,
        _record: ConnectionPoolEntry,
        cargs: tuple[Any, ...],
        cparams: dict[str, Any],
    ) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except (OSError, dialect.loaded_dbapi.Error) as error:
            raise DatabaseUnavailable(f"could not connect: {error}") from error


class LockNotAcquired(Exception):
    """A named lock stayed held by another transaction for longer than the lock timeout."""

    def __init__(self, name: str) -> None:
        super().__init__(f"the lock {name!r} is held elsewhere")
        self.name = name


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
    """One engine and session factory per process, plus what the dialect needs to retry and lock.

    The module that opened the database supplies the dialect's parts: `is_retryable` says which
    driver errors mean "a concurrent transaction got in the way, run again", `begin_options`
    turns an isolation level into execution options for the start of a unit of work, and
    `acquire_lock` takes a named lock that lasts until the end of the transaction.
    """

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    is_retryable: Callable[[DBAPIError], bool]
    begin_options: Callable[[Isolation], Mapping[str, Any]]
    acquire_lock: NamedLock
    retry: RetryPolicy = RetryPolicy()

    async def transaction(
        self,
        work: Callable[[AsyncSession], Awaitable[T]],
        isolation: Isolation = "READ COMMITTED",
    ) -> T:
        """Run `work` in its own transaction and commit; roll back if it raises.

        The whole unit of work, commit included, runs again when the database reports a
        retryable conflict, because the conflict can surface at any statement or at commit.
        `work` must therefore do nothing it cannot repeat (no calls to other services).
        """
        attempt = 1
        while True:
            try:
                async with self.sessions() as session:
                    await session.connection(execution_options=dict(self.begin_options(isolation)))
                    result = await work(session)
                    await session.commit()
                    return result
            except (DBAPIError, LockNotAcquired) as error:
                if isinstance(error, DBAPIError) and not self.is_retryable(error):
                    raise
                if attempt == self.retry.attempts:
                    GIVEN_UP.inc()
                    raise RetriesExhausted(attempt) from error
                RETRIES.inc()
                delay = self.retry.delay(attempt)
                logger.warning(
                    "transaction attempt %d of %d conflicted (%s); retrying in %.3fs",
                    attempt,
                    self.retry.attempts,
                    getattr(error, "orig", error),
                    delay,
                )
                await asyncio.sleep(delay)
                attempt += 1

    async def lock(self, session: AsyncSession, name: str) -> None:
        """Hold the lock `name` until `session`'s transaction ends, waiting for it if need be.

        Every process and replica on this database shares the lock, which makes it the tool for
        mutual exclusion where there is no row to lock, e.g. "at most three accounts per owner".
        Raises `LockNotAcquired` (retried by `transaction`) after the lock timeout.
        """
        await self.acquire_lock(session, name)

    async def ping(self) -> None:
        """Round-trip to the database; raises if it does not answer."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
