"""Calls to the upstream API, within its limits: at most `max_concurrency` in flight and
`rate_per_second` started per second, each waiting at most `queue_timeout` for its turn;
retries with jittered backoff for idempotent requests only; a circuit breaker for outages.
"""

import asyncio
import time
from typing import Any

import httpx
import stamina
from aiolimiter import AsyncLimiter

from ..resources.upstream import UpstreamSettings
from .breaker import CircuitBreaker
from .metrics import QUEUE_WAIT, REFUSED, RETRIES

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUSES = frozenset({502, 503, 504})


class UpstreamError(Exception):
    """A call to the upstream did not give an answer the service can use."""

    transient = False
    """Whether another try of an idempotent request may succeed."""


class UpstreamBusy(UpstreamError):
    """No turn came within `queue_timeout`: too many requests for the upstream's limits."""


class UpstreamUnavailable(UpstreamError):
    """The upstream could not be reached, or its circuit is open."""

    def __init__(self, message: str, retry_after: float = 1.0, transient: bool = True) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.transient = transient


class UpstreamTimeout(UpstreamError):
    """The upstream took longer than `timeout` to answer. Not retried: it may still be working,
    and a retry would add load to an upstream that is already slow."""


class UpstreamFailed(UpstreamError):
    """The upstream answered with a server error."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"the upstream answered {response.status_code}")
        self.response = response
        self.transient = response.status_code in RETRYABLE_STATUSES


def _worth_retrying(error: BaseException) -> bool:
    return isinstance(error, UpstreamError) and error.transient


class Upstream:
    def __init__(self, client: httpx.AsyncClient, settings: UpstreamSettings) -> None:
        self.client = client
        self.settings = settings
        self.breaker = CircuitBreaker(settings.failure_threshold, settings.reset_timeout)
        self._in_flight = asyncio.Semaphore(settings.max_concurrency)
        # One start per 1/rate seconds, evenly spaced: never more than `rate` in any second.
        self._pace = AsyncLimiter(1, 1 / settings.rate_per_second)

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request; retried on failures in transit only if `method` is idempotent."""
        attempts = self.settings.retry_attempts if method.upper() in IDEMPOTENT_METHODS else 1
        async for attempt in stamina.retry_context(
            on=_worth_retrying,
            attempts=attempts,
            timeout=None,
            wait_initial=0.05,
            wait_max=1.0,
            wait_jitter=0.1,
        ):
            if attempt.num > 1:
                RETRIES.inc()
            with attempt:
                return await self._send(method, url, **kwargs)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def ready(self) -> None:
        """The readiness check: the client is open. It does not call the upstream."""
        if self.client.is_closed:
            raise UpstreamUnavailable("the upstream client is closed", transient=False)

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self._refuse_while_open()
        queued = time.perf_counter()
        try:
            async with asyncio.timeout(self.settings.queue_timeout):
                await self._in_flight.acquire()
        except TimeoutError:
            REFUSED.inc()
            raise UpstreamBusy("no turn to call the upstream came in time") from None
        trial = False
        try:
            try:
                async with asyncio.timeout(self.settings.queue_timeout):
                    await self._pace.acquire()
            except TimeoutError:
                REFUSED.inc()
                raise UpstreamBusy("the upstream's rate limit left no turn in time") from None
            QUEUE_WAIT.observe(time.perf_counter() - queued)
            # Checked again: the circuit may have opened, or a trial begun, during the wait.
            self._refuse_while_open()
            trial = self.breaker.enter()
            response = await self.client.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            self.breaker.failed(trial)
            raise UpstreamUnavailable(f"the upstream is unreachable: {error!r}") from error
        except httpx.TimeoutException as error:
            self.breaker.failed(trial)
            raise UpstreamTimeout(f"the upstream did not answer in time: {error!r}") from error
        except httpx.TransportError as error:
            self.breaker.failed(trial)
            raise UpstreamUnavailable(f"the upstream broke the exchange: {error!r}") from error
        except BaseException:
            # Cancelled, or refused before sending: no verdict on the upstream, so a trial
            # that ends here must not keep the circuit waiting for it.
            self.breaker.abandoned(trial)
            raise
        finally:
            self._in_flight.release()
        if response.is_server_error:
            self.breaker.failed(trial)
            raise UpstreamFailed(response)
        self.breaker.succeeded()
        return response

    def _refuse_while_open(self) -> None:
        if (retry_after := self.breaker.refusal()) is not None:
            raise UpstreamUnavailable(
                f"the upstream is failing; next try in {retry_after:.1f} s",
                retry_after,
                transient=False,
            )
