"""What travels through the broker: messages, and the subscriptions that handle them."""

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel

from ..observability.context import MESSAGE_HEADER, current_request_id

TOPIC = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
"""Dot-separated words: a name every broker accepts as a routing key, subject, topic or key."""
NAME = re.compile(r"[A-Za-z0-9_-]+")


def new_message_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Message:
    """A message as it is published and as a handler receives it.

    `id` stays the same through redeliveries and republishing, so a consumer can tell that it
    has handled a message before (see `inbox.handle_once`). A message made while a request or
    another message is handled carries its request id in the `request-id` header, through
    the outbox too, and handling the message makes it the current one again.
    """

    topic: str
    body: bytes
    id: str = field(default_factory=new_message_id)
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not TOPIC.fullmatch(self.topic):
            raise ValueError(f"topic {self.topic!r} is not dot-separated words of [A-Za-z0-9_-]")
        if MESSAGE_HEADER not in self.headers and (request_id := current_request_id()):
            object.__setattr__(self, "headers", {**self.headers, MESSAGE_HEADER: request_id})

    @classmethod
    def of(cls, topic: str, payload: BaseModel) -> "Message":
        """A message whose body is `payload` as JSON."""
        return cls(
            topic=topic,
            body=payload.model_dump_json().encode(),
            headers={"content-type": "application/json"},
        )


Handler = Callable[[Message], Awaitable[None]]
"""Handles one message. Returning acknowledges it; raising has it delivered again later."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """A durable consumer of one topic.

    `name` identifies the consumer to the broker: every process and replica of the service that
    subscribes under the same name shares one stream of messages, and each message goes to one
    of them. Two subscriptions with different names each get every message.
    """

    name: str
    topic: str
    handle: Handler

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.name):
            raise ValueError(f"subscription name {self.name!r} is not one word of [A-Za-z0-9_-]")
        if not TOPIC.fullmatch(self.topic):
            raise ValueError(f"topic {self.topic!r} is not dot-separated words of [A-Za-z0-9_-]")
