"""The database's failures as HTTP answers: conflicts are 409, running out of capacity is 503."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError

from ..errors import error_response, retry_later, unexpected
from .database import DatabaseUnavailable, RetriesExhausted
from .pool import QueueFull

logger = logging.getLogger(__name__)


async def integrity_conflict(_request: Request, error: Exception) -> JSONResponse:
    logger.info("integrity error answered as 409: %s", error)
    return error_response(409, "the request conflicts with existing data")


async def stale_data(_request: Request, _error: Exception) -> JSONResponse:
    return error_response(409, "the resource was changed by another request; reload and retry")


async def pool_exhausted(_request: Request, _error: Exception) -> JSONResponse:
    logger.warning("no database connection became free within the pool timeout")
    return retry_later("the service is at capacity; retry shortly")


async def queue_full(_request: Request, error: Exception) -> JSONResponse:
    logger.warning("refused a request at once: %s", error)
    return retry_later("the service is at capacity; retry shortly")


async def retries_exhausted(_request: Request, error: Exception) -> JSONResponse:
    logger.warning("gave up on a transaction: %s", error)
    return retry_later("too many concurrent changes; retry shortly")


async def database_unavailable(_request: Request, error: Exception) -> JSONResponse:
    logger.warning("%s", error)
    return retry_later("the database is unavailable; retry shortly")


async def database_error(request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        logger.warning("lost the database connection: %s", error)
        return retry_later("the database is unavailable; retry shortly")
    return await unexpected(request, error)


def install_database_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(IntegrityError, integrity_conflict)
    app.add_exception_handler(StaleDataError, stale_data)
    app.add_exception_handler(PoolTimeout, pool_exhausted)
    app.add_exception_handler(QueueFull, queue_full)
    app.add_exception_handler(RetriesExhausted, retries_exhausted)
    app.add_exception_handler(DatabaseUnavailable, database_unavailable)
    app.add_exception_handler(DBAPIError, database_error)
