"""Logs on stdout, one JSON object per line, each with the id of the request it belongs to.

The standard library's `logging` does the work; a small formatter turns each record into JSON.
`log_config` is a `logging.config.dictConfig` dictionary that uvicorn applies in every worker
process (`python -m <package>.server` passes it), so uvicorn's own loggers, the access log
included, write the same lines as the service's.
"""

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from .context import current_request_id

RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
}
"""What every log record has; anything else on a record came from `extra=` and is logged too."""


class LogSettings(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="The least severe records that are written."
    )
    format: Literal["json", "text"] = Field(
        default="json",
        description="JSON lines for log collectors; text for reading in a terminal.",
    )


class JSONFormatter(logging.Formatter):
    """One line of JSON per record: time, level, logger, message, request_id, and exc_info
    (the formatted traceback) when there is one, then any fields given with `extra=`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": current_request_id(),
        }
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        for name, value in vars(record).items():
            if name not in RECORD_ATTRIBUTES and name not in line:
                line[name] = value
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """Readable lines for a terminal, with the request id in brackets."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-8s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = current_request_id() or "-"
        return super().format(record)


def log_config(settings: LogSettings) -> dict[str, Any]:
    """Every logger, uvicorn's included, writes through one stdout handler at `settings.level`."""
    formatter = JSONFormatter if settings.format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": formatter}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"handlers": ["stdout"], "level": settings.level},
        # uvicorn's loggers have handlers of their own unless told otherwise: hand their
        # records up to the root's.
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }
