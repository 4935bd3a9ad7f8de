"""The cache's failures as HTTP answers: 429 over a rate limit, 503 when Redis cannot serve."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeout

from ..errors import retry_later
from .locks import LockNotAcquired
from .rate_limits import RateLimited

logger = logging.getLogger(__name__)


async def rate_limited(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RateLimited)
    return retry_later(str(error), error.retry_after, status_code=429)


async def lock_not_acquired(_request: Request, error: Exception) -> JSONResponse:
    logger.info("%s", error)
    return retry_later("the resource is busy with another request; retry shortly")


async def redis_unavailable(_request: Request, error: Exception) -> JSONResponse:
    logger.warning("redis did not answer: %r", error)
    return retry_later("the cache is unavailable; retry shortly")


def install_cache_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RateLimited, rate_limited)
    app.add_exception_handler(LockNotAcquired, lock_not_acquired)
    app.add_exception_handler(RedisConnectionError, redis_unavailable)
    app.add_exception_handler(RedisTimeout, redis_unavailable)
