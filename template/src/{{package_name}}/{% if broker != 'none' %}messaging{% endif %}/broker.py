"""What every broker module provides. Consumers, the outbox relay and the tests are written
once against these protocols, whichever broker the service was rendered with."""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from .messages import Message, Subscription


class PublishFailed(Exception):
    """The broker did not confirm a message: unreachable, too slow, or it refused it."""

    def __init__(self, message: Message, reason: str) -> None:
        super().__init__(f"message {message.id} to {message.topic!r} was not confirmed: {reason}")
        self.message = message


class Delivery(Protocol):
    """One message in hand, until it is settled by exactly one of the four methods."""

    @property
    def message(self) -> Message: ...

    @property
    def attempt(self) -> int:
        """1 for the first delivery of the message to this subscription, 2 for the next..."""
        ...

    async def ack(self) -> None:
        """Handled: the broker forgets the message."""

    async def retry(self, delay: float) -> None:
        """Failed: deliver the message again, here or to another process, after `delay` seconds."""

    async def dead_letter(self, reason: str) -> None:
        """Given up: keep the message, with `reason`, where no consumer takes it again."""

    async def release(self) -> None:
        """Not handled (shutting down): hand the message back at once for another consumer."""


class Feed(Protocol):
    """A subscription's messages, as they arrive."""

    async def receive(self, limit: int, wait: float) -> Sequence[Delivery]:
        """Up to `limit` deliveries; waits at most `wait` seconds when none is ready.

        A stopping consumer cancels the receive it is waiting on. A message that was on its
        way at that moment must not be lost: the broker delivers it again later.
        """
        ...


class Broker(Protocol):
    async def publish(self, message: Message) -> None:
        """Hand `message` to the broker and wait until it confirms having stored it.

        Raises `PublishFailed` if it does not within the publish timeout.
        """

    def subscribe(self, subscription: Subscription) -> AbstractAsyncContextManager[Feed]:
        """Set up the subscription's durable state on the broker (created on first use) and
        feed its messages until the context exits."""
        ...

    async def ping(self) -> None:
        """Round-trip to the broker; raises if it does not answer."""
