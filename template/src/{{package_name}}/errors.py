"""Maps exceptions to HTTP answers with a reason, and keeps stack traces out of responses.

Each resource maps its own failures (a full pool, a lost connection) with the helpers here; see
`resources/selected.py` for which are installed.
"""

import logging
import math

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .exceptions import Conflict, NotFound, Unprocessable
from .observability.context import REQUEST_ID_HEADER, current_request_id

logger = logging.getLogger(__name__)


def error_response(
    status_code: int, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)


def retry_later(detail: str, seconds: float = 1.0, status_code: int = 503) -> JSONResponse:
    """An answer with `Retry-After` (whole seconds, at least 1): the request was fine, the
    service cannot take it right now."""
    return error_response(status_code, detail, {"Retry-After": str(max(1, math.ceil(seconds)))})


async def not_found(_request: Request, error: Exception) -> JSONResponse:
    return error_response(404, str(error))


async def conflict(_request: Request, error: Exception) -> JSONResponse:
    return error_response(409, str(error))


async def unprocessable(_request: Request, error: Exception) -> JSONResponse:
    return error_response(422, str(error))


async def unexpected(_request: Request, error: Exception) -> JSONResponse:
    logger.error("unhandled error", exc_info=error)
    # Answered outside the request id middleware, which cannot add the header here.
    request_id = current_request_id()
    headers = {REQUEST_ID_HEADER: request_id} if request_id else None
    return error_response(500, "internal server error", headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(Conflict, conflict)
    app.add_exception_handler(Unprocessable, unprocessable)
    app.add_exception_handler(Exception, unexpected)
