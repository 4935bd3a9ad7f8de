"""The upstream's dependency provider."""

from typing import Annotated

from fastapi import Depends, Request

from .client import Upstream


async def get_upstream(request: Request) -> Upstream:
    upstream: Upstream = request.state.upstream
    return upstream


UpstreamDep = Annotated[Upstream, Depends(get_upstream)]
