"""Maps exceptions to HTTP answers with a reason, and keeps stack traces out of responses.

Each resource maps its own failures (a full pool, a lost connection) with the helpers here; see
`resources/selected.py` for which are installed.
"""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .exceptions import Conflict, NotFound, Unprocessable

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "1"


def error_response(
    status_code: int, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)


def retry_later(detail: str) -> JSONResponse:
    """503 with `Retry-After`: the request was fine, the service cannot take it right now."""
    return error_response(503, detail, {"Retry-After": RETRY_AFTER_SECONDS})


async def not_found(_request: Request, error: Exception) -> JSONResponse:
    return error_response(404, str(error))


async def conflict(_request: Request, error: Exception) -> JSONResponse:
    return error_response(409, str(error))


async def unprocessable(_request: Request, error: Exception) -> JSONResponse:
    return error_response(422, str(error))


async def unexpected(_request: Request, error: Exception) -> JSONResponse:
    logger.error("unhandled error", exc_info=error)
    return error_response(500, "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(Conflict, conflict)
    app.add_exception_handler(Unprocessable, unprocessable)
    app.add_exception_handler(Exception, unexpected)
