"""Dependency providers: they hand each request what the lifespan opened, via `request.state`.

Each resource's own providers live beside it (the database's in `db/dependencies.py`).
`request.state` is untyped, so each provider declares the type of what it reads there.
They are `async def` though they never wait: FastAPI runs a plain `def` dependency in its
thread pool, a hand-off to another thread and back on every request for a lookup.
"""

from typing import Annotated

from fastapi import Depends, Request

from .resources import ReadinessCheck
from .settings import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.state.settings
    return settings


async def get_readiness_checks(request: Request) -> dict[str, ReadinessCheck]:
    readiness_checks: dict[str, ReadinessCheck] = request.state.readiness_checks
    return readiness_checks


async def get_dependency_checks(request: Request) -> dict[str, ReadinessCheck]:
    dependency_checks: dict[str, ReadinessCheck] = request.state.dependency_checks
    return dependency_checks


SettingsDep = Annotated[Settings, Depends(get_settings)]
ReadinessChecksDep = Annotated[dict[str, ReadinessCheck], Depends(get_readiness_checks)]
DependencyChecksDep = Annotated[dict[str, ReadinessCheck], Depends(get_dependency_checks)]
