"""The object store's failures as HTTP answers: 503 when it cannot be reached, 504 when it is too
slow, 502 when it refuses. A missing object is `NotFound`, answered 404 like any other."""

import logging

from botocore.exceptions import ClientError, HTTPClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as StoreConnectionError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..errors import error_response, retry_later

logger = logging.getLogger(__name__)


async def storage_unreachable(_request: Request, error: Exception) -> JSONResponse:
    logger.warning("object storage unreachable: %s", error)
    return retry_later("object storage is unavailable; retry shortly")


async def storage_timeout(_request: Request, error: Exception) -> JSONResponse:
    logger.warning("object storage too slow: %s", error)
    return error_response(504, "object storage did not answer in time")


async def storage_refused(_request: Request, error: Exception) -> JSONResponse:
    logger.warning("object storage refused: %s", error)
    return error_response(502, "object storage refused the request")


def install_storage_error_handlers(app: FastAPI) -> None:
    # Starlette picks the handler of the closest class: a read timeout is an HTTPClientError,
    # and a connect timeout a ConnectionError, but each gets its own answer.
    app.add_exception_handler(StoreConnectionError, storage_unreachable)
    app.add_exception_handler(HTTPClientError, storage_unreachable)
    app.add_exception_handler(ReadTimeoutError, storage_timeout)
    app.add_exception_handler(ClientError, storage_refused)
