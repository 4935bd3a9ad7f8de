"""The upstream's failures as HTTP answers: 504 when it is too slow, 503 when it is down or its
limits leave no turn, 502 when it answers with an error."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..errors import error_response, retry_later
from .client import UpstreamBusy, UpstreamFailed, UpstreamTimeout, UpstreamUnavailable

logger = logging.getLogger(__name__)


async def upstream_timeout(_request: Request, error: Exception) -> JSONResponse:
    logger.warning("%s", error)
    return error_response(504, "the upstream service did not answer in time")


async def upstream_unavailable(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, UpstreamUnavailable)
    logger.warning("%s", error)
    return retry_later("the upstream service is unavailable; retry shortly", error.retry_after)


async def upstream_busy(_request: Request, error: Exception) -> JSONResponse:
    logger.warning("%s", error)
    return retry_later("the upstream service is at capacity; retry shortly")


async def upstream_failed(_request: Request, error: Exception) -> JSONResponse:
    logger.warning("%s", error)
    return error_response(502, "the upstream service failed")


def install_upstream_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(UpstreamTimeout, upstream_timeout)
    app.add_exception_handler(UpstreamUnavailable, upstream_unavailable)
    app.add_exception_handler(UpstreamBusy, upstream_busy)
    app.add_exception_handler(UpstreamFailed, upstream_failed)
