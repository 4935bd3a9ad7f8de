"""Opens every shared resource once before the first request and closes it after the last."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from .resources import ReadinessCheck
from .resources.selected import Resources, open_resources
from .settings import Settings


class State(Resources):
    """What the lifespan hands to requests; each request sees it as `request.state`."""

    settings: Settings
    readiness_checks: dict[str, ReadinessCheck]
    dependency_checks: dict[str, ReadinessCheck]


def build_lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[State]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[State]:
        # Each resource is entered on the stack right after it opens, so if a later one fails
        # to open, the earlier ones are still closed. Shutdown closes them in reverse order.
        async with AsyncExitStack() as stack:
            resources, readiness_checks, dependency_checks = await open_resources(settings, stack)
            yield {
                **resources,
                "settings": settings,
                "readiness_checks": readiness_checks,
                "dependency_checks": dependency_checks,
            }

    return lifespan
