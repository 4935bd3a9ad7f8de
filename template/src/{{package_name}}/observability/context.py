"""The id of the request (or message) being handled, for logs and for the calls it makes.

A `ContextVar` follows each request's task, and the tasks that it starts, without being passed
around. Handling a message sets it from the message's header, so the logs of one request and of
every message it led to carry one id.
"""

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
"""The HTTP header that carries the id in and out, and on calls to other services."""
MESSAGE_HEADER = "request-id"
"""The message header that carries it: lower-case, as some brokers match names exactly, and
without `x-`, which RabbitMQ keeps for itself."""
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
"""What is accepted from outside: short, and safe to put in logs and headers unchanged."""

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted(value: str | None) -> str | None:
    """`value` if it is a usable id from outside, None otherwise."""
    return value if value is not None and VALID_REQUEST_ID.fullmatch(value) else None


def current_request_id() -> str | None:
    return request_id.get()
