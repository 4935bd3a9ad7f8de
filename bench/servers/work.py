"""The service's units of work on a raw asyncpg connection, statement for statement (bench.sql).

L2 calls these in a loop and L3 behind FastAPI; both take connections from an asyncpg pool with
the same size as the rendered one.
"""

import os
from typing import Any

import asyncpg

from .. import sql

CONNECTION_SETTINGS = {"lock_timeout": "2000"}
"""The rendered service's default lock_timeout (2 s), set on each connection as it does."""


async def _no_reset(_connection: asyncpg.Connection) -> None:
    """asyncpg resets a connection on release with one more query; SQLAlchemy's pool does not."""


async def create_pool(size: int, dsn: str | None = None) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn or os.environ["BENCH_DSN"],
        min_size=size,
        max_size=size,
        reset=_no_reset,
        server_settings=CONNECTION_SETTINGS,
    )


async def ping(connection: asyncpg.Connection) -> None:
    """What the rendered pool sends as a connection leaves it (pool_pre_ping)."""
    await connection.execute(sql.PING_BEGIN.text)
    try:
        await connection.fetchrow(sql.PING_QUERY.text)
    finally:
        await connection.execute(sql.PING_ROLLBACK.text)


async def read_product(connection: asyncpg.Connection, product_id: int) -> dict[str, Any] | None:
    await ping(connection)
    await connection.execute(sql.BEGIN.text)
    try:
        row = await connection.fetchrow(sql.SELECT_PRODUCT.text, product_id)
    finally:
        await connection.execute(sql.ROLLBACK.text)
    return dict(row) if row is not None else None


async def reserve(
    connection: asyncpg.Connection, product_id: int, quantity: int
) -> tuple[int, int] | None:
    """(reservation id, remaining stock), or None when the stock is short."""
    await ping(connection)
    await connection.execute(sql.BEGIN.text)
    try:
        status = await connection.execute(sql.RESERVE_STOCK.text, quantity, product_id, quantity)
        if status.endswith(" 0"):
            await connection.execute(sql.ROLLBACK.text)
            return None
        remaining = await connection.fetchval(sql.SELECT_STOCK.text, product_id)
        reservation_id = await connection.fetchval(
            sql.INSERT_RESERVATION.text, product_id, quantity, None
        )
        await connection.execute(sql.COMMIT.text)
    except BaseException:
        await connection.execute(sql.ROLLBACK.text)
        raise
    return reservation_id, remaining


async def transfer(
    connection: asyncpg.Connection, source: int, target: int, amount: int
) -> int | None:
    """The transfer's id, or None when the source holds too little."""
    await ping(connection)
    await connection.execute(sql.BEGIN.text)
    try:
        rows = await connection.fetch(sql.LOCK_ACCOUNTS.text, source, target)
        balances = {row["id"]: row["balance"] for row in rows}
        if balances[source] < amount:
            await connection.execute(sql.ROLLBACK.text)
            return None
        await connection.execute(sql.SET_BALANCE.text, balances[source] - amount, source)
        await connection.execute(sql.SET_BALANCE.text, balances[target] + amount, target)
        transfer_id = await connection.fetchval(sql.INSERT_TRANSFER.text, source, target, amount)
        await connection.execute(sql.COMMIT.text)
    except BaseException:
        await connection.execute(sql.ROLLBACK.text)
        raise
    return transfer_id


async def slow(connection: asyncpg.Connection, seconds: float) -> None:
    await ping(connection)
    await connection.execute(sql.BEGIN.text)
    try:
        await connection.execute(sql.SLOW_QUERY.text, seconds)
    finally:
        await connection.execute(sql.ROLLBACK.text)


def checked_out(pool: asyncpg.Pool) -> int:
    return pool.get_size() - pool.get_idle_size()
