"""The cache's dependency providers, and `RateLimit` for routes."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from limits import parse

from .aside import Cache
from .rate_limits import RateLimiter


async def get_cache(request: Request) -> Cache:
    cache: Cache = request.state.cache
    return cache


async def get_rate_limiter(request: Request) -> RateLimiter:
    rate_limiter: RateLimiter = request.state.rate_limiter
    return rate_limiter


CacheDep = Annotated[Cache, Depends(get_cache)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]


def client_address(request: Request) -> str:
    """The caller's address as the server saw it. Behind a proxy, run uvicorn with
    `--proxy-headers` and `--forwarded-allow-ips` so that this is the client, not the proxy."""
    return request.client.host if request.client else "unknown"


class RateLimit:
    """A route dependency that admits at most `limit` requests per caller, across every process:

    `@router.post("/transfers", dependencies=[Depends(RateLimit("transfers", "10/second"))])`

    Over the limit, the request is answered 429 with `Retry-After`.
    """

    def __init__(
        self, name: str, limit: str, caller: Callable[[Request], str] = client_address
    ) -> None:
        self.name = name
        self.limit = parse(limit)
        self.caller = caller

    async def __call__(self, request: Request, limiter: RateLimiterDep) -> None:
        await limiter.hit(self.limit, self.name, self.caller(request))
