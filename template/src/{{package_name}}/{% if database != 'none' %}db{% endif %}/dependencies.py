"""The database's dependency providers: the handle the lifespan opened, and a read session."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from .database import Database


async def get_database(request: Request) -> Database:
    database: Database = request.state.database
    return database


async def get_session(
    database: Annotated[Database, Depends(get_database)],
) -> AsyncIterator[AsyncSession]:
    """A session for reads, closed as soon as the endpoint returns.

    Used with `scope="function"`, the session closes before the response is sent, so its
    connection returns to the pool without waiting for a slow client. Writes go through
    `Database.transaction`, which commits before the endpoint returns.
    """
    async with database.sessions() as session:
        yield session


DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
