"""Liveness (the process answers), readiness (what every request needs answers, within a
timeout), and the state of every dependency, those that only some requests need included.

Readiness decides whether a replica gets traffic. A dependency that only some requests need
(the cache, object storage, the broker behind the outbox) is left out of it: were it in, its
outage would take every replica out of the load balancer, and the whole API down with it.
`/health/dependencies` and the `health_check_up` gauge report it instead.
"""

import asyncio
import logging
from typing import Literal

from fastapi import APIRouter, Response
from prometheus_client import Gauge
from pydantic import BaseModel

from ..dependencies import DependencyChecksDep, ReadinessChecksDep, SettingsDep
from ..resources import ReadinessCheck

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/health", tags=["health"])

CheckStatus = Literal["ok", "timeout", "error"]

CHECK_UP = Gauge(
    "health_check_up",
    "1 if the check answered in time when it last ran (for /health/ready or "
    "/health/dependencies), 0 if it did not.",
    ["check"],
    multiprocess_mode="mostrecent",
)


DependenciesStatus = Literal["ok", "degraded", "unavailable"]


class Dependencies(BaseModel):
    status: DependenciesStatus
    """`degraded`: the replica is ready, and the requests that need a failing check get 503."""
    checks: dict[str, CheckStatus]


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, CheckStatus]


@router.get("/live")
async def live() -> Liveness:
    return Liveness()


@router.get("/ready", responses={503: {"model": Readiness, "description": "A resource failed."}})
async def ready(checks: ReadinessChecksDep, settings: SettingsDep, response: Response) -> Readiness:
    results = await _probe_all(checks, settings.readiness_timeout)
    if _all_ok(results):
        return Readiness(status="ok", checks=results)
    response.status_code = 503
    return Readiness(status="unavailable", checks=results)


@router.get("/dependencies")
async def dependencies(
    readiness_checks: ReadinessChecksDep,
    dependency_checks: DependencyChecksDep,
    settings: SettingsDep,
) -> Dependencies:
    """Every check, answered 200 whatever they say: for dashboards and people, not for routing."""
    needed, optional = await asyncio.gather(
        _probe_all(readiness_checks, settings.readiness_timeout),
        _probe_all(dependency_checks, settings.readiness_timeout),
    )
    if not _all_ok(needed):
        status: DependenciesStatus = "unavailable"
    elif not _all_ok(optional):
        status = "degraded"
    else:
        status = "ok"
    return Dependencies(status=status, checks={**needed, **optional})


async def _probe_all(checks: dict[str, ReadinessCheck], seconds: float) -> dict[str, CheckStatus]:
    statuses = await asyncio.gather(
        *(_probe(name, check, seconds) for name, check in checks.items())
    )
    for name, status in zip(checks, statuses, strict=True):
        CHECK_UP.labels(check=name).set(status == "ok")
    return dict(zip(checks, statuses, strict=True))


def _all_ok(results: dict[str, CheckStatus]) -> bool:
    return all(status == "ok" for status in results.values())


async def _probe(name: str, check: ReadinessCheck, seconds: float) -> CheckStatus:
    try:
        async with asyncio.timeout(seconds):
            await check()
    except TimeoutError:
        logger.warning("readiness check %r timed out after %ss", name, seconds)
        return "timeout"
    except Exception:
        logger.warning("readiness check %r failed", name, exc_info=True)
        return "error"
    return "ok"
