"""The upstream's dependency provider."""

from typing import Annotated

from fastapi import Depends, Request

from .client import Upstream


def get_upstream(request: Request) -> Upstream:
    return request.state.upstream


UpstreamDep = Annotated[Upstream, Depends(get_upstream)]
