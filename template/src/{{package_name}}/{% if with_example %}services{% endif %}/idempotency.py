"""Idempotency keys: a request retried with the same key gets the first answer, and what it
does happens once.

The key is claimed by inserting its row in the same transaction as the work. A duplicate that
arrives while the first is still running waits on that row in the database, then finds it
taken; once the first has committed, the stored answer is replayed. A request that failed
(a 4xx, or a conflict) stores nothing, so its retry runs afresh.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Database
from ..db.models import IdempotentResponse
from ..exceptions import Unprocessable

Body = dict[str, Any]


class KeyReused(Unprocessable):
    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was already used for a different request")


def fingerprint(operation: str, request: Body) -> str:
    """Identifies a request by what it asks for, so a key cannot be reused for another one."""
    canonical = json.dumps([operation, request], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def run_once(
    database: Database,
    key: str,
    request_fingerprint: str,
    work: Callable[[AsyncSession], Awaitable[Body]],
) -> Body:
    """Run `work` in a unit of work under `key`, or replay the body it answered before."""
    if (stored := await _stored(database, key, request_fingerprint)) is not None:
        return stored

    async def claim_then_work(session: AsyncSession) -> Body:
        claimed = IdempotentResponse(key=key, fingerprint=request_fingerprint)
        session.add(claimed)
        await session.flush()  # a concurrent duplicate waits here until this one is over
        claimed.body = await work(session)
        await session.flush()
        return claimed.body

    try:
        return await database.transaction(claim_then_work)
    except IntegrityError:
        stored = await _stored(database, key, request_fingerprint)
        if stored is None:
            raise  # the conflict came from the work itself, not from the key
        return stored


async def _stored(database: Database, key: str, request_fingerprint: str) -> Body | None:
    async with database.sessions() as session:
        response = await session.get(IdempotentResponse, key)
    if response is None:
        return None
    if response.fingerprint != request_fingerprint:
        raise KeyReused
    return response.body
