"""Liveness (the process answers) and readiness (every resource answers, within a timeout)."""

import asyncio
import logging
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel

from ..dependencies import ReadinessChecksDep, SettingsDep
from ..resources import ReadinessCheck

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/health", tags=["health"])

CheckStatus = Literal["ok", "timeout", "error"]


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
    statuses = await asyncio.gather(
        *(_probe(name, check, settings.readiness_timeout) for name, check in checks.items())
    )
    results = dict(zip(checks, statuses, strict=True))
    if all(status == "ok" for status in results.values()):
        return Readiness(status="ok", checks=results)
    response.status_code = 503
    return Readiness(status="unavailable", checks=results)


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
