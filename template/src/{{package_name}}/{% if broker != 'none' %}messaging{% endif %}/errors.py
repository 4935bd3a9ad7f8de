"""The broker's failures as HTTP answers: a message the broker did not confirm is a 503."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..errors import retry_later
from .broker import PublishFailed

logger = logging.getLogger(__name__)


async def publish_failed(_request: Request, error: Exception) -> JSONResponse:
    logger.warning("%s", error)
    return retry_later("the message broker is unavailable; retry shortly")


def install_broker_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PublishFailed, publish_failed)
