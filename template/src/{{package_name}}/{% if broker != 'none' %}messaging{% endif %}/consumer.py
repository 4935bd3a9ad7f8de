"""Runs one subscription: hands its messages to the handler, a bounded number at a time, and
settles each one according to how the handler did."""

import asyncio
import logging
from collections.abc import Iterable, Sequence
from contextlib import suppress

from ..observability.context import MESSAGE_HEADER, accepted, request_id
from .broker import Broker, Delivery, Feed
from .messages import Subscription
from .metrics import IN_PROGRESS, SETTLED
from .settings import BrokerSettings
from .supervisor import Supervisor

logger = logging.getLogger(__name__)

RECEIVE_WAIT = 1.0
"""Seconds one receive waits for messages before the consumer asks again."""


class Consumer:
    """Feeds a subscription's messages to its handler.

    - At most `concurrency` messages are in hand at once; the broker keeps the rest.
    - A message is acknowledged only after its handler returned. A handler that raises has its
      message delivered again after a backoff, and after `max_attempts` failed deliveries the
      message is dead-lettered instead, so one bad message cannot block the rest forever.
    - `stop()` drains: no new messages are taken, the handlers in progress get `drain_timeout`
      seconds to finish, and the messages of those that do not finish are handed back,
      unacknowledged, for another consumer. Nothing is lost and nothing is acknowledged twice.

    `run()` returns once stopped. If the broker connection breaks, it raises; the supervisor
    that runs it starts it again.
    """

    def __init__(
        self, broker: Broker, subscription: Subscription, settings: BrokerSettings
    ) -> None:
        self.broker = broker
        self.subscription = subscription
        self.settings = settings
        self.subscribed = asyncio.Event()
        """Set while the subscription exists on the broker and messages published reach it."""
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        async with self.broker.subscribe(self.subscription) as feed:
            self.subscribed.set()
            try:
                while (deliveries := await self._next(feed, in_flight)) is not None:
                    for delivery in deliveries:
                        task = asyncio.create_task(self._handle(delivery))
                        in_flight.add(task)
                        task.add_done_callback(in_flight.discard)
            finally:
                self.subscribed.clear()
                await self._drain(in_flight)

    async def _next(
        self, feed: Feed, in_flight: set[asyncio.Task[None]]
    ) -> Sequence[Delivery] | None:
        """The next deliveries, once there is room for them; None once stopping."""
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            while len(in_flight) >= self.settings.concurrency:
                await asyncio.wait({stopping, *in_flight}, return_when=asyncio.FIRST_COMPLETED)
                if stopping.done():
                    return None
            free = self.settings.concurrency - len(in_flight)
            receiving = asyncio.ensure_future(feed.receive(free, RECEIVE_WAIT))
            await asyncio.wait({stopping, receiving}, return_when=asyncio.FIRST_COMPLETED)
            if not stopping.done():
                return receiving.result()
            receiving.cancel()
            with suppress(asyncio.CancelledError):
                for delivery in await receiving:  # arrived just as the consumer stopped
                    await delivery.release()
            return None
        finally:
            stopping.cancel()

    async def _drain(self, in_flight: set[asyncio.Task[None]]) -> None:
        if not in_flight:
            return
        _, unfinished = await asyncio.wait(in_flight, timeout=self.settings.drain_timeout)
        if unfinished:
            logger.warning(
                "%s: %d handlers did not finish within %.1f s; handing their messages back",
                self.subscription.name,
                len(unfinished),
                self.settings.drain_timeout,
            )
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)

    async def _handle(self, delivery: Delivery) -> None:
        message, attempt = delivery.message, delivery.attempt
        name, limit = self.subscription.name, self.settings.max_attempts
        # Each delivery has a task of its own: the id set here ends with it.
        request_id.set(accepted(message.headers.get(MESSAGE_HEADER)))
        try:
            if attempt > limit:
                # An earlier delivery never settled: its process died while handling it.
                logger.error(
                    "%s: message %s delivered %d times; dead-lettered", name, message.id, attempt
                )
                await delivery.dead_letter(f"delivered {attempt} times without settling")
                SETTLED.labels(name, "dead_lettered").inc()
                return
            try:
                with IN_PROGRESS.labels(name).track_inprogress():
                    await self.subscription.handle(message)
            except asyncio.CancelledError:
                await delivery.release()
                raise
            except Exception as error:
                reason = f"{type(error).__name__}: {error}"
                if attempt >= limit:
                    logger.exception(
                        "%s: message %s failed %d times; dead-lettered", name, message.id, attempt
                    )
                    await delivery.dead_letter(reason)
                    outcome = "dead_lettered"
                else:
                    delay = self.settings.retry_delay * 2 ** (attempt - 1)
                    logger.warning(
                        "%s: message %s failed (attempt %d of %d, %s); retrying in %.1f s",
                        name,
                        message.id,
                        attempt,
                        limit,
                        reason,
                        delay,
                    )
                    await delivery.retry(delay)
                    outcome = "failed"
            else:
                await delivery.ack()
                outcome = "handled"
            SETTLED.labels(name, outcome).inc()
        except asyncio.CancelledError:
            raise
        except Exception:
            # The broker connection broke while settling: the message was not acknowledged,
            # so the broker delivers it again, and the receive loop notices the break.
            logger.warning("%s: could not settle message %s", name, message.id, exc_info=True)


async def start_consumers(
    workers: Supervisor,
    broker: Broker,
    subscriptions: Iterable[Subscription],
    settings: BrokerSettings,
) -> list[Consumer]:
    """Start a supervised consumer per subscription, and return once each has subscribed.

    From then on, every message published to their topics reaches them. A consumer that cannot
    subscribe within the connect timeout fails the startup; the logs above say why.
    """
    consumers = [Consumer(broker, subscription, settings) for subscription in subscriptions]
    for consumer in consumers:
        workers.start(f"consumer {consumer.subscription.name}", consumer)
    waiting = {consumer.subscription.name: consumer.subscribed for consumer in consumers}
    try:
        async with asyncio.timeout(settings.connect_timeout):
            for subscribed in waiting.values():
                await subscribed.wait()
    except TimeoutError:
        late = [name for name, subscribed in waiting.items() if not subscribed.is_set()]
        raise TimeoutError(
            f"consumers {', '.join(late)} did not subscribe within {settings.connect_timeout} s"
        ) from None
    return consumers
